package harness

import (
	"encoding/json"
	"maps"
	"testing"
	"time"
)

func TestNewWebhook(t *testing.T) {
	at := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	pod := func(name string) map[string]string {
		return map[string]string{"alertname": "HighMemoryUsage", "service": "forecasting-service", "pod": name}
	}
	ann := map[string]string{"summary": "memory above 85%"}
	for _, tc := range []struct {
		name       string
		alerts     []WebhookAlert
		wantStatus string
		wantCommon map[string]string
	}{
		{"one firing alert: its labels are the common ones",
			[]WebhookAlert{FiringAlert(pod("a"), ann, at, "f1")}, "firing", pod("a")},
		{"labels that differ are not common",
			[]WebhookAlert{FiringAlert(pod("a"), ann, at, "f1"), FiringAlert(pod("b"), ann, at, "f2")}, "firing",
			map[string]string{"alertname": "HighMemoryUsage", "service": "forecasting-service"}},
		{"firing while any alert fires",
			[]WebhookAlert{FiringAlert(pod("a"), ann, at, "f1").ResolvedAt(at), FiringAlert(pod("a"), ann, at, "f2")}, "firing", pod("a")},
		{"resolved when every alert is",
			[]WebhookAlert{FiringAlert(pod("a"), ann, at, "f1").ResolvedAt(at)}, "resolved", pod("a")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWebhook("chatops", map[string]string{"service": "forecasting-service", "alertname": "HighMemoryUsage"}, tc.alerts...)
			if w.Status != tc.wantStatus {
				t.Errorf("status = %q, want %q", w.Status, tc.wantStatus)
			}
			if !maps.Equal(w.CommonLabels, tc.wantCommon) {
				t.Errorf("commonLabels = %v, want %v", w.CommonLabels, tc.wantCommon)
			}
			if !maps.Equal(w.CommonAnnotations, ann) {
				t.Errorf("commonAnnotations = %v, want %v", w.CommonAnnotations, ann)
			}
			if want := `{}:{alertname="HighMemoryUsage",service="forecasting-service"}`; w.GroupKey != want {
				t.Errorf("groupKey = %s, want %s", w.GroupKey, want)
			}
		})
	}
}

// JSONWith must say what JSON says: the bot decodes both the same way.
func TestJSONWithSplicesEncodedAlerts(t *testing.T) {
	at := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	labels := map[string]string{"alertname": "ServiceDown", "service": "gateway"}
	for _, n := range []int{0, 1, 3} {
		var alerts []WebhookAlert
		var raw [][]byte
		for i := range n {
			a := FiringAlert(labels, nil, at.Add(time.Duration(i)*time.Second), RandHex(8))
			alerts = append(alerts, a)
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, b)
		}
		w := NewWebhook("chatops", labels, alerts...)
		if w.Alerts == nil {
			w.Alerts = []WebhookAlert{}
		}
		if got, want := string(w.JSONWith(raw)), string(w.JSON()); got != want {
			t.Errorf("%d alerts: JSONWith =\n%s\nwant JSON =\n%s", n, got, want)
		}
	}
}
