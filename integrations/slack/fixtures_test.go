package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/integrations/alertmanager"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixturesDir holds the repository's Alertmanager webhook bodies; tests
// run in their package folder.
var fixturesDir = filepath.Join("..", "..", "test", "fixtures", "alertmanager")

// renderNow is the clock for rendering: 17 minutes into the fixtures'
// incidents.
var renderNow = time.Date(2026, 11, 20, 2, 31, 0, 0, time.UTC)

// testDest is where the goldens' incidents go.
var testDest = bot.Destination{Name: "slack-incidents", Platform: "slack", Channel: "C0INCIDENTS"}

// loadGroup decodes one fixture.
func loadGroup(t *testing.T, name string) bot.AlertGroup {
	t.Helper()
	f, err := os.Open(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatalf("open fixture (expected in <repo>/test/fixtures/alertmanager): %v", err)
	}
	defer f.Close()
	g, err := alertmanager.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return g
}

// bakeryClassifier mirrors the severity rules of the Bakery-IA reference
// configuration, so the goldens show the severities operators will see.
func bakeryClassifier(t *testing.T) bot.Classifier {
	t.Helper()
	rule := func(name string, sev bot.Severity, matchers ...string) bot.SeverityRule {
		r := bot.SeverityRule{Name: name, Severity: sev}
		for _, s := range matchers {
			m, err := bot.ParseMatcher(s)
			if err != nil {
				t.Fatalf("matcher %s: %v", s, err)
			}
			r.Matchers = append(r.Matchers, m)
		}
		return r
	}
	outage := `alertname=~"ServiceDown|HighErrorRate|DatabaseDown|PostgresDown|DatabaseUnavailable"`
	return bot.Classifier{Rules: []bot.SeverityRule{
		rule("front-door-outage", bot.P0, outage, `service=~"gateway|auth-service"`),
		rule("major-degradation", bot.P1, outage),
		rule("partial-degradation", bot.P2, `alertname=~"HighMemoryUsage|HighCPUUsage|DatabaseConnectionsHigh|HighLatency|SlowQueries"`),
		rule("certificate-renewal", bot.P3, `alertname="CertificateExpiringSoon"`),
	}}
}

// preview is the incident the groups leave, as the engine computes it,
// dated by the alerts' own times.
func preview(t *testing.T, groups ...bot.AlertGroup) bot.IncidentDetail {
	t.Helper()
	return incident.Preview(bakeryClassifier(t), groups...)
}

// stormGroup is a firing group of n HighMemoryUsage alerts, one per pod.
func stormGroup(n int) bot.AlertGroup {
	g := bot.AlertGroup{
		Receiver:          "chatops",
		GroupKey:          `{}:{alertname="HighMemoryUsage"}`,
		Status:            bot.AlertFiring,
		GroupLabels:       map[string]string{"alertname": "HighMemoryUsage"},
		CommonLabels:      map[string]string{"alertname": "HighMemoryUsage", "namespace": "bakery-ia", "severity": "warning"},
		CommonAnnotations: map[string]string{"runbook_url": "https://wiki.bakewise.ai/runbooks/high-memory"},
		ExternalURL:       "http://alertmanager.bakery-ia.svc:9093",
	}
	start := renderNow.Add(-9 * time.Minute)
	for i := range n {
		pod := fmt.Sprintf("forecasting-service-7d9f6c5b8-%05d", i)
		g.Alerts = append(g.Alerts, bot.Alert{
			Fingerprint: fmt.Sprintf("%016x", 0xa11e000+i),
			Status:      bot.AlertFiring,
			Labels: map[string]string{
				"alertname": "HighMemoryUsage", "namespace": "bakery-ia", "severity": "warning",
				"service": "forecasting-service", "pod": pod,
			},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s uses 93%% of its memory limit", pod),
				"description": "Container memory working set above 90% of the limit for 5 minutes.",
			},
			StartsAt:     start.Add(time.Duration(i) * time.Second),
			GeneratorURL: "http://prometheus.bakery-ia.svc:9090/graph?g0.expr=container_memory_working_set_bytes",
		})
	}
	return g
}

// request is one Web API call as a client sent it.
type request struct {
	Method string
	Form   map[string]string
}

// recorder is a minimal Web API that keeps what it is sent and answers ok.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{Method: filepath.Base(r.URL.Path), Form: form})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.000001"}`, form["channel"])
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("no request recorded")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// client is a Client of the recorder with limits that never hold a test.
func (rec *recorder) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(Config{Token: "xoxb-golden", APIURL: rec.srv.URL + "/", PerChannelRate: 1000, Burst: 1000, UpdateRate: 1000}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sentRoot is the request PostRoot sends for m.
func sentRoot(t *testing.T, m bot.Message) request {
	t.Helper()
	rec := newRecorder(t)
	if _, err := rec.client(t).PostRoot(context.Background(), testDest.Channel, m); err != nil {
		t.Fatal(err)
	}
	return rec.last(t)
}

// sentReply is the request Reply sends for m.
func sentReply(t *testing.T, m bot.Message) request {
	t.Helper()
	rec := newRecorder(t)
	ref := bot.ThreadRef{Channel: testDest.Channel, RootID: "1700000000.000001", ThreadID: "1700000000.000001"}
	if err := rec.client(t).Reply(context.Background(), ref, m); err != nil {
		t.Fatal(err)
	}
	return rec.last(t)
}

// jsonFields are the form fields that hold JSON.
var jsonFields = map[string]bool{"blocks": true, "attachments": true, "metadata": true}

// golden renders a request as pretty JSON: the method and every form
// field except the token, JSON fields decoded, nothing HTML-escaped.
func golden(t *testing.T, req request) []byte {
	t.Helper()
	doc := map[string]any{"method": req.Method}
	keys := make([]string, 0, len(req.Form))
	for k := range req.Form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := req.Form[k]
		switch {
		case k == "token":
		case jsonFields[k]:
			var x any
			if err := json.Unmarshal([]byte(v), &x); err != nil {
				t.Fatalf("field %s is not JSON: %v", k, err)
			}
			doc[k] = x
		default:
			doc[k] = v
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkGolden compares got with testdata/name.golden, or rewrites it
// with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./integrations/slack/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
