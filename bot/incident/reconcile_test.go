package incident

import (
	"fmt"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

var t0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

func al(fp string, st bot.AlertStatus, sev bot.Severity, start time.Time) bot.Alert {
	return bot.Alert{Fingerprint: fp, Status: st, Severity: sev, StartsAt: start,
		Labels: map[string]string{"alertname": "X", "pod": fp}, Annotations: map[string]string{}}
}

func grp(alerts ...bot.Alert) bot.AlertGroup {
	return bot.AlertGroup{Receiver: "r", GroupKey: "k", GroupLabels: map[string]string{"alertname": "X"}, Alerts: alerts}
}

func countsOf(alerts []bot.Alert) bot.AlertCounts {
	var c bot.AlertCounts
	for _, a := range alerts {
		c.Add(a, 1)
	}
	return c
}

func TestReconcile(t *testing.T) {
	now := t0.Add(time.Hour)
	resolvedAt := t0.Add(30 * time.Minute)
	open := &bot.Incident{ID: 1, Status: bot.IncidentOpen, Severity: bot.P2, Firing: 1, Title: "X",
		GroupLabels: map[string]string{"alertname": "X"}, CommonLabels: map[string]string{}, CommonAnnotations: map[string]string{}}
	resolved := &bot.Incident{ID: 1, Status: bot.IncidentResolved, Severity: bot.P1, Resolved: 1, ResolvedAt: &resolvedAt, Title: "X",
		GroupLabels: map[string]string{"alertname": "X"}, CommonLabels: map[string]string{}, CommonAnnotations: map[string]string{}}
	tests := []struct {
		name       string
		cur        *bot.Incident
		stored     []bot.Alert
		in         bot.AlertGroup
		wantStatus bot.IncidentStatus
		wantSev    bot.Severity
		wantEvents []bot.EventKind
		wantRows   int
		wantDirty  bool
	}{
		{
			name: "new group firing", in: grp(al("a", bot.AlertFiring, bot.P2, t0), al("b", bot.AlertFiring, bot.P1, t0)),
			wantStatus: bot.IncidentOpen, wantSev: bot.P1, wantRows: 2, wantDirty: true,
			wantEvents: []bot.EventKind{bot.EventOpened, bot.EventAlertFiring, bot.EventAlertFiring},
		},
		{
			name: "new group first seen resolved", in: grp(al("a", bot.AlertResolved, bot.P2, t0)),
			wantStatus: bot.IncidentResolved, wantSev: bot.P2, wantRows: 1, wantDirty: true,
			wantEvents: []bot.EventKind{bot.EventOpened, bot.EventAlertResolved, bot.EventResolved},
		},
		{
			name: "duplicate is a no-op", cur: open, stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0)},
			in: grp(al("a", bot.AlertFiring, bot.P2, t0)), wantStatus: bot.IncidentOpen, wantSev: bot.P2,
		},
		{
			name: "resolve the last alert", cur: open, stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0)},
			in: grp(al("a", bot.AlertResolved, bot.P2, t0)), wantStatus: bot.IncidentResolved, wantSev: bot.P2, wantRows: 1, wantDirty: true,
			wantEvents: []bot.EventKind{bot.EventAlertResolved, bot.EventResolved},
		},
		{
			name: "absent alert stays firing", cur: &bot.Incident{ID: 1, Status: bot.IncidentOpen, Severity: bot.P2, Firing: 2, Title: "X", GroupLabels: map[string]string{"alertname": "X"}},
			stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0), al("b", bot.AlertFiring, bot.P2, t0)},
			in:     grp(al("a", bot.AlertFiring, bot.P2, t0)), wantStatus: bot.IncidentOpen, wantSev: bot.P2,
		},
		{
			name: "new critical alert raises severity", cur: open, stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0)},
			in: grp(al("a", bot.AlertFiring, bot.P2, t0), al("b", bot.AlertFiring, bot.P1, t0)), wantStatus: bot.IncidentOpen, wantSev: bot.P1,
			wantRows: 1, wantDirty: true, wantEvents: []bot.EventKind{bot.EventAlertFiring, bot.EventSeverityChanged},
		},
		{
			name:   "critical alert resolving lowers severity",
			cur:    &bot.Incident{ID: 1, Status: bot.IncidentOpen, Severity: bot.P1, Firing: 2, Title: "X", GroupLabels: map[string]string{"alertname": "X"}},
			stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0), al("b", bot.AlertFiring, bot.P1, t0)},
			in:     grp(al("b", bot.AlertResolved, bot.P1, t0)), wantStatus: bot.IncidentOpen, wantSev: bot.P2, wantRows: 1, wantDirty: true,
			wantEvents: []bot.EventKind{bot.EventAlertResolved, bot.EventSeverityChanged},
		},
		{
			name: "stale firing after resolve is ignored", cur: resolved, stored: []bot.Alert{al("a", bot.AlertResolved, bot.P1, t0)},
			in: grp(al("a", bot.AlertFiring, bot.P1, t0)), wantStatus: bot.IncidentResolved, wantSev: bot.P1,
		},
		{
			name: "older occurrence is ignored", cur: open, stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0)},
			in: grp(al("a", bot.AlertResolved, bot.P2, t0.Add(-time.Hour))), wantStatus: bot.IncidentOpen, wantSev: bot.P2,
		},
		{
			name: "new occurrence reopens", cur: resolved, stored: []bot.Alert{al("a", bot.AlertResolved, bot.P1, t0)},
			in: grp(al("a", bot.AlertFiring, bot.P1, t0.Add(time.Hour))), wantStatus: bot.IncidentOpen, wantSev: bot.P1, wantRows: 1, wantDirty: true,
			wantEvents: []bot.EventKind{bot.EventAlertFiring, bot.EventReopened},
		},
		{
			name: "annotation change updates silently", cur: open, stored: []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0)},
			in: grp(func() bot.Alert {
				a := al("a", bot.AlertFiring, bot.P2, t0)
				a.Annotations = map[string]string{"summary": "now 95%"}
				return a
			}()),
			// The alert row changes; the incident, its timeline and chat do not.
			wantStatus: bot.IncidentOpen, wantSev: bot.P2, wantRows: 1,
		},
		{
			name: "same fingerprint twice in one notification", in: grp(al("a", bot.AlertFiring, bot.P2, t0), al("a", bot.AlertResolved, bot.P2, t0)),
			wantStatus: bot.IncidentResolved, wantSev: bot.P2, wantRows: 1, wantDirty: true,
			wantEvents: []bot.EventKind{bot.EventOpened, bot.EventAlertFiring, bot.EventAlertResolved, bot.EventResolved},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := reconcile(tc.cur, tc.stored, countsOf(tc.stored), tc.in, now)
			if ch.incident.Status != tc.wantStatus || ch.incident.Severity != tc.wantSev {
				t.Errorf("incident = %s %s, want %s %s", ch.incident.Status, ch.incident.Severity, tc.wantStatus, tc.wantSev)
			}
			got := make([]bot.EventKind, len(ch.events))
			for i, e := range ch.events {
				got[i] = e.Kind
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantEvents) && !(len(got) == 0 && len(tc.wantEvents) == 0) {
				t.Errorf("events = %v, want %v", got, tc.wantEvents)
			}
			if len(ch.upserts) != tc.wantRows {
				t.Errorf("%d alert upserts, want %d", len(ch.upserts), tc.wantRows)
			}
			if ch.dirty != tc.wantDirty {
				t.Errorf("dirty = %v, want %v", ch.dirty, tc.wantDirty)
			}
			if (ch.incident.Status == bot.IncidentResolved) != (ch.incident.ResolvedAt != nil) {
				t.Errorf("status %s with resolved_at %v", ch.incident.Status, ch.incident.ResolvedAt)
			}
			if tc.cur != nil && ch.incident.ID != tc.cur.ID {
				t.Errorf("incident id changed to %d", ch.incident.ID)
			}
		})
	}
}

// The input incident is never modified: the engine may discard a change.
func TestReconcileDoesNotMutateInput(t *testing.T) {
	cur := &bot.Incident{ID: 1, Status: bot.IncidentOpen, Severity: bot.P2, Firing: 1, GroupLabels: map[string]string{"alertname": "X"}}
	before := *cur
	stored := []bot.Alert{al("a", bot.AlertFiring, bot.P2, t0)}
	reconcile(cur, stored, countsOf(stored), grp(al("a", bot.AlertResolved, bot.P2, t0)), t0)
	if cur.Status != before.Status || cur.Firing != before.Firing || cur.ResolvedAt != nil {
		t.Fatalf("reconcile mutated its input: %+v", cur)
	}
}

func TestTitle(t *testing.T) {
	tests := []struct {
		name          string
		group, common map[string]string
		want          string
	}{
		{"alertname and service", map[string]string{"alertname": "ServiceDown", "service": "orders-service"}, nil, "ServiceDown · orders-service"},
		{"labels sorted", map[string]string{"alertname": "A", "z": "2", "b": "1"}, nil, "A · 1 · 2"},
		{"alertname from common labels", map[string]string{"service": "gw"}, map[string]string{"alertname": "HighErrorRate"}, "HighErrorRate · gw"},
		{"nothing", nil, nil, "alert group"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bot.Title(tc.group, tc.common); got != tc.want {
				t.Fatalf("Title = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPreview(t *testing.T) {
	firing := grp(al("a", bot.AlertFiring, bot.P2, t0), al("b", bot.AlertFiring, bot.P2, t0))
	resolved := grp(al("a", bot.AlertResolved, bot.P2, t0), al("b", bot.AlertResolved, bot.P2, t0))
	d := Preview(bot.Classifier{}, firing, resolved)
	if d.Status != bot.IncidentResolved || len(d.Alerts) != 2 || d.Firing != 0 || d.Resolved != 2 {
		t.Fatalf("preview = %s firing=%d resolved=%d alerts=%d", d.Status, d.Firing, d.Resolved, len(d.Alerts))
	}
	if len(d.Timeline) != 6 {
		t.Fatalf("timeline has %d events, want 6 (opened, 2 firing, 2 resolved, resolved)", len(d.Timeline))
	}
}
