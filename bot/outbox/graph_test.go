package outbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/outbox"
)

// fileChat is the fake chat that also takes files: a file reply is
// recorded as a reply whose title ends with "[file <name>]".
type fileChat struct {
	*bottest.Chat
	mu    sync.Mutex
	fails []error
	files int
}

func (c *fileChat) ReplyFile(ctx context.Context, ref bot.ThreadRef, m bot.Message, f bot.File) error {
	c.mu.Lock()
	if len(c.fails) > 0 {
		err := c.fails[0]
		c.fails = c.fails[1:]
		c.mu.Unlock()
		return err
	}
	c.files++
	c.mu.Unlock()
	m.Title += " [file " + f.Name + "]"
	return c.Reply(ctx, ref, m)
}

// fakeGrapher draws nothing: it answers a file or an error, and counts.
type fakeGrapher struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (g *fakeGrapher) IncidentGraph(_ context.Context, inc bot.IncidentDetail) (bot.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.err != nil {
		return bot.File{}, g.err
	}
	return bot.File{Name: "graph.png", Content: []byte("\x89PNG")}, nil
}

func graphDispatcher(s bot.Store, chat bot.Chat, g outbox.Grapher, clock *bottest.Clock) *outbox.Dispatcher {
	return outbox.New(s, outbox.Config{
		Destinations: bottest.ChatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Workers:      4,
		Runbooks:     testRunbooks,
		Graph:        g,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func isGraph(m bot.Message) bool {
	return strings.HasSuffix(m.Title, "[file graph.png]") || strings.HasPrefix(m.Title, "graph unavailable")
}

// wantGraphs counts the graph replies of each root of channel and checks
// the first reply is the runbook.
func wantGraphs(t *testing.T, chat *fileChat, channel string, want int) bot.Message {
	t.Helper()
	roots := chat.Snapshot(channel)
	if len(roots) != 1 {
		t.Fatalf("%d roots in %s", len(roots), channel)
	}
	wantRunbookFirst(t, roots[0])
	var graphs []bot.Message
	for _, m := range roots[0].Replies {
		if isGraph(m) {
			graphs = append(graphs, m)
		}
	}
	if len(graphs) != want {
		t.Fatalf("%d graph replies in %s, want %d: %+v", len(graphs), channel, want, roots[0].Replies)
	}
	if want == 0 {
		return bot.Message{}
	}
	return graphs[0]
}

func testGraphAfterRunbookOnce(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat, g := chatEngine(s, clock), &fileChat{Chat: bottest.NewChat()}, &fakeGrapher{}
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0)))
	bottest.Drain(t, graphDispatcher(s, chat, g, clock))
	m := wantGraphs(t, chat, "C-INC", 1)
	if !strings.HasPrefix(m.Title, "Graph of ServiceDown over the last hour") {
		t.Fatalf("graph reply %q", m.Title)
	}
	if r := chat.Snapshot("C-INC")[0].Replies; len(r) != 2 || !isGraph(r[1]) {
		t.Fatalf("replies %+v: want the runbook, then the graph", r)
	}
	// A change, and a restarted bot: no second graph.
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0), bottest.Alert("a2", bot.AlertFiring, "critical", clock.Now())))
	bottest.Drain(t, graphDispatcher(s, chat, g, clock))
	wantGraphs(t, chat, "C-INC", 1)
	if g.calls != 1 {
		t.Fatalf("graph drawn %d times, want 1", g.calls)
	}
}

func testGraphFailureIsOneLine(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), &fileChat{Chat: bottest.NewChat()}
	g := &fakeGrapher{err: bot.Tell("graph unavailable: Prometheus did not answer in 5s")}
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0)))
	d := graphDispatcher(s, chat, g, clock)
	bottest.Drain(t, d)
	if m := wantGraphs(t, chat, "C-INC", 1); m.Title != "graph unavailable: Prometheus did not answer in 5s" || len(m.Lines) != 0 {
		t.Fatalf("failure reply %+v", m)
	}
	// An internal error says only that the chart could not be drawn.
	g.err = errors.New("dial tcp 10.0.0.7:9090: connection refused")
	bottest.Ingest(t, e, bottest.Group("auth", bot.AlertFiring, bottest.Alert("b1", bot.AlertFiring, "warning", t0)))
	bottest.Drain(t, d)
	if m := wantGraphs(t, chat, "C-ALERTS", 1); m.Title != "graph unavailable: the chart could not be drawn" {
		t.Fatalf("internal failure reply %+v", m)
	}
	clock.Advance(time.Hour)
	bottest.Drain(t, d)
	if g.calls != 2 {
		t.Fatalf("graph tried %d times, want once per thread", g.calls)
	}
}

func testGraphRetriedOnlyWhenNotSent(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, g := chatEngine(s, clock), &fakeGrapher{}
	// Rate limited: surely not posted, so it goes again and lands once.
	chat := &fileChat{Chat: bottest.NewChat(), fails: []error{&bot.RateLimitedError{After: time.Second}}}
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0)))
	d := graphDispatcher(s, chat, g, clock)
	bottest.Drain(t, d)
	clock.Advance(time.Minute)
	bottest.Drain(t, d)
	wantGraphs(t, chat, "C-INC", 1)

	// A 500 after the upload: the outcome is unknown, it is not made again.
	chat2 := &fileChat{Chat: bottest.NewChat(), fails: []error{errors.New("HTTP 500")}}
	bottest.Ingest(t, e, bottest.Group("auth", bot.AlertFiring, bottest.Alert("b1", bot.AlertFiring, "critical", t0)))
	d2 := graphDispatcher(s, chat2, g, clock)
	bottest.Drain(t, d2)
	clock.Advance(time.Hour)
	bottest.Drain(t, d2)
	if chat2.files != 0 {
		t.Fatalf("a graph of unknown outcome was posted again (%d)", chat2.files)
	}
}
