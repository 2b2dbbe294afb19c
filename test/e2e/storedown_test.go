package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/bakewise/chatops/test/harness"
	"github.com/jackc/pgx/v5"
)

// TestStoreDownGives503 takes the PostgreSQL database away under a running
// bot: a valid webhook must then get 503 (never 200, since nothing was
// committed) and /readyz 503; once the database is back, a retry gets 200.
func TestStoreDownGives503(t *testing.T) {
	cfg := newBotConfig(t, harness.Postgres)
	bot := harness.StartBot(t, cfg)

	baseline := bot.MustPostWebhook(t, harness.Fixture(t, "db-connections-high.json"))
	payload := harness.Fixture(t, "service-down-firing.json")

	// Take the store away: no new connections, existing ones terminated.
	ident := pgx.Identifier{cfg.Store.DB.Name}.Sanitize()
	admin := harness.PGAdminURL()
	harness.PGExec(t, admin, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS false")
	harness.PGExec(t, admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", cfg.Store.DB.Name)

	for i := 1; i <= 3; i++ {
		code, body, err := bot.PostWebhook(payload, cfg.WebhookToken)
		if err != nil {
			t.Fatalf("webhook #%d while the database is unreachable: %v (want a 503 answer)", i, err)
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("webhook #%d while the database is unreachable: got %d %s, want 503", i, code, truncate(body, 300))
		}
		expectErrorBody(t, code, body)
	}
	harness.Eventually(t, "GET /readyz == 503 while the database is unreachable", func() (bool, string) {
		code, body, err := bot.Get("/readyz", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusServiceUnavailable, fmt.Sprintf("GET /readyz -> %d %s", code, truncate(body, 300))
	})

	// Bring it back; a retry of the same webhook succeeds. Until then every
	// answer must be 503.
	harness.PGExec(t, admin, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS true")
	var incidentID int64
	harness.Eventually(t, "the retried webhook to get 200 once the database is back", func() (bool, string) {
		code, body, err := bot.PostWebhook(payload, cfg.WebhookToken)
		if err != nil {
			return false, err.Error()
		}
		switch code {
		case http.StatusOK:
			id, err := harness.WebhookAck(code, body)
			if err != nil {
				t.Fatalf("%v", err)
			}
			incidentID = id
			return true, ""
		case http.StatusServiceUnavailable:
			return false, fmt.Sprintf("POST /v1/alertmanager -> 503 %s", truncate(body, 300))
		default:
			t.Fatalf("retried webhook after the database came back: got %d %s, want 503 then 200", code, truncate(body, 300))
			return false, ""
		}
	})
	bot.WaitReady(t)

	all := bot.ListIncidents(t, "all")
	if len(all) != 2 {
		t.Fatalf("after the outage: %d incidents, want 2 (baseline #%d and the retried ServiceDown #%d):\n%s", len(all), baseline, incidentID, harness.DescribeIncidents(all))
	}
	d := bot.GetIncident(t, incidentID)
	if d.Status != "open" || len(d.Alerts) != 1 || d.Alerts[0].Fingerprint != serviceDownFingerprint {
		t.Errorf("retried incident #%d = %s alerts=%+v, want open with the one ServiceDown alert", incidentID, d.Incident, d.Alerts)
	}
	if b := bot.GetIncident(t, baseline); b.Status != "open" || len(b.Alerts) != 1 {
		t.Errorf("baseline incident #%d = %s alerts=%d, want open with 1 alert", baseline, b.Incident, len(b.Alerts))
	}
}
