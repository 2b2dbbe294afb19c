package outbox

import (
	"strings"
	"testing"

	"github.com/bakewise/chatops/bot"
)

func TestRunbookMessage(t *testing.T) {
	rbs := bot.Runbooks{"ServiceDown": {
		Steps:   []string{"Check pod status: kubectl get pods -n bakery-ia", "Restart if safe"},
		Actions: []bot.RunbookAction{bot.ActionRollback, bot.ActionHealth, bot.ActionLogs, bot.ActionRestart},
	}}
	d := bot.IncidentDetail{Incident: bot.Incident{ID: 12, Severity: bot.P1, Status: bot.IncidentOpen,
		GroupLabels:  map[string]string{"alertname": "ServiceDown", "service": "orders-service"},
		CommonLabels: map[string]string{"alertname": "ServiceDown", "service": "orders-service"}}}
	m := RunbookMessage(d, rbs)
	if m.Title != "Runbook: ServiceDown" || m.Severity != bot.P1 || m.Color != bot.Color(bot.P1, bot.IncidentOpen) {
		t.Fatalf("message %+v", m)
	}
	if want := "1. Check pod status: kubectl get pods -n bakery-ia|2. Restart if safe|The buttons act on orders-service; restart and roll back ask for a second person's approval."; strings.Join(m.Lines, "|") != want {
		t.Fatalf("lines %q", m.Lines)
	}
	var ids []string
	for _, b := range m.Buttons {
		ids = append(ids, b.ID)
		if len(b.ID) > 100 {
			t.Fatalf("button id %q is longer than Discord takes", b.ID)
		}
		if b.Danger != (strings.Contains(b.ID, "restart") || strings.Contains(b.ID, "rollback")) {
			t.Fatalf("button %+v: destructive ones, and only they, are drawn as dangerous", b)
		}
	}
	// In the table's order, whatever the configuration's.
	if got := strings.Join(ids, " "); got != "chatops:run:health:12 chatops:run:logs:12 chatops:run:restart:12 chatops:run:rollback:12" {
		t.Fatalf("buttons %s", got)
	}

	// The alert name from the common labels when the group has none.
	d.GroupLabels = map[string]string{"service": "orders-service"}
	if m := RunbookMessage(d, rbs); m.Title != "Runbook: ServiceDown" {
		t.Fatalf("common alertname: %q", m.Title)
	}
	d.CommonLabels = map[string]string{"alertname": "DiskFull"}
	m = RunbookMessage(d, rbs)
	if m.Title != "No runbook for DiskFull: add one under runbooks in the configuration." || len(m.Buttons) != 0 || len(m.Lines) != 0 {
		t.Fatalf("no runbook: %+v", m)
	}
	d.CommonLabels = nil
	if m := RunbookMessage(d, rbs); !strings.HasPrefix(m.Title, "No runbook for this alert group") {
		t.Fatalf("no alertname: %q", m.Title)
	}
	// Without a service, the message says what the buttons can do.
	d.CommonLabels = map[string]string{"alertname": "ServiceDown"}
	if m := RunbookMessage(d, rbs); !strings.Contains(m.Lines[len(m.Lines)-1], "names no single service") {
		t.Fatalf("no service: %q", m.Lines)
	}
}
