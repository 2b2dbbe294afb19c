package escalation_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/escalation"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"

	"github.com/bakewise/chatops/bot"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

var (
	t0         = bottest.T0
	bob, carol = bottest.Bob, bottest.Carol
)

func TestEscalator(t *testing.T) { sqlstoretest.RunCases(t, escalationTests()) }

func escalationTests() []sqlstoretest.Case {
	return []sqlstoretest.Case{
		{Name: "EscalationUnacknowledgedP1EscalatesAt15mAndStopsAtAck", Run: testEscalationDoneWhen},
		{Name: "EscalationDeadlinesPerSeverity", Run: testEscalationDeadlines},
		{Name: "EscalationRepeatsAtTheInterval", Run: testEscalationRepeats},
		{Name: "EscalationLevelsInReplies", Run: testEscalationLevels},
		{Name: "EscalationAckWhileDueStopsIt", Run: testEscalationAckWhileDue},
		{Name: "EscalationSeverityChangeMovesTheDeadline", Run: testEscalationSeverityChange},
		{Name: "EscalationNewAlertInAckedIncidentDoesNotPage", Run: testEscalationAckedNewAlert},
		{Name: "EscalationReopenStartsOver", Run: testEscalationReopen},
		{Name: "EscalationRestartFiresEachDueReminderOnce", Run: testEscalationRestart},
		{Name: "EscalationTwoReplicasOneLeaseHolder", Run: testEscalationTwoReplicasLease},
		{Name: "EscalationForcedConcurrentFiringNeverDoubles", Run: testEscalationForcedConcurrent},
		{Name: "EscalationLeaseHandover", Run: testEscalationLeaseHandover},
		{Name: "EscalationOverdueReminderGauge", Run: testEscalationOverdueGauge},
		{Name: "EscalationReminderBeforeRootStillPages", Run: testEscalationReminderBeforeRoot},
		{Name: "EscalationClockSkewNeverDoubles", Run: testEscalationClockSkew},
	}
}

// Two escalation levels at the incidents channel: the on-call group, then
// the leads. The alerts channel pages nobody.
var escDests = []bot.Destination{
	{Name: "incidents", Platform: "fake", Channel: "C-INC", Mention: "S-ONCALL", Escalation: []string{"S-ONCALL", "S-LEADS"}},
	{Name: "alerts", Platform: "fake", Channel: "C-ALERTS"},
}

var escRoutes = bot.Routes{
	{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents"}},
	{Destinations: []string{"alerts"}},
}

const escInterval = 15 * time.Minute

func escEngine(s bot.Store, clock *bottest.Clock, reg prometheus.Registerer) *incident.Engine {
	return incident.New(s, incident.Config{
		Routes:       escRoutes,
		ReopenWindow: 10 * time.Minute,
		Deadlines:    bot.DefaultDeadlines,
		Now:          clock.Now,
	}, zap.NewNop(), reg)
}

func newEscalator(s bot.Store, now func() time.Time, holder string, reg prometheus.Registerer) *escalation.Escalator {
	return escalation.New(s, escalation.Config{
		Destinations: escDests,
		Routes:       escRoutes,
		Deadlines:    bot.DefaultDeadlines,
		Interval:     escInterval,
		Holder:       holder,
		Tick:         10 * time.Millisecond,
		Now:          now,
	}, zap.NewNop(), reg)
}

func escDispatcher(s bot.Store, chat bot.Chat, clock *bottest.Clock) *outbox.Dispatcher {
	return outbox.New(s, outbox.Config{
		Destinations: escDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Workers:      2,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

// sevAlert is one firing alert of the given severity, P0 by its priority
// label, the others by their severity label.
func sevAlert(fp string, sev bot.Severity, at time.Time) bot.Alert {
	label := map[bot.Severity]string{bot.P0: "critical", bot.P1: "critical", bot.P2: "warning", bot.P3: "info"}[sev]
	a := bottest.Alert(fp, bot.AlertFiring, label, at)
	if sev == bot.P0 {
		a.Labels["priority"] = "P0"
	}
	return a
}

func openAt(t *testing.T, e *incident.Engine, key string, sev bot.Severity, at time.Time) int64 {
	t.Helper()
	id := bottest.Ingest(t, e, bottest.Group(key, bot.AlertFiring, sevAlert(key+"-a", sev, at))).IncidentID
	return id
}

// tick runs one escalator tick and returns how many reminders it fired.
func tick(t *testing.T, esc *escalation.Escalator) int {
	t.Helper()
	n, err := esc.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("escalator tick: %v", err)
	}
	return n
}

// reminded checks incident id's reminders: the count on the row and the
// reminder events on its timeline agree and equal want.
func reminded(t *testing.T, s bot.Store, id int64, want int, when string) bot.IncidentDetail {
	t.Helper()
	d := bottest.Get(t, s, id)
	events := 0
	for _, ev := range d.Timeline {
		if ev.Kind == bot.EventReminder {
			events++
		}
	}
	if d.Reminders != want || events != want {
		t.Fatalf("%s: incident %d (%s) has reminders=%d and %d reminder events, want %d", when, id, d.Severity, d.Reminders, events, want)
	}
	return d
}

func wantNext(t *testing.T, d bot.IncidentDetail, want *time.Time) {
	t.Helper()
	switch {
	case want == nil && d.NextReminderAt != nil:
		t.Fatalf("incident %d: next reminder at %s, want none", d.ID, d.NextReminderAt)
	case want != nil && (d.NextReminderAt == nil || !d.NextReminderAt.Equal(*want)):
		t.Fatalf("incident %d: next reminder at %v, want %s", d.ID, d.NextReminderAt, want)
	}
}

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// replies returns the replies of the only thread in channel that report
// timeline events: not the runbook that opens each thread.
func replies(t *testing.T, chat *bottest.Chat, channel string) []bot.Message {
	t.Helper()
	roots := chat.Snapshot(channel)
	if len(roots) != 1 {
		t.Fatalf("%s has %d threads, want 1", channel, len(roots))
	}
	return eventReplies(roots[0].Replies)
}

func eventReplies(all []bot.Message) []bot.Message {
	var out []bot.Message
	for _, m := range all {
		if !strings.HasPrefix(m.Title, "Runbook: ") && !strings.HasPrefix(m.Title, "No runbook for ") {
			out = append(out, m)
		}
	}
	return out
}

// The "done when": an unacknowledged P1 escalates at 15 minutes of
// clock time, and the acknowledgement stops it; the metrics say so.
func testEscalationDoneWhen(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	reg := prometheus.NewRegistry()
	e := escEngine(s, clock, reg)
	esc := newEscalator(s, clock.Now, "replica-a", reg)
	chat := bottest.NewChat()
	d := escDispatcher(s, chat, clock)

	id := openAt(t, e, "orders", bot.P1, t0)
	bottest.Drain(t, d)
	if root := chat.Snapshot("C-INC")[0].Msg; root.Mention != "S-ONCALL" {
		t.Fatalf("P1 root mentions %q, want the on-call group", root.Mention)
	}
	wantNext(t, bottest.Get(t, s, id), at(15*time.Minute))

	clock.Advance(15*time.Minute - time.Second)
	if n := tick(t, esc); n != 0 {
		t.Fatalf("at 14m59s: %d reminders fired, want 0", n)
	}
	bottest.Drain(t, d)
	if r := replies(t, chat, "C-INC"); len(r) != 0 {
		t.Fatalf("at 14m59s the thread has %d replies, want 0", len(r))
	}
	if v := gather(t, reg, "chatops_incidents_past_deadline", nil); v != 0 {
		t.Fatalf("past deadline at 14m59s = %v, want 0", v)
	}

	clock.Advance(time.Second)
	if v := gather(t, reg, "chatops_incidents_past_deadline", nil); v != 1 {
		t.Fatalf("past deadline at 15m (before the tick) = %v, want 1", v)
	}
	if n := tick(t, esc); n != 1 {
		t.Fatalf("at 15m: %d reminders fired, want 1", n)
	}
	reminded(t, s, id, 1, "at 15m")
	bottest.Drain(t, d)
	r := replies(t, chat, "C-INC")
	if len(r) != 1 || r[0].Mention != "S-ONCALL" || !strings.Contains(strings.Join(r[0].Lines, "\n"), "not acknowledged 15m after opening (P1 deadline 15m): escalating to level 1") {
		t.Fatalf("at 15m replies = %+v, want one paging the on-call group", r)
	}
	if v := gather(t, reg, "chatops_escalations_total", map[string]string{"level": "1"}); v != 1 {
		t.Fatalf("escalations level 1 = %v, want 1", v)
	}
	if v := gather(t, reg, "chatops_incidents_past_deadline", nil); v != 1 {
		t.Fatalf("past deadline after the reminder = %v, want 1 (still unacknowledged)", v)
	}

	clock.Advance(5 * time.Minute)
	if _, err := e.Acknowledge(ctx, id, carol, "C-INC"); err != nil {
		t.Fatal(err)
	}
	wantNext(t, bottest.Get(t, s, id), nil)
	if v := gather(t, reg, "chatops_incident_time_to_acknowledge_seconds", map[string]string{"severity": "P1"}); v != 20*60 {
		t.Fatalf("time to acknowledge = %vs, want 1200", v)
	}
	if v := gather(t, reg, "chatops_incidents_past_deadline", nil); v != 0 {
		t.Fatalf("past deadline after the ack = %v, want 0", v)
	}
	for _, step := range []time.Duration{10 * time.Minute, 15 * time.Minute, 4 * time.Hour} {
		clock.Advance(step)
		if n := tick(t, esc); n != 0 {
			t.Fatalf("%s after the ack: %d reminders fired", clock.Now().Sub(t0), n)
		}
	}
	reminded(t, s, id, 1, "after the ack")
	bottest.Drain(t, d)
	r = replies(t, chat, "C-INC")
	if len(r) != 2 || r[1].Mention != "" {
		t.Fatalf("after the ack replies = %+v, want the reminder and the ack's, which pages nobody", r)
	}

	clock.Advance(time.Minute)
	if _, err := e.ResolveByHand(ctx, id, bob, "C-INC"); err != nil {
		t.Fatal(err)
	}
	if v, want := gather(t, reg, "chatops_incident_time_to_resolve_seconds", map[string]string{"severity": "P1"}), (4*time.Hour + 46*time.Minute).Seconds(); v != want {
		t.Fatalf("time to resolve = %vs, want %v", v, want)
	}
}

func testEscalationDeadlines(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	ids := map[bot.Severity]int64{}
	for _, sev := range []bot.Severity{bot.P0, bot.P1, bot.P2, bot.P3} {
		ids[sev] = openAt(t, e, "svc-"+sev.String(), sev, t0)
		if d := bottest.Get(t, s, ids[sev]); d.Severity != sev {
			t.Fatalf("opened as %s, want %s", d.Severity, sev)
		}
	}
	wantNext(t, bottest.Get(t, s, ids[bot.P0]), at(0))
	wantNext(t, bottest.Get(t, s, ids[bot.P3]), at(4*time.Hour))

	tick(t, esc)
	reminded(t, s, ids[bot.P0], 1, "P0 at once")
	reminded(t, s, ids[bot.P1], 0, "P1 at once")
	steps := []struct {
		sev    bot.Severity
		before time.Duration
	}{{bot.P1, 15 * time.Minute}, {bot.P2, time.Hour}, {bot.P3, 4 * time.Hour}}
	for _, st := range steps {
		clock.Set(t0.Add(st.before - time.Second))
		tick(t, esc)
		reminded(t, s, ids[st.sev], 0, fmt.Sprintf("%s one second before its deadline", st.sev))
		clock.Set(t0.Add(st.before))
		tick(t, esc)
		reminded(t, s, ids[st.sev], 1, fmt.Sprintf("%s at its deadline %s", st.sev, st.before))
	}
}

func testEscalationRepeats(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	id := openAt(t, e, "orders", bot.P1, t0)
	for _, st := range []struct {
		at   time.Duration
		want int
	}{
		{15 * time.Minute, 1},
		{15 * time.Minute, 1}, // a second tick at the same time fires nothing more
		{30*time.Minute - time.Second, 1},
		{30 * time.Minute, 2},
		{45 * time.Minute, 3},
		// Ticks missed for an hour: one reminder now, not one per missed
		// interval, and the next one an interval later.
		{2 * time.Hour, 4},
		{2*time.Hour + 14*time.Minute, 4},
		{2*time.Hour + 15*time.Minute, 5},
	} {
		clock.Set(t0.Add(st.at))
		tick(t, esc)
		d := reminded(t, s, id, st.want, "at "+st.at.String())
		wantNext(t, d, at(st.at-st.at%(15*time.Minute)+15*time.Minute))
	}
}

func testEscalationLevels(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	chat := bottest.NewChat()
	d := escDispatcher(s, chat, clock)
	openAt(t, e, "orders", bot.P1, t0)
	openAt(t, e, "memory", bot.P2, t0)
	bottest.Drain(t, d)

	for i, want := range []string{"S-ONCALL", "S-LEADS", "S-LEADS"} {
		clock.Set(t0.Add(time.Duration(i+1) * 15 * time.Minute))
		tick(t, esc)
		bottest.Drain(t, d)
		r := replies(t, chat, "C-INC")
		if len(r) != i+1 {
			t.Fatalf("reminder %d: %d replies", i+1, len(r))
		}
		last := r[i]
		if last.Mention != want || last.Title != "Not acknowledged in time" {
			t.Fatalf("reminder %d pages %q with title %q, want %q", i+1, last.Mention, last.Title, want)
		}
	}
	if line := replies(t, chat, "C-INC")[2].Lines[0]; !strings.Contains(line, "paging level 2 again (reminder 3)") {
		t.Fatalf("third reminder says %q", line)
	}
	// The P2's destination pages nobody: its reminder, at 1h, is a reply
	// without a mention.
	clock.Set(t0.Add(time.Hour))
	tick(t, esc)
	bottest.Drain(t, d)
	r := replies(t, chat, "C-ALERTS")
	if len(r) != 1 || r[0].Mention != "" || !strings.Contains(r[0].Lines[0], "(P2 deadline 1h): reminder 1") {
		t.Fatalf("P2 replies = %+v, want one reminder paging nobody", r)
	}

	// The chat is away for two reminders: the one reply that catches up
	// pages the level of the newest.
	id := openAt(t, e, "payments", bot.P1, clock.Now())
	bottest.Drain(t, d)
	clock.Advance(15 * time.Minute)
	tick(t, esc)
	clock.Advance(15 * time.Minute)
	tick(t, esc)
	bottest.Drain(t, d)
	var thread []bot.Message
	for _, root := range chat.Snapshot("C-INC") {
		if strings.HasSuffix(root.Msg.Marker, fmt.Sprintf(":%d:incidents", id)) {
			thread = eventReplies(root.Replies)
		}
	}
	if len(thread) != 1 || len(thread[0].Lines) != 2 || thread[0].Mention != "S-LEADS" {
		t.Fatalf("catch-up replies = %+v, want one with both reminders paging level 2", thread)
	}
}

func testEscalationAckWhileDue(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	id := openAt(t, e, "orders", bot.P1, t0)
	clock.Advance(16 * time.Minute) // due for a minute; the escalator has not run
	if _, err := e.Acknowledge(context.Background(), id, carol, "C-INC"); err != nil {
		t.Fatal(err)
	}
	if n := tick(t, esc); n != 0 {
		t.Fatalf("%d reminders fired after the ack", n)
	}
	if n, err := esc.FireDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("forced firing after the ack: %d, %v", n, err)
	}
	wantNext(t, reminded(t, s, id, 0, "after the ack"), nil)
}

func testEscalationSeverityChange(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)

	byAlert := openAt(t, e, "cert", bot.P3, t0)
	byHand := openAt(t, e, "disk", bot.P3, t0)
	lowered := openAt(t, e, "queue", bot.P1, t0)
	wantNext(t, bottest.Get(t, s, byAlert), at(4*time.Hour))

	// Raised by a new alert: P3's 4h becomes P1's 15m from the opening.
	clock.Advance(5 * time.Minute)
	bottest.Ingest(t, e, bottest.Group("cert", bot.AlertFiring, sevAlert("cert-a", bot.P3, t0), sevAlert("cert-b", bot.P1, clock.Now())))
	wantNext(t, bottest.Get(t, s, byAlert), at(15*time.Minute))
	// Lowered by hand: P1's deadline loosens to P3's.
	if _, err := e.SetSeverity(ctx, lowered, bot.P3, bob, "C-INC"); err != nil {
		t.Fatal(err)
	}
	wantNext(t, bottest.Get(t, s, lowered), at(4*time.Hour))

	clock.Set(t0.Add(15*time.Minute - time.Second))
	tick(t, esc)
	reminded(t, s, byAlert, 0, "raised P3→P1, at 14m59s")
	clock.Set(t0.Add(15 * time.Minute))
	tick(t, esc)
	reminded(t, s, byAlert, 1, "raised P3→P1, at 15m")
	reminded(t, s, lowered, 0, "lowered P1→P3, at 15m")

	// Raised by hand after the new deadline passed: due at once.
	clock.Set(t0.Add(20 * time.Minute))
	if _, err := e.SetSeverity(ctx, byHand, bot.P1, bob, "C-INC"); err != nil {
		t.Fatal(err)
	}
	wantNext(t, bottest.Get(t, s, byHand), at(15*time.Minute))
	tick(t, esc)
	reminded(t, s, byHand, 1, "raised by hand past the new deadline")
}

func testEscalationAckedNewAlert(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	chat := bottest.NewChat()
	d := escDispatcher(s, chat, clock)
	id := openAt(t, e, "memory", bot.P2, t0)
	clock.Advance(5 * time.Minute)
	if _, err := e.Acknowledge(context.Background(), id, carol, "C-ALERTS"); err != nil {
		t.Fatal(err)
	}
	bottest.Drain(t, d)
	before := len(replies(t, chat, "C-ALERTS"))

	clock.Advance(5 * time.Minute)
	bottest.Ingest(t, e, bottest.Group("memory", bot.AlertFiring, sevAlert("memory-a", bot.P2, t0), sevAlert("memory-b", bot.P2, clock.Now())))
	bottest.Drain(t, d)
	r := replies(t, chat, "C-ALERTS")
	if len(r) != before+1 || r[len(r)-1].Mention != "" || !strings.Contains(r[len(r)-1].Lines[0], "firing") {
		t.Fatalf("replies after a new alert = %+v, want one more reporting it and paging nobody", r)
	}
	wantNext(t, bottest.Get(t, s, id), nil)
	clock.Advance(8 * time.Hour)
	if n := tick(t, esc); n != 0 {
		t.Fatalf("%d reminders for an acknowledged incident", n)
	}
	reminded(t, s, id, 0, "acknowledged, then a new alert")
}

func testEscalationReopen(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	chat := bottest.NewChat()
	d := escDispatcher(s, chat, clock)
	id := openAt(t, e, "orders", bot.P1, t0)
	for _, m := range []time.Duration{15, 30} {
		clock.Set(t0.Add(m * time.Minute))
		tick(t, esc)
	}
	reminded(t, s, id, 2, "before resolving")
	clock.Set(t0.Add(35 * time.Minute))
	a := sevAlert("orders-a", bot.P1, t0)
	a.Status, a.EndsAt = bot.AlertResolved, clock.Now()
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertResolved, a))
	wantNext(t, bottest.Get(t, s, id), nil)

	clock.Set(t0.Add(40 * time.Minute))
	bottest.Ingest(t, e, bottest.Group("orders", bot.AlertFiring, sevAlert("orders-a", bot.P1, clock.Now())))
	dd := bottest.Get(t, s, id)
	if dd.Status != bot.IncidentOpen || dd.Reminders != 0 {
		t.Fatalf("reopened: %s with reminders=%d, want open with 0", dd.Status, dd.Reminders)
	}
	wantNext(t, dd, at(55*time.Minute))
	bottest.Drain(t, d)
	clock.Set(t0.Add(55*time.Minute - time.Second))
	if n := tick(t, esc); n != 0 {
		t.Fatal("reminded before the reopened incident's deadline")
	}
	clock.Set(t0.Add(55 * time.Minute))
	if n := tick(t, esc); n != 1 {
		t.Fatal("the reopened incident was not reminded at its deadline")
	}
	bottest.Drain(t, d)
	r := replies(t, chat, "C-INC")
	if last := r[len(r)-1]; last.Mention != "S-ONCALL" {
		t.Fatalf("first reminder after reopening pages %q, want level 1 again", last.Mention)
	}
}

// A restart in the middle: everything is in the database, so the new
// process fires each due reminder exactly once.
func testEscalationRestart(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	p1 := openAt(t, e, "orders", bot.P1, t0)
	p2 := openAt(t, e, "memory", bot.P2, t0)
	first := newEscalator(s, clock.Now, "replica-a-1", nil)
	clock.Advance(15 * time.Minute)
	if n := tick(t, first); n != 1 {
		t.Fatalf("before the restart: %d fired, want 1", n)
	}
	// The process dies without giving up its lease; it comes back later
	// under a new holder id.
	clock.Set(t0.Add(90 * time.Minute))
	second := newEscalator(s, clock.Now, "replica-a-2", nil)
	if n := tick(t, second); n != 2 {
		t.Fatalf("after the restart: %d fired, want 2 (P1's second, P2's first)", n)
	}
	if n := tick(t, second); n != 0 {
		t.Fatalf("second tick after the restart: %d fired, want 0", n)
	}
	// And a third process starting now finds nothing left to do.
	third := newEscalator(s, clock.Now, "replica-a-3", nil)
	if n, err := third.FireDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("third process: %d, %v", n, err)
	}
	reminded(t, s, p1, 2, "P1 after the restart")
	reminded(t, s, p2, 1, "P2 after the restart")
}

func openMany(t *testing.T, e *incident.Engine, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = openAt(t, e, fmt.Sprintf("svc-%d", i), bot.P1, t0)
	}
	return ids
}

func testEscalationTwoReplicasLease(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	ids := openMany(t, escEngine(s, clock, nil), 8)
	clock.Advance(15 * time.Minute)
	a := newEscalator(s, clock.Now, "replica-a", nil)
	b := newEscalator(s, clock.Now, "replica-b", nil)
	var (
		wg    sync.WaitGroup
		fired [2]int
	)
	for i, esc := range []*escalation.Escalator{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				n, err := esc.RunOnce(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				fired[i] += n
			}
		}()
	}
	wg.Wait()
	if fired[0]+fired[1] != len(ids) || (fired[0] != 0 && fired[1] != 0) {
		t.Fatalf("replicas fired %v, want all %d by the one holding the lease", fired, len(ids))
	}
	for _, id := range ids {
		reminded(t, s, id, 1, "two replicas")
	}
}

// Without the lease (a handover while the old holder still runs, clocks a
// little apart), several replicas firing at once still fire each reminder
// once: the row lock and the check under it decide.
func testEscalationForcedConcurrent(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	ids := openMany(t, escEngine(s, clock, nil), 8)
	clock.Advance(15 * time.Minute)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for i := range 4 {
		skew := time.Duration(i) * 700 * time.Millisecond // racing clocks
		esc := newEscalator(s, func() time.Time { return clock.Now().Add(skew) }, fmt.Sprintf("replica-%d", i), nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				n, err := esc.FireDue(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if total != len(ids) {
		t.Fatalf("%d reminders fired by 4 replicas for %d due incidents", total, len(ids))
	}
	for _, id := range ids {
		reminded(t, s, id, 1, "forced concurrent firing")
	}
}

func testEscalationLeaseHandover(t *testing.T, s bot.Store) {
	ctx := context.Background()
	acquire := func(holder string, at time.Duration, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, "test", holder, t0.Add(at), ttl)
		if err != nil {
			t.Fatalf("AcquireLease(%s): %v", holder, err)
		}
		return ok
	}
	const ttl = 15 * time.Second
	steps := []struct {
		holder string
		at     time.Duration
		ttl    time.Duration
		want   bool
	}{
		{"h1", 0, ttl, true},                 // free
		{"h2", time.Second, ttl, false},      // held
		{"h1", 5 * time.Second, ttl, true},   // renewed until 20s
		{"h2", 19 * time.Second, ttl, false}, // still held thanks to the renewal
		{"h2", 20 * time.Second, ttl, true},  // expired: taken over
		{"h1", 21 * time.Second, ttl, false}, // the old holder lost it
		{"h2", 22 * time.Second, 0, true},    // given up
		{"h1", 22 * time.Second, ttl, true},  // and at once free for another
		{"h1", 23 * time.Second, ttl, true},  // renewed
		{"h2", 37*time.Second + 999*time.Millisecond, ttl, false},
	}
	for i, st := range steps {
		if got := acquire(st.holder, st.at, st.ttl); got != st.want {
			t.Fatalf("step %d: %s at %s: %v, want %v", i, st.holder, st.at, got, st.want)
		}
	}
	// Many replicas racing for a free lease: exactly one gets it.
	var (
		wg  sync.WaitGroup
		won sync.Map
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("r%d", i)
			if ok, err := s.AcquireLease(ctx, "race", holder, t0, ttl); err == nil && ok {
				won.Store(holder, true)
			} else if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	won.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d replicas took one free lease", n)
	}

	// The escalators: the holder stops renewing (it hangs, or died), and
	// the standby takes over 15 s after the last renewal, not before, and
	// fires what is due.
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	a := newEscalator(s, clock.Now, "replica-a", nil)
	b := newEscalator(s, clock.Now, "replica-b", nil)
	tick(t, a) // a holds the lease until t0+15s
	clock.Advance(time.Second)
	p0 := openAt(t, e, "gateway", bot.P0, clock.Now()) // due at once
	clock.Advance(14*time.Second - time.Millisecond)
	if n := tick(t, b); n != 0 {
		t.Fatalf("the standby fired %d while the lease was held", n)
	}
	reminded(t, s, p0, 0, "while a holds the lease and hangs")
	clock.Advance(time.Millisecond) // 15 s after a's last renewal
	if n := tick(t, b); n != 1 {
		t.Fatalf("after the handover the standby fired %d, want 1", n)
	}
	clock.Advance(escInterval)
	if n := tick(t, b); n != 1 {
		t.Fatalf("the new holder fired %d at the next interval, want 1", n)
	}
	if n := tick(t, a); n != 0 {
		t.Fatalf("the old holder fired %d after losing the lease", n)
	}
	reminded(t, s, p0, 2, "after the handover")

	// A replica that stops cleanly gives the lease up: the next takes it
	// at once, without waiting for the TTL.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(rctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	again := openAt(t, e, "auth", bot.P0, clock.Now())
	c := newEscalator(s, clock.Now, "replica-c", nil)
	if n := tick(t, c); n != 1 {
		t.Fatalf("after a clean stop the next replica fired %d at once, want 1", n)
	}
	reminded(t, s, again, 1, "after a clean stop")
}

// chatops_incidents_reminder_overdue counts a due reminder nobody fired
// once it is ReminderGrace late, the first one and the repeats alike; a
// fired reminder and an acknowledgement take it out, and levels and tick
// outcomes are exported before any reminder fires.
func testEscalationOverdueGauge(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	reg := prometheus.NewRegistry()
	e := escEngine(s, clock, reg)
	esc := newEscalator(s, clock.Now, "replica-a", reg)
	for _, level := range []string{"0", "1", "2"} {
		if v := gather(t, reg, "chatops_escalations_total", map[string]string{"level": level}); v != 0 {
			t.Fatalf("escalations level %s before any reminder = %v, want an exported 0", level, v)
		}
	}
	overdue := func(when string, want float64) {
		t.Helper()
		if v := gather(t, reg, "chatops_incidents_reminder_overdue", nil); v != want {
			t.Fatalf("%s: reminder overdue = %v, want %v", when, v, want)
		}
	}
	id := openAt(t, e, "orders", bot.P1, t0)
	overdue("at opening", 0)
	clock.Advance(15 * time.Minute)
	overdue("at the deadline", 0)
	clock.Advance(escalation.ReminderGrace)
	overdue("one grace after the deadline", 0)
	clock.Advance(time.Second)
	overdue("just past the grace, not fired", 1)
	if v := gather(t, reg, "chatops_incidents_past_deadline", nil); v != 1 {
		t.Fatalf("past deadline = %v, want 1", v)
	}
	if n := tick(t, esc); n != 1 {
		t.Fatalf("tick fired %d, want 1", n)
	}
	overdue("after the reminder fired", 0)
	clock.Advance(escInterval + escalation.ReminderGrace + time.Second)
	overdue("the repeat reminder not fired", 1)
	if _, err := e.Acknowledge(ctx, id, carol, "C-INC"); err != nil {
		t.Fatal(err)
	}
	overdue("after the ack", 0)
}

// gather reads one series' value from reg: a counter's or gauge's value, a
// histogram's sum.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			match := true
			for k, v := range labels {
				match = match && have[k] == v
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return m.Histogram.GetSampleSum()
			}
		}
	}
	return 0
}
