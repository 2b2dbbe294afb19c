package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"go.uber.org/zap"
)

// fakeChat is an in-memory chat platform: it keeps every channel's messages
// and can be told to fail.
type fakeChat struct {
	mu      sync.Mutex
	roots   map[string][]fakeRoot // by channel
	nextID  int
	failErr map[string][]error // method → errors to return, in order
	// dropNext: the next PostRoot is recorded, then reported as failed
	// (the connection dropped after the request was sent).
	dropNext bool
	calls    map[string]int
}

type fakeRoot struct {
	ref     bot.ThreadRef
	msg     bot.Message
	edits   int
	replies []bot.Message
}

func newFakeChat() *fakeChat {
	return &fakeChat{roots: map[string][]fakeRoot{}, failErr: map[string][]error{}, calls: map[string]int{}}
}

func (f *fakeChat) fail(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failErr[method] = append(f.failErr[method], errs...)
}

func (f *fakeChat) take(method string) error {
	f.calls[method]++
	if errs := f.failErr[method]; len(errs) > 0 {
		f.failErr[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeChat) PostRoot(_ context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.take("post_root"); err != nil {
		return bot.ThreadRef{}, err
	}
	f.nextID++
	id := fmt.Sprintf("m%d", f.nextID)
	ref := bot.ThreadRef{Channel: channel, RootID: id, ThreadID: id}
	f.roots[channel] = append(f.roots[channel], fakeRoot{ref: ref, msg: m})
	if f.dropNext {
		f.dropNext = false
		return bot.ThreadRef{}, errors.New("connection reset after the request was sent")
	}
	return ref, nil
}

func (f *fakeChat) find(ref bot.ThreadRef) *fakeRoot {
	for i := range f.roots[ref.Channel] {
		if f.roots[ref.Channel][i].ref.RootID == ref.RootID {
			return &f.roots[ref.Channel][i]
		}
	}
	return nil
}

func (f *fakeChat) EditRoot(_ context.Context, ref bot.ThreadRef, m bot.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.take("edit_root"); err != nil {
		return err
	}
	r := f.find(ref)
	if r == nil {
		return bot.Permanent(errors.New("message_not_found"))
	}
	r.msg, r.edits = m, r.edits+1
	return nil
}

func (f *fakeChat) Reply(_ context.Context, ref bot.ThreadRef, m bot.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.take("reply"); err != nil {
		return err
	}
	r := f.find(ref)
	if r == nil {
		return bot.Permanent(errors.New("thread_not_found"))
	}
	r.replies = append(r.replies, m)
	return nil
}

func (f *fakeChat) FindRoot(_ context.Context, channel, marker string, _ time.Time) (bot.ThreadRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["find_root"]++
	for _, r := range f.roots[channel] {
		if r.msg.Marker == marker {
			return r.ref, true, nil
		}
	}
	return bot.ThreadRef{}, false, nil
}

func (f *fakeChat) snapshot(channel string) []fakeRoot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRoot(nil), f.roots[channel]...)
}

var chatDests = []bot.Destination{
	{Name: "incidents", Platform: "fake", Channel: "C-INC", Mention: "S-ONCALL"},
	{Name: "alerts", Platform: "fake", Channel: "C-ALERTS"},
}

func chatEngine(s bot.Store, clock *Clock) *bot.Engine {
	return bot.NewEngine(s, bot.EngineConfig{
		Routes: bot.Routes{
			{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents"}},
			{Destinations: []string{"alerts"}},
		},
		ReopenWindow: 10 * time.Minute,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func dispatcher(s bot.Store, chat bot.Chat, clock *Clock) *bot.Dispatcher {
	return bot.NewDispatcher(s, bot.DispatcherConfig{
		Destinations: chatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Workers:      4,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

// drain runs the dispatcher until nothing is due.
func drain(t *testing.T, d *bot.Dispatcher) {
	t.Helper()
	for range 50 {
		n, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the outbox did not drain in 50 passes")
}

func depth(t *testing.T, s bot.Store) int {
	t.Helper()
	n, _, err := s.OutboxStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func outboxTests() []namedTest {
	return []namedTest{
		{"OutboxClaimIsExclusiveAndLeased", testClaimExclusive},
		{"OutboxFinishKeepsNewerChange", testFinishKeepsNewerChange},
		{"OutboxRetryWaits", testRetryWaits},
		{"OutboxUrgentFirst", testUrgentFirst},
		{"ThreadRoundTrip", testThreadRoundTrip},
		{"DispatcherRootEditReply", testDispatcherRootEditReply},
		{"DispatcherCoalescesAStorm", testDispatcherStorm},
		{"DispatcherUnknownOutcomeIsNotPostedTwice", testDispatcherUnknownOutcome},
		{"DispatcherRateLimitedWaits", testDispatcherRateLimited},
		{"DispatchersInParallelPostOnce", testDispatchersInParallel},
		{"DispatcherCatchesUpWhenThePlatformRecovers", testDispatcherRecovers},
	}
}

func enqueueN(t *testing.T, s bot.Store, clock *Clock, n int) {
	t.Helper()
	e := chatEngine(s, clock)
	for i := range n {
		ingest(t, e, group(fmt.Sprintf("svc-%d", i), bot.AlertFiring, alert(fmt.Sprintf("a%d", i), bot.AlertFiring, "warning", t0)))
	}
}

func testClaimExclusive(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := &Clock{now: t0}
	enqueueN(t, s, clock, 6)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]int{}
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs, err := s.ClaimJobs(ctx, clock.Now(), time.Minute, 4)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, j := range jobs {
				seen[j.ID]++
			}
		}()
	}
	wg.Wait()
	if len(seen) != 6 {
		t.Fatalf("claimed %d distinct jobs, want 6", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("job %d claimed %d times", id, n)
		}
	}
	if jobs, _ := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10); len(jobs) != 0 {
		t.Fatalf("%d jobs claimed again inside the lease", len(jobs))
	}
	clock.Advance(2 * time.Minute)
	jobs, err := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10)
	if err != nil || len(jobs) != 6 {
		t.Fatalf("after the lease: %d jobs, %v; want 6", len(jobs), err)
	}
	if jobs[0].Attempts != 2 {
		t.Fatalf("attempts = %d after two claims, want 2", jobs[0].Attempts)
	}
}

func testFinishKeepsNewerChange(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := &Clock{now: t0}
	e := chatEngine(s, clock)
	ingest(t, e, group("mem", bot.AlertFiring, alert("p1", bot.AlertFiring, "warning", t0)))
	jobs, err := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d, %v", len(jobs), err)
	}
	// A change lands while the job is being worked on.
	clock.Advance(time.Second)
	ingest(t, e, group("mem", bot.AlertFiring, alert("p2", bot.AlertFiring, "warning", t0)))
	if err := s.FinishJob(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	again, err := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10)
	if err != nil || len(again) != 1 || again[0].ID != jobs[0].ID || again[0].Version <= jobs[0].Version {
		t.Fatalf("after finishing an outdated claim: %+v, %v; want the same job, newer version", again, err)
	}
	if err := s.FinishJob(ctx, again[0]); err != nil {
		t.Fatal(err)
	}
	if n := depth(t, s); n != 0 {
		t.Fatalf("outbox depth %d after finishing, want 0", n)
	}
	// A stale claim token cannot delete anything.
	enqueueN(t, s, clock, 1)
	fresh, _ := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10)
	stale := fresh[0]
	stale.ClaimToken = "someone-else"
	if err := s.FinishJob(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if n := depth(t, s); n != 1 {
		t.Fatalf("a foreign claim token finished a job: depth %d", n)
	}
}

func testRetryWaits(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := &Clock{now: t0}
	enqueueN(t, s, clock, 1)
	jobs, _ := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10)
	if err := s.RetryJob(ctx, jobs[0], clock.Now().Add(30*time.Second), "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimJobs(ctx, clock.Now().Add(29*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatal("a job put back for 30 s was claimed after 29 s")
	}
	if got, _ := s.ClaimJobs(ctx, clock.Now().Add(30*time.Second), time.Minute, 10); len(got) != 1 {
		t.Fatal("a job put back for 30 s was not claimable after 30 s")
	}
}

func testUrgentFirst(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := &Clock{now: t0}
	e := chatEngine(s, clock)
	ingest(t, e, group("low", bot.AlertFiring, alert("l", bot.AlertFiring, "info", t0)))
	clock.Advance(time.Second)
	ingest(t, e, group("high", bot.AlertFiring, alert("h", bot.AlertFiring, "critical", t0)))
	jobs, err := s.ClaimJobs(ctx, clock.Now(), time.Minute, 1)
	if err != nil || len(jobs) != 1 || jobs[0].Priority != bot.P1 {
		t.Fatalf("first claim = %+v, %v; want the P1 job before the older P3 one", jobs, err)
	}
}

func testThreadRoundTrip(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := &Clock{now: t0}
	id := ingest(t, chatEngine(s, clock), group("x", bot.AlertFiring, alert("x", bot.AlertFiring, "warning", t0))).IncidentID
	th, err := s.Thread(ctx, id, "alerts")
	if err != nil || th.Ref.RootID != "" || th.RootAttemptedAt != nil {
		t.Fatalf("unknown thread = %+v, %v; want zero", th, err)
	}
	at := t0.Add(time.Minute)
	th = bot.Thread{IncidentID: id, Destination: "alerts", Platform: "slack", RootAttemptedAt: &at,
		Ref: bot.ThreadRef{Channel: "C1", RootID: "1.2", ThreadID: "1.2"}, RootHash: "h", LastEventID: 7}
	if err := s.SaveThread(ctx, th, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.Thread(ctx, id, "alerts")
	if err != nil || got.Ref != th.Ref || got.RootHash != "h" || got.LastEventID != 7 || got.RootAttemptedAt == nil || !got.RootAttemptedAt.Equal(at) {
		t.Fatalf("thread = %+v, %v; want %+v", got, err, th)
	}
}

func testDispatcherRootEditReply(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	d := dispatcher(s, chat, clock)
	ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0)))
	drain(t, d)
	roots := chat.snapshot("C-INC")
	if len(roots) != 1 || roots[0].msg.Mention != "S-ONCALL" || len(roots[0].replies) != 0 {
		t.Fatalf("after firing: %d roots (want 1 with the on-call mention, no replies): %+v", len(roots), roots)
	}
	// Nothing changed: nothing to do, nothing posted.
	drain(t, d)
	clock.Advance(17 * time.Minute)
	ingest(t, e, group("orders", bot.AlertResolved, alert("a1", bot.AlertResolved, "critical", t0)))
	drain(t, d)
	roots = chat.snapshot("C-INC")
	if len(roots) != 1 || roots[0].edits != 1 || roots[0].msg.Status != bot.IncidentResolved || len(roots[0].replies) != 1 {
		t.Fatalf("after resolve: roots=%d edits=%d status=%s replies=%d; want 1 root edited once to resolved and 1 reply",
			len(roots), roots[0].edits, roots[0].msg.Status, len(roots[0].replies))
	}
	if r := roots[0].replies[0]; !strings.HasPrefix(r.Title, "Resolved after 17m") {
		t.Fatalf("reply title %q, want Resolved after 17m", r.Title)
	}
	if roots[0].msg.Mention != "" {
		t.Fatal("a resolved root still mentions the on-call group")
	}
	if n := depth(t, s); n != 0 {
		t.Fatalf("outbox depth %d after draining", n)
	}
	if got := chat.snapshot("C-ALERTS"); len(got) != 0 {
		t.Fatalf("a P1 incident was posted to the P2/P3 channel: %d roots", len(got))
	}
}

func testDispatcherStorm(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	d := dispatcher(s, chat, clock)
	ingest(t, e, group("mem", bot.AlertFiring, alert("p0", bot.AlertFiring, "warning", t0)))
	drain(t, d)
	for i := 1; i <= 200; i++ {
		clock.Advance(5 * time.Millisecond)
		ingest(t, e, group("mem", bot.AlertFiring, alert(fmt.Sprintf("p%d", i), bot.AlertFiring, "warning", t0)))
	}
	drain(t, d)
	roots := chat.snapshot("C-ALERTS")
	if len(roots) != 1 || roots[0].edits != 1 || len(roots[0].replies) != 1 {
		t.Fatalf("200 changes: roots=%d edits=%d replies=%d; want 1 root, 1 edit, 1 reply", len(roots), roots[0].edits, len(roots[0].replies))
	}
	r := roots[0].replies[0]
	if len(r.Lines)+r.MoreLines != 200 {
		t.Fatalf("the reply sums up %d changes, want 200", len(r.Lines)+r.MoreLines)
	}
}

func testDispatcherUnknownOutcome(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	d := dispatcher(s, chat, clock)
	chat.dropNext = true
	ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "warning", t0)))
	drain(t, d)
	clock.Advance(time.Hour) // past any backoff
	drain(t, d)
	roots := chat.snapshot("C-ALERTS")
	if len(roots) != 1 {
		t.Fatalf("%d roots after a post whose answer was lost, want 1", len(roots))
	}
	if chat.calls["find_root"] != 1 || chat.calls["post_root"] != 1 {
		t.Fatalf("calls = %v; want one post and one look-up", chat.calls)
	}
	if n := depth(t, s); n != 0 {
		t.Fatalf("outbox depth %d, want 0", n)
	}
}

func testDispatcherRateLimited(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	d := dispatcher(s, chat, clock)
	chat.fail("post_root", &bot.RateLimitedError{After: 30 * time.Second}, errors.New("HTTP 500"))
	ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "warning", t0)))
	drain(t, d)
	if len(chat.snapshot("C-ALERTS")) != 0 || depth(t, s) != 1 {
		t.Fatal("a rate-limited post did not stay in the outbox")
	}
	clock.Advance(29 * time.Second)
	drain(t, d)
	if chat.calls["post_root"] != 1 {
		t.Fatalf("retried %d times before Retry-After passed", chat.calls["post_root"]-1)
	}
	clock.Advance(10 * time.Minute) // past Retry-After, then past the 500's backoff
	drain(t, d)
	clock.Advance(10 * time.Minute)
	drain(t, d)
	if len(chat.snapshot("C-ALERTS")) != 1 || depth(t, s) != 0 {
		t.Fatalf("after the limits passed: %d roots, depth %d; want 1, 0", len(chat.snapshot("C-ALERTS")), depth(t, s))
	}
}

func testDispatchersInParallel(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	chat := newFakeChat()
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
	roots := chat.snapshot("C-ALERTS")
	if len(roots) != 30 {
		t.Fatalf("%d roots for 30 incidents from 3 dispatchers, want 30", len(roots))
	}
	markers := map[string]bool{}
	for _, r := range roots {
		if markers[r.msg.Marker] {
			t.Fatalf("root %s posted twice", r.msg.Marker)
		}
		markers[r.msg.Marker] = true
	}
}

func testDispatcherRecovers(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	chat := newFakeChat()
	d := bot.NewDispatcher(s, bot.DispatcherConfig{
		Destinations: chatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		MinBackoff:   time.Hour, // the outage leaves every job waiting for a long time
		MaxBackoff:   time.Hour,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
	outage := make([]error, 5)
	for i := range outage {
		outage[i] = errors.New("HTTP 503")
	}
	chat.fail("post_root", outage...)
	enqueueN(t, s, clock, 5)
	drain(t, d)
	if len(chat.snapshot("C-ALERTS")) != 0 || depth(t, s) != 5 {
		t.Fatal("posts failed during the outage but the jobs are gone")
	}
	// The platform is back; a new incident's post succeeds and the five
	// waiting jobs follow at once instead of after their hour of backoff.
	clock.Advance(time.Second)
	e := chatEngine(s, clock)
	ingest(t, e, group("after", bot.AlertFiring, alert("z", bot.AlertFiring, "warning", t0)))
	drain(t, d)
	if got := len(chat.snapshot("C-ALERTS")); got != 6 || depth(t, s) != 0 {
		t.Fatalf("after recovery: %d roots, depth %d; want 6 roots and an empty outbox", got, depth(t, s))
	}
}
