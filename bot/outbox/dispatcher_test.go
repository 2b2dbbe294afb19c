package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

var t0 = bottest.T0

func TestDispatcher(t *testing.T) { sqlstoretest.RunCases(t, dispatcherTests()) }

func dispatcherTests() []sqlstoretest.Case {
	return []sqlstoretest.Case{
		{Name: "DispatcherRootEditReply", Run: testDispatcherRootEditReply},
		{Name: "DispatcherCoalescesAStorm", Run: testDispatcherStorm},
		{Name: "DispatcherUnknownOutcomeIsNotPostedTwice", Run: testDispatcherUnknownOutcome},
		{Name: "DispatcherRateLimitedWaits", Run: testDispatcherRateLimited},
		{Name: "DispatchersInParallelPostOnce", Run: testDispatchersInParallel},
		{Name: "DispatcherCatchesUpWhenThePlatformRecovers", Run: testDispatcherRecovers},
		{Name: "RunbookIsTheFirstReplyOnce", Run: testRunbookFirstReplyOnce},
		{Name: "RunbookAfterALostRootAnswer", Run: testRunbookAfterLostAnswer},
		{Name: "RunbookRetriedAfterRestartBeforeOtherReplies", Run: testRunbookAfterRestart},
		{Name: "RunbookMissingSaysSo", Run: testRunbookMissing},
		{Name: "GraphAfterTheRunbookOnce", Run: testGraphAfterRunbookOnce},
		{Name: "GraphFailureIsOneLine", Run: testGraphFailureIsOneLine},
		{Name: "GraphRetriedOnlyWhenNotSent", Run: testGraphRetriedOnlyWhenNotSent},
	}
}

func chatEngine(s bot.Store, clock *bottest.Clock) *incident.Engine {
	return incident.New(s, incident.Config{
		Routes: bot.Routes{
			{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents"}},
			{Destinations: []string{"alerts"}},
		},
		ReopenWindow: 10 * time.Minute,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func dispatcher(s bot.Store, chat bot.Chat, clock *bottest.Clock) *outbox.Dispatcher {
	return outbox.New(s, outbox.Config{
		Destinations: bottest.ChatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Workers:      4,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func enqueueN(t *testing.T, s bot.Store, clock *bottest.Clock, n int) {
	t.Helper()
	e := chatEngine(s, clock)
	for i := range n {
		bottest.Ingest(t, e, bottest.Group(fmt.Sprintf("svc-%d", i), bot.AlertFiring, bottest.Alert(fmt.Sprintf("a%d", i), bot.AlertFiring, "warning", t0)))
	}
}

func testDispatcherRootEditReply(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := dispatcher(s, chat, clock)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0)))
	bottest.Drain(t, d)
	roots := chat.Snapshot("C-INC")
	if len(roots) != 1 || roots[0].Msg.Mention != "S-ONCALL" || len(roots[0].Replies) != 0 {
		t.Fatalf("after firing: %d roots (want 1 with the on-call mention, no replies): %+v", len(roots), roots)
	}
	// Nothing changed: nothing to do, nothing posted.
	bottest.Drain(t, d)
	clock.Advance(17 * time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, bottest.Alert("a1", bot.AlertResolved, "critical", t0)))
	bottest.Drain(t, d)
	roots = chat.Snapshot("C-INC")
	if len(roots) != 1 || roots[0].Edits != 1 || roots[0].Msg.Status != bot.IncidentResolved || len(roots[0].Replies) != 1 {
		t.Fatalf("after resolve: roots=%d edits=%d status=%s replies=%d; want 1 root edited once to resolved and 1 reply",
			len(roots), roots[0].Edits, roots[0].Msg.Status, len(roots[0].Replies))
	}
	if r := roots[0].Replies[0]; !strings.HasPrefix(r.Title, "Resolved after 17m") {
		t.Fatalf("reply title %q, want Resolved after 17m", r.Title)
	}
	if roots[0].Msg.Mention != "" {
		t.Fatal("a resolved root still mentions the on-call group")
	}
	if n := bottest.OutboxDepth(t, s); n != 0 {
		t.Fatalf("outbox depth %d after draining", n)
	}
	if got := chat.Snapshot("C-ALERTS"); len(got) != 0 {
		t.Fatalf("a P1 incident was posted to the P2/P3 channel: %d roots", len(got))
	}
}

func testDispatcherStorm(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := dispatcher(s, chat, clock)
	bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring, bottest.Alert("p0", bot.AlertFiring, "warning", t0)))
	bottest.Drain(t, d)
	for i := 1; i <= 200; i++ {
		clock.Advance(5 * time.Millisecond)
		bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring, bottest.Alert(fmt.Sprintf("p%d", i), bot.AlertFiring, "warning", t0)))
	}
	bottest.Drain(t, d)
	roots := chat.Snapshot("C-ALERTS")
	if len(roots) != 1 || roots[0].Edits != 1 || len(roots[0].Replies) != 1 {
		t.Fatalf("200 changes: roots=%d edits=%d replies=%d; want 1 root, 1 edit, 1 reply", len(roots), roots[0].Edits, len(roots[0].Replies))
	}
	r := roots[0].Replies[0]
	if len(r.Lines)+r.MoreLines != 200 {
		t.Fatalf("the reply sums up %d changes, want 200", len(r.Lines)+r.MoreLines)
	}
}

func testDispatcherUnknownOutcome(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := dispatcher(s, chat, clock)
	chat.DropNextRoot()
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0)))
	bottest.Drain(t, d)
	clock.Advance(time.Hour) // past any backoff
	bottest.Drain(t, d)
	roots := chat.Snapshot("C-ALERTS")
	if len(roots) != 1 {
		t.Fatalf("%d roots after a post whose answer was lost, want 1", len(roots))
	}
	if chat.Calls("find_root") != 1 || chat.Calls("post_root") != 1 {
		t.Fatalf("calls = %d posts, %d look-ups; want one of each", chat.Calls("post_root"), chat.Calls("find_root"))
	}
	if n := bottest.OutboxDepth(t, s); n != 0 {
		t.Fatalf("outbox depth %d, want 0", n)
	}
}

func testDispatcherRateLimited(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := dispatcher(s, chat, clock)
	chat.Fail("post_root", &bot.RateLimitedError{After: 30 * time.Second}, errors.New("HTTP 500"))
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0)))
	bottest.Drain(t, d)
	if len(chat.Snapshot("C-ALERTS")) != 0 || bottest.OutboxDepth(t, s) != 1 {
		t.Fatal("a rate-limited post did not stay in the outbox")
	}
	clock.Advance(29 * time.Second)
	bottest.Drain(t, d)
	if chat.Calls("post_root") != 1 {
		t.Fatalf("retried %d times before Retry-After passed", chat.Calls("post_root")-1)
	}
	clock.Advance(10 * time.Minute) // past Retry-After, then past the 500's backoff
	bottest.Drain(t, d)
	clock.Advance(10 * time.Minute)
	bottest.Drain(t, d)
	if len(chat.Snapshot("C-ALERTS")) != 1 || bottest.OutboxDepth(t, s) != 0 {
		t.Fatalf("after the limits passed: %d roots, depth %d; want 1, 0", len(chat.Snapshot("C-ALERTS")), bottest.OutboxDepth(t, s))
	}
}

func testDispatchersInParallel(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	chat := bottest.NewChat()
	enqueueN(t, s, clock, 30)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dispatcher(s, chat, clock)
			for range 20 {
				if _, err := d.RunOnce(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	roots := chat.Snapshot("C-ALERTS")
	if len(roots) != 30 {
		t.Fatalf("%d roots for 30 incidents from 3 dispatchers, want 30", len(roots))
	}
	markers := map[string]bool{}
	for _, r := range roots {
		if markers[r.Msg.Marker] {
			t.Fatalf("root %s posted twice", r.Msg.Marker)
		}
		markers[r.Msg.Marker] = true
	}
}

func testDispatcherRecovers(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	chat := bottest.NewChat()
	d := outbox.New(s, outbox.Config{
		Destinations: bottest.ChatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		MinBackoff:   time.Hour, // the outage leaves every job waiting for a long time
		MaxBackoff:   time.Hour,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
	outage := make([]error, 5)
	for i := range outage {
		outage[i] = errors.New("HTTP 503")
	}
	chat.Fail("post_root", outage...)
	enqueueN(t, s, clock, 5)
	bottest.Drain(t, d)
	if len(chat.Snapshot("C-ALERTS")) != 0 || bottest.OutboxDepth(t, s) != 5 {
		t.Fatal("posts failed during the outage but the jobs are gone")
	}
	// The platform is back; a new incident's post succeeds and the five
	// waiting jobs follow at once instead of after their hour of backoff.
	clock.Advance(time.Second)
	e := chatEngine(s, clock)
	bottest.Ingest(t, e, bottest.Group("after", bot.AlertFiring, bottest.Alert("z", bot.AlertFiring, "warning", t0)))
	bottest.Drain(t, d)
	if got := len(chat.Snapshot("C-ALERTS")); got != 6 || bottest.OutboxDepth(t, s) != 0 {
		t.Fatalf("after recovery: %d roots, depth %d; want 6 roots and an empty outbox", got, bottest.OutboxDepth(t, s))
	}
}

var testRunbooks = bot.Runbooks{
	"ServiceDown": {
		Steps:   []string{"Check pod status: kubectl get pods -n bakery-ia", "Roll back if needed: kubectl rollout undo deployment/SERVICE_NAME"},
		Actions: []bot.RunbookAction{bot.ActionHealth, bot.ActionLogs, bot.ActionRollback},
	},
}

func runbookDispatcher(s bot.Store, chat bot.Chat, clock *bottest.Clock) *outbox.Dispatcher {
	return outbox.New(s, outbox.Config{
		Destinations: bottest.ChatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Workers:      4,
		Runbooks:     testRunbooks,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func isRunbook(m bot.Message) bool {
	return strings.HasPrefix(m.Title, "Runbook: ") || strings.HasPrefix(m.Title, "No runbook for ")
}

// wantRunbookFirst checks a thread's replies: the first is the runbook, and
// no other is.
func wantRunbookFirst(t *testing.T, r bottest.Root) {
	t.Helper()
	if len(r.Replies) == 0 || !isRunbook(r.Replies[0]) {
		t.Fatalf("first reply of %s is not its runbook: %+v", r.Msg.Marker, r.Replies)
	}
	for i, m := range r.Replies[1:] {
		if isRunbook(m) {
			t.Fatalf("reply %d of %s is a second runbook", i+2, r.Msg.Marker)
		}
	}
}

func testRunbookFirstReplyOnce(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := runbookDispatcher(s, chat, clock)
	id := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	bottest.Drain(t, d)
	roots := chat.Snapshot("C-INC")
	if len(roots) != 1 || len(roots[0].Replies) != 1 {
		t.Fatalf("after firing: %d roots, %d replies; want the root and its runbook", len(roots), len(roots[0].Replies))
	}
	rb := roots[0].Replies[0]
	if rb.Title != "Runbook: ServiceDown" || len(rb.Lines) != 3 || !strings.HasPrefix(rb.Lines[0], "1. Check pod status") {
		t.Fatalf("runbook reply = %+v", rb)
	}
	var ids []string
	for _, b := range rb.Buttons {
		ids = append(ids, b.ID)
	}
	want := fmt.Sprintf("chatops:run:health:%d chatops:run:logs:%d chatops:run:rollback:%d", id, id, id)
	if strings.Join(ids, " ") != want {
		t.Fatalf("runbook buttons %q, want %q", ids, want)
	}
	if th, err := s.Thread(context.Background(), id, "incidents"); err != nil || !th.RunbookPosted {
		t.Fatalf("thread state %+v, %v: the runbook is not recorded as posted", th, err)
	}

	bottest.Drain(t, d) // nothing new: nothing posted
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0), bottest.Alert("a2", bot.AlertFiring, "critical", clock.Now())))
	bottest.Drain(t, d)
	// A restarted bot (a new dispatcher) does not post it again either.
	clock.Advance(16 * time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, bottest.Alert("a1", bot.AlertResolved, "critical", t0), bottest.Alert("a2", bot.AlertResolved, "critical", t0.Add(time.Minute))))
	bottest.Drain(t, runbookDispatcher(s, chat, clock))
	roots = chat.Snapshot("C-INC")
	if len(roots) != 1 || len(roots[0].Replies) != 3 {
		t.Fatalf("%d roots, %d replies; want runbook, one change, resolution", len(roots), len(roots[0].Replies))
	}
	wantRunbookFirst(t, roots[0])
	res := roots[0].Replies[2]
	if !strings.HasPrefix(res.Title, "Resolved after 17m") || !strings.Contains(strings.Join(res.Lines, "\n"), "Time to resolve: 17m") {
		t.Fatalf("resolution reply = %+v", res)
	}
	// A P1 resolution carries the post-mortem draft's gist.
	if got := strings.Join(res.Lines, "\n"); !strings.Contains(got, "Time to acknowledge: never acknowledged") ||
		!strings.Contains(got, fmt.Sprintf("Full draft: chatops incident export %d", id)) {
		t.Fatalf("resolution lines:\n%s", got)
	}
}

func testRunbookAfterLostAnswer(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	d := runbookDispatcher(s, chat, clock)
	chat.DropNextRoot() // the root is posted, its answer lost
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0)))
	bottest.Drain(t, d)
	if roots := chat.Snapshot("C-ALERTS"); len(roots) != 1 || len(roots[0].Replies) != 0 {
		t.Fatalf("after the lost answer: %+v", roots)
	}
	clock.Advance(time.Hour) // past any backoff
	bottest.Drain(t, d)
	bottest.Drain(t, runbookDispatcher(s, chat, clock))
	roots := chat.Snapshot("C-ALERTS")
	if len(roots) != 1 || chat.Calls("post_root") != 1 {
		t.Fatalf("%d roots from %d posts, want the one found again", len(roots), chat.Calls("post_root"))
	}
	wantRunbookFirst(t, roots[0])
}

func testRunbookAfterRestart(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	chat.Fail("reply", errors.New("HTTP 500"))
	id := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0))).IncidentID
	bottest.Drain(t, runbookDispatcher(s, chat, clock))
	roots := chat.Snapshot("C-ALERTS")
	if len(roots) != 1 || len(roots[0].Replies) != 0 || bottest.OutboxDepth(t, s) != 1 {
		t.Fatalf("a failed runbook reply: %d roots, %d replies, depth %d; want the root, no reply, the job kept", len(roots), len(roots[0].Replies), bottest.OutboxDepth(t, s))
	}
	if th, _ := s.Thread(context.Background(), id, "alerts"); th.RunbookPosted {
		t.Fatal("a runbook reply that failed is recorded as posted")
	}
	// Something happens before the retry; then the bot restarts.
	clock.Advance(time.Second)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0), bottest.Alert("a2", bot.AlertFiring, "warning", clock.Now())))
	clock.Advance(time.Hour)
	bottest.Drain(t, runbookDispatcher(s, chat, clock))
	roots = chat.Snapshot("C-ALERTS")
	if len(roots) != 1 || len(roots[0].Replies) != 1 || chat.Calls("post_root") != 1 {
		t.Fatalf("after the restart: %d roots, %d replies, %d root posts; want 1 root and 1 reply: the runbook with the change", len(roots), len(roots[0].Replies), chat.Calls("post_root"))
	}
	wantRunbookFirst(t, roots[0])
	if r := roots[0].Replies[0]; !slices.Contains(r.Lines, "Since the root: 1 change") {
		t.Fatalf("the runbook reply does not say what changed since the root: %+v", r)
	}
}

func testRunbookMissing(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	g := bottest.Group("disk", bot.AlertFiring, bottest.Alert("d1", bot.AlertFiring, "warning", t0))
	g.GroupLabels = map[string]string{"alertname": "DiskFull"}
	g.CommonLabels = map[string]string{"alertname": "DiskFull", "instance": "node-1"}
	bottest.Ingest(t, e, g)
	bottest.Drain(t, runbookDispatcher(s, chat, clock))
	roots := chat.Snapshot("C-ALERTS")
	if len(roots) != 1 || len(roots[0].Replies) != 1 {
		t.Fatalf("%d roots; want one with one reply", len(roots))
	}
	if m := roots[0].Replies[0]; m.Title != "No runbook for DiskFull: add one under runbooks in the configuration." || len(m.Buttons) != 0 {
		t.Fatalf("reply = %+v", m)
	}
}
