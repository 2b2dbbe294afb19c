// Package storetest is the conformance suite every bot.Store passes: the
// store's own promises, tested through the store alone. The PostgreSQL and
// SQLite stores run it against a fresh database each test, so both keep
// exactly the same ones: the database's uniqueness guarantees, rolled-back
// transactions, row locks, outbox claims and coalescing, replay guards, the
// approval records and the append-only audit chain. How the services
// behave on a store is tested beside each service (bot/incident,
// bot/outbox, bot/escalation, bot/approval, bot/command), on both stores.
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
)

// Opener returns a fresh, migrated, empty store and the way around it,
// closed when the test ends.
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

var t0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

type namedTest struct {
	name string
	fn   func(t *testing.T, s bot.Store)
}

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []namedTest{
		{"DatabaseEnforcesOneOpenIncident", testOneOpenIncident},
		{"DatabaseEnforcesOneAlertRow", testOneAlertRow},
		{"FailedTxLeavesNothing", testFailedTxLeavesNothing},
		{"ReplayGuard", testReplayGuard},
		{"ListAndGet", testListAndGet},
		{"WriteIncident", testWriteIncident},
		{"OpenIncident", testOpenIncident},
		{"CorrelationBatches", testCorrelationBatches},
		{"Ready", func(t *testing.T, s bot.Store) {
			if err := s.Ready(context.Background()); err != nil {
				t.Fatalf("Ready: %v", err)
			}
		}},
	}
	tests = append(tests, outboxTests()...)
	tests = append(tests, pageTests()...)
	tests = append(tests, approvalTests()...)
	tests = append(tests, auditTests()...)
	tests = append(tests, timerTests()...)
	tests = append(tests, consoleTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t).Store) })
	}
	for _, tc := range tamperTests() {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			if b.Exec == nil || len(b.Unguard) == 0 {
				t.Fatal("the backend gives no raw database access: the tamper tests need Exec and Unguard")
			}
			tc.fn(t, b)
		})
	}
}

// seed stores, in one transaction, an open incident of group key at
// severity sev with one firing alert and its opening event, and queues a
// sync job for each destination; it returns the incident's id.
func seed(t *testing.T, s bot.Store, key string, sev bot.Severity, at time.Time, dests ...string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.InTx(ctx, func(tx bot.Tx) error {
		var err error
		if err = tx.LockGroup(ctx, "chatops", key); err != nil {
			return err
		}
		id, err = tx.CreateIncident(ctx, &bot.Incident{Receiver: "chatops", GroupKey: key, Status: bot.IncidentOpen,
			Severity: sev, Title: "ServiceDown · " + key, Firing: 1, OpenedAt: at, UpdatedAt: at,
			GroupLabels: map[string]string{"alertname": "ServiceDown", "service": key}})
		if err != nil {
			return err
		}
		a := bot.Alert{Fingerprint: key + "-a", Status: bot.AlertFiring, Severity: sev, StartsAt: at,
			Labels: map[string]string{"alertname": "ServiceDown", "service": key}}
		if err := tx.UpsertAlerts(ctx, id, []bot.Alert{a}, at); err != nil {
			return err
		}
		if err := tx.AppendEvents(ctx, id, []bot.Event{{At: at, Kind: bot.EventOpened, Detail: "opened"}}); err != nil {
			return err
		}
		for _, d := range dests {
			if err := tx.Enqueue(ctx, bot.OutboxJob{IncidentID: id, Destination: d, Priority: sev, DueAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed incident %s: %v", key, err)
	}
	return id
}

// enqueue queues a sync job for incident id at destination in a
// transaction of its own.
func enqueue(t *testing.T, s bot.Store, id int64, dest string, prio bot.Severity, due time.Time) {
	t.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx bot.Tx) error {
		return tx.Enqueue(ctx, bot.OutboxJob{IncidentID: id, Destination: dest, Priority: prio, DueAt: due})
	})
	if err != nil {
		t.Fatalf("enqueue incident %d at %s: %v", id, dest, err)
	}
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

func depth(t *testing.T, s bot.Store) int {
	t.Helper()
	n, _, err := s.OutboxStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testListAndGet(t *testing.T, s bot.Store) {
	ctx := context.Background()
	a := seed(t, s, "a", bot.P2, t0)
	b := seed(t, s, "b", bot.P1, t0.Add(time.Second))
	err := s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LockIncident(ctx, a)
		if err != nil {
			return err
		}
		resolved := t0.Add(time.Minute)
		inc.Status, inc.ResolvedAt, inc.Firing, inc.Resolved = bot.IncidentResolved, &resolved, 0, 1
		return tx.UpdateIncident(ctx, inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	all := list(t, s, "")
	if len(all) != 2 || all[0].ID != b || all[1].ID != a {
		t.Fatalf("list all = %v, want newest first [%d %d]", all, b, a)
	}
	if open := list(t, s, bot.IncidentOpen); len(open) != 1 || open[0].ID != b {
		t.Fatalf("list open = %v", open)
	}
	if _, err := s.GetIncident(ctx, 999999); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("GetIncident(unknown) = %v, want ErrNotFound", err)
	}
	incs, err := s.ListIncidents(ctx, bot.IncidentFilter{Limit: 1})
	if err != nil || len(incs) != 1 {
		t.Fatalf("limit 1: %d, %v", len(incs), err)
	}
	d := get(t, s, b)
	if len(d.Alerts) != 1 || len(d.Timeline) != 1 || d.Severity != bot.P1 {
		t.Fatalf("incident %d = %s with %d alerts and %d events, want P1, 1 and 1", b, d.Severity, len(d.Alerts), len(d.Timeline))
	}
	counts, err := s.CountOpenIncidents(ctx)
	if err != nil || counts[bot.P1] != 1 || counts[bot.P2] != 0 {
		t.Fatalf("CountOpenIncidents = %v, %v; want P1:1", counts, err)
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
	if !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("a second open incident for one group: %v, want ErrConflict", err)
	}
	// Nor through WriteIncident, which writes nothing of it then.
	second := *inc
	err = s.InTx(ctx, func(tx bot.Tx) error {
		_, err := tx.WriteIncident(ctx, bot.IncidentWrite{Incident: &second, At: t0,
			Alerts:       []bot.Alert{{Fingerprint: "x", Status: bot.AlertFiring, Severity: bot.P2, StartsAt: t0}},
			Events:       []bot.Event{{At: t0, Kind: bot.EventOpened, Detail: "opened"}},
			Destinations: []string{"alerts"}})
		return err
	})
	if !errors.Is(err, bot.ErrConflict) || depth(t, s) != 0 || len(list(t, s, "")) != 1 {
		t.Fatalf("WriteIncident of a second open incident: %v, outbox depth %d, %d incidents; want ErrConflict, 0, 1", err, depth(t, s), len(list(t, s, "")))
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
		a := bot.Alert{Fingerprint: "fp", Status: bot.AlertFiring, Severity: bot.P2, StartsAt: t0, Labels: map[string]string{"alertname": "ServiceDown"}}
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

// WriteIncident writes a notification's outcome in one go: a new incident
// with its alerts (more than one statement's share), events in their
// order and jobs; then an update; then alerts alone on an unchanged one.
func testWriteIncident(t *testing.T, s bot.Store) {
	ctx := context.Background()
	inc := &bot.Incident{Receiver: "r", GroupKey: "g", Status: bot.IncidentOpen, Severity: bot.P2, Title: "t",
		GroupLabels: map[string]string{"alertname": "X"}, OpenedAt: t0, UpdatedAt: t0, Firing: 1200}
	alerts := make([]bot.Alert, 1200)
	for i := range alerts {
		alerts[i] = bot.Alert{Fingerprint: fmt.Sprintf("fp%04d", i), Status: bot.AlertFiring, Severity: bot.P2,
			StartsAt: t0, Labels: map[string]string{"i": fmt.Sprint(i)}}
	}
	events := []bot.Event{{At: t0, Kind: bot.EventOpened, Detail: "first"}, {At: t0, Kind: bot.EventAlertFiring, Detail: "second"},
		{At: t0, Kind: bot.EventAlertFiring, Detail: "third"}}
	var id int64
	write := func(w bot.IncidentWrite) {
		t.Helper()
		err := s.InTx(ctx, func(tx bot.Tx) error {
			var err error
			id, err = tx.WriteIncident(ctx, w)
			return err
		})
		if err != nil {
			t.Fatalf("WriteIncident: %v", err)
		}
	}
	write(bot.IncidentWrite{Incident: inc, Alerts: alerts, At: t0, Events: events, Destinations: []string{"alerts", "incidents"}})
	d := get(t, s, id)
	if len(d.Alerts) != 1200 || len(d.Timeline) != 3 || depth(t, s) != 2 {
		t.Fatalf("created: %d alerts, %d events, outbox depth %d; want 1200, 3, 2", len(d.Alerts), len(d.Timeline), depth(t, s))
	}
	for i, want := range []string{"first", "second", "third"} {
		if d.Timeline[i].Detail != want {
			t.Fatalf("event %d = %q, want %q: events keep their order", i, d.Timeline[i].Detail, want)
		}
	}
	inc.ID, inc.Severity, inc.Title, inc.UpdatedAt = id, bot.P1, "t2", t0.Add(time.Minute)
	write(bot.IncidentWrite{Incident: inc, Update: true, At: t0.Add(time.Minute)})
	if d = get(t, s, id); d.Severity != bot.P1 || d.Title != "t2" {
		t.Fatalf("updated: %s %q, want P1 t2", d.Severity, d.Title)
	}
	alerts[0].Status = bot.AlertResolved
	write(bot.IncidentWrite{Incident: inc, Alerts: alerts[:1], At: t0.Add(2 * time.Minute)})
	if d = get(t, s, id); d.Title != "t2" || d.Alerts[0].Status != bot.AlertResolved {
		t.Fatalf("alerts alone: %q, first alert %s; want the incident untouched and the alert resolved", d.Title, d.Alerts[0].Status)
	}
}

// OpenIncident writes a group's first incident in one go, and nothing
// when the group has an incident, open or resolved.
func testOpenIncident(t *testing.T, s bot.Store) {
	ctx := context.Background()
	open := func(key string, status bot.IncidentStatus) (int64, bool) {
		t.Helper()
		inc := &bot.Incident{Receiver: "r", GroupKey: key, Status: status, Severity: bot.P1, Title: "t",
			GroupLabels: map[string]string{"alertname": "X"}, OpenedAt: t0, UpdatedAt: t0, Firing: 1}
		if status == bot.IncidentResolved {
			inc.ResolvedAt, inc.Firing, inc.Resolved = &t0, 0, 1
		}
		id, ok, err := s.OpenIncident(ctx, bot.IncidentWrite{Incident: inc, At: t0,
			Alerts:       []bot.Alert{{Fingerprint: key, Status: bot.AlertFiring, Severity: bot.P1, StartsAt: t0}},
			Events:       []bot.Event{{At: t0, Kind: bot.EventOpened, Detail: "opened"}},
			Destinations: []string{"incidents"}})
		if err != nil {
			t.Fatalf("OpenIncident(%s): %v", key, err)
		}
		return id, ok
	}
	id, ok := open("new", bot.IncidentOpen)
	if d := get(t, s, id); !ok || len(d.Alerts) != 1 || len(d.Timeline) != 1 || depth(t, s) != 1 {
		t.Fatalf("a new group: ok %v, %d alerts, %d events, depth %d; want one of each", ok, len(d.Alerts), len(d.Timeline), depth(t, s))
	}
	if _, ok := open("new", bot.IncidentOpen); ok {
		t.Fatal("a second incident opened for a group that has an open one")
	}
	seed(t, s, "old", bot.P2, t0)
	err := s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LatestIncident(ctx, "chatops", "old")
		if err != nil {
			return err
		}
		inc.Status, inc.ResolvedAt = bot.IncidentResolved, &t0
		return tx.UpdateIncident(ctx, inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	inc := &bot.Incident{Receiver: "chatops", GroupKey: "old", Status: bot.IncidentOpen, Severity: bot.P1, Title: "t", OpenedAt: t0, UpdatedAt: t0}
	if _, ok, err := s.OpenIncident(ctx, bot.IncidentWrite{Incident: inc, At: t0}); ok || err != nil {
		t.Fatalf("a group with a resolved incident: ok %v, %v; want nothing written (it may reopen)", ok, err)
	}
	if n := len(list(t, s, "")); n != 2 {
		t.Fatalf("%d incidents, want 2", n)
	}
}

// The correlation's batch writes: several incidents locked, noted and
// counted in one statement each.
func testCorrelationBatches(t *testing.T, s bot.Store) {
	ctx := context.Background()
	a := seed(t, s, "a", bot.P1, t0)
	b := seed(t, s, "b", bot.P0, t0.Add(time.Second))
	c := seed(t, s, "c", bot.P3, t0)
	outage := seed(t, s, "outage", bot.P3, t0)
	changed := func(ct bot.CorrelationTx) map[int64]bot.IncidentStatus {
		t.Helper()
		cs, err := ct.ChangedLinks(ctx, outage, 10)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]bot.IncidentStatus{}
		for _, c := range cs {
			out[c.IncidentID] = c.Counted
		}
		return out
	}
	err := s.InTx(ctx, func(tx bot.Tx) error {
		ct := tx.(bot.CorrelationTx)
		incs, err := ct.LockIncidents(ctx, []int64{c, a, b, a})
		if err != nil {
			return err
		}
		if len(incs) != 3 || incs[0].ID != a || incs[1].ID != b || incs[2].ID != c || incs[0].GroupKey != "a" {
			t.Fatalf("LockIncidents(c, a, b, a) = %v; want a, b, c once each, by id", incs)
		}
		if _, err := ct.LockIncidents(ctx, []int64{a, 999999}); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("LockIncidents with an unknown id: %v, want ErrNotFound", err)
		}
		if err := ct.AppendToEach(ctx, []int64{a, b}, bot.Event{At: t0, Kind: bot.EventLinked, Detail: "part of outage"}); err != nil {
			return err
		}
		ids, err := ct.LinkCritical(ctx, outage, t0.Add(-time.Hour), 1, 10)
		if err != nil {
			return err
		}
		if len(ids) != 1 || ids[0] != b {
			t.Fatalf("LinkCritical from the newest critical alert = %v; want %d alone (its alert started last)", ids, b)
		}
		ids, err = ct.LinkCritical(ctx, outage, t0.Add(-time.Hour), 0, 10)
		if err != nil {
			return err
		}
		if len(ids) != 1 || ids[0] != a {
			t.Fatalf("LinkCritical from every critical alert = %v; want the other critical incident, %d", ids, a)
		}
		if ids, err := ct.LinkCritical(ctx, outage, t0.Add(-time.Hour), 0, 10); err != nil || len(ids) != 0 {
			t.Fatalf("LinkCritical again = %v, %v; want nothing left to link", ids, err)
		}
		if got := changed(ct); len(got) != 2 || got[a] != "" || got[b] != "" {
			t.Fatalf("changed links after linking: %v; want both, never counted", got)
		}
		if err := ct.CountLinks(ctx, outage, bot.IncidentOpen, []int64{a, b}); err != nil {
			return err
		}
		if got := changed(ct); len(got) != 0 {
			t.Fatalf("changed links after counting: %v; want none", got)
		}
		if err := ct.MarkLinksChanged(ctx, a); err != nil {
			return err
		}
		if got := changed(ct); len(got) != 1 || got[a] != bot.IncidentOpen {
			t.Fatalf("changed links after %d moved: %v; want it alone, counted open", a, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]int{a: 2, b: 2, c: 1} {
		if n := len(get(t, s, id).Timeline); n != want {
			t.Fatalf("incident %d has %d events, want %d", id, n, want)
		}
	}
}
