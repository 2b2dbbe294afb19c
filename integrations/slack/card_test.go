package slack

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
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
			{Name: "Requested by", Value: "Alice Ng"},
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

// sentCard is the request PostCard sends for m in thread ("" for the
// channel), and sentCardEdit the one EditCard sends.
func sentCard(t *testing.T, m bot.Message, thread string) request {
	t.Helper()
	rec := newRecorder(t)
	if _, err := rec.client(t).PostCard(context.Background(), testDest.Channel, thread, m); err != nil {
		t.Fatal(err)
	}
	return rec.last(t)
}

func sentCardEdit(t *testing.T, m bot.Message) request {
	t.Helper()
	rec := newRecorder(t)
	ref := bot.ThreadRef{Channel: testDest.Channel, RootID: "1700000000.000002", ThreadID: "1700000000.000001"}
	if err := rec.client(t).EditCard(context.Background(), ref, m); err != nil {
		t.Fatal(err)
	}
	return rec.last(t)
}

func TestGoldenCards(t *testing.T) {
	cases := []struct {
		name string
		req  func(t *testing.T) request
	}{
		{"card-pending-in-thread", func(t *testing.T) request { return sentCard(t, cardMessage(true), "1700000000.000001") }},
		{"card-pending-in-channel", func(t *testing.T) request { return sentCard(t, cardMessage(true), "") }},
		{"card-closed-edit", func(t *testing.T) request { return sentCardEdit(t, cardMessage(false)) }},
		// The approval service appends the followed rollout's line to a
		// done card (bot/approval/follow.go).
		{"card-rollout-edit", func(t *testing.T) request {
			m := cardMessage(false)
			m.Lines = append(m.Lines, "✅ Rollout: 3/3 updated and available in 48 s")
			return sentCardEdit(t, m)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req(t)
			checkLimits(t, req)
			checkGolden(t, tc.name, golden(t, req))
		})
	}
}

// buttonsOf lists the action_ids of a recorded message's buttons.
func buttonsOf(m slackstandin.Message) []string { return m.ActionIDs() }

// TestCardInThreadThenClosed: a card posted in a thread is a reply under
// the thread's root with its buttons; the edit that closes it keeps it
// where it is and takes the buttons away.
func TestCardInThreadThenClosed(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	root, err := f.c.PostRoot(ctx, "C1", f.message)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := f.c.PostCard(ctx, "C1", root.ThreadID, cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "C1" || ref.RootID == "" || ref.RootID == root.RootID || ref.ThreadID != root.ThreadID {
		t.Fatalf("ref %+v, want the card's own ts in the thread %s", ref, root.ThreadID)
	}
	replies := f.srv.Replies("C1", root.RootID)
	if len(replies) != 1 || replies[0].TS != ref.RootID {
		t.Fatalf("replies %+v, want the card", replies)
	}
	card := replies[0]
	if got := buttonsOf(card); !slices.Equal(got, []string{"approval:7:approve:n0nce", "approval:7:deny:n0nce"}) {
		t.Errorf("buttons %q", got)
	}
	if !strings.Contains(string(card.Attachments), "#ECB22E") || !strings.Contains(string(card.Attachments), "Requested by") {
		t.Errorf("attachments %s: want the facts with the side colour", card.Attachments)
	}

	if err := f.c.EditCard(ctx, ref, cardMessage(false)); err != nil {
		t.Fatal(err)
	}
	card = f.srv.Replies("C1", root.RootID)[0]
	if card.Edits != 1 || len(buttonsOf(card)) != 0 || !strings.Contains(card.Text, "Approved") ||
		!strings.Contains(string(card.Attachments), "#2EB67D") {
		t.Errorf("after the edit: %d edits, buttons %q, text %q, attachments %s", card.Edits, buttonsOf(card), card.Text, card.Attachments)
	}
	if n := len(f.srv.Messages("C1")); n != 2 {
		t.Errorf("%d messages in the channel, want the root and the card", n)
	}
}

// TestCardInChannel: outside a thread the card is a message of its own
// in the channel, and its ref names no thread.
func TestCardInChannel(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	ref, err := f.c.PostCard(ctx, "C1", "", cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "C1" || ref.RootID == "" || ref.ThreadID != "" {
		t.Fatalf("ref %+v", ref)
	}
	roots := f.srv.Roots("C1")
	if len(roots) != 1 || roots[0].TS != ref.RootID || len(buttonsOf(roots[0])) != 2 {
		t.Fatalf("channel %+v, want the card with two buttons", roots)
	}
	// A card edited into one without facts loses its old attachment too.
	bare := bot.Message{Title: "Expired: scale orders-service", Severity: bot.SeverityUnknown, Lines: []string{"Nobody approved within 15 minutes."}}
	if err := f.c.EditCard(ctx, ref, bare); err != nil {
		t.Fatal(err)
	}
	m := f.srv.Roots("C1")[0]
	var atts []any
	if err := json.Unmarshal(m.Attachments, &atts); err != nil || len(atts) != 0 || len(buttonsOf(m)) != 0 {
		t.Errorf("attachments %s, buttons %q: want neither", m.Attachments, buttonsOf(m))
	}
	if !strings.Contains(string(m.Blocks), "Nobody approved") {
		t.Errorf("blocks %s", m.Blocks)
	}
}

// TestCardErrors: card calls map Slack's answers as the other calls do,
// and a ref or thread that cannot be right fails before any call.
func TestCardErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("429 on post", func(t *testing.T) {
		f := newFixture(t, fast)
		f.srv.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.RateLimit{RetryAfter: 2 * time.Second})
		_, err := f.c.PostCard(ctx, "C1", "", cardMessage(true))
		var rl *bot.RateLimitedError
		if !errors.As(err, &rl) || rl.After != 2*time.Second {
			t.Errorf("err %v, want a RateLimitedError after 2s", err)
		}
	})
	t.Run("channel_not_found on post", func(t *testing.T) {
		f := newFixture(t, fast)
		f.srv.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.SlackError{Code: "channel_not_found"})
		if _, err := f.c.PostCard(ctx, "C1", "", cardMessage(true)); !errors.Is(err, bot.ErrPermanent) {
			t.Errorf("err %v, want permanent", err)
		}
	})
	t.Run("message_not_found on edit", func(t *testing.T) {
		f := newFixture(t, fast)
		if _, err := f.c.PostCard(ctx, "C1", "", cardMessage(true)); err != nil {
			t.Fatal(err)
		}
		err := f.c.EditCard(ctx, bot.ThreadRef{Channel: "C1", RootID: "1600000000.000001"}, cardMessage(false))
		if !errors.Is(err, bot.ErrPermanent) {
			t.Errorf("err %v, want permanent", err)
		}
	})
	t.Run("500 on edit is transient", func(t *testing.T) {
		f := newFixture(t, fast)
		ref, err := f.c.PostCard(ctx, "C1", "", cardMessage(true))
		if err != nil {
			t.Fatal(err)
		}
		f.srv.FailNext(slackstandin.MethodUpdate, 1, slackstandin.ServerError{})
		if err := f.c.EditCard(ctx, ref, cardMessage(false)); err == nil || errors.Is(err, bot.ErrPermanent) {
			t.Errorf("err %v, want a transient error", err)
		}
	})
	f := newFixture(t, fast)
	for name, call := range map[string]func() error{
		"post without a channel": func() error { _, err := f.c.PostCard(ctx, "", "", cardMessage(true)); return err },
		"post in a thread that is no ts": func() error {
			_, err := f.c.PostCard(ctx, "C1", "not-a-ts", cardMessage(true))
			return err
		},
		"edit without a channel": func() error {
			return f.c.EditCard(ctx, bot.ThreadRef{RootID: "1700000000.000001"}, cardMessage(false))
		},
		"edit without a ts": func() error { return f.c.EditCard(ctx, bot.ThreadRef{Channel: "C1"}, cardMessage(false)) },
	} {
		if err := call(); !errors.Is(err, bot.ErrPermanent) {
			t.Errorf("%s: err %v, want permanent", name, err)
		}
	}
	if n := f.srv.Calls(slackstandin.MethodPostMessage) + f.srv.Calls(slackstandin.MethodUpdate); n != 0 {
		t.Errorf("%d calls made for refs that cannot be right", n)
	}
}

// TestCardEditsShareTheUpdateLimit: card edits draw on chat.update's
// workspace budget like root edits, and a wait beyond the limiter's bound
// is a RateLimitedError without a call.
func TestCardEditsShareTheUpdateLimit(t *testing.T) {
	cfg := fast
	cfg.UpdateRate = 0.1 // one edit every 10 s
	f := newFixture(t, cfg)
	ctx := context.Background()
	ref, err := f.c.PostCard(ctx, "C1", "", cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.EditRoot(ctx, ref, f.message); err != nil {
		t.Fatal(err)
	}
	var rl *bot.RateLimitedError
	if err := f.c.EditCard(ctx, ref, cardMessage(false)); !errors.As(err, &rl) {
		t.Errorf("err %v, want a RateLimitedError", err)
	}
	if n := f.srv.Calls(slackstandin.MethodUpdate); n != 1 {
		t.Errorf("%d chat.update calls, want 1", n)
	}
}
