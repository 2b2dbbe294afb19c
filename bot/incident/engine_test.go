package incident_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

func TestEngine(t *testing.T) { sqlstoretest.RunCases(t, engineTests()) }

func engineTests() []sqlstoretest.Case {
	return []sqlstoretest.Case{
		{Name: "FiringOpensIncident", Run: testFiringOpensIncident},
		{Name: "DuplicateIsNoOp", Run: testDuplicateIsNoOp},
		{Name: "DuplicateWithNanosecondTimesIsNoOp", Run: testDuplicateNanoseconds},
		{Name: "ResolveAndReopen", Run: testResolveAndReopen},
		{Name: "NewIncidentAfterReopenWindow", Run: testNewIncidentAfterReopenWindow},
		{Name: "AbsenceResolvesNothing", Run: testAbsenceResolvesNothing},
		{Name: "StaleRetryIgnored", Run: testStaleRetryIgnored},
		{Name: "SameFingerprintTwiceInOneNotification", Run: testSameFingerprintTwice},
		{Name: "LargeGroup", Run: testLargeGroup},
		{Name: "ParallelDuplicatesLeaveOneState", Run: testParallelDuplicates},
		{Name: "ParallelGroups", Run: testParallelGroups},
		{Name: "ChangesCoalesceIntoOneJobPerDestination", Run: testOutboxCoalesces},
	}
}

var t0 = bottest.T0

func newEngine(s bot.Store, clock *bottest.Clock) *incident.Engine {
	return incident.New(s, incident.Config{
		Classifier: bot.Classifier{},
		Routes: bot.Routes{
			{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents", "mirror"}},
			{Destinations: []string{"alerts"}},
		},
		ReopenWindow: 10 * time.Minute,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func testFiringOpensIncident(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	res := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring,
		bottest.Alert("a1", bot.AlertFiring, "warning", t0), bottest.Alert("a2", bot.AlertFiring, "critical", t0)))
	if !res.Created || res.IncidentID == 0 {
		t.Fatalf("first notification: %+v, want a created incident", res)
	}
	d := bottest.Get(t, s, res.IncidentID)
	if d.Status != bot.IncidentOpen || d.Severity != bot.P1 || d.Firing != 2 || d.Resolved != 0 {
		t.Fatalf("incident = %s %s firing=%d resolved=%d, want open P1 2/0", d.Status, d.Severity, d.Firing, d.Resolved)
	}
	if d.Title != "ServiceDown · orders" || !d.OpenedAt.Equal(t0) {
		t.Fatalf("title %q opened %s", d.Title, d.OpenedAt)
	}
	if len(d.Alerts) != 2 || !d.Alerts[0].StartsAt.Equal(t0) || d.Alerts[0].Labels["pod"] == "" {
		t.Fatalf("alerts = %+v", d.Alerts)
	}
	bottest.WantKinds(t, d, bot.EventOpened, bot.EventAlertFiring, bot.EventAlertFiring)
	counts, err := s.CountOpenIncidents(context.Background())
	if err != nil || counts[bot.P1] != 1 || counts[bot.P2] != 0 {
		t.Fatalf("CountOpenIncidents = %v, %v; want P1:1", counts, err)
	}
}

// Alertmanager writes times to the nanosecond (an alert posted without
// startsAt gets its receipt time); PostgreSQL keeps microseconds. A group
// sent again unchanged must still be a no-op, not a new firing event and a
// chat job for each alert at every notification (found by the soak).
func testDuplicateNanoseconds(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	at := t0.Add(123456789 * time.Nanosecond)
	a := bottest.Alert("a1", bot.AlertFiring, "critical", at)
	g := bottest.Group("orders", bot.AlertFiring, a)
	first := bottest.Ingest(t, e, g)
	clock.Advance(time.Minute)
	for range 2 {
		if again := bottest.Ingest(t, e, g); again.IncidentID != first.IncidentID || again.Events != 0 || again.Enqueued != 0 {
			t.Fatalf("the same group again: %+v, want the same incident, no events, no chat job", again)
		}
	}
	d := bottest.Get(t, s, first.IncidentID)
	bottest.WantKinds(t, d, bot.EventOpened, bot.EventAlertFiring)
	a.Status, a.EndsAt = bot.AlertResolved, at.Add(time.Minute+time.Nanosecond)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, a))
	if d := bottest.Get(t, s, first.IncidentID); d.Status != bot.IncidentResolved || d.Resolved != 1 {
		t.Fatalf("after the resolution: %s, %d resolved; want resolved, 1", d.Status, d.Resolved)
	}
}

func testDuplicateIsNoOp(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	g := bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0))
	first := bottest.Ingest(t, e, g)
	before := bottest.Get(t, s, first.IncidentID)
	clock.Advance(time.Minute)
	again := bottest.Ingest(t, e, g)
	if again.IncidentID != first.IncidentID || again.Created || again.Events != 0 {
		t.Fatalf("duplicate: %+v, want the same incident and no events", again)
	}
	after := bottest.Get(t, s, first.IncidentID)
	if len(after.Timeline) != len(before.Timeline) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("duplicate changed the incident: timeline %d→%d, updated %s→%s",
			len(before.Timeline), len(after.Timeline), before.UpdatedAt, after.UpdatedAt)
	}
	if n := len(bottest.List(t, s, "")); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
}

func testResolveAndReopen(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	id := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	clock.Advance(17 * time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, bottest.Alert("a1", bot.AlertResolved, "critical", t0)))
	d := bottest.Get(t, s, id)
	if d.Status != bot.IncidentResolved || d.ResolvedAt == nil || !d.ResolvedAt.Equal(clock.Now()) || d.Firing != 0 {
		t.Fatalf("after resolve: %s resolved_at=%v firing=%d", d.Status, d.ResolvedAt, d.Firing)
	}
	if len(bottest.List(t, s, bot.IncidentOpen)) != 0 || len(bottest.List(t, s, bot.IncidentResolved)) != 1 {
		t.Fatal("resolved incident still listed as open")
	}
	// Fires again 5 minutes later: inside the 10-minute window, same incident.
	clock.Advance(5 * time.Minute)
	again := clock.Now()
	res := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", again)))
	if res.IncidentID != id || res.Created {
		t.Fatalf("re-fire inside the window: %+v, want incident %d reopened", res, id)
	}
	d = bottest.Get(t, s, id)
	if d.Status != bot.IncidentOpen || d.ResolvedAt != nil || d.Firing != 1 {
		t.Fatalf("after reopen: %s resolved_at=%v firing=%d", d.Status, d.ResolvedAt, d.Firing)
	}
	bottest.WantKinds(t, d, bot.EventOpened, bot.EventAlertFiring, bot.EventAlertResolved, bot.EventResolved,
		bot.EventAlertFiring, bot.EventReopened)
}

func testNewIncidentAfterReopenWindow(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	id := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, bottest.Alert("a1", bot.AlertResolved, "critical", t0)))
	clock.Advance(11 * time.Minute)
	// A late retry of the old firing notification changes nothing...
	stale := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0)))
	if stale.IncidentID != id || stale.Events != 0 {
		t.Fatalf("stale retry after the window: %+v, want incident %d untouched", stale, id)
	}
	// ...but a new occurrence opens a new incident.
	res := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", clock.Now())))
	if res.IncidentID == id || !res.Created {
		t.Fatalf("re-fire after the window: %+v, want a new incident", res)
	}
	if bottest.Get(t, s, id).Status != bot.IncidentResolved {
		t.Fatal("the old incident reopened")
	}
}

func testAbsenceResolvesNothing(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	id := bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring,
		bottest.Alert("p1", bot.AlertFiring, "warning", t0), bottest.Alert("p2", bot.AlertFiring, "warning", t0))).IncidentID
	g := bottest.Group("mem", bot.AlertFiring, bottest.Alert("p2", bot.AlertFiring, "warning", t0))
	g.TruncatedAlerts = 1
	bottest.Ingest(t, e, g)
	d := bottest.Get(t, s, id)
	if d.Firing != 2 || d.Status != bot.IncidentOpen {
		t.Fatalf("an alert absent from a later notification changed state: firing=%d status=%s", d.Firing, d.Status)
	}
	if d.TruncatedAlerts != 1 {
		t.Fatalf("truncated_alerts = %d, want 1", d.TruncatedAlerts)
	}
	bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring, bottest.Alert("p1", bot.AlertResolved, "warning", t0), bottest.Alert("p2", bot.AlertFiring, "warning", t0)))
	if d = bottest.Get(t, s, id); d.Firing != 1 || d.Resolved != 1 || d.Status != bot.IncidentOpen {
		t.Fatalf("one of two resolved: firing=%d resolved=%d status=%s", d.Firing, d.Resolved, d.Status)
	}
}

func testStaleRetryIgnored(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	firing := bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0))
	id := bottest.Ingest(t, e, firing).IncidentID
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, bottest.Alert("a1", bot.AlertResolved, "critical", t0)))
	clock.Advance(time.Second)
	// Alertmanager's retry of the firing notification arrives late.
	if res := bottest.Ingest(t, e, firing); res.Events != 0 {
		t.Fatalf("stale firing retry made %d events", res.Events)
	}
	if d := bottest.Get(t, s, id); d.Status != bot.IncidentResolved {
		t.Fatalf("stale retry reopened the incident: %s", d.Status)
	}
}

func testSameFingerprintTwice(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	id := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring,
		bottest.Alert("a1", bot.AlertFiring, "critical", t0), bottest.Alert("a1", bot.AlertResolved, "critical", t0))).IncidentID
	d := bottest.Get(t, s, id)
	if len(d.Alerts) != 1 || d.Alerts[0].Status != bot.AlertResolved || d.Status != bot.IncidentResolved {
		t.Fatalf("alerts %+v, incident %s: want one resolved alert and a resolved incident", d.Alerts, d.Status)
	}
}

// A group larger than one statement's batch: 1,200 alerts, then half of them
// resolve, then the critical one does too.
func testLargeGroup(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	const n = 1200
	firing := make([]bot.Alert, n)
	for i := range firing {
		sev := "warning"
		if i == n-1 {
			sev = "critical"
		}
		firing[i] = bottest.Alert(fmt.Sprintf("fp%04d", i), bot.AlertFiring, sev, t0)
	}
	id := bottest.Ingest(t, e, bottest.Group("big", bot.AlertFiring, firing...)).IncidentID
	half := make([]bot.Alert, 0, n)
	for i, a := range firing {
		if i%2 == 0 {
			a = bottest.Alert(a.Fingerprint, bot.AlertResolved, "warning", t0)
		}
		half = append(half, a)
	}
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("big", bot.AlertFiring, half...))
	d := bottest.Get(t, s, id)
	if d.Firing != n/2 || d.Resolved != n/2 || d.Severity != bot.P1 || len(d.Alerts) != n {
		t.Fatalf("firing=%d resolved=%d severity=%s rows=%d; want %d/%d P1 %d", d.Firing, d.Resolved, d.Severity, len(d.Alerts), n/2, n/2, n)
	}
	// Only the critical alert resolves: the severity falls to P2.
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("big", bot.AlertFiring, bottest.Alert(firing[n-1].Fingerprint, bot.AlertResolved, "critical", t0)))
	if d = bottest.Get(t, s, id); d.Severity != bot.P2 || d.Firing != n/2-1 {
		t.Fatalf("after the critical alert resolved: %s firing=%d, want P2 %d", d.Severity, d.Firing, n/2-1)
	}
}

func testParallelDuplicates(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	g := bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0), bottest.Alert("a2", bot.AlertFiring, "warning", t0))
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
	incs := bottest.List(t, s, "")
	if len(incs) != 1 {
		t.Fatalf("%d incidents after %d identical parallel notifications, want 1", len(incs), n)
	}
	d := bottest.Get(t, s, incs[0].ID)
	if len(d.Alerts) != 2 {
		t.Fatalf("%d alert rows, want 2", len(d.Alerts))
	}
	bottest.WantKinds(t, d, bot.EventOpened, bot.EventAlertFiring, bot.EventAlertFiring)
	if depth, _, err := s.OutboxStats(context.Background()); err != nil || depth != 2 {
		t.Fatalf("outbox depth = %d, %v; want 2 (one job per destination)", depth, err)
	}
}

func testParallelGroups(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
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
				g := bottest.Group(key, bot.AlertFiring, bottest.Alert(fmt.Sprintf("%s-%d", key, r), bot.AlertFiring, "warning", t0))
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
	incs := bottest.List(t, s, bot.IncidentOpen)
	if len(incs) != groups {
		t.Fatalf("%d open incidents, want %d", len(incs), groups)
	}
	for _, inc := range incs {
		if inc.Firing != rounds {
			t.Fatalf("incident %s: firing=%d, want %d", inc.GroupKey, inc.Firing, rounds)
		}
	}
}

func testOutboxCoalesces(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	for i := range 50 {
		clock.Advance(time.Millisecond)
		bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring, bottest.Alert(fmt.Sprintf("p%d", i), bot.AlertFiring, "warning", t0)))
	}
	depth, _, err := s.OutboxStats(context.Background())
	if err != nil || depth != 1 {
		t.Fatalf("50 changes to one P2 incident: outbox depth %d, %v; want 1", depth, err)
	}
	// Escalating to P1 routes to two more destinations.
	bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring, bottest.Alert("crit", bot.AlertFiring, "critical", t0)))
	if depth, _, _ = s.OutboxStats(context.Background()); depth != 3 {
		t.Fatalf("after escalation outbox depth %d, want 3", depth)
	}
	// A duplicate enqueues nothing.
	bottest.Ingest(t, e, bottest.Group("mem", bot.AlertFiring, bottest.Alert("crit", bot.AlertFiring, "critical", t0)))
	if depth, _, _ = s.OutboxStats(context.Background()); depth != 3 {
		t.Fatalf("after a duplicate outbox depth %d, want 3", depth)
	}
}
