// Package storetest is the conformance suite every bot.Store passes. The
// PostgreSQL and SQLite stores run it against a fresh database each test, so
// both keep exactly the same promises: one transaction per notification,
// idempotence, the database's own uniqueness guarantees, outbox coalescing.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"go.uber.org/zap"
)

// Opener returns a fresh, migrated, empty store and the way around it;
// the suite closes the store.
type Opener func(t *testing.T) Backend

// Backend is one store under test, and raw access to the database under it
// for the tests that play an attacker.
type Backend struct {
	Store bot.Store
	// Exec runs one SQL statement straight on the store's database,
	// bypassing the store: what someone with the database owner's rights
	// can do. The suite's statements are plain SQL both databases accept,
	// with no parameters.
	Exec func(ctx context.Context, query string, args ...any) error
	// Unguard lists the statements that lift the audit log's append-only
	// triggers, as such a person would before editing the log.
	Unguard []string
}

// Clock is a controllable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

var t0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

type namedTest struct {
	name string
	fn   func(t *testing.T, s bot.Store)
}

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []namedTest{
		{"FiringOpensIncident", testFiringOpensIncident},
		{"DuplicateIsNoOp", testDuplicateIsNoOp},
		{"ResolveAndReopen", testResolveAndReopen},
		{"NewIncidentAfterReopenWindow", testNewIncidentAfterReopenWindow},
		{"AbsenceResolvesNothing", testAbsenceResolvesNothing},
		{"StaleRetryIgnored", testStaleRetryIgnored},
		{"SameFingerprintTwiceInOneNotification", testSameFingerprintTwice},
		{"LargeGroup", testLargeGroup},
		{"ReplayGuard", testReplayGuard},
		{"ParallelDuplicatesLeaveOneState", testParallelDuplicates},
		{"ParallelGroups", testParallelGroups},
		{"DatabaseEnforcesOneOpenIncident", testOneOpenIncident},
		{"DatabaseEnforcesOneAlertRow", testOneAlertRow},
		{"FailedTxLeavesNothing", testFailedTxLeavesNothing},
		{"OutboxCoalesces", testOutboxCoalesces},
		{"ListAndGet", testListAndGet},
		{"Ready", func(t *testing.T, s bot.Store) {
			if err := s.Ready(context.Background()); err != nil {
				t.Fatalf("Ready: %v", err)
			}
		}},
	}
	tests = append(tests, outboxTests()...)
	tests = append(tests, approvalTests()...)
	tests = append(tests, auditTests()...)
	tests = append(tests, approvalServiceTests()...)
	tests = append(tests, incidentActionTests()...)
	tests = append(tests, escalationTests()...)
	tests = append(tests, lifecycleTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			t.Cleanup(func() { b.Store.Close() })
			tc.fn(t, b.Store)
		})
	}
	for _, tc := range tamperTests() {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			t.Cleanup(func() { b.Store.Close() })
			if b.Exec == nil || len(b.Unguard) == 0 {
				t.Fatal("the backend gives no raw database access: the tamper tests need Exec and Unguard")
			}
			tc.fn(t, b)
		})
	}
}

func newEngine(s bot.Store, clock *Clock) *bot.Engine {
	return bot.NewEngine(s, bot.EngineConfig{
		Classifier: bot.Classifier{},
		Routes: bot.Routes{
			{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents", "mirror"}},
			{Destinations: []string{"alerts"}},
		},
		ReopenWindow: 10 * time.Minute,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

// group builds a notification for group key, one alert per fingerprint.
func group(key string, status bot.AlertStatus, alerts ...bot.Alert) bot.AlertGroup {
	return bot.AlertGroup{
		Receiver:     "chatops",
		GroupKey:     key,
		Status:       status,
		GroupLabels:  map[string]string{"alertname": "ServiceDown", "service": key},
		CommonLabels: map[string]string{"alertname": "ServiceDown", "service": key},
		ExternalURL:  "http://alertmanager:9093",
		Alerts:       alerts,
	}
}

func alert(fp string, status bot.AlertStatus, severity string, startsAt time.Time) bot.Alert {
	a := bot.Alert{
		Fingerprint: fp,
		Status:      status,
		Labels:      map[string]string{"alertname": "ServiceDown", "pod": fp, "severity": severity},
		Annotations: map[string]string{"summary": "down"},
		StartsAt:    startsAt,
	}
	if status == bot.AlertResolved {
		a.EndsAt = startsAt.Add(17 * time.Minute)
	}
	return a
}

func ingest(t *testing.T, e *bot.Engine, g bot.AlertGroup) bot.IngestResult {
	t.Helper()
	// The engine classifies in place: give it its own copy of the alerts.
	g.Alerts = append([]bot.Alert(nil), g.Alerts...)
	res, err := e.Ingest(context.Background(), g)
	if err != nil {
		t.Fatalf("Ingest(%s): %v", g.GroupKey, err)
	}
	return res
}

func get(t *testing.T, s bot.Store, id int64) bot.IncidentDetail {
	t.Helper()
	d, err := s.GetIncident(context.Background(), id)
	if err != nil {
		t.Fatalf("GetIncident(%d): %v", id, err)
	}
	return d
}

func list(t *testing.T, s bot.Store, status bot.IncidentStatus) []bot.Incident {
	t.Helper()
	incs, err := s.ListIncidents(context.Background(), bot.IncidentFilter{Status: status})
	if err != nil {
		t.Fatalf("ListIncidents: %v", err)
	}
	return incs
}

func kinds(d bot.IncidentDetail) []bot.EventKind {
	out := make([]bot.EventKind, len(d.Timeline))
	for i, e := range d.Timeline {
		out[i] = e.Kind
	}
	return out
}

func wantKinds(t *testing.T, d bot.IncidentDetail, want ...bot.EventKind) {
	t.Helper()
	got := kinds(d)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("timeline of incident %d = %v, want %v", d.ID, got, want)
	}
}

func testFiringOpensIncident(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	res := ingest(t, e, group("orders", bot.AlertFiring,
		alert("a1", bot.AlertFiring, "warning", t0), alert("a2", bot.AlertFiring, "critical", t0)))
	if !res.Created || res.IncidentID == 0 {
		t.Fatalf("first notification: %+v, want a created incident", res)
	}
	d := get(t, s, res.IncidentID)
	if d.Status != bot.IncidentOpen || d.Severity != bot.P1 || d.Firing != 2 || d.Resolved != 0 {
		t.Fatalf("incident = %s %s firing=%d resolved=%d, want open P1 2/0", d.Status, d.Severity, d.Firing, d.Resolved)
	}
	if d.Title != "ServiceDown · orders" || !d.OpenedAt.Equal(t0) {
		t.Fatalf("title %q opened %s", d.Title, d.OpenedAt)
	}
	if len(d.Alerts) != 2 || !d.Alerts[0].StartsAt.Equal(t0) || d.Alerts[0].Labels["pod"] == "" {
		t.Fatalf("alerts = %+v", d.Alerts)
	}
	wantKinds(t, d, bot.EventOpened, bot.EventAlertFiring, bot.EventAlertFiring)
	counts, err := s.CountOpenIncidents(context.Background())
	if err != nil || counts[bot.P1] != 1 || counts[bot.P2] != 0 {
		t.Fatalf("CountOpenIncidents = %v, %v; want P1:1", counts, err)
	}
}

func testDuplicateIsNoOp(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	g := group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0))
	first := ingest(t, e, g)
	before := get(t, s, first.IncidentID)
	clock.Advance(time.Minute)
	again := ingest(t, e, g)
	if again.IncidentID != first.IncidentID || again.Created || again.Events != 0 {
		t.Fatalf("duplicate: %+v, want the same incident and no events", again)
	}
	after := get(t, s, first.IncidentID)
	if len(after.Timeline) != len(before.Timeline) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("duplicate changed the incident: timeline %d→%d, updated %s→%s",
			len(before.Timeline), len(after.Timeline), before.UpdatedAt, after.UpdatedAt)
	}
	if n := len(list(t, s, "")); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
}

func testResolveAndReopen(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	id := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	clock.Advance(17 * time.Minute)
	ingest(t, e, group("orders", bot.AlertResolved, alert("a1", bot.AlertResolved, "critical", t0)))
	d := get(t, s, id)
	if d.Status != bot.IncidentResolved || d.ResolvedAt == nil || !d.ResolvedAt.Equal(clock.Now()) || d.Firing != 0 {
		t.Fatalf("after resolve: %s resolved_at=%v firing=%d", d.Status, d.ResolvedAt, d.Firing)
	}
	if len(list(t, s, bot.IncidentOpen)) != 0 || len(list(t, s, bot.IncidentResolved)) != 1 {
		t.Fatal("resolved incident still listed as open")
	}
	// Fires again 5 minutes later: inside the 10-minute window, same incident.
	clock.Advance(5 * time.Minute)
	again := clock.Now()
	res := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", again)))
	if res.IncidentID != id || res.Created {
		t.Fatalf("re-fire inside the window: %+v, want incident %d reopened", res, id)
	}
	d = get(t, s, id)
	if d.Status != bot.IncidentOpen || d.ResolvedAt != nil || d.Firing != 1 {
		t.Fatalf("after reopen: %s resolved_at=%v firing=%d", d.Status, d.ResolvedAt, d.Firing)
	}
	wantKinds(t, d, bot.EventOpened, bot.EventAlertFiring, bot.EventAlertResolved, bot.EventResolved,
		bot.EventAlertFiring, bot.EventReopened)
}

func testNewIncidentAfterReopenWindow(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	id := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	clock.Advance(time.Minute)
	ingest(t, e, group("orders", bot.AlertResolved, alert("a1", bot.AlertResolved, "critical", t0)))
	clock.Advance(11 * time.Minute)
	// A late retry of the old firing notification changes nothing...
	stale := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0)))
	if stale.IncidentID != id || stale.Events != 0 {
		t.Fatalf("stale retry after the window: %+v, want incident %d untouched", stale, id)
	}
	// ...but a new occurrence opens a new incident.
	res := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", clock.Now())))
	if res.IncidentID == id || !res.Created {
		t.Fatalf("re-fire after the window: %+v, want a new incident", res)
	}
	if get(t, s, id).Status != bot.IncidentResolved {
		t.Fatal("the old incident reopened")
	}
}

func testAbsenceResolvesNothing(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	id := ingest(t, e, group("mem", bot.AlertFiring,
		alert("p1", bot.AlertFiring, "warning", t0), alert("p2", bot.AlertFiring, "warning", t0))).IncidentID
	g := group("mem", bot.AlertFiring, alert("p2", bot.AlertFiring, "warning", t0))
	g.TruncatedAlerts = 1
	ingest(t, e, g)
	d := get(t, s, id)
	if d.Firing != 2 || d.Status != bot.IncidentOpen {
		t.Fatalf("an alert absent from a later notification changed state: firing=%d status=%s", d.Firing, d.Status)
	}
	if d.TruncatedAlerts != 1 {
		t.Fatalf("truncated_alerts = %d, want 1", d.TruncatedAlerts)
	}
	ingest(t, e, group("mem", bot.AlertFiring, alert("p1", bot.AlertResolved, "warning", t0), alert("p2", bot.AlertFiring, "warning", t0)))
	if d = get(t, s, id); d.Firing != 1 || d.Resolved != 1 || d.Status != bot.IncidentOpen {
		t.Fatalf("one of two resolved: firing=%d resolved=%d status=%s", d.Firing, d.Resolved, d.Status)
	}
}

func testStaleRetryIgnored(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	firing := group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0))
	id := ingest(t, e, firing).IncidentID
	clock.Advance(time.Minute)
	ingest(t, e, group("orders", bot.AlertResolved, alert("a1", bot.AlertResolved, "critical", t0)))
	clock.Advance(time.Second)
	// Alertmanager's retry of the firing notification arrives late.
	if res := ingest(t, e, firing); res.Events != 0 {
		t.Fatalf("stale firing retry made %d events", res.Events)
	}
	if d := get(t, s, id); d.Status != bot.IncidentResolved {
		t.Fatalf("stale retry reopened the incident: %s", d.Status)
	}
}

func testParallelDuplicates(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	g := group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0), alert("a2", bot.AlertFiring, "warning", t0))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := g
			c.Alerts = append([]bot.Alert(nil), g.Alerts...)
			if _, err := e.Ingest(context.Background(), c); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("parallel ingest: %v", err)
	}
	incs := list(t, s, "")
	if len(incs) != 1 {
		t.Fatalf("%d incidents after %d identical parallel notifications, want 1", len(incs), n)
	}
	d := get(t, s, incs[0].ID)
	if len(d.Alerts) != 2 {
		t.Fatalf("%d alert rows, want 2", len(d.Alerts))
	}
	wantKinds(t, d, bot.EventOpened, bot.EventAlertFiring, bot.EventAlertFiring)
	if depth, _, err := s.OutboxStats(context.Background()); err != nil || depth != 2 {
		t.Fatalf("outbox depth = %d, %v; want 2 (one job per destination)", depth, err)
	}
}

func testParallelGroups(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	const groups, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, groups*rounds)
	for gi := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("svc-%d", gi)
			for r := range rounds {
				g := group(key, bot.AlertFiring, alert(fmt.Sprintf("%s-%d", key, r), bot.AlertFiring, "warning", t0))
				if _, err := e.Ingest(context.Background(), g); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("parallel ingest: %v", err)
	}
	incs := list(t, s, bot.IncidentOpen)
	if len(incs) != groups {
		t.Fatalf("%d open incidents, want %d", len(incs), groups)
	}
	for _, inc := range incs {
		if inc.Firing != rounds {
			t.Fatalf("incident %s: firing=%d, want %d", inc.GroupKey, inc.Firing, rounds)
		}
	}
}

func testOneOpenIncident(t *testing.T, s bot.Store) {
	ctx := context.Background()
	inc := &bot.Incident{Receiver: "r", GroupKey: "g", Status: bot.IncidentOpen, Severity: bot.P2, Title: "t",
		OpenedAt: t0, UpdatedAt: t0}
	if err := s.InTx(ctx, func(tx bot.Tx) error { _, err := tx.CreateIncident(ctx, inc); return err }); err != nil {
		t.Fatalf("first open incident: %v", err)
	}
	err := s.InTx(ctx, func(tx bot.Tx) error { _, err := tx.CreateIncident(ctx, inc); return err })
	if err == nil {
		t.Fatal("the database accepted a second open incident for one group")
	}
	// A resolved one beside it is fine.
	res := *inc
	res.Status, res.ResolvedAt = bot.IncidentResolved, &t0
	if err := s.InTx(ctx, func(tx bot.Tx) error { _, err := tx.CreateIncident(ctx, &res); return err }); err != nil {
		t.Fatalf("resolved incident beside the open one: %v", err)
	}
}

func testOneAlertRow(t *testing.T, s bot.Store) {
	ctx := context.Background()
	var id int64
	err := s.InTx(ctx, func(tx bot.Tx) error {
		var err error
		id, err = tx.CreateIncident(ctx, &bot.Incident{Receiver: "r", GroupKey: "g", Status: bot.IncidentOpen,
			Severity: bot.P2, Title: "t", OpenedAt: t0, UpdatedAt: t0})
		if err != nil {
			return err
		}
		a := alert("fp", bot.AlertFiring, "warning", t0)
		if err := tx.UpsertAlerts(ctx, id, []bot.Alert{a}, t0); err != nil {
			return err
		}
		a.Status, a.EndsAt = bot.AlertResolved, t0.Add(time.Minute)
		return tx.UpsertAlerts(ctx, id, []bot.Alert{a}, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	d := get(t, s, id)
	if len(d.Alerts) != 1 || d.Alerts[0].Status != bot.AlertResolved || !d.Alerts[0].EndsAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("alerts = %+v, want one resolved row", d.Alerts)
	}
}

func testFailedTxLeavesNothing(t *testing.T, s bot.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx bot.Tx) error {
		if _, err := tx.CreateIncident(ctx, &bot.Incident{Receiver: "r", GroupKey: "g", Status: bot.IncidentOpen,
			Severity: bot.P2, Title: "t", OpenedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if n := len(list(t, s, "")); n != 0 {
		t.Fatalf("a rolled-back transaction left %d incidents", n)
	}
}

func testOutboxCoalesces(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	for i := range 50 {
		clock.Advance(time.Millisecond)
		ingest(t, e, group("mem", bot.AlertFiring, alert(fmt.Sprintf("p%d", i), bot.AlertFiring, "warning", t0)))
	}
	depth, _, err := s.OutboxStats(context.Background())
	if err != nil || depth != 1 {
		t.Fatalf("50 changes to one P2 incident: outbox depth %d, %v; want 1", depth, err)
	}
	// Escalating to P1 routes to two more destinations.
	ingest(t, e, group("mem", bot.AlertFiring, alert("crit", bot.AlertFiring, "critical", t0)))
	if depth, _, _ = s.OutboxStats(context.Background()); depth != 3 {
		t.Fatalf("after escalation outbox depth %d, want 3", depth)
	}
	// A duplicate enqueues nothing.
	ingest(t, e, group("mem", bot.AlertFiring, alert("crit", bot.AlertFiring, "critical", t0)))
	if depth, _, _ = s.OutboxStats(context.Background()); depth != 3 {
		t.Fatalf("after a duplicate outbox depth %d, want 3", depth)
	}
}

func testListAndGet(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	a := ingest(t, e, group("a", bot.AlertFiring, alert("a", bot.AlertFiring, "warning", t0))).IncidentID
	b := ingest(t, e, group("b", bot.AlertFiring, alert("b", bot.AlertFiring, "critical", t0))).IncidentID
	ingest(t, e, group("a", bot.AlertResolved, alert("a", bot.AlertResolved, "warning", t0)))
	all := list(t, s, "")
	if len(all) != 2 || all[0].ID != b || all[1].ID != a {
		t.Fatalf("list all = %v, want newest first [%d %d]", all, b, a)
	}
	if open := list(t, s, bot.IncidentOpen); len(open) != 1 || open[0].ID != b {
		t.Fatalf("list open = %v", open)
	}
	if _, err := s.GetIncident(context.Background(), 999999); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("GetIncident(unknown) = %v, want ErrNotFound", err)
	}
	incs, err := s.ListIncidents(context.Background(), bot.IncidentFilter{Limit: 1})
	if err != nil || len(incs) != 1 {
		t.Fatalf("limit 1: %d, %v", len(incs), err)
	}
}

func testSameFingerprintTwice(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	id := ingest(t, e, group("orders", bot.AlertFiring,
		alert("a1", bot.AlertFiring, "critical", t0), alert("a1", bot.AlertResolved, "critical", t0))).IncidentID
	d := get(t, s, id)
	if len(d.Alerts) != 1 || d.Alerts[0].Status != bot.AlertResolved || d.Status != bot.IncidentResolved {
		t.Fatalf("alerts %+v, incident %s: want one resolved alert and a resolved incident", d.Alerts, d.Status)
	}
}

// A group larger than one statement's batch: 1,200 alerts, then half of them
// resolve, then the critical one does too.
func testLargeGroup(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e := newEngine(s, clock)
	const n = 1200
	firing := make([]bot.Alert, n)
	for i := range firing {
		sev := "warning"
		if i == n-1 {
			sev = "critical"
		}
		firing[i] = alert(fmt.Sprintf("fp%04d", i), bot.AlertFiring, sev, t0)
	}
	id := ingest(t, e, group("big", bot.AlertFiring, firing...)).IncidentID
	half := make([]bot.Alert, 0, n)
	for i, a := range firing {
		if i%2 == 0 {
			a = alert(a.Fingerprint, bot.AlertResolved, "warning", t0)
		}
		half = append(half, a)
	}
	clock.Advance(time.Minute)
	ingest(t, e, group("big", bot.AlertFiring, half...))
	d := get(t, s, id)
	if d.Firing != n/2 || d.Resolved != n/2 || d.Severity != bot.P1 || len(d.Alerts) != n {
		t.Fatalf("firing=%d resolved=%d severity=%s rows=%d; want %d/%d P1 %d", d.Firing, d.Resolved, d.Severity, len(d.Alerts), n/2, n/2, n)
	}
	// Only the critical alert resolves: the severity falls to P2.
	clock.Advance(time.Minute)
	ingest(t, e, group("big", bot.AlertFiring, alert(firing[n-1].Fingerprint, bot.AlertResolved, "critical", t0)))
	if d = get(t, s, id); d.Severity != bot.P2 || d.Firing != n/2-1 {
		t.Fatalf("after the critical alert resolved: %s firing=%d, want P2 %d", d.Severity, d.Firing, n/2-1)
	}
}

func testReplayGuard(t *testing.T, s bot.Store) {
	ctx := context.Background()
	exp := t0.Add(5 * time.Minute)
	first, err := s.FirstSeen(ctx, "slack:1700000000:v0=abc", t0, exp)
	if err != nil || !first {
		t.Fatalf("first sighting = %v, %v; want true", first, err)
	}
	again, err := s.FirstSeen(ctx, "slack:1700000000:v0=abc", t0.Add(time.Second), exp)
	if err != nil || again {
		t.Fatalf("replay = %v, %v; want false", again, err)
	}
	var wg sync.WaitGroup
	var fresh atomic.Int32
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.FirstSeen(ctx, "discord:race", t0, exp); err == nil && ok {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("10 concurrent sightings of one key: %d first, want 1", fresh.Load())
	}
}
