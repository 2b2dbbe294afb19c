package discord

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bwmarrin/discordgo"
)

// cardMessage is an approval card as the approval service words it:
// pending (with Approve and Deny) or closed (no buttons).
func cardMessage(pending bool) bot.Message {
	m := bot.Message{
		Title:    "Approval needed: scale orders-service",
		Severity: bot.P1,
		Status:   bot.IncidentOpen,
		Color:    0xECB22E,
		Lines: []string{"replicas 3 → 0", "An HPA manages this deployment: it may scale it back.",
			"approved by Bob Lee (operator) at " + bot.At(time.Date(2026, 11, 20, 2, 33, 5, 0, time.UTC))},
		Fields: []bot.Field{
			{Name: "Requested by", Value: "ana"},
			{Name: "Action", Value: "scale"},
			{Name: "Target", Value: "deployment bakery-ia/orders-service"},
			{Name: "Approvals", Value: "0 of 1"},
			{Name: "Expires", Value: bot.AtAgo(time.Date(2026, 11, 20, 2, 46, 0, 0, time.UTC))},
		},
	}
	if pending {
		m.Buttons = []bot.Button{
			{ID: "approval:7:approve:n0nce", Label: "Approve"},
			{ID: "approval:7:deny:n0nce", Label: "Deny", Danger: true},
		}
		return m
	}
	m.Title = "Approved: scale orders-service"
	m.Status = bot.IncidentResolved // the green check of a request that is over
	m.Color = 0x2EB67D
	m.Fields[3].Value = "1 of 1 (bob)"
	return m
}

// cardEditRequest is what EditCard sends, keyed by route.
type cardEditRequest struct {
	EditMessage *discordgo.MessageEdit `json:"PATCH /channels/{channel}/messages/{message}"`
}

func TestCardGoldens(t *testing.T) {
	t.Run("card-pending", func(t *testing.T) {
		req := replyRequests(cardMessage(true))
		checkLimits(t, req.CreateMessage)
		checkMentions(t, req.CreateMessage, "")
		checkGolden(t, "card-pending", req)
	})
	t.Run("card-closed-edit", func(t *testing.T) {
		r := renderReply(cardMessage(false))
		checkLimits(t, r.send())
		checkGolden(t, "card-closed-edit", cardEditRequest{EditMessage: r.edit(testChannel, "1900000000000000010")})
	})
	// The approval service appends the followed rollout's line to a done
	// card (bot/approval/follow.go).
	t.Run("card-rollout-edit", func(t *testing.T) {
		m := cardMessage(false)
		m.Lines = append(m.Lines, "❌ Rollout stopped after 12 s: pod orders-service-7d9-x2x ImagePullBackOff: Back-off pulling image \"orders-service:9\" (1/3 updated, 2 available)")
		r := renderReply(m)
		checkLimits(t, r.send())
		checkGolden(t, "card-rollout-edit", cardEditRequest{EditMessage: r.edit(testChannel, "1900000000000000010")})
	})
}

// TestCardInThreadThenClosed: a card posted in an incident's thread is a
// message of the thread with its buttons, and the ref names the thread as
// its channel; the edit that closes it keeps it there and takes the
// buttons away.
func TestCardInThreadThenClosed(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	root, err := c.PostRoot(ctx, testChannel, rootMessage(1, ""))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.PostCard(ctx, testChannel, root.ThreadID, cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	card := onlyMessage(t, s, root.ThreadID)
	if ref.Channel != root.ThreadID || ref.RootID != card.ID || ref.ThreadID != root.ThreadID {
		t.Fatalf("ref %+v, want the card %s in the thread %s", ref, card.ID, root.ThreadID)
	}
	if got := card.CustomIDs(); !slices.Equal(got, []string{"approval:7:approve:n0nce", "approval:7:deny:n0nce"}) {
		t.Errorf("buttons %q", got)
	}
	if bs := card.Buttons(); len(bs) != 2 || bs[1].Style != int(discordgo.DangerButton) {
		t.Errorf("buttons %+v: want Deny in danger style", bs)
	}
	es := embedsOf(t, card)
	if len(es) != 1 || es[0].Color != 0xECB22E || len(es[0].Fields) != 5 || es[0].Fields[0].Name != "Requested by" {
		t.Errorf("embeds %+v: want the facts in the card's colour", es)
	}
	if !strings.Contains(card.Content, "Approval needed") || len(card.MentionRoles) != 0 || card.MentionEveryone {
		t.Errorf("content %q, pinged %v %v", card.Content, card.MentionRoles, card.MentionEveryone)
	}
	if n := len(s.Messages(testChannel)); n != 1 {
		t.Errorf("%d messages in the channel, want the root alone", n)
	}

	if err := c.EditCard(ctx, ref, cardMessage(false)); err != nil {
		t.Fatal(err)
	}
	card = onlyMessage(t, s, root.ThreadID)
	if card.Edits != 1 || len(card.Buttons()) != 0 || !strings.Contains(card.Content, "Approved") || embedsOf(t, card)[0].Color != 0x2EB67D {
		t.Errorf("after the edit: %d edits, buttons %+v, content %q, embeds %s", card.Edits, card.Buttons(), card.Content, card.Embeds)
	}
}

// TestCardInChannel: outside a thread the card is a message of the
// channel and its ref names no thread; an edit to a card without facts
// drops the embed.
func TestCardInChannel(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	ref, err := c.PostCard(ctx, testChannel, "", cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	card := onlyMessage(t, s, testChannel)
	if ref.Channel != testChannel || ref.RootID != card.ID || ref.ThreadID != "" || len(card.Buttons()) != 2 {
		t.Fatalf("ref %+v, card %+v", ref, card)
	}
	if len(s.Threads()) != 0 {
		t.Error("a card started a thread")
	}
	bare := bot.Message{Title: "Expired: scale orders-service", Severity: bot.SeverityUnknown, Lines: []string{"Nobody approved within 15 minutes."}}
	if err := c.EditCard(ctx, ref, bare); err != nil {
		t.Fatal(err)
	}
	card = onlyMessage(t, s, testChannel)
	if len(embedsOf(t, card)) != 0 || len(card.Buttons()) != 0 || !strings.Contains(card.Content, "Nobody approved") {
		t.Errorf("card %+v: want the text alone", card)
	}
}

// TestCardArchivedThread: posting a card in an archived thread unarchives
// it, as any post does.
func TestCardArchivedThread(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	root, err := c.PostRoot(ctx, testChannel, rootMessage(2, ""))
	if err != nil {
		t.Fatal(err)
	}
	s.ArchiveThread(root.ThreadID)
	if _, err := c.PostCard(ctx, testChannel, root.ThreadID, cardMessage(true)); err != nil {
		t.Fatal(err)
	}
	if th, _ := s.Thread(root.ThreadID); th.Archived {
		t.Error("the thread is still archived")
	}
}

// TestCardErrors: card calls are classified as the other calls are, and a
// ref that cannot be right fails before any call.
func TestCardErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("429 on post", func(t *testing.T) {
		s := newStandin(t)
		c := newClient(t, s, nil)
		s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.RateLimit{RetryAfter: 1500 * time.Millisecond})
		_, err := c.PostCard(ctx, testChannel, "", cardMessage(true))
		var rl *bot.RateLimitedError
		if !errors.As(err, &rl) || rl.After != 1500*time.Millisecond {
			t.Errorf("err %v, want RateLimitedError after 1.5s", err)
		}
	})
	t.Run("missing access on post", func(t *testing.T) {
		s := newStandin(t)
		c := newClient(t, s, nil)
		s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.Status{Code: 403, APICode: 50001, Message: "Missing Access"})
		if _, err := c.PostCard(ctx, testChannel, "", cardMessage(true)); !errors.Is(err, bot.ErrPermanent) || strings.Contains(err.Error(), testToken) {
			t.Errorf("err %v, want permanent and no token", err)
		}
	})
	t.Run("unknown message on edit", func(t *testing.T) {
		s := newStandin(t)
		c := newClient(t, s, nil)
		err := c.EditCard(ctx, bot.ThreadRef{Channel: testChannel, RootID: "1900000000000000099"}, cardMessage(false))
		if !errors.Is(err, bot.ErrPermanent) || !strings.Contains(err.Error(), "10008") {
			t.Errorf("err %v, want permanent Unknown Message", err)
		}
	})
	t.Run("500 on edit is transient", func(t *testing.T) {
		s := newStandin(t)
		c := newClient(t, s, nil)
		ref, err := c.PostCard(ctx, testChannel, "", cardMessage(true))
		if err != nil {
			t.Fatal(err)
		}
		s.FailNext(discordstandin.RouteEditMessage, 1, discordstandin.ServerError{})
		if err := c.EditCard(ctx, ref, cardMessage(false)); err == nil || errors.Is(err, bot.ErrPermanent) {
			t.Errorf("err %v, want transient", err)
		}
	})
	s := newStandin(t)
	c := newClient(t, s, nil)
	for name, call := range map[string]func() error{
		"post without a channel":     func() error { _, err := c.PostCard(ctx, "", "", cardMessage(true)); return err },
		"post in a thread not an id": func() error { _, err := c.PostCard(ctx, testChannel, "thread", cardMessage(true)); return err },
		"edit without a channel": func() error {
			return c.EditCard(ctx, bot.ThreadRef{RootID: "1900000000000000010"}, cardMessage(false))
		},
		"edit without a message": func() error { return c.EditCard(ctx, bot.ThreadRef{Channel: testChannel}, cardMessage(false)) },
	} {
		if err := call(); !errors.Is(err, bot.ErrPermanent) {
			t.Errorf("%s: err %v, want permanent", name, err)
		}
	}
	if n := len(s.AllCalls()); n != 0 {
		t.Errorf("calls %v made for refs that cannot be right", s.AllCalls())
	}
}

// TestCardGoesThroughTheGlobalLimit: a card waits for the bot's global
// rate like every call, and answers RateLimitedError rather than wait long.
func TestCardGoesThroughTheGlobalLimit(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, func(cfg *Config) { cfg.GlobalRate = 0.1 })
	ctx := context.Background()
	if _, err := c.PostCard(ctx, testChannel, "", cardMessage(true)); err != nil {
		t.Fatal(err)
	}
	var rl *bot.RateLimitedError
	if _, err := c.PostCard(ctx, testChannel, "", cardMessage(true)); !errors.As(err, &rl) {
		t.Errorf("err %v, want a RateLimitedError from the global limit", err)
	}
	if n := s.Calls(discordstandin.RouteCreateMessage); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}
