package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// TestAlertmanagerToIncident drives the bot through a real Alertmanager that
// authenticates with the bearer token: alerts posted to Alertmanager become
// incidents with the severities of the Bakery-IA rules, and a resolved alert
// resolves its incident only.
func TestAlertmanagerToIncident(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind harness.StoreKind) {
		cfg := newBotConfig(t, kind)
		bot := harness.StartBot(t, cfg)
		am := harness.StartAlertmanager(t, bot.WebhookURL(), cfg.WebhookToken)

		started := time.Now().Add(-time.Minute)
		serviceDown := harness.PostableAlert{
			Labels: map[string]string{
				"alertname": "ServiceDown", "service": "gateway", "severity": "critical",
				"namespace": "bakery-ia", "job": "gateway",
			},
			Annotations:  map[string]string{"summary": "gateway has been down for more than 2 minutes"},
			StartsAt:     harness.RFC3339(started),
			GeneratorURL: "http://127.0.0.1:9090/graph?g0.expr=up%7Bjob%3D%22gateway%22%7D+%3D%3D+0",
		}
		highMemory := harness.PostableAlert{
			Labels: map[string]string{
				"alertname": "HighMemoryUsage", "service": "forecasting-service", "severity": "warning",
				"namespace": "bakery-ia", "pod": "forecasting-service-7d9f-abc12",
			},
			Annotations: map[string]string{"summary": "forecasting-service memory above 85%"},
			StartsAt:    harness.RFC3339(started),
		}
		isOpen := func(i harness.Incident) bool { return i.Status == "open" }

		am.PostAlerts(t, serviceDown)
		down := bot.WaitForIncident(t, "an open incident for ServiceDown/gateway", harness.GroupIs("ServiceDown", "gateway"), isOpen)
		if down.Severity != "P0" {
			t.Errorf("ServiceDown for service=gateway: severity = %q, want P0 (bakery-ia.yaml: gateway/auth-service are P0)", down.Severity)
		}
		if down.Receiver != "chatops" {
			t.Errorf("ServiceDown incident: receiver = %q, want %q", down.Receiver, "chatops")
		}

		am.PostAlerts(t, highMemory)
		mem := bot.WaitForIncident(t, "an open incident for HighMemoryUsage/forecasting-service", harness.GroupIs("HighMemoryUsage", "forecasting-service"), isOpen)
		if mem.Severity != "P2" {
			t.Errorf("HighMemoryUsage warning: severity = %q, want P2", mem.Severity)
		}
		if mem.ID == down.ID {
			t.Fatalf("HighMemoryUsage and ServiceDown share incident #%d; want one incident per Alertmanager group", mem.ID)
		}

		// Resolve ServiceDown: same labels, endsAt = now.
		resolved := serviceDown
		resolved.EndsAt = harness.RFC3339(time.Now())
		am.PostAlerts(t, resolved)
		var downDetail harness.IncidentDetail
		harness.Eventually(t, fmt.Sprintf("incident #%d (ServiceDown/gateway) to be resolved", down.ID), func() (bool, string) {
			d, err := bot.TryGetIncident(down.ID)
			if err != nil {
				return false, err.Error()
			}
			downDetail = d
			return d.Status == "resolved", fmt.Sprintf("%s timeline=%v", d.Incident, d.Kinds())
		})

		memDetail := bot.GetIncident(t, mem.ID)
		if memDetail.Status != "open" {
			t.Errorf("resolving ServiceDown changed HighMemoryUsage incident #%d: status = %q, want open", mem.ID, memDetail.Status)
		}
		open := bot.ListIncidents(t, "open")
		if len(open) != 1 || open[0].ID != mem.ID {
			t.Errorf("GET /v1/incidents?status=open: want only #%d (HighMemoryUsage), got:\n%s", mem.ID, harness.DescribeIncidents(open))
		}
		res := bot.ListIncidents(t, "resolved")
		if len(res) != 1 || res[0].ID != down.ID {
			t.Errorf("GET /v1/incidents?status=resolved: want only #%d (ServiceDown), got:\n%s", down.ID, harness.DescribeIncidents(res))
		}

		// The detail of the resolved incident.
		if downDetail.ResolvedAt == nil || *downDetail.ResolvedAt == "" {
			t.Errorf("resolved incident #%d: resolved_at is null, want a timestamp", down.ID)
		}
		if len(downDetail.Alerts) != 1 {
			t.Fatalf("incident #%d: %d alerts, want 1: %+v", down.ID, len(downDetail.Alerts), downDetail.Alerts)
		}
		a := downDetail.Alerts[0]
		if a.Status != "resolved" || a.Fingerprint == "" || a.Labels["service"] != "gateway" || a.Labels["alertname"] != "ServiceDown" {
			t.Errorf("incident #%d alert = %+v, want a resolved ServiceDown/gateway alert with a fingerprint", down.ID, a)
		}
		for _, kind := range []string{"opened", "resolved"} {
			if !downDetail.HasKind(kind) {
				t.Errorf("incident #%d timeline kinds %v lack %q", down.ID, downDetail.Kinds(), kind)
			}
		}
		if len(memDetail.Alerts) != 1 || memDetail.Alerts[0].Status != "firing" || memDetail.Alerts[0].Labels["pod"] != highMemory.Labels["pod"] {
			t.Errorf("incident #%d alerts = %+v, want the one firing HighMemoryUsage alert", mem.ID, memDetail.Alerts)
		}
		if !memDetail.HasKind("opened") {
			t.Errorf("incident #%d timeline kinds %v lack %q", mem.ID, memDetail.Kinds(), "opened")
		}
	})
}
