package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func pageTests() []namedTest {
	return []namedTest{
		{"IncidentViewIsBounded", testIncidentViewIsBounded},
		{"AlertPagesWalkEveryAlertOnce", testAlertPagesWalkEveryAlertOnce},
		{"EventPagesAndCounts", testEventPagesAndCounts},
		{"AlertSpan", testAlertSpan},
		{"ListIncidentsPastAThousand", testListIncidentsPastAThousand},
	}
}

// bigIncident writes one open incident with n alerts (firing and resolved,
// of every severity, started over n seconds, fingerprints out of order)
// and an opening event followed by one alert_firing event per alert.
func bigIncident(t *testing.T, s bot.Store, key string, n int) (int64, []bot.Alert) {
	t.Helper()
	alerts := make([]bot.Alert, n)
	firing := 0
	for i := range alerts {
		a := bot.Alert{Fingerprint: fmt.Sprintf("%s-%05d", key, (i*7919)%n), Status: bot.AlertFiring,
			Severity: bot.Severity(i % 4), StartsAt: t0.Add(time.Duration(n-i) * time.Second),
			Labels: map[string]string{"alertname": "Storm", "i": fmt.Sprint(i)}}
		if i%3 == 0 {
			a.Status, a.EndsAt = bot.AlertResolved, t0.Add(time.Hour+time.Duration(i)*time.Second)
		} else {
			firing++
		}
		alerts[i] = a
	}
	events := []bot.Event{{At: t0, Kind: bot.EventOpened, Detail: "opened"}}
	for _, a := range alerts {
		events = append(events, bot.Event{At: t0, Kind: bot.EventAlertFiring, Detail: a.Fingerprint})
	}
	inc := &bot.Incident{Receiver: "r", GroupKey: key, Status: bot.IncidentOpen, Severity: bot.P0, Title: key,
		GroupLabels: map[string]string{"alertname": "Storm"}, OpenedAt: t0, UpdatedAt: t0, Firing: firing, Resolved: n - firing}
	id, ok, err := s.OpenIncident(context.Background(), bot.IncidentWrite{Incident: inc, Alerts: alerts, At: t0, Events: events})
	if err != nil || !ok {
		t.Fatalf("open incident %s with %d alerts: ok %v, %v", key, n, ok, err)
	}
	return id, alerts
}

// rootOrder sorts alerts as a thread's root lists them.
func rootOrder(alerts []bot.Alert) []bot.Alert {
	out := slices.Clone(alerts)
	slices.SortFunc(out, func(a, b bot.Alert) int {
		if a.Status != b.Status {
			return strings.Compare(string(a.Status), string(b.Status)) // firing first
		}
		if a.Severity != b.Severity {
			return int(a.Severity) - int(b.Severity)
		}
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out
}

func fingerprints(alerts []bot.Alert) []string {
	out := make([]string, len(alerts))
	for i, a := range alerts {
		out[i] = a.Fingerprint
	}
	return out
}

// IncidentView holds the first alerts in root order, the newest events and
// the totals, however many alerts and events the incident has.
func testIncidentViewIsBounded(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const n = 1200
	id, alerts := bigIncident(t, s, "storm", n)
	v, err := s.IncidentView(ctx, id, 10, 5)
	if err != nil {
		t.Fatalf("IncidentView: %v", err)
	}
	want := fingerprints(rootOrder(alerts)[:10])
	if got := fingerprints(v.Alerts); !slices.Equal(got, want) {
		t.Fatalf("first alerts %v, want %v (firing first, most urgent, earliest)", got, want)
	}
	if v.AlertsTotal != n || v.EventsTotal != n+1 || v.AlertCount() != n {
		t.Fatalf("totals: %d alerts, %d events; want %d and %d", v.AlertsTotal, v.EventsTotal, n, n+1)
	}
	if len(v.Timeline) != 5 {
		t.Fatalf("%d events, want the newest 5", len(v.Timeline))
	}
	for i, e := range v.Timeline {
		if wantFP := alerts[n-5+i].Fingerprint; e.Detail != wantFP || (i > 0 && e.ID <= v.Timeline[i-1].ID) {
			t.Fatalf("event %d = #%d %q, want %q, oldest first", i, e.ID, e.Detail, wantFP)
		}
	}
	if v.Title != "storm" || v.Firing+v.Resolved != n {
		t.Fatalf("incident %+v", v.Incident)
	}
	bare, err := s.IncidentView(ctx, id, 0, -1)
	if err != nil || len(bare.Alerts) != 0 || len(bare.Timeline) != 0 || bare.AlertsTotal != n || bare.EventsTotal != n+1 {
		t.Fatalf("view without lists: %d alerts, %d events, totals %d/%d, %v; want none and the totals",
			len(bare.Alerts), len(bare.Timeline), bare.AlertsTotal, bare.EventsTotal, err)
	}
	if _, err := s.IncidentView(ctx, 999999, 10, 10); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("IncidentView(unknown) = %v, want ErrNotFound", err)
	}
	empty := seed(t, s, "small", bot.P2, t0)
	if v, err := s.IncidentView(ctx, empty, 10, 10); err != nil || len(v.Alerts) != 1 || len(v.Timeline) != 1 || v.AlertsTotal != 1 {
		t.Fatalf("a small incident: %d alerts, %d events, %v; want all of them", len(v.Alerts), len(v.Timeline), err)
	}
}

// Pages by fingerprint see every alert exactly once, also when alerts
// change status (and so their rank) between two pages.
func testAlertPagesWalkEveryAlertOnce(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const n = 103
	id, alerts := bigIncident(t, s, "walk", n)
	seed(t, s, "neighbour", bot.P1, t0) // another incident's alerts stay out
	var seen []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := s.AlertPage(ctx, id, after, 10)
		if err != nil {
			t.Fatalf("AlertPage after %q: %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		if pages > n {
			t.Fatal("the walk does not end")
		}
		seen = append(seen, fingerprints(page)...)
		after = page[len(page)-1].Fingerprint
		if pages == 3 { // alerts change meanwhile: every one resolves
			for i := range alerts {
				alerts[i].Status, alerts[i].EndsAt = bot.AlertResolved, t0.Add(2*time.Hour)
			}
			err := s.InTx(ctx, func(tx bot.Tx) error { return tx.UpsertAlerts(ctx, id, alerts, t0.Add(2*time.Hour)) })
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	want := fingerprints(alerts)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("walk saw %d alerts, want each of %d once, by fingerprint:\n%v", len(seen), len(want), seen)
	}
	if _, err := s.AlertPage(ctx, 999999, "", 10); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("AlertPage(unknown) = %v, want ErrNotFound", err)
	}
	if page, err := s.AlertPage(ctx, id, want[len(want)-1], 10); err != nil || len(page) != 0 {
		t.Fatalf("a page past the last alert: %d alerts, %v; want none and no error", len(page), err)
	}
	if page, err := s.AlertPage(ctx, id, "", 0); err != nil || len(page) != 0 {
		t.Fatalf("limit 0: %d alerts, %v; want none", len(page), err)
	}
}

// Event pages walk the timeline oldest first, by kind when asked; counts
// are by kind over a range of ids.
func testEventPagesAndCounts(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id, _ := bigIncident(t, s, "events", 30)
	more := []bot.Event{{At: t0, Kind: bot.EventReminder, Detail: "r1"}, {At: t0, Kind: bot.EventAction, Detail: "a1"},
		{At: t0, Kind: bot.EventReminder, Detail: "r2"}, {At: t0, Kind: bot.EventResolved, Detail: "done"}}
	if err := s.InTx(ctx, func(tx bot.Tx) error { return tx.AppendEvents(ctx, id, more) }); err != nil {
		t.Fatal(err)
	}
	other := seed(t, s, "other", bot.P1, t0)
	var all []bot.Event
	for after := int64(0); ; {
		page, err := s.EventPage(ctx, bot.EventQuery{IncidentID: id, After: after, Limit: 7})
		if err != nil {
			t.Fatalf("EventPage: %v", err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
	if len(all) != 35 || all[0].Kind != bot.EventOpened || all[34].Detail != "done" {
		t.Fatalf("walked %d events, want 35 from opened to resolved", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID || all[i].IncidentID != id {
			t.Fatalf("event %d: #%d of incident %d after #%d", i, all[i].ID, all[i].IncidentID, all[i-1].ID)
		}
	}
	reminders, err := s.EventPage(ctx, bot.EventQuery{IncidentID: id, Kind: bot.EventReminder, Limit: 10})
	if err != nil || len(reminders) != 2 || reminders[0].Detail != "r1" || reminders[1].Detail != "r2" {
		t.Fatalf("reminders: %+v, %v", reminders, err)
	}
	if page, err := s.EventPage(ctx, bot.EventQuery{IncidentID: id, After: reminders[0].ID, Kind: bot.EventReminder, Limit: 10}); err != nil || len(page) != 1 {
		t.Fatalf("reminders after the first: %+v, %v", page, err)
	}
	if _, err := s.EventPage(ctx, bot.EventQuery{IncidentID: 999999, Limit: 10}); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("EventPage(unknown) = %v, want ErrNotFound", err)
	}

	counts, err := s.CountEvents(ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := all[34].ID
	if counts.Total() != 35 || counts[bot.EventAlertFiring].Count != 30 || counts[bot.EventReminder] != (bot.KindCount{Count: 2, Newest: reminders[1].ID}) ||
		counts[bot.EventResolved].Newest != last || counts.Newest() != last {
		t.Fatalf("counts of the whole timeline: %+v", counts)
	}
	// Between the two reminders, both excluded: the action alone.
	between, err := s.CountEvents(ctx, id, reminders[0].ID, reminders[1].ID)
	if err != nil || len(between) != 1 || between[bot.EventAction].Count != 1 {
		t.Fatalf("counts between the reminders: %+v, %v; want one action", between, err)
	}
	if c, err := s.CountEvents(ctx, id, last, 0); err != nil || c.Total() != 0 || c.Newest() != 0 {
		t.Fatalf("counts after the last event: %+v, %v; want none", c, err)
	}
	if c, err := s.CountEvents(ctx, other, 0, 0); err != nil || c.Total() != 1 {
		t.Fatalf("another incident's counts: %+v, %v; want its one event", c, err)
	}
}

// The alert span: the earliest start, and the latest end once every alert
// ended.
func testAlertSpan(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id, alerts := bigIncident(t, s, "span", 12)
	span, err := s.AlertSpan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if span.Alerts != 12 || span.Ended || !span.FirstStart.Equal(t0.Add(time.Second)) {
		t.Fatalf("firing: %+v; want 12 alerts from %s, not ended", span, t0.Add(time.Second))
	}
	for i := range alerts {
		alerts[i].Status, alerts[i].EndsAt = bot.AlertResolved, t0.Add(time.Duration(i)*time.Minute)
	}
	if err := s.InTx(ctx, func(tx bot.Tx) error { return tx.UpsertAlerts(ctx, id, alerts, t0) }); err != nil {
		t.Fatal(err)
	}
	if span, err = s.AlertSpan(ctx, id); err != nil || !span.Ended || !span.LastEnd.Equal(t0.Add(11*time.Minute)) {
		t.Fatalf("all resolved: %+v, %v; want ended at %s", span, err, t0.Add(11*time.Minute))
	}
	// An outage has no alerts of its own.
	outage, ok, err := s.OpenIncident(ctx, bot.IncidentWrite{At: t0, Incident: &bot.Incident{Receiver: bot.OutageReceiver,
		GroupKey: bot.OutageGroupKey, Status: bot.IncidentOpen, Severity: bot.P0, Title: "outage", OpenedAt: t0, UpdatedAt: t0}})
	if err != nil || !ok {
		t.Fatalf("open an outage: ok %v, %v", ok, err)
	}
	if span, err := s.AlertSpan(ctx, outage); err != nil || span != (bot.AlertSpan{}) {
		t.Fatalf("no alerts: %+v, %v; want a zero span", span, err)
	}
}

// More than a thousand incidents, listed page by page with the cursor:
// each once, newest first, and the status filter holds across pages.
func testListIncidentsPastAThousand(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const n = 1005
	open := 0
	for i := range n {
		status := bot.IncidentOpen
		if i%5 == 0 {
			status = bot.IncidentResolved
		} else {
			open++
		}
		inc := &bot.Incident{Receiver: "r", GroupKey: fmt.Sprint(i), Status: status, Severity: bot.P3, Title: "t",
			OpenedAt: t0, UpdatedAt: t0}
		if status == bot.IncidentResolved {
			inc.ResolvedAt = &t0
		}
		if _, ok, err := s.OpenIncident(ctx, bot.IncidentWrite{Incident: inc, At: t0}); err != nil || !ok {
			t.Fatalf("incident %d: ok %v, %v", i, ok, err)
		}
	}
	walk := func(status bot.IncidentStatus, limit int) []int64 {
		t.Helper()
		var ids []int64
		f := bot.IncidentFilter{Status: status, Limit: limit}
		for pages := 0; ; pages++ {
			incs, err := s.ListIncidents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(incs) == 0 || pages > n {
				return ids
			}
			for _, inc := range incs {
				if status != "" && inc.Status != status {
					t.Fatalf("listing %s gave #%d %s", status, inc.ID, inc.Status)
				}
				ids = append(ids, inc.ID)
			}
			f.Before = incs[len(incs)-1].ID
		}
	}
	descending := func(ids []int64) bool {
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				return false
			}
		}
		return true
	}
	if all := walk("", 100); len(all) != n || !descending(all) {
		t.Fatalf("walked %d incidents, want each of %d once, newest first", len(all), n)
	}
	if got := walk(bot.IncidentOpen, 333); len(got) != open || !descending(got) {
		t.Fatalf("walked %d open incidents, want each of %d once, newest first", len(got), open)
	}
}
