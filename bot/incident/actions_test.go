package incident_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

var bob, carol = bottest.Bob, bottest.Carol

func TestActions(t *testing.T) { sqlstoretest.RunCases(t, incidentActionTests()) }

func incidentActionTests() []sqlstoretest.Case {
	return []sqlstoretest.Case{
		{Name: "AcknowledgeResolveSeverity", Run: testIncidentActions},
	}
}

// People acknowledge, re-prioritise and resolve incidents: each change is
// one transaction with its timeline event, a chat sync and an audit row; a
// person's severity sticks over the alerts' while the incident is open.
func testIncidentActions(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	e := newEngine(s, clock)
	res := bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0)))
	id := res.IncidentID
	if d := bottest.Get(t, s, id); d.Severity != bot.P2 || d.AckedAt != nil {
		t.Fatalf("opened as %s, acked %v", d.Severity, d.AckedAt)
	}
	drainOutbox(t, s, clock)

	clock.Advance(3 * time.Minute)
	inc, err := e.Acknowledge(ctx, id, carol, "C1")
	if err != nil || inc.AckedAt == nil || !inc.AckedAt.Equal(clock.Now()) || inc.AckedBy != "carol" {
		t.Fatalf("Acknowledge = %+v, %v", inc, err)
	}
	var refusal *bot.IncidentRefusal
	if _, err := e.Acknowledge(ctx, id, bob, "C1"); !errors.As(err, &refusal) || !strings.Contains(refusal.Msg, "already acknowledged by carol") {
		t.Fatalf("second ack: %v", err)
	}
	if _, err := e.Acknowledge(ctx, 999, bob, "C1"); !errors.As(err, &refusal) {
		t.Fatalf("ack of an unknown incident: %v", err)
	}
	if n := bottest.OutboxDepth(t, s); n != 1 {
		t.Fatalf("an ack queued %d chat syncs, want one per destination of a P2 (1)", n)
	}

	if _, err := e.SetSeverity(ctx, id, bot.P0, bob, "C1"); err != nil {
		t.Fatal(err)
	}
	// A new notification, still a warning: the person's P0 sticks.
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0), bottest.Alert("a2", bot.AlertFiring, "warning", clock.Now())))
	d := bottest.Get(t, s, id)
	if d.Severity != bot.P0 || d.SeverityOverride == nil || *d.SeverityOverride != bot.P0 || d.AckedBy == "" {
		t.Fatalf("after a notification: %s, override %v, acked by %q", d.Severity, d.SeverityOverride, d.AckedBy)
	}
	if _, err := e.ResolveByHand(ctx, id, bob, "C1"); err != nil {
		t.Fatal(err)
	}
	d = bottest.Get(t, s, id)
	if d.Status != bot.IncidentResolved || d.SeverityOverride != nil {
		t.Fatalf("after resolve: %s, override %v", d.Status, d.SeverityOverride)
	}
	if _, err := e.Acknowledge(ctx, id, carol, "C1"); !errors.As(err, &refusal) {
		t.Fatalf("ack of a resolved incident: %v", err)
	}
	kinds := ""
	for _, ev := range d.Timeline {
		kinds += string(ev.Kind) + " "
	}
	for _, want := range []string{"acknowledged", "severity_changed", "resolved"} {
		if !strings.Contains(kinds, want) {
			t.Fatalf("timeline %q lacks %s", kinds, want)
		}
	}
	// The alerts still fire: their next notification reopens it, and a
	// reopened incident wants a new acknowledgement.
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "warning", t0), bottest.Alert("a3", bot.AlertFiring, "warning", clock.Now())))
	d = bottest.Get(t, s, id)
	if d.Status != bot.IncidentOpen || d.AckedAt != nil || d.Severity != bot.P2 {
		t.Fatalf("after reopening: %s, acked %v, %s", d.Status, d.AckedAt, d.Severity)
	}
	var audited []string
	err = s.AuditRecords(ctx, time.Time{}, func(r bot.AuditRecord) error {
		if r.Kind == bot.AuditIncident && r.IncidentID == id {
			audited = append(audited, r.Action+" by "+r.Actor.UserID)
		}
		return nil
	})
	if err != nil || strings.Join(audited, ", ") != "incident ack by UCAROL, incident severity by UBOB, incident resolve by UBOB" {
		t.Fatalf("audited %q (%v)", audited, err)
	}
}

// drainOutbox finishes every pending job, as if the chat caught up.
func drainOutbox(t *testing.T, s bot.Store, clock *bottest.Clock) {
	t.Helper()
	jobs, err := s.ClaimJobs(context.Background(), clock.Now(), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := s.FinishJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
}
