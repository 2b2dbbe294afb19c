package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/bakewise/chatops/test/harness"
)

const serviceDownFingerprint = "0a5f525a4a3f70b4" // from service-down-*.json

// TestFixturesDirectly posts the repository's Alertmanager fixtures straight to the
// webhook: firing opens a P1 incident, a repeat is a no-op, resolved resolves
// it, the state survives a graceful restart, and bad requests are refused.
func TestFixturesDirectly(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind harness.StoreKind) {
		cfg := newBotConfig(t, kind)
		bot := harness.StartBot(t, cfg)
		firing := harness.Fixture(t, "service-down-firing.json")
		resolved := harness.Fixture(t, "service-down-resolved.json")

		id := bot.MustPostWebhook(t, firing)
		open := bot.ListIncidents(t, "open")
		if len(open) != 1 || open[0].ID != id {
			t.Fatalf("after service-down-firing.json (incident_id %d): GET /v1/incidents?status=open =\n%s want exactly that incident", id, harness.DescribeIncidents(open))
		}
		if inc := open[0]; inc.Status != "open" || inc.Severity != "P1" || !harness.GroupIs("ServiceDown", "orders-service")(inc) || inc.Receiver != "chatops" {
			t.Errorf("incident = %s receiver=%q; want open P1 ServiceDown/orders-service for receiver chatops (orders-service is not gateway/auth-service)", inc, inc.Receiver)
		}
		first := bot.GetIncident(t, id)
		if a, ok := first.AlertByFingerprint(serviceDownFingerprint); !ok || a.Status != "firing" || len(first.Alerts) != 1 {
			t.Errorf("incident #%d alerts = %+v, want exactly the firing alert %s", id, first.Alerts, serviceDownFingerprint)
		}
		if !first.HasKind("opened") {
			t.Errorf("incident #%d timeline kinds %v lack \"opened\"", id, first.Kinds())
		}

		// The same payload again changes nothing.
		if again := bot.MustPostWebhook(t, firing); again != id {
			t.Errorf("second post of service-down-firing.json: incident_id = %d, want %d", again, id)
		}
		if all := bot.ListIncidents(t, "all"); len(all) != 1 {
			t.Errorf("after posting service-down-firing.json twice: %d incidents, want 1:\n%s", len(all), harness.DescribeIncidents(all))
		}
		second := bot.GetIncident(t, id)
		if len(second.Timeline) != len(first.Timeline) || len(second.Alerts) != len(first.Alerts) || second.Status != first.Status || second.Severity != first.Severity {
			t.Errorf("posting service-down-firing.json twice changed incident #%d:\n first:  %s alerts=%d timeline=%v\n second: %s alerts=%d timeline=%v",
				id, first.Incident, len(first.Alerts), first.Kinds(), second.Incident, len(second.Alerts), second.Kinds())
		}

		// Resolved.
		if rid := bot.MustPostWebhook(t, resolved); rid != id {
			t.Errorf("service-down-resolved.json: incident_id = %d, want %d", rid, id)
		}
		done := bot.GetIncident(t, id)
		if done.Status != "resolved" || done.ResolvedAt == nil {
			t.Errorf("after service-down-resolved.json: incident = %s resolved_at=%v, want resolved with resolved_at set", done.Incident, done.ResolvedAt)
		}
		if a, ok := done.AlertByFingerprint(serviceDownFingerprint); !ok || a.Status != "resolved" || len(done.Alerts) != 1 {
			t.Errorf("after service-down-resolved.json: alerts = %+v, want exactly the resolved alert %s", done.Alerts, serviceDownFingerprint)
		}
		if !done.HasKind("resolved") {
			t.Errorf("after service-down-resolved.json: timeline kinds %v lack \"resolved\"", done.Kinds())
		}
		if open := bot.ListIncidents(t, "open"); len(open) != 0 {
			t.Errorf("GET /v1/incidents?status=open after resolve: want none, got:\n%s", harness.DescribeIncidents(open))
		}

		t.Run("rejects", func(t *testing.T) {
			other := harness.Fixture(t, "gateway-error-rate.json")
			t.Run("no_token", func(t *testing.T) {
				code, body, err := bot.PostWebhook(other, "")
				expectStatus(t, "POST /v1/alertmanager without Authorization", code, body, err, http.StatusUnauthorized)
				if code == http.StatusUnauthorized && len(body) != 0 {
					t.Errorf("401 body = %q, want empty", body)
				}
			})
			t.Run("wrong_token", func(t *testing.T) {
				code, body, err := bot.PostWebhook(other, cfg.WebhookToken+"x")
				expectStatus(t, "POST /v1/alertmanager with a wrong bearer token", code, body, err, http.StatusUnauthorized)
				if code == http.StatusUnauthorized && len(body) != 0 {
					t.Errorf("401 body = %q, want empty", body)
				}
			})
			t.Run("api_token_is_not_webhook_token", func(t *testing.T) {
				code, body, err := bot.PostWebhook(other, cfg.APIToken)
				expectStatus(t, "POST /v1/alertmanager with the API token", code, body, err, http.StatusUnauthorized)
			})
			t.Run("api_needs_token", func(t *testing.T) {
				// The contract only says the API needs its bearer token: 401 or 403.
				for _, tc := range []struct{ what, token string }{
					{"GET /v1/incidents without Authorization", ""},
					{"GET /v1/incidents with the webhook token", cfg.WebhookToken},
				} {
					code, body, err := bot.Get("/v1/incidents?status=all", tc.token)
					if err != nil {
						t.Fatalf("%s: %v", tc.what, err)
					}
					if code != http.StatusUnauthorized && code != http.StatusForbidden {
						t.Errorf("%s: got %d %s, want 401 or 403", tc.what, code, truncate(body, 300))
					}
				}
			})
			t.Run("body_2MiB", func(t *testing.T) {
				big := []byte(`{"version":"4","receiver":"chatops","alerts":[],"padding":"` + strings.Repeat("a", 2<<20) + `"}`)
				code, body, err := bot.PostWebhook(big, cfg.WebhookToken)
				expectStatus(t, "POST /v1/alertmanager with a 2 MiB body", code, body, err, http.StatusRequestEntityTooLarge)
			})
			t.Run("broken_json", func(t *testing.T) {
				broken := bytes.TrimRight(other, "}\n \t")
				code, body, err := bot.PostWebhook(broken, cfg.WebhookToken)
				expectStatus(t, "POST /v1/alertmanager with truncated JSON", code, body, err, http.StatusBadRequest)
				expectErrorBody(t, code, body)
			})
			t.Run("unknown_incident", func(t *testing.T) {
				code, body, err := bot.Get("/v1/incidents/987654321", cfg.APIToken)
				expectStatus(t, "GET /v1/incidents/987654321", code, body, err, http.StatusNotFound)
			})
			if all := bot.ListIncidents(t, "all"); len(all) != 1 {
				t.Errorf("rejected requests changed the state: %d incidents, want 1:\n%s", len(all), harness.DescribeIncidents(all))
			}
		})

		// A graceful restart on the same store shows identical state.
		before := snapshot(t, bot)
		bot.Stop(t)
		bot = harness.StartBot(t, cfg)
		after := snapshot(t, bot)
		if !reflect.DeepEqual(before, after) {
			t.Errorf("state differs after SIGTERM + restart on the same %s store:\nbefore: %s\nafter:  %s", kind, mustJSON(before), mustJSON(after))
		}
	})
}

func expectStatus(t *testing.T, what string, code int, body []byte, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v (want %d)", what, err, want)
	}
	if code != want {
		t.Errorf("%s: got %d %s, want %d", what, code, truncate(body, 300), want)
	}
}

// expectErrorBody checks a {"error": "..."} body.
func expectErrorBody(t *testing.T, code int, body []byte) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Errorf("%d body = %s, want {\"error\": \"...\"}", code, truncate(body, 300))
	}
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return fmt.Sprintf("%s...(%d bytes)", b[:n], len(b))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(unmarshalable: %v)", err)
	}
	return string(b)
}

// snapshot is the whole API-visible state: the incident list and every
// incident's detail, as generic JSON.
func snapshot(t *testing.T, bot *harness.Bot) map[string]any {
	t.Helper()
	var list map[string]any
	if err := bot.GetJSON("/v1/incidents?status=all", &list); err != nil {
		t.Fatal(err)
	}
	snap := map[string]any{"list": list}
	for _, inc := range bot.ListIncidents(t, "all") {
		var d map[string]any
		if err := bot.GetJSON(fmt.Sprintf("/v1/incidents/%d", inc.ID), &d); err != nil {
			t.Fatal(err)
		}
		snap[fmt.Sprintf("incident/%d", inc.ID)] = d
	}
	return snap
}
