package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

// pacedChat is the chat stand-in with a platform's post limit: one post a
// channel per `every`, roots and replies alike. A post that comes too soon
// is refused with a 429, as the platform would, and counted. It tells the
// outbox when the channel takes a post again (bot.Pacer).
type pacedChat struct {
	*bottest.Chat
	every time.Duration

	mu      sync.Mutex
	next    map[string]time.Time
	posts   []string // "root" or "reply", in the order they were posted
	refused int
}

func newPacedChat(every time.Duration) *pacedChat {
	return &pacedChat{Chat: bottest.NewChat(), every: every, next: map[string]time.Time{}}
}

func (p *pacedChat) Delay(channel string, k bot.CallKind) time.Duration {
	if k == bot.CallEdit {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(time.Until(p.next[channel]), 0)
}

func (p *pacedChat) take(channel, what string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Before(p.next[channel]) {
		p.refused++
		return &bot.RateLimitedError{After: p.next[channel].Sub(now)}
	}
	p.next[channel] = now.Add(p.every)
	p.posts = append(p.posts, what)
	return nil
}

func (p *pacedChat) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	if err := p.take(channel, "root"); err != nil {
		return bot.ThreadRef{}, err
	}
	return p.Chat.PostRoot(ctx, channel, m)
}

func (p *pacedChat) Reply(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	if err := p.take(ref.Channel, "reply"); err != nil {
		return err
	}
	return p.Chat.Reply(ctx, ref, m)
}

func (p *pacedChat) record() (posts []string, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.posts...), p.refused
}

func TestLanes(t *testing.T) {
	sqlstoretest.RunCases(t, []sqlstoretest.Case{
		{Name: "RootsFirstWithoutThrash", Run: testLaneRootsFirst},
		{Name: "AFailedPostThatWasNotSentIsNotLookedFor", Run: testLaneNotSent},
	})
}

// A storm in one channel: every waiting incident's root goes out before
// any runbook or reply, at the channel's pace, without a post refused for
// the rate limit; the changes that arrive meanwhile fold into one reply
// per thread.
func testLaneRootsFirst(t *testing.T, s bot.Store) {
	const incidents = 12
	chat := newPacedChat(20 * time.Millisecond)
	e := incident.New(s, incident.Config{Routes: bottest.ChatRoutes}, zap.NewNop(), nil)
	for i := range incidents {
		bottest.Ingest(t, e, bottest.Group(fmt.Sprintf("svc-%d", i), bot.AlertFiring,
			bottest.Alert(fmt.Sprintf("a%d", i), bot.AlertFiring, "warning", time.Now())))
	}
	reg := prometheus.NewRegistry()
	d := outbox.New(s, outbox.Config{
		Destinations: bottest.ChatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Runbooks:     bot.Runbooks{},
		PollInterval: 20 * time.Millisecond,
	}, zap.NewNop(), reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Each incident changes while its root waits.
	for i := range incidents {
		bottest.Ingest(t, e, bottest.Group(fmt.Sprintf("svc-%d", i), bot.AlertFiring,
			bottest.Alert(fmt.Sprintf("a%d", i), bot.AlertFiring, "warning", time.Now()),
			bottest.Alert(fmt.Sprintf("b%d", i), bot.AlertFiring, "warning", time.Now())))
	}
	deadline := time.Now().Add(30 * time.Second)
	for bottest.OutboxDepth(t, s) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the outbox did not drain: depth %d", bottest.OutboxDepth(t, s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	posts, refused := chat.record()
	for i, p := range posts {
		if (i < incidents) != (p == "root") {
			t.Fatalf("post %d of %d was a %s; want the %d roots first: %v", i+1, len(posts), p, incidents, posts)
		}
	}
	// One reply per thread: the runbook, with the change folded in.
	if len(posts) != 2*incidents || refused != 0 {
		t.Fatalf("%d posts with %d refused for the rate limit; want %d roots and %d replies, none refused", len(posts), refused, incidents, incidents)
	}
	if n := counterSum(t, reg, "chatops_outbox_jobs_total", "outcome", "rate_limited"); n != 0 {
		t.Fatalf("%v jobs put back for the rate limit, want 0", n)
	}
}

// counterSum adds up the counter name's series whose label has value.
func counterSum(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// A root post that never left the bot (its own limiter, a 429) leaves no
// message to look for: the next attempt posts without reading the
// channel's history. Only an unknown outcome is looked for.
func testLaneNotSent(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := dispatcher(s, chat, clock)
	chat.Fail("post_root", fmt.Errorf("held back: %w", bot.ErrNotSent), &bot.RateLimitedError{After: time.Second})
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0)))
	for range 3 {
		bottest.Drain(t, d)
		clock.Advance(time.Minute)
	}
	if n := chat.Calls("find_root"); n != 0 {
		t.Fatalf("%d history reads after posts that were not sent, want 0", n)
	}
	if roots := chat.Snapshot("C-ALERTS"); len(roots) != 1 {
		t.Fatalf("%d roots, want 1", len(roots))
	}
	// An answer lost after the request left is looked for once.
	chat.DropNextRoot()
	bottest.Ingest(t, e, bottest.Group("payments", bot.AlertFiring, bottest.Alert("p1", bot.AlertFiring, "warning", clock.Now())))
	for range 3 {
		bottest.Drain(t, d)
		clock.Advance(time.Minute)
	}
	if n, roots := chat.Calls("find_root"), chat.Snapshot("C-ALERTS"); n != 1 || len(roots) != 2 {
		t.Fatalf("after a lost answer: %d history reads, %d roots; want 1 and 2", n, len(roots))
	}
}
