package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
)

func outboxTests() []namedTest {
	return []namedTest{
		{"OutboxClaimIsExclusiveAndLeased", testClaimExclusive},
		{"OutboxFinishKeepsNewerChange", testFinishKeepsNewerChange},
		{"OutboxRetryWaits", testRetryWaits},
		{"OutboxUrgentFirst", testUrgentFirst},
		{"OutboxCoalesces", testOutboxCoalesces},
		{"OutboxEnqueueMany", testEnqueueMany},
		{"OutboxClaimNextRootsFirst", testClaimNextRootsFirst},
		{"OutboxContinueJob", testContinueJob},
		{"ThreadRoundTrip", testThreadRoundTrip},
		{"OutboxTraceParent", testOutboxTraceParent},
	}
}

// enqueueN seeds n incidents, each with one job at the alerts destination.
func enqueueN(t *testing.T, s bot.Store, n int) {
	t.Helper()
	for i := range n {
		seed(t, s, fmt.Sprintf("svc-%d", i), bot.P2, t0, "alerts")
	}
}

// One pending job per incident and destination: a later change folds into
// it, the earlier due time and the more urgent priority win.
func testOutboxCoalesces(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id := seed(t, s, "mem", bot.P2, t0, "alerts")
	for i := range 50 {
		enqueue(t, s, id, "alerts", bot.P2, t0.Add(time.Duration(i+1)*time.Millisecond))
	}
	if n := depth(t, s); n != 1 {
		t.Fatalf("51 changes to one incident at one destination: outbox depth %d, want 1", n)
	}
	enqueue(t, s, id, "alerts", bot.P1, t0.Add(time.Hour))
	enqueue(t, s, id, "incidents", bot.P1, t0)
	if n := depth(t, s); n != 2 {
		t.Fatalf("after a second destination: outbox depth %d, want 2", n)
	}
	jobs, err := s.ClaimJobs(ctx, t0, time.Minute, 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim = %d jobs, %v; want both due at t0", len(jobs), err)
	}
	for _, j := range jobs {
		if j.Priority != bot.P1 {
			t.Fatalf("job at %s has priority %s, want the more urgent P1", j.Destination, j.Priority)
		}
	}
}

func testClaimExclusive(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	enqueueN(t, s, 6)
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
	clock := bottest.NewClock(t0)
	id := seed(t, s, "mem", bot.P2, t0, "alerts")
	jobs, err := s.ClaimJobs(ctx, clock.Now(), time.Minute, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d, %v", len(jobs), err)
	}
	// A change lands while the job is being worked on.
	clock.Advance(time.Second)
	enqueue(t, s, id, "alerts", bot.P2, clock.Now())
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
	enqueueN(t, s, 1)
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
	clock := bottest.NewClock(t0)
	enqueueN(t, s, 1)
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
	seed(t, s, "low", bot.P3, t0, "alerts")
	seed(t, s, "high", bot.P1, t0.Add(time.Second), "incidents")
	jobs, err := s.ClaimJobs(ctx, t0.Add(time.Second), time.Minute, 1)
	if err != nil || len(jobs) != 1 || jobs[0].Priority != bot.P1 {
		t.Fatalf("first claim = %+v, %v; want the P1 job before the older P3 one", jobs, err)
	}
}

func testThreadRoundTrip(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id := seed(t, s, "x", bot.P2, t0, "alerts")
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

// A destination's lane takes its jobs roots first (most urgent, then
// oldest), then the others; never another destination's; and with
// rootsOnly, roots alone.
func testClaimNextRootsFirst(t *testing.T, s bot.Store) {
	ctx := context.Background()
	// Three incidents at "alerts": one whose root is posted, two without.
	withRoot := seed(t, s, "with-root", bot.P1, t0, "alerts")
	if err := s.SaveThread(ctx, bot.Thread{IncidentID: withRoot, Destination: "alerts", Platform: "slack",
		Ref: bot.ThreadRef{Channel: "C1", RootID: "1.1", ThreadID: "1.1"}}, t0); err != nil {
		t.Fatal(err)
	}
	oldP3 := seed(t, s, "old-p3", bot.P3, t0.Add(time.Second), "alerts")
	newP2 := seed(t, s, "new-p2", bot.P2, t0.Add(2*time.Second), "alerts")
	newerP2 := seed(t, s, "newer-p2", bot.P2, t0.Add(3*time.Second), "alerts")
	other := seed(t, s, "elsewhere", bot.P0, t0, "incidents")
	now := t0.Add(time.Minute)
	var got []int64
	for {
		job, ok, err := s.ClaimNext(ctx, "alerts", now, time.Minute, false)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, job.IncidentID)
	}
	if want := []int64{newP2, newerP2, oldP3, withRoot}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claimed %v, want roots by severity then age, then the update: %v", got, want)
	}
	// The P0 job of another destination is left alone, and once released
	// a roots-only claim takes roots and nothing else.
	if job, ok, err := s.ClaimNext(ctx, "incidents", now, time.Minute, true); err != nil || !ok || job.IncidentID != other {
		t.Fatalf("roots-only claim at incidents = %+v, %v, %v; want incident %d", job, ok, err, other)
	}
	later := now.Add(2 * time.Minute) // past every lease
	job, ok, err := s.ClaimNext(ctx, "alerts", later, time.Minute, true)
	if err != nil || !ok || job.IncidentID != newP2 {
		t.Fatalf("roots-only claim = %+v, %v, %v; want the P2 root %d", job, ok, err, newP2)
	}
	for range 2 {
		if job, ok, _ := s.ClaimNext(ctx, "alerts", later, time.Minute, true); ok && job.IncidentID == withRoot {
			t.Fatal("a roots-only claim took a job whose root is posted")
		}
	}
}

// A job whose root is posted goes back as new work: due when asked,
// counted from then, its attempts started again, claimable at once.
func testContinueJob(t *testing.T, s bot.Store) {
	ctx := context.Background()
	seed(t, s, "orders", bot.P2, t0, "alerts")
	now := t0.Add(time.Minute)
	job, ok, err := s.ClaimNext(ctx, "alerts", now, time.Minute, false)
	if err != nil || !ok {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	if err := s.ContinueJob(ctx, job, now); err != nil {
		t.Fatal(err)
	}
	again, ok, err := s.ClaimNext(ctx, "alerts", now, time.Minute, false)
	if err != nil || !ok || again.ID != job.ID || again.Attempts != 1 || !again.CreatedAt.Equal(now) {
		t.Fatalf("after ContinueJob: %+v, %v, %v; want the same job, attempt 1, enqueued at %s", again, ok, err, now)
	}
	// A stale claim token continues nothing.
	stale := again
	stale.ClaimToken = "someone-else"
	if err := s.ContinueJob(ctx, stale, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimNext(ctx, "alerts", now, time.Minute, false); ok {
		t.Fatal("a foreign claim token released a claimed job")
	}
}

// Several jobs in one call coalesce like several calls: among themselves
// and into what is pending.
func testEnqueueMany(t *testing.T, s bot.Store) {
	ctx := context.Background()
	a := seed(t, s, "a", bot.P2, t0, "alerts")
	b := seed(t, s, "b", bot.P3, t0)
	err := s.InTx(ctx, func(tx bot.Tx) error {
		return tx.Enqueue(ctx,
			bot.OutboxJob{IncidentID: a, Destination: "alerts", Priority: bot.P1, DueAt: t0.Add(time.Hour)},
			bot.OutboxJob{IncidentID: b, Destination: "alerts", Priority: bot.P3, DueAt: t0.Add(time.Hour)},
			bot.OutboxJob{IncidentID: b, Destination: "alerts", Priority: bot.P2, DueAt: t0},
			bot.OutboxJob{IncidentID: b, Destination: "incidents", Priority: bot.P3, DueAt: t0.Add(time.Hour)})
	})
	if err != nil {
		t.Fatalf("Enqueue of four jobs, two of them for one thread: %v", err)
	}
	if n := depth(t, s); n != 3 {
		t.Fatalf("outbox depth %d, want 3 (one per incident and destination)", n)
	}
	jobs, err := s.ClaimJobs(ctx, t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bot.Severity{}
	for _, j := range jobs {
		got[j.IncidentID] = j.Priority
	}
	if len(jobs) != 2 || got[a] != bot.P1 || got[b] != bot.P2 {
		t.Fatalf("due at t0: %v; want incident %d at P1 (the pending job's time, the new priority) and %d at P2 (the earlier of its two)", got, a, b)
	}
}

// A job stores the traceparent of the change that queued it; a change that
// folds into it brings its own, a change without one keeps the last, and
// one longer than the column allows is not stored.
func testOutboxTraceParent(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const (
		tpA = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		tpB = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	)
	queue := func(id int64, dest, tp string) {
		t.Helper()
		err := s.InTx(ctx, func(tx bot.Tx) error {
			return tx.Enqueue(ctx, bot.OutboxJob{IncidentID: id, Destination: dest, Priority: bot.P2, DueAt: t0, TraceParent: tp})
		})
		if err != nil {
			t.Fatalf("enqueue with traceparent %q: %v", tp, err)
		}
	}
	claim := func(dest string) bot.OutboxJob {
		t.Helper()
		job, ok, err := s.ClaimNext(ctx, dest, t0, time.Minute, false)
		if err != nil || !ok {
			t.Fatalf("ClaimNext(%s) = %v, %v", dest, ok, err)
		}
		return job
	}
	id := seed(t, s, "tp", bot.P2, t0)
	queue(id, "alerts", tpA)
	queue(id, "alerts", tpB)
	queue(id, "alerts", "")
	if job := claim("alerts"); job.TraceParent != tpB {
		t.Fatalf("coalesced job's traceparent = %q, want the last change's %q", job.TraceParent, tpB)
	}
	queue(id, "mirror", tpA+"-"+strings.Repeat("0", 200))
	if job := claim("mirror"); job.TraceParent != "" {
		t.Fatalf("an over-long traceparent came back as %q", job.TraceParent)
	}
	queue(id, "quiet", "")
	if job := claim("quiet"); job.TraceParent != "" {
		t.Fatalf("a job queued without a span came back with traceparent %q", job.TraceParent)
	}
	inc := &bot.Incident{Receiver: "r", GroupKey: "tp-write", Status: bot.IncidentOpen, Severity: bot.P2, Title: "t",
		GroupLabels: map[string]string{"alertname": "X"}, OpenedAt: t0, UpdatedAt: t0}
	err := s.InTx(ctx, func(tx bot.Tx) error {
		_, err := tx.WriteIncident(ctx, bot.IncidentWrite{Incident: inc, At: t0, Destinations: []string{"written"}, TraceParent: tpA})
		return err
	})
	if err != nil {
		t.Fatalf("WriteIncident: %v", err)
	}
	if job := claim("written"); job.TraceParent != tpA {
		t.Fatalf("WriteIncident's job traceparent = %q, want %q", job.TraceParent, tpA)
	}
}
