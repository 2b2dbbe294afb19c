package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/test/harness"
)

// TestAlertmanagerAPIFiringBySeverity reads a real Alertmanager through its
// API v2 client, as the health command does: active alerts counted by their
// severity label.
func TestAlertmanagerAPIFiringBySeverity(t *testing.T) {
	am := harness.StartAlertmanager(t, "http://127.0.0.1:9/v1/alertmanager", "unused")
	started := harness.RFC3339(time.Now().Add(-time.Minute))
	am.PostAlerts(t,
		harness.PostableAlert{Labels: map[string]string{"alertname": "ServiceDown", "service": "gateway", "severity": "critical"}, StartsAt: started},
		harness.PostableAlert{Labels: map[string]string{"alertname": "ServiceDown", "service": "orders-service", "severity": "critical"}, StartsAt: started},
		harness.PostableAlert{Labels: map[string]string{"alertname": "HighMemoryUsage", "service": "pos-service", "severity": "warning"}, StartsAt: started},
		harness.PostableAlert{Labels: map[string]string{"alertname": "Watchdog"}, StartsAt: started},
		// Resolved already: not counted.
		harness.PostableAlert{Labels: map[string]string{"alertname": "ServiceDown", "service": "auth-service", "severity": "critical"},
			StartsAt: started, EndsAt: harness.RFC3339(time.Now().Add(-time.Second))},
	)
	api, err := alertmanager.NewAPI(am.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "Alertmanager to report the firing alerts", func() (bool, string) {
		got, err := api.FiringBySeverity(context.Background(), "")
		if err != nil {
			return false, err.Error()
		}
		return got["critical"] == 2 && got["warning"] == 1 && got["none"] == 1 && len(got) == 3, fmt.Sprint(got)
	})
	// One service's alerts only, as `health <service>` asks.
	got, err := api.FiringBySeverity(context.Background(), "gateway")
	if err != nil || got["critical"] != 1 || len(got) != 1 {
		t.Errorf("gateway's firing alerts = %v, %v; want 1 critical", got, err)
	}
	if _, err := alertmanager.NewAPI("alertmanager:9093"); err == nil {
		t.Error("a URL without a scheme was accepted")
	}
}
