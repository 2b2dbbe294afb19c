package bot

import (
	"testing"
	"time"
)

func TestDeadlinesFor(t *testing.T) {
	custom := Deadlines{P1: 5 * time.Minute}
	tests := []struct {
		name string
		dl   Deadlines
		sev  Severity
		want time.Duration
	}{
		{"P0 immediately", nil, P0, 0},
		{"P1 15m", nil, P1, 15 * time.Minute},
		{"P2 1h", nil, P2, time.Hour},
		{"P3 4h", nil, P3, 4 * time.Hour},
		{"configured", custom, P1, 5 * time.Minute},
		{"missing from the map falls back", custom, P2, time.Hour},
		{"no severity yet is treated as P3", nil, SeverityUnknown, 4 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.dl.For(tt.sev); got != tt.want {
				t.Errorf("For(%s) = %s, want %s", tt.sev, got, tt.want)
			}
		})
	}
}

func TestNextReminder(t *testing.T) {
	opened := t0
	ptr := func(t time.Time) *time.Time { return &t }
	inc := func(status IncidentStatus, sev Severity, next *time.Time, acked bool) *Incident {
		i := &Incident{Status: status, Severity: sev, OpenedAt: opened, NextReminderAt: next}
		if acked {
			i.AckedAt = ptr(opened.Add(time.Minute))
		}
		return i
	}
	tests := []struct {
		name       string
		prev, next *Incident
		now        time.Time
		want       *time.Time
	}{
		{"P1 opens: 15m after opening", nil, inc(IncidentOpen, P1, nil, false), opened, ptr(opened.Add(15 * time.Minute))},
		{"P0 opens: due at once", nil, inc(IncidentOpen, P0, nil, false), opened, ptr(opened)},
		{"P3 opens: 4h", nil, inc(IncidentOpen, P3, nil, false), opened, ptr(opened.Add(4 * time.Hour))},
		{"opens already resolved: none", nil, inc(IncidentResolved, P2, nil, false), opened, nil},
		{"unchanged severity keeps the reminder",
			inc(IncidentOpen, P2, ptr(opened.Add(time.Hour)), false), inc(IncidentOpen, P2, ptr(opened.Add(time.Hour)), false),
			opened.Add(10 * time.Minute), ptr(opened.Add(time.Hour))},
		{"raise P3→P1 tightens",
			inc(IncidentOpen, P3, ptr(opened.Add(4*time.Hour)), false), inc(IncidentOpen, P1, ptr(opened.Add(4*time.Hour)), false),
			opened.Add(5 * time.Minute), ptr(opened.Add(15 * time.Minute))},
		{"raise past the new deadline: due at once (in the past)",
			inc(IncidentOpen, P3, ptr(opened.Add(4*time.Hour)), false), inc(IncidentOpen, P1, ptr(opened.Add(4*time.Hour)), false),
			opened.Add(20 * time.Minute), ptr(opened.Add(15 * time.Minute))},
		{"raise never loosens a sooner repetition",
			inc(IncidentOpen, P2, ptr(opened.Add(70*time.Minute)), false), inc(IncidentOpen, P1, ptr(opened.Add(70*time.Minute)), false),
			opened.Add(65 * time.Minute), ptr(opened.Add(15 * time.Minute))},
		{"raise to P0 pages at once",
			inc(IncidentOpen, P1, ptr(opened.Add(15*time.Minute)), false), inc(IncidentOpen, P0, ptr(opened.Add(15*time.Minute)), false),
			opened.Add(3 * time.Minute), ptr(opened)},
		{"lower P1→P3 loosens to the new deadline",
			inc(IncidentOpen, P1, ptr(opened.Add(15*time.Minute)), false), inc(IncidentOpen, P3, ptr(opened.Add(15*time.Minute)), false),
			opened.Add(5 * time.Minute), ptr(opened.Add(4 * time.Hour))},
		{"lower past the new deadline: now, not earlier",
			inc(IncidentOpen, P0, ptr(opened), false), inc(IncidentOpen, P1, ptr(opened), false),
			opened.Add(20 * time.Minute), ptr(opened.Add(20 * time.Minute))},
		{"lower loosens a pending repetition to the new deadline",
			inc(IncidentOpen, P1, ptr(opened.Add(50*time.Minute)), false), inc(IncidentOpen, P2, ptr(opened.Add(50*time.Minute)), false),
			opened.Add(40 * time.Minute), ptr(opened.Add(time.Hour))},
		{"lower never tightens",
			inc(IncidentOpen, P1, ptr(opened.Add(80*time.Minute)), false), inc(IncidentOpen, P2, ptr(opened.Add(80*time.Minute)), false),
			opened.Add(70 * time.Minute), ptr(opened.Add(80 * time.Minute))},
		{"acknowledged: none",
			inc(IncidentOpen, P1, ptr(opened.Add(15*time.Minute)), false), inc(IncidentOpen, P1, nil, true),
			opened.Add(time.Minute), nil},
		{"new alert raises an acknowledged incident: still none",
			inc(IncidentOpen, P2, nil, true), inc(IncidentOpen, P1, nil, true),
			opened.Add(time.Hour), nil},
		{"resolved: none",
			inc(IncidentOpen, P1, ptr(opened.Add(15*time.Minute)), false), inc(IncidentResolved, P1, ptr(opened.Add(15*time.Minute)), false),
			opened.Add(time.Minute), nil},
		{"reopened: from the reopening",
			inc(IncidentResolved, P1, nil, true), inc(IncidentOpen, P1, nil, false),
			opened.Add(3 * time.Hour), ptr(opened.Add(3*time.Hour + 15*time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextReminder(tt.prev, tt.next, nil, tt.now)
			if !sameTime(got, tt.want) {
				t.Errorf("NextReminder = %v, want %v", fmtTime(got), fmtTime(tt.want))
			}
		})
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return "opened+" + t.Sub(t0).String()
}

func TestScheduleResetsRemindersOnReopen(t *testing.T) {
	next := t0.Add(20 * time.Minute)
	ack := t0.Add(30 * time.Minute)
	prev := &Incident{ID: 1, Status: IncidentResolved, Severity: P1, OpenedAt: t0, ResolvedAt: &ack, AckedAt: &ack, Reminders: 2}
	ch := change{at: t0.Add(time.Hour), incident: *prev}
	ch.incident.Status, ch.incident.ResolvedAt, ch.incident.AckedAt = IncidentOpen, nil, nil
	ch.schedule(prev, nil)
	if ch.incident.Reminders != 0 || !ch.dirty {
		t.Errorf("reopened: reminders %d, dirty %v; want 0 and a write", ch.incident.Reminders, ch.dirty)
	}
	if want := t0.Add(75 * time.Minute); ch.incident.NextReminderAt == nil || !ch.incident.NextReminderAt.Equal(want) {
		t.Errorf("reopened: next %v, want %v", ch.incident.NextReminderAt, want)
	}
	// An unchanged incident is not written for its schedule.
	same := change{at: t0.Add(time.Minute), incident: Incident{Status: IncidentOpen, Severity: P1, OpenedAt: t0, NextReminderAt: &next}}
	cur := same.incident
	same.schedule(&cur, nil)
	if same.dirty {
		t.Error("an unchanged schedule marked the incident dirty")
	}
}

func TestEscalationMention(t *testing.T) {
	tests := []struct {
		name   string
		d      Destination
		levels int
		want   []string // levels 1, 2, 3
	}{
		{"nobody", Destination{}, 0, []string{"", "", ""}},
		{"mention only", Destination{Mention: "S1"}, 1, []string{"S1", "S1", "S1"}},
		{"two levels, stays at the last", Destination{Mention: "S1", Escalation: []string{"S1", "S2"}}, 2, []string{"S1", "S2", "S2"}},
		{"escalation without mention", Destination{Escalation: []string{"S9"}}, 1, []string{"S9", "S9", "S9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := tt.d.EscalationLevels(); n != tt.levels {
				t.Errorf("EscalationLevels = %d, want %d", n, tt.levels)
			}
			for i, want := range tt.want {
				if got := tt.d.EscalationMention(i + 1); got != want {
					t.Errorf("level %d: %q, want %q", i+1, got, want)
				}
			}
		})
	}
}
