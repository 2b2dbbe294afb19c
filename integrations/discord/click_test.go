package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bwmarrin/discordgo"
)

const testCard = "1900000000000000010"

// clickRecorder is a ClickHandler that records the clicks reaching it and
// answers each with answer.
type clickRecorder struct {
	mu     sync.Mutex
	clicks []bot.Click
	answer bot.Answer
	// block, when set, holds each click until it is closed.
	block chan struct{}
}

func (r *clickRecorder) HandleClick(ctx context.Context, c bot.Click, resp bot.Responder) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.clicks = append(r.clicks, c)
	r.mu.Unlock()
	_ = resp.Respond(ctx, r.answer)
}

func (r *clickRecorder) got() []bot.Click {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Click(nil), r.clicks...)
}

func newClickRecorder() *clickRecorder {
	return &clickRecorder{answer: bot.Answer{Title: "Your approval is recorded.", Private: true}}
}

// withClicks configures h as the ClickHandler.
func withClicks(h bot.ClickHandler) func(*InboundConfig) {
	return func(c *InboundConfig) { c.Clicks = h }
}

// newClick is a click as Discord sends it, built by the stand-in's helper:
// the test user (with the operator role) clicking customID on the card in
// the test channel, unless c says otherwise.
func (h *harness) newClick(c discordstandin.Click) interaction {
	h.t.Helper()
	if c.AppID == "" {
		c.AppID = testApp
	}
	if c.GuildID == "" {
		c.GuildID = testGuild
	}
	if c.Channel == "" {
		c.Channel = testChannel
	}
	if c.User == "" {
		c.User, c.UserName, c.Roles = testUser, "Ana Ops", []string{testOperator}
	}
	if c.MessageID == "" {
		c.MessageID = testCard
	}
	id, token, body := h.sd.ClickInteraction(c)
	h.mu.Lock()
	h.tokens = append(h.tokens, token)
	h.mu.Unlock()
	return interaction{ID: id, Token: token, Body: body}
}

// privateAnswer is the single ephemeral message an interaction got as its
// initial response (a click refused at once).
func privateAnswer(t *testing.T, st discordstandin.Interaction) string {
	t.Helper()
	if len(st.Callbacks) != 1 || st.Callbacks[0].Type != discordstandin.ResponseMessage || st.Callbacks[0].Flags&discordstandin.FlagEphemeral == 0 {
		t.Fatalf("callbacks %+v: want one ephemeral message", st.Callbacks)
	}
	var data struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(st.Callbacks[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	return data.Content
}

// A signed click, over HTTP or the gateway, is deferred ephemerally at
// once and reaches the ClickHandler as a bot.Click; the handler's private
// answer replaces the deferral, seen by the clicker alone.
func TestClickHandedToClickHandler(t *testing.T) {
	for _, mode := range []string{"http", "gateway"} {
		t.Run(mode, func(t *testing.T) {
			rec := newClickRecorder()
			rec.block = make(chan struct{})
			h := newHarness(t, withClicks(rec))
			ix := h.newClick(discordstandin.Click{CustomID: "approval:7:approve:n0nce"})
			before := time.Now()
			if mode == "http" {
				resp := h.postHTTP(ix)
				if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource || resp.Data == nil || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
					t.Fatalf("acknowledged with %+v, want an ephemeral deferral (type 5)", resp)
				}
			} else {
				h.gateway(ix)
			}
			st := h.interactionState(ix)
			if len(st.Callbacks) != 1 || !st.Callbacks[0].Accepted || st.Callbacks[0].Type != discordstandin.ResponseDeferred ||
				st.Callbacks[0].Flags&discordstandin.FlagEphemeral == 0 {
				t.Fatalf("callbacks %+v: want one accepted ephemeral deferral", st.Callbacks)
			}
			close(rec.block)
			h.wait()

			got := rec.got()
			if len(got) != 1 {
				t.Fatalf("the handler saw %d clicks, want 1", len(got))
			}
			c := got[0]
			want := bot.Click{
				User:     bot.Identity{Platform: "discord", UserID: testUser, Name: "Ana Ops", Groups: []string{testOperator}},
				Platform: "discord", Channel: testChannel, MessageID: testCard, ButtonID: "approval:7:approve:n0nce",
			}
			at := c.ReceivedAt
			c.ReceivedAt = time.Time{}
			if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
				t.Errorf("click %+v\nwant  %+v", c, want)
			}
			if at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
				t.Errorf("ReceivedAt %s", at)
			}
			st = h.interactionState(ix)
			if st.Original == nil || !st.Original.Ephemeral() || len(st.Followups) != 0 {
				t.Fatalf("original %+v, %d follow-ups: want the deferral edited, privately", st.Original, len(st.Followups))
			}
			if e := embedOf(t, st.Original); e.Title != "Your approval is recorded." {
				t.Errorf("answer %+v", e)
			}
			if n := len(h.sd.Messages(testChannel)); n != 0 {
				t.Errorf("%d messages in the channel: a private answer showed", n)
			}
			if len(h.logs.ran()) != 0 {
				t.Error("a click ran a command")
			}
		})
	}
}

// A click on a card in an incident thread names the thread's parent as
// its channel and the thread as its thread, as commands do.
func TestClickInThread(t *testing.T) {
	for _, mode := range []string{"http", "gateway"} {
		t.Run(mode, func(t *testing.T) {
			rec := newClickRecorder()
			h := newHarness(t, withClicks(rec))
			ix := h.newClick(discordstandin.Click{Channel: testThread, Parent: testChannel, CustomID: "approval:7:deny:n0nce"})
			if mode == "http" {
				h.postHTTP(ix)
			} else {
				h.gateway(ix)
			}
			h.wait()
			got := rec.got()
			if len(got) != 1 || got[0].Channel != testChannel || got[0].Thread != testThread || got[0].ButtonID != "approval:7:deny:n0nce" {
				t.Errorf("clicks %+v, want one in the thread %s of %s", got, testThread, testChannel)
			}
		})
	}
}

// A public answer to a click is a follow-up in the channel; the ephemeral
// deferral is settled and removed.
func TestClickPublicAnswer(t *testing.T) {
	rec := newClickRecorder()
	rec.answer = bot.Answer{Title: "bob approved: scaling orders-service to 0."}
	h := newHarness(t, withClicks(rec))
	ix := h.newClick(discordstandin.Click{CustomID: "approval:7:approve:n0nce"})
	h.postHTTP(ix)
	h.wait()
	st := h.interactionState(ix)
	if len(st.Followups) != 1 || st.Followups[0].Ephemeral() || !st.OriginalDeleted {
		t.Fatalf("follow-ups %+v, original deleted %v: want one public follow-up", st.Followups, st.OriginalDeleted)
	}
	if ms := h.sd.Messages(testChannel); len(ms) != 1 || embedsOf(t, ms[0])[0].Title != rec.answer.Title {
		t.Errorf("channel %+v: want the public answer", ms)
	}
}

// Clicks chatops cannot act on are answered privately at once and never
// reach the handler: a select menu, a custom_id over 100 bytes or empty,
// no message, no user, and any click while no handler is configured.
func TestClickRefusedPrivately(t *testing.T) {
	cases := []struct {
		name      string
		click     discordstandin.Click
		noHandler bool
		edit      func(body []byte) []byte
		want      string
	}{
		{name: "select menu", click: discordstandin.Click{CustomID: "pick", ComponentType: discordstandin.ComponentStringSelect}, want: clickOnlyButtons},
		{name: "custom_id over 100", click: discordstandin.Click{CustomID: strings.Repeat("a", 101)}, want: clickUnreadable},
		{name: "empty custom_id", click: discordstandin.Click{CustomID: ""}, want: clickUnreadable},
		{name: "no message", click: discordstandin.Click{CustomID: "approve", MessageID: "not-an-id"}, want: clickUnreadable},
		{name: "no handler", click: discordstandin.Click{CustomID: "approval:7:approve:n0nce"}, noHandler: true, want: clicksNotAvailable},
	}
	for _, tc := range cases {
		for _, mode := range []string{"http", "gateway"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				rec := newClickRecorder()
				cfg := withClicks(rec)
				if tc.noHandler {
					cfg = nil
				}
				h := newHarness(t, cfg)
				ix := h.newClick(tc.click)
				if mode == "http" {
					resp := h.postHTTP(ix)
					if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data == nil ||
						resp.Data.Flags != discordgo.MessageFlagsEphemeral || resp.Data.Content != tc.want {
						t.Errorf("answer %+v, want ephemeral %q", resp, tc.want)
					}
				} else {
					h.gateway(ix)
					if got := privateAnswer(t, h.interactionState(ix)); got != tc.want {
						t.Errorf("answer %q, want %q", got, tc.want)
					}
				}
				h.wait()
				if got := rec.got(); len(got) != 0 {
					t.Errorf("the handler saw %+v", got)
				}
			})
		}
	}
	// A click that says nobody clicked.
	rec := newClickRecorder()
	h := newHarness(t, withClicks(rec))
	ix := h.newClick(discordstandin.Click{CustomID: "approve"})
	ix.Body = []byte(strings.Replace(string(ix.Body), `"member":`, `"nobody":`, 1))
	if resp := h.postHTTP(ix); resp.Data == nil || !strings.Contains(resp.Data.Content, "who you are") {
		t.Errorf("answer %+v", resp)
	}
	h.wait()
	if len(rec.got()) != 0 {
		t.Error("a click without a user reached the handler")
	}
}

// An unsigned, forged, stale or replayed click is refused with 401 before
// anything in it is acted on: the handler sees nothing and Discord hears
// nothing.
func TestClickVerification(t *testing.T) {
	_, otherKey, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name  string
		spoil func(r *signed)
	}{
		{"unsigned", func(r *signed) { r.noSig = true }},
		{"signed with another key", func(r *signed) { r.key = otherKey }},
		{"stale (6 min)", func(r *signed) { r.ts = strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10) }},
		{"tampered custom_id", func(r *signed) {
			r.signed = r.body
			r.body = []byte(strings.Replace(string(r.body), "approval:7:deny", "approval:7:approve", 1))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newClickRecorder()
			h := newHarness(t, withClicks(rec))
			ix := h.newClick(discordstandin.Click{CustomID: "approval:7:deny:n0nce"})
			r := h.sign(ix.Body, time.Now())
			tc.spoil(&r)
			if status, body := h.send(r); status != http.StatusUnauthorized || strings.TrimSpace(string(body)) != "unauthorized" {
				t.Errorf("HTTP %d %q, want a bare 401", status, body)
			}
			h.wait()
			if got := rec.got(); len(got) != 0 {
				t.Errorf("the handler saw %+v", got)
			}
			h.noInteractionCalls()
		})
	}
	t.Run("replayed", func(t *testing.T) {
		rec := newClickRecorder()
		h := newHarness(t, withClicks(rec))
		ix := h.newClick(discordstandin.Click{CustomID: "approval:7:approve:n0nce"})
		r := h.sign(ix.Body, time.Now())
		status, body := h.send(r)
		if status != http.StatusOK {
			t.Fatalf("first: HTTP %d %s", status, body)
		}
		h.forward(ix, body)
		if status, _ := h.send(r); status != http.StatusUnauthorized {
			t.Errorf("replay: HTTP %d, want 401", status)
		}
		r.upperCase = true
		if status, _ := h.send(r); status != http.StatusUnauthorized {
			t.Errorf("replay with an upper-case signature: HTTP %d, want 401", status)
		}
		h.wait()
		if n := len(rec.got()); n != 1 {
			t.Errorf("the handler saw the click %d times, want once", n)
		}
	})
}

// On the gateway a click runs only when its acknowledgement landed: a
// click another replica acknowledged, or one acknowledged too late, does
// not reach the handler.
func TestGatewayClickRunsOnlyWhatItAcknowledged(t *testing.T) {
	t.Run("acknowledged elsewhere", func(t *testing.T) {
		rec := newClickRecorder()
		h := newHarness(t, withClicks(rec))
		ix := h.newClick(discordstandin.Click{CustomID: "approve"})
		h.forward(ix, []byte(`{"type":5,"data":{"flags":64}}`))
		h.gateway(ix)
		h.wait()
		if len(rec.got()) != 0 {
			t.Error("handled a click another replica acknowledged")
		}
	})
	t.Run("too late", func(t *testing.T) {
		rec := newClickRecorder()
		h := newHarness(t, withClicks(rec))
		ix := h.newClick(discordstandin.Click{CustomID: "approve"})
		h.sd.AgeInteraction(ix.ID, 4*time.Second)
		h.gateway(ix)
		h.wait()
		if len(rec.got()) != 0 {
			t.Error("handled a click whose acknowledgement Discord refused")
		}
	})
}

// Beyond MaxInFlight, or once shutting down, a click is answered at once
// that chatops is busy, and does not reach the handler.
func TestClickBusyAndShutdown(t *testing.T) {
	rec := newClickRecorder()
	rec.block = make(chan struct{})
	h := newHarness(t, func(c *InboundConfig) { c.MaxInFlight = 1; c.Clicks = rec })
	first := h.newClick(discordstandin.Click{CustomID: "approve"})
	if resp := h.postHTTP(first); resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource {
		t.Fatalf("first: %+v", resp)
	}
	second := h.newClick(discordstandin.Click{CustomID: "approve"})
	if resp := h.postHTTP(second); resp.Data == nil || !strings.Contains(resp.Data.Content, "busy") || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
		t.Errorf("second: %+v, want an ephemeral busy answer", resp)
	}
	close(rec.block)
	h.wait()
	third := h.newClick(discordstandin.Click{CustomID: "approve"})
	if resp := h.postHTTP(third); resp.Data == nil || !strings.Contains(resp.Data.Content, "busy") {
		t.Errorf("after shutdown: %+v, want a refusal", resp)
	}
	if n := len(rec.got()); n != 1 {
		t.Errorf("the handler saw %d clicks, want 1", n)
	}
}

// A handler that panics does not take the process down; the click's
// slot is released.
func TestClickHandlerPanicContained(t *testing.T) {
	h := newHarness(t, withClicks(panicky{}))
	h.postHTTP(h.newClick(discordstandin.Click{CustomID: "approve"}))
	h.wait()
	if h.logged.FilterMessage("interaction handler panicked").Len() != 1 {
		t.Error("the panic was not logged")
	}
}

type panicky struct{}

func (panicky) HandleClick(context.Context, bot.Click, bot.Responder) { panic("handler bug") }

// SendClick, the stand-in's helper for end-to-end tests, plays Discord
// clicking a card the client posted: signed with TestKey, delivered to the
// HTTP endpoint, acknowledged, and the answer recorded on the stand-in.
func TestSendClickPlaysDiscord(t *testing.T) {
	rec := newClickRecorder()
	h := newHarness(t, func(c *InboundConfig) {
		c.Clicks = rec
		c.PublicKey = discordstandin.TestKey.Public().(ed25519.PublicKey)
		c.AppID = discordstandin.DefaultAppID
	})
	pub, err := ParsePublicKey(discordstandin.TestPublicKeyHex)
	if err != nil || !pub.Equal(discordstandin.TestKey.Public()) {
		t.Fatalf("TestPublicKeyHex: %v", err)
	}
	ctx := context.Background()
	root, err := h.in.client.PostRoot(ctx, testChannel, rootMessage(1, ""))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := h.in.client.PostCard(ctx, testChannel, root.ThreadID, cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	card := h.sd.Messages(root.ThreadID)[0]
	click := card.Click(testUser, "ana", []string{testOperator}, card.CustomIDs()[0])
	click.Parent = testChannel
	res, err := h.sd.SendClick(ctx, h.srv.URL+"/discord/interactions", discordstandin.TestKey, click)
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("SendClick: %+v, %v", res, err)
	}
	h.wait()
	got := rec.got()
	if len(got) != 1 || got[0].Channel != testChannel || got[0].Thread != root.ThreadID || got[0].MessageID != ref.RootID ||
		got[0].ButtonID != "approval:7:approve:n0nce" || fmt.Sprint(got[0].User.Groups) != fmt.Sprint([]string{testOperator}) {
		t.Fatalf("clicks %+v", got)
	}
	st, ok := h.sd.Interaction(res.ID)
	if !ok || !st.Acknowledged() || st.Original == nil || !st.Original.Ephemeral() || st.Original.Edits != 1 {
		t.Errorf("interaction %+v: want the deferral acknowledged and edited with the answer", st)
	}
	res, err = h.sd.SendClick(ctx, h.srv.URL+"/discord/interactions", testKey, click)
	if err != nil || res.Status != http.StatusUnauthorized {
		t.Errorf("a click signed with another key: %+v, %v", res, err)
	}
}
