package incident

import (
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func TestNextReminder(t *testing.T) {
	opened := t0
	ptr := func(t time.Time) *time.Time { return &t }
	inc := func(status bot.IncidentStatus, sev bot.Severity, next *time.Time, acked bool) *bot.Incident {
		i := &bot.Incident{Status: status, Severity: sev, OpenedAt: opened, NextReminderAt: next}
		if acked {
			i.AckedAt = ptr(opened.Add(time.Minute))
		}
		return i
	}
	tests := []struct {
		name       string
		prev, next *bot.Incident
		now        time.Time
		want       *time.Time
	}{
		{"P1 opens: 15m after opening", nil, inc(bot.IncidentOpen, bot.P1, nil, false), opened, ptr(opened.Add(15 * time.Minute))},
		{"P0 opens: due at once", nil, inc(bot.IncidentOpen, bot.P0, nil, false), opened, ptr(opened)},
		{"P3 opens: 4h", nil, inc(bot.IncidentOpen, bot.P3, nil, false), opened, ptr(opened.Add(4 * time.Hour))},
		{"opens already resolved: none", nil, inc(bot.IncidentResolved, bot.P2, nil, false), opened, nil},
		{"unchanged severity keeps the reminder",
			inc(bot.IncidentOpen, bot.P2, ptr(opened.Add(time.Hour)), false), inc(bot.IncidentOpen, bot.P2, ptr(opened.Add(time.Hour)), false),
			opened.Add(10 * time.Minute), ptr(opened.Add(time.Hour))},
		{"raise P3→P1 tightens",
			inc(bot.IncidentOpen, bot.P3, ptr(opened.Add(4*time.Hour)), false), inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(4*time.Hour)), false),
			opened.Add(5 * time.Minute), ptr(opened.Add(15 * time.Minute))},
		{"raise past the new deadline: due at once (in the past)",
			inc(bot.IncidentOpen, bot.P3, ptr(opened.Add(4*time.Hour)), false), inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(4*time.Hour)), false),
			opened.Add(20 * time.Minute), ptr(opened.Add(15 * time.Minute))},
		{"raise never loosens a sooner repetition",
			inc(bot.IncidentOpen, bot.P2, ptr(opened.Add(70*time.Minute)), false), inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(70*time.Minute)), false),
			opened.Add(65 * time.Minute), ptr(opened.Add(15 * time.Minute))},
		{"raise to P0 pages at once",
			inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(15*time.Minute)), false), inc(bot.IncidentOpen, bot.P0, ptr(opened.Add(15*time.Minute)), false),
			opened.Add(3 * time.Minute), ptr(opened)},
		{"lower P1→P3 loosens to the new deadline",
			inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(15*time.Minute)), false), inc(bot.IncidentOpen, bot.P3, ptr(opened.Add(15*time.Minute)), false),
			opened.Add(5 * time.Minute), ptr(opened.Add(4 * time.Hour))},
		{"lower past the new deadline: now, not earlier",
			inc(bot.IncidentOpen, bot.P0, ptr(opened), false), inc(bot.IncidentOpen, bot.P1, ptr(opened), false),
			opened.Add(20 * time.Minute), ptr(opened.Add(20 * time.Minute))},
		{"lower loosens a pending repetition to the new deadline",
			inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(50*time.Minute)), false), inc(bot.IncidentOpen, bot.P2, ptr(opened.Add(50*time.Minute)), false),
			opened.Add(40 * time.Minute), ptr(opened.Add(time.Hour))},
		{"lower never tightens",
			inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(80*time.Minute)), false), inc(bot.IncidentOpen, bot.P2, ptr(opened.Add(80*time.Minute)), false),
			opened.Add(70 * time.Minute), ptr(opened.Add(80 * time.Minute))},
		{"acknowledged: none",
			inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(15*time.Minute)), false), inc(bot.IncidentOpen, bot.P1, nil, true),
			opened.Add(time.Minute), nil},
		{"new alert raises an acknowledged incident: still none",
			inc(bot.IncidentOpen, bot.P2, nil, true), inc(bot.IncidentOpen, bot.P1, nil, true),
			opened.Add(time.Hour), nil},
		{"resolved: none",
			inc(bot.IncidentOpen, bot.P1, ptr(opened.Add(15*time.Minute)), false), inc(bot.IncidentResolved, bot.P1, ptr(opened.Add(15*time.Minute)), false),
			opened.Add(time.Minute), nil},
		{"reopened: from the reopening",
			inc(bot.IncidentResolved, bot.P1, nil, true), inc(bot.IncidentOpen, bot.P1, nil, false),
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
	prev := &bot.Incident{ID: 1, Status: bot.IncidentResolved, Severity: bot.P1, OpenedAt: t0, ResolvedAt: &ack, AckedAt: &ack, Reminders: 2}
	ch := change{at: t0.Add(time.Hour), incident: *prev}
	ch.incident.Status, ch.incident.ResolvedAt, ch.incident.AckedAt = bot.IncidentOpen, nil, nil
	ch.schedule(prev, nil)
	if ch.incident.Reminders != 0 || !ch.dirty {
		t.Errorf("reopened: reminders %d, dirty %v; want 0 and a write", ch.incident.Reminders, ch.dirty)
	}
	if want := t0.Add(75 * time.Minute); ch.incident.NextReminderAt == nil || !ch.incident.NextReminderAt.Equal(want) {
		t.Errorf("reopened: next %v, want %v", ch.incident.NextReminderAt, want)
	}
	// An unchanged incident is not written for its schedule.
	same := change{at: t0.Add(time.Minute), incident: bot.Incident{Status: bot.IncidentOpen, Severity: bot.P1, OpenedAt: t0, NextReminderAt: &next}}
	cur := same.incident
	same.schedule(&cur, nil)
	if same.dirty {
		t.Error("an unchanged schedule marked the incident dirty")
	}
}
