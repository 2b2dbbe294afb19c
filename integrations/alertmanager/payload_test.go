package alertmanager

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/prometheus/common/model"
)

// fixtureDir is the repository's Alertmanager fixtures (test/fixtures).
func fixtureDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", "test", "fixtures", "alertmanager") // tests run in their package folder
}

// validAlert is one well-formed alert; validPayload wraps it in a
// well-formed notification. Cases edit the maps before marshalling.
func validAlert() map[string]any {
	return map[string]any{
		"status": "firing",
		"labels": map[string]any{
			"alertname": "ServiceDown",
			"namespace": "bakery-ia",
			"service":   "orders-service",
			"severity":  "critical",
		},
		"annotations":  map[string]any{"summary": "orders-service is down"},
		"startsAt":     "2026-11-20T02:14:05.112Z",
		"endsAt":       "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus.bakery-ia.svc:9090/graph",
		"fingerprint":  "0a5f525a4a3f70b4",
	}
}

func validPayload() map[string]any {
	return map[string]any{
		"version":           "4",
		"groupKey":          `{}:{alertname="ServiceDown",service="orders-service"}`,
		"truncatedAlerts":   0,
		"status":            "firing",
		"receiver":          "chatops",
		"groupLabels":       map[string]any{"alertname": "ServiceDown", "service": "orders-service"},
		"commonLabels":      map[string]any{"alertname": "ServiceDown", "service": "orders-service"},
		"commonAnnotations": map[string]any{"summary": "orders-service is down"},
		"externalURL":       "http://alertmanager.bakery-ia.svc:9093",
		"alerts":            []any{validAlert()},
	}
}

func firstAlert(p map[string]any) map[string]any {
	return p["alerts"].([]any)[0].(map[string]any)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// payloadWith returns the valid payload as JSON after edit changed it.
func payloadWith(t testing.TB, edit func(p map[string]any)) string {
	t.Helper()
	p := validPayload()
	if edit != nil {
		edit(p)
	}
	return mustJSON(t, p)
}

func nAlerts(n int) []any {
	out := make([]any, n)
	for i := range out {
		a := validAlert()
		a["labels"].(map[string]any)["pod"] = "pod-" + strconv.Itoa(i)
		delete(a, "fingerprint")
		out[i] = a
	}
	return out
}

func TestDecodeFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir(t), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no fixtures in %s", fixtureDir(t))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var raw webhook
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatalf("fixture is not JSON: %v", err)
			}
			g, err := Decode(strings.NewReader(string(data)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if g.Receiver != raw.Receiver || g.GroupKey != raw.GroupKey || string(g.Status) != raw.Status {
				t.Errorf("group = %q %q %q, want %q %q %q", g.Receiver, g.GroupKey, g.Status, raw.Receiver, raw.GroupKey, raw.Status)
			}
			if len(g.Alerts) != len(raw.Alerts) {
				t.Fatalf("%d alerts, want %d", len(g.Alerts), len(raw.Alerts))
			}
			for i, a := range g.Alerts {
				if a.Fingerprint == "" || a.Fingerprint != raw.Alerts[i].Fingerprint {
					t.Errorf("alerts[%d].Fingerprint = %q, want %q", i, a.Fingerprint, raw.Alerts[i].Fingerprint)
				}
				if a.StartsAt.IsZero() || a.StartsAt.Location() != time.UTC {
					t.Errorf("alerts[%d].StartsAt = %v, want a non-zero UTC time", i, a.StartsAt)
				}
				if a.Status == bot.AlertResolved && a.EndsAt.IsZero() {
					t.Errorf("alerts[%d] is resolved but has no EndsAt", i)
				}
				if a.Annotations == nil {
					t.Errorf("alerts[%d].Annotations is nil", i)
				}
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := payloadWith(t, nil)
	tests := []struct {
		name string
		body string
		want string // substring of the error
	}{
		{"empty body", "", "bad JSON: empty body"},
		{"whitespace only", " \n\t", "bad JSON: empty body"},
		{"broken JSON: truncated object", valid[:len(valid)/2], "bad JSON: body ends in the middle of the object"},
		{"broken JSON: syntax", `{"version" "4"}`, "bad JSON at byte"},
		{"broken JSON: not an object", `[1,2,3]`, "bad JSON"},
		{"trailing data: second object", valid + `{}`, "data after the notification object"},
		{"trailing data: garbage", valid + ` x`, "data after the notification object"},
		{"wrong type: alerts is a string", payloadWith(t, func(p map[string]any) { p["alerts"] = "x" }), "bad JSON: field alerts"},
		{"wrong type: version is a number", payloadWith(t, func(p map[string]any) { p["version"] = 4 }), "bad JSON: field version"},
		{"wrong type: label value is a number", payloadWith(t, func(p map[string]any) {
			firstAlert(p)["labels"].(map[string]any)["replicas"] = 3
		}), "bad JSON: field alerts.labels"},
		{"wrong type: startsAt is not a time", payloadWith(t, func(p map[string]any) { firstAlert(p)["startsAt"] = "yesterday" }), "bad JSON"},
		{"version 3", payloadWith(t, func(p map[string]any) { p["version"] = "3" }), `unsupported version "3"`},
		{"no version", payloadWith(t, func(p map[string]any) { delete(p, "version") }), `unsupported version ""`},
		{"no groupKey", payloadWith(t, func(p map[string]any) { delete(p, "groupKey") }), "no groupKey"},
		{"groupKey too long", payloadWith(t, func(p map[string]any) { p["groupKey"] = strings.Repeat("k", maxGroupKeyLen+1) }), "groupKey longer than"},
		{"no receiver", payloadWith(t, func(p map[string]any) { p["receiver"] = "" }), "no receiver"},
		{"receiver too long", payloadWith(t, func(p map[string]any) { p["receiver"] = strings.Repeat("r", maxReceiverLen+1) }), "receiver longer than"},
		{"externalURL too long", payloadWith(t, func(p map[string]any) { p["externalURL"] = strings.Repeat("u", maxURLLen+1) }), "externalURL longer than"},
		{"bad group status", payloadWith(t, func(p map[string]any) { p["status"] = "burning" }), `status "burning": want "firing" or "resolved"`},
		{"no group status", payloadWith(t, func(p map[string]any) { delete(p, "status") }), `status ""`},
		{"no alerts: empty list", payloadWith(t, func(p map[string]any) { p["alerts"] = []any{} }), "no alerts"},
		{"no alerts: missing", payloadWith(t, func(p map[string]any) { delete(p, "alerts") }), "no alerts"},
		{"no alerts: null", payloadWith(t, func(p map[string]any) { p["alerts"] = nil }), "no alerts"},
		{"alert without labels", payloadWith(t, func(p map[string]any) { delete(firstAlert(p), "labels") }), "alerts[0]: no labels"},
		{"alert with empty labels", payloadWith(t, func(p map[string]any) { firstAlert(p)["labels"] = map[string]any{} }), "alerts[0]: no labels"},
		{"second alert without labels", payloadWith(t, func(p map[string]any) {
			a := validAlert()
			delete(a, "labels")
			p["alerts"] = append(p["alerts"].([]any), a)
		}), "alerts[1]: no labels"},
		{"alert bad status", payloadWith(t, func(p map[string]any) { firstAlert(p)["status"] = "pending" }), `alerts[0]: status "pending"`},
		{"no startsAt", payloadWith(t, func(p map[string]any) { delete(firstAlert(p), "startsAt") }), "alerts[0]: no startsAt"},
		{"zero startsAt", payloadWith(t, func(p map[string]any) { firstAlert(p)["startsAt"] = "0001-01-01T00:00:00Z" }), "alerts[0]: no startsAt"},
		{"negative truncatedAlerts", payloadWith(t, func(p map[string]any) { p["truncatedAlerts"] = -1 }), "truncatedAlerts is negative"},
		{"too many alerts", payloadWith(t, func(p map[string]any) {
			alerts := make([]any, MaxAlerts+1)
			for i := range alerts {
				alerts[i] = map[string]any{}
			}
			p["alerts"] = alerts
		}), "10001 alerts: at most 10000"},
		{"over-long label value", payloadWith(t, func(p map[string]any) {
			firstAlert(p)["labels"].(map[string]any)["service"] = strings.Repeat("v", maxLabelValueLen+1)
		}), "alerts[0]: labels.service: value longer than 16384 bytes"},
		{"over-long label name", payloadWith(t, func(p map[string]any) {
			firstAlert(p)["labels"].(map[string]any)[strings.Repeat("n", maxLabelNameLen+1)] = "v"
		}), "alerts[0]: labels: name longer than"},
		{"empty label name", payloadWith(t, func(p map[string]any) { firstAlert(p)["labels"].(map[string]any)[""] = "v" }), "alerts[0]: labels: empty name"},
		{"too many labels", payloadWith(t, func(p map[string]any) {
			ls := map[string]any{}
			for i := range maxLabels + 1 {
				ls["l"+strconv.Itoa(i)] = "v"
			}
			firstAlert(p)["labels"] = ls
		}), "alerts[0]: labels: 257 entries, at most 256"},
		{"over-long annotation", payloadWith(t, func(p map[string]any) {
			firstAlert(p)["annotations"] = map[string]any{"description": strings.Repeat("d", maxAnnotationLen+1)}
		}), "alerts[0]: annotations.description: value longer than"},
		{"over-long group label value", payloadWith(t, func(p map[string]any) {
			p["groupLabels"] = map[string]any{"service": strings.Repeat("v", maxLabelValueLen+1)}
		}), "groupLabels.service: value longer than"},
		{"over-long common annotation", payloadWith(t, func(p map[string]any) {
			p["commonAnnotations"] = map[string]any{"summary": strings.Repeat("s", maxAnnotationLen+1)}
		}), "commonAnnotations.summary: value longer than"},
		{"over-long generatorURL", payloadWith(t, func(p map[string]any) { firstAlert(p)["generatorURL"] = strings.Repeat("g", maxURLLen+1) }), "alerts[0]: generatorURL longer than"},
		{"over-long fingerprint", payloadWith(t, func(p map[string]any) { firstAlert(p)["fingerprint"] = strings.Repeat("f", maxFingerprintLen+1) }), "alerts[0]: fingerprint longer than 64 bytes"},
		// Found by FuzzDecode: the limit is on all annotations together.
		{"annotations over 64 KiB together", payloadWith(t, func(p map[string]any) {
			firstAlert(p)["annotations"] = map[string]any{"description": strings.Repeat("d", 40<<10), "runbook": strings.Repeat("r", 40<<10)}
		}), "alerts[0]: annotations: 81938 bytes in all, at most 65536"},
		{"common annotations over 64 KiB together", payloadWith(t, func(p map[string]any) {
			p["commonAnnotations"] = map[string]any{"description": strings.Repeat("d", 40<<10), "runbook": strings.Repeat("r", 40<<10)}
		}), "commonAnnotations: 81938 bytes in all, at most 65536"},
		// Found by FuzzDecode: times the store cannot read back.
		{"startsAt in the year 10000 in UTC", payloadWith(t, func(p map[string]any) { firstAlert(p)["startsAt"] = "9999-12-31T23:59:59-23:00" }),
			"alerts[0]: startsAt 9999-12-31T23:59:59-23:00 is outside the years 1..9999"},
		{"startsAt before the year 1 in UTC", payloadWith(t, func(p map[string]any) { firstAlert(p)["startsAt"] = "0000-01-01T00:00:00+01:00" }),
			"alerts[0]: startsAt 0000-01-01T00:00:00+01:00 is outside the years 1..9999"},
		{"endsAt in the year 10000 in UTC", payloadWith(t, func(p map[string]any) { firstAlert(p)["endsAt"] = "9999-12-31T23:00:00-02:00" }),
			"alerts[0]: endsAt 9999-12-31T23:00:00-02:00 is outside the years 1..9999"},
		// Found by FuzzDecode: a refusal quotes at most 64 characters of
		// what was sent.
		{"long version is clipped", payloadWith(t, func(p map[string]any) { p["version"] = strings.Repeat("v", 100000) }),
			`unsupported version "` + strings.Repeat("v", 64) + `…": want "4"`},
		{"long bad time is clipped", payloadWith(t, func(p map[string]any) { firstAlert(p)["startsAt"] = strings.Repeat("t", 100000) }),
			`bad JSON: time "` + strings.Repeat("t", 64) + `…" is not an RFC 3339 time`},
		{"long status is clipped", payloadWith(t, func(p map[string]any) { firstAlert(p)["status"] = strings.Repeat("s", 100000) }),
			`alerts[0]: status "` + strings.Repeat("s", 64) + `…": want "firing" or "resolved"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Decode(strings.NewReader(tt.body))
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", g)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if g.GroupKey != "" || g.Alerts != nil {
				t.Errorf("a refused notification returned a non-zero group: %+v", g)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, g bot.AlertGroup)
	}{
		{"minimal valid", payloadWith(t, nil), func(t *testing.T, g bot.AlertGroup) {
			if g.Receiver != "chatops" || g.Status != bot.AlertFiring || len(g.Alerts) != 1 {
				t.Errorf("group = %+v", g)
			}
			if g.Alerts[0].Fingerprint != "0a5f525a4a3f70b4" {
				t.Errorf("fingerprint = %q, want the one sent", g.Alerts[0].Fingerprint)
			}
		}},
		{"trailing whitespace", payloadWith(t, nil) + "\n\r\n\t ", nil},
		{"notification_reason and routeLabels", payloadWith(t, func(p map[string]any) {
			p["notification_reason"] = "new_alerts"
			p["routeLabels"] = map[string]any{"team": "platform"}
		}), nil},
		{"invented future fields", payloadWith(t, func(p map[string]any) {
			p["someFutureField"] = map[string]any{"nested": []any{1, "two", nil}}
			p["anotherOne"] = 42
			firstAlert(p)["silencedBy"] = []any{"abc"}
		}), nil},
		{"resolved group", payloadWith(t, func(p map[string]any) {
			p["status"] = "resolved"
			firstAlert(p)["status"] = "resolved"
			firstAlert(p)["endsAt"] = "2026-11-20T02:31:40.870Z"
		}), func(t *testing.T, g bot.AlertGroup) {
			want := time.Date(2026, 11, 20, 2, 31, 40, 870e6, time.UTC)
			if g.Status != bot.AlertResolved || !g.Alerts[0].EndsAt.Equal(want) {
				t.Errorf("status %q endsAt %v, want resolved %v", g.Status, g.Alerts[0].EndsAt, want)
			}
		}},
		{"zero endsAt becomes the zero time", payloadWith(t, nil), func(t *testing.T, g bot.AlertGroup) {
			if e := g.Alerts[0].EndsAt; e != (time.Time{}) || !e.IsZero() {
				t.Errorf("EndsAt = %#v, want time.Time{}", e)
			}
		}},
		{"missing endsAt is the zero time", payloadWith(t, func(p map[string]any) { delete(firstAlert(p), "endsAt") }), func(t *testing.T, g bot.AlertGroup) {
			if e := g.Alerts[0].EndsAt; e != (time.Time{}) {
				t.Errorf("EndsAt = %#v, want time.Time{}", e)
			}
		}},
		{"startsAt with an offset becomes UTC", payloadWith(t, func(p map[string]any) { firstAlert(p)["startsAt"] = "2026-11-20T03:14:05+01:00" }), func(t *testing.T, g bot.AlertGroup) {
			s := g.Alerts[0].StartsAt
			if !s.Equal(time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)) || s.Location() != time.UTC {
				t.Errorf("StartsAt = %v, want 02:14:05 UTC", s)
			}
		}},
		{"no annotations gives an empty map", payloadWith(t, func(p map[string]any) { delete(firstAlert(p), "annotations") }), func(t *testing.T, g bot.AlertGroup) {
			if a := g.Alerts[0].Annotations; a == nil || len(a) != 0 {
				t.Errorf("Annotations = %#v, want an empty non-nil map", a)
			}
		}},
		{"positive truncatedAlerts", payloadWith(t, func(p map[string]any) { p["truncatedAlerts"] = 7 }), func(t *testing.T, g bot.AlertGroup) {
			if g.TruncatedAlerts != 7 {
				t.Errorf("TruncatedAlerts = %d, want 7", g.TruncatedAlerts)
			}
		}},
		{"label value at the limit", payloadWith(t, func(p map[string]any) {
			firstAlert(p)["labels"].(map[string]any)["service"] = strings.Repeat("v", maxLabelValueLen)
		}), nil},
		{"fingerprint at the limit", payloadWith(t, func(p map[string]any) { firstAlert(p)["fingerprint"] = strings.Repeat("f", maxFingerprintLen) }), nil},
		{"exactly MaxAlerts", payloadWith(t, func(p map[string]any) { p["alerts"] = nAlerts(MaxAlerts) }), func(t *testing.T, g bot.AlertGroup) {
			if len(g.Alerts) != MaxAlerts {
				t.Errorf("%d alerts, want %d", len(g.Alerts), MaxAlerts)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Decode(strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tt.check != nil {
				tt.check(t, g)
			}
		})
	}
}

func TestDecodeComputesMissingFingerprint(t *testing.T) {
	decodeFP := func(t *testing.T, labels map[string]any) string {
		t.Helper()
		g, err := Decode(strings.NewReader(payloadWith(t, func(p map[string]any) {
			a := firstAlert(p)
			delete(a, "fingerprint")
			a["labels"] = labels
		})))
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		return g.Alerts[0].Fingerprint
	}
	base := map[string]any{"alertname": "ServiceDown", "service": "orders-service"}
	same := map[string]any{"service": "orders-service", "alertname": "ServiceDown"}
	other := map[string]any{"alertname": "ServiceDown", "service": "auth-service"}
	more := map[string]any{"alertname": "ServiceDown", "service": "orders-service", "pod": "p-1"}

	fp := decodeFP(t, base)
	want := model.LabelSet{"alertname": "ServiceDown", "service": "orders-service"}.Fingerprint().String()
	tests := []struct {
		name   string
		labels map[string]any
		equal  bool
	}{
		{"same labels again", base, true},
		{"same labels, other order", same, true},
		{"other label value", other, false},
		{"extra label", more, false},
	}
	if fp == "" || len(fp) != 16 {
		t.Fatalf("computed fingerprint %q, want 16 hex digits", fp)
	}
	if fp != want {
		t.Errorf("computed fingerprint %q, want Alertmanager's %q", fp, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeFP(t, tt.labels)
			if (got == fp) != tt.equal {
				t.Errorf("fingerprint %q vs %q: equal=%v, want %v", got, fp, got == fp, tt.equal)
			}
		})
	}
}
