package alertmanager

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bakewise/chatops/bot"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// fakeIngester records every group it is given and answers with id or err.
type fakeIngester struct {
	mu    sync.Mutex
	calls []bot.AlertGroup
	id    int64
	err   error
}

func (f *fakeIngester) Ingest(_ context.Context, g bot.AlertGroup) (bot.IngestResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, g)
	if f.err != nil {
		return bot.IngestResult{}, f.err
	}
	return bot.IngestResult{IncidentID: f.id, Created: true, Events: 1}, nil
}

func (f *fakeIngester) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

const (
	testToken = "s3cret-token"
	testUser  = "alertmanager"
	testPass  = "p4ss-word"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// outcomes lists every outcome chatops_webhooks_total pre-declares.
var outcomes = []string{"ok", "unauthorized", "too_large", "bad_request", "store_error"}

// gatherCounters returns every counter sample of reg keyed by metric name
// and, for labelled series, its outcome: "chatops_webhooks_total{ok}".
//
// (testutil.GatherAndCompare would do, but importing
// prometheus/testutil needs github.com/kylelemons/godebug in go.mod, which
// these tests must not edit.)
func gatherCounters(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					key += "{" + l.GetValue() + "}"
				}
			}
			out[key] = m.GetCounter().GetValue()
		}
	}
	return out
}

// checkCounters asserts chatops_webhooks_total has exactly the given
// per-outcome counts (absent outcomes: 0, but present as series) and
// chatops_webhook_alerts_total equals alerts.
func checkCounters(t *testing.T, reg prometheus.Gatherer, want map[string]float64, alerts float64) {
	t.Helper()
	got := gatherCounters(t, reg)
	for _, o := range outcomes {
		key := "chatops_webhooks_total{" + o + "}"
		v, ok := got[key]
		if !ok {
			t.Errorf("%s: series missing", key)
			continue
		}
		if v != want[o] {
			t.Errorf("%s = %v, want %v", key, v, want[o])
		}
	}
	if v, ok := got["chatops_webhook_alerts_total"]; !ok || v != alerts {
		t.Errorf("chatops_webhook_alerts_total = %v (present %v), want %v", v, ok, alerts)
	}
}

func newTestReceiver(t *testing.T, cfg ReceiverConfig, ing Ingester) (*Receiver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := NewReceiver(cfg, ing, zap.NewNop(), reg)
	if err != nil {
		t.Fatalf("NewReceiver: %v", err)
	}
	return r, reg
}

func TestNewReceiverConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ReceiverConfig
		wantErr string
	}{
		{"no credential, no InsecureNoAuth", ReceiverConfig{}, "no bearer token or basic auth configured"},
		{"only MaxBodyBytes", ReceiverConfig{MaxBodyBytes: 10}, "no bearer token or basic auth configured"},
		{"basic user without password", ReceiverConfig{BasicUser: testUser}, "needs both a username and a password"},
		{"basic user without password, with token", ReceiverConfig{BearerToken: testToken, BasicUser: testUser}, "needs both a username and a password"},
		{"basic password without user", ReceiverConfig{BearerToken: testToken, BasicPassword: testPass}, "needs both a username and a password"},
		{"bearer token", ReceiverConfig{BearerToken: testToken}, ""},
		{"basic auth", ReceiverConfig{BasicUser: testUser, BasicPassword: testPass}, ""},
		{"both", ReceiverConfig{BearerToken: testToken, BasicUser: testUser, BasicPassword: testPass}, ""},
		{"insecure", ReceiverConfig{InsecureNoAuth: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReceiver(tt.cfg, &fakeIngester{}, zap.NewNop(), prometheus.NewRegistry())
			if tt.wantErr == "" {
				if err != nil || r == nil {
					t.Fatalf("NewReceiver = %v, %v; want a receiver", r, err)
				}
				if tt.cfg.MaxBodyBytes == 0 && r.cfg.MaxBodyBytes != DefaultMaxBodyBytes {
					t.Errorf("MaxBodyBytes = %d, want the default %d", r.cfg.MaxBodyBytes, DefaultMaxBodyBytes)
				}
				return
			}
			if err == nil || r != nil {
				t.Fatalf("NewReceiver = %v, %v; want an error", r, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			for _, s := range []string{testToken, testPass} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q reveals a credential", err)
				}
			}
		})
	}
}

func TestNewReceiverNilRegisterer(t *testing.T) {
	if _, err := NewReceiver(ReceiverConfig{BearerToken: testToken}, &fakeIngester{}, zap.NewNop(), nil); err != nil {
		t.Fatalf("NewReceiver with a nil registerer: %v", err)
	}
}

func TestReceiverAuth(t *testing.T) {
	bearerOnly := ReceiverConfig{BearerToken: testToken}
	basicOnly := ReceiverConfig{BasicUser: testUser, BasicPassword: testPass}
	both := ReceiverConfig{BearerToken: testToken, BasicUser: testUser, BasicPassword: testPass}
	insecure := ReceiverConfig{InsecureNoAuth: true}

	tests := []struct {
		name string
		cfg  ReceiverConfig
		auth string // Authorization header; empty: none
		want int
	}{
		{"bearer: no Authorization", bearerOnly, "", http.StatusUnauthorized},
		{"bearer: wrong token", bearerOnly, "Bearer nope", http.StatusUnauthorized},
		{"bearer: token prefix", bearerOnly, "Bearer " + testToken[:len(testToken)-1], http.StatusUnauthorized},
		{"bearer: token with suffix", bearerOnly, "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"bearer: scheme only", bearerOnly, "Bearer", http.StatusUnauthorized},
		{"bearer: scheme and space", bearerOnly, "Bearer ", http.StatusUnauthorized},
		{"bearer: token without scheme", bearerOnly, testToken, http.StatusUnauthorized},
		{"bearer: other scheme", bearerOnly, "Token " + testToken, http.StatusUnauthorized},
		{"bearer: right token", bearerOnly, "Bearer " + testToken, http.StatusOK},
		{"bearer: lower-case scheme", bearerOnly, "bearer " + testToken, http.StatusOK},
		{"bearer: upper-case scheme", bearerOnly, "BEARER " + testToken, http.StatusOK},
		{"bearer: basic auth not configured", bearerOnly, basicHeader(testUser, testPass), http.StatusUnauthorized},
		{"basic: no Authorization", basicOnly, "", http.StatusUnauthorized},
		{"basic: right user and password", basicOnly, basicHeader(testUser, testPass), http.StatusOK},
		{"basic: wrong password", basicOnly, basicHeader(testUser, "wrong"), http.StatusUnauthorized},
		{"basic: wrong user", basicOnly, basicHeader("someone", testPass), http.StatusUnauthorized},
		{"basic: user and password run together", basicOnly, basicHeader(testUser+":"+testPass, ""), http.StatusUnauthorized},
		{"basic: bearer not configured", basicOnly, "Bearer " + testToken, http.StatusUnauthorized},
		{"basic: not base64", basicOnly, "Basic !!!", http.StatusUnauthorized},
		{"both: bearer works", both, "Bearer " + testToken, http.StatusOK},
		{"both: basic works", both, basicHeader(testUser, testPass), http.StatusOK},
		{"both: wrong bearer", both, "Bearer nope", http.StatusUnauthorized},
		{"both: wrong basic", both, basicHeader(testUser, "nope"), http.StatusUnauthorized},
		{"both: token as basic password", both, basicHeader(testUser, testToken), http.StatusUnauthorized},
		{"both: no Authorization", both, "", http.StatusUnauthorized},
		{"insecure: no credentials", insecure, "", http.StatusOK},
		{"insecure: any credentials", insecure, "Bearer whatever", http.StatusOK},
	}
	body := payloadWith(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &fakeIngester{id: 42}
			r, reg := newTestReceiver(t, tt.cfg, ing)
			req := httptest.NewRequest(http.MethodPost, "/v1/alertmanager", strings.NewReader(body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)

			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.want, rec.Body.String())
			}
			switch tt.want {
			case http.StatusUnauthorized:
				if rec.Body.Len() != 0 {
					t.Errorf("401 body %q, want empty", rec.Body.String())
				}
				if n := ing.count(); n != 0 {
					t.Errorf("ingester called %d times for an unauthorized request", n)
				}
				checkCounters(t, reg, map[string]float64{"unauthorized": 1}, 0)
			case http.StatusOK:
				var got map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("body %q: %v", rec.Body.String(), err)
				}
				if len(got) != 1 || got["incident_id"] != float64(42) {
					t.Errorf("body %v, want {\"incident_id\":42}", got)
				}
				if n := ing.count(); n != 1 {
					t.Errorf("ingester called %d times, want 1", n)
				}
				checkCounters(t, reg, map[string]float64{"ok": 1}, 1)
			}
		})
	}
}

// chunkedReader hides the length of its content from net/http, so the
// client sends it with Transfer-Encoding: chunked.
type chunkedReader struct{ r io.Reader }

func (c chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p) }

// oversizedJSON is a syntactically valid notification prefix longer than n:
// it never ends before the limit, so only the size can refuse it.
func oversizedJSON(n int) string {
	return `{"version":"4","groupKey":"` + strings.Repeat("k", n) + `"}`
}

func TestReceiverBodyLimit(t *testing.T) {
	const limit = 4096
	tests := []struct {
		name    string
		body    string
		chunked bool // no Content-Length: the length is unknown until read
		server  bool // through a real HTTP server rather than a recorder
		want    int
	}{
		{"at the limit with Content-Length", padTo(t, limit), false, false, http.StatusOK},
		{"at the limit with Content-Length, over HTTP", padTo(t, limit), false, true, http.StatusOK},
		{"at the limit chunked", padTo(t, limit), true, false, http.StatusOK},
		{"at the limit chunked, over HTTP", padTo(t, limit), true, true, http.StatusOK},
		{"over the limit with Content-Length", oversizedJSON(limit), false, false, http.StatusRequestEntityTooLarge},
		{"over the limit with Content-Length, over HTTP", oversizedJSON(limit), false, true, http.StatusRequestEntityTooLarge},
		{"one byte over the limit with Content-Length", padTo(t, limit) + " ", false, false, http.StatusRequestEntityTooLarge},
		{"over the limit chunked", oversizedJSON(limit), true, false, http.StatusRequestEntityTooLarge},
		{"valid object then padding past the limit, chunked", padTo(t, limit) + strings.Repeat(" ", limit), true, false, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &fakeIngester{id: 7}
			r, reg := newTestReceiver(t, ReceiverConfig{BearerToken: testToken, MaxBodyBytes: limit}, ing)

			var code int
			var got []byte
			if tt.server {
				srv := httptest.NewServer(r)
				defer srv.Close()
				var body io.Reader = strings.NewReader(tt.body)
				if tt.chunked {
					body = chunkedReader{body}
				}
				req, err := http.NewRequest(http.MethodPost, srv.URL, body)
				if err != nil {
					t.Fatal(err)
				}
				if tt.chunked && req.ContentLength != 0 {
					t.Fatalf("request has ContentLength %d, want unknown", req.ContentLength)
				}
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				code = resp.StatusCode
				got, _ = io.ReadAll(resp.Body)
			} else {
				req := httptest.NewRequest(http.MethodPost, "/v1/alertmanager", strings.NewReader(tt.body))
				if tt.chunked {
					// What net/http's server hands a handler for a chunked body.
					req.ContentLength = -1
					req.TransferEncoding = []string{"chunked"}
				} else if req.ContentLength != int64(len(tt.body)) {
					t.Fatalf("request has ContentLength %d, want %d", req.ContentLength, len(tt.body))
				}
				req.Header.Set("Authorization", "Bearer "+testToken)
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				code, got = rec.Code, rec.Body.Bytes()
			}
			if code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", code, tt.want, got)
			}
			if tt.want != http.StatusRequestEntityTooLarge {
				checkCounters(t, reg, map[string]float64{"ok": 1}, 1)
				return
			}
			var e map[string]string
			if err := json.Unmarshal(got, &e); err != nil || e["error"] != "body larger than 4096 bytes" {
				t.Errorf("body %q, want {\"error\":\"body larger than 4096 bytes\"}", got)
			}
			if n := ing.count(); n != 0 {
				t.Errorf("ingester called %d times for an oversized body", n)
			}
			checkCounters(t, reg, map[string]float64{"too_large": 1}, 0)
		})
	}
}

// padTo returns a valid notification exactly n bytes long.
func padTo(t *testing.T, n int) string {
	t.Helper()
	base := payloadWith(t, func(p map[string]any) { p["externalURL"] = "" })
	pad := n - len(base)
	if pad < 0 {
		t.Fatalf("base payload is %d bytes, over %d", len(base), n)
	}
	s := payloadWith(t, func(p map[string]any) { p["externalURL"] = strings.Repeat("u", pad) })
	if len(s) != n {
		t.Fatalf("padded payload is %d bytes, want %d", len(s), n)
	}
	return s
}

func TestReceiverOutcomes(t *testing.T) {
	storeErr := errors.New(`pq: connection to "db.internal:5432" refused for user chatops_admin`)
	tests := []struct {
		name      string
		auth      string
		body      string
		ingErr    error
		want      int
		wantError string // exact "error" of the JSON body; empty: no error body
		outcome   string
		alerts    int
		ingested  int
	}{
		{"ok", "Bearer " + testToken, payloadWith(t, nil), nil, http.StatusOK, "", "ok", 1, 1},
		{"ok with two alerts", "Bearer " + testToken, payloadWith(t, func(p map[string]any) { p["alerts"] = nAlerts(2) }), nil, http.StatusOK, "", "ok", 2, 1},
		{"unauthorized", "Bearer nope", payloadWith(t, nil), nil, http.StatusUnauthorized, "", "unauthorized", 0, 0},
		{"bad payload: version", "Bearer " + testToken, payloadWith(t, func(p map[string]any) { p["version"] = "3" }), nil, http.StatusBadRequest,
			`unsupported version "3": want "4"`, "bad_request", 0, 0},
		{"bad payload: empty body", "Bearer " + testToken, "", nil, http.StatusBadRequest, "bad JSON: empty body", "bad_request", 0, 0},
		{"bad payload: no labels", "Bearer " + testToken, payloadWith(t, func(p map[string]any) { delete(firstAlert(p), "labels") }), nil,
			http.StatusBadRequest, "alerts[0]: no labels", "bad_request", 0, 0},
		{"ingester error", "Bearer " + testToken, payloadWith(t, nil), storeErr, http.StatusServiceUnavailable,
			"could not store the notification; retry", "store_error", 0, 1},
		{"too large", "Bearer " + testToken, oversizedJSON(DefaultMaxBodyBytes), nil, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body larger than %d bytes", DefaultMaxBodyBytes), "too_large", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &fakeIngester{id: 3, err: tt.ingErr}
			r, reg := newTestReceiver(t, ReceiverConfig{BearerToken: testToken}, ing)
			req := httptest.NewRequest(http.MethodPost, "/v1/alertmanager", strings.NewReader(tt.body))
			req.Header.Set("Authorization", tt.auth)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)

			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.want, rec.Body.String())
			}
			if tt.wantError != "" {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
				var e map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
					t.Fatalf("body %q is not a JSON object of strings: %v", rec.Body.String(), err)
				}
				if len(e) != 1 || e["error"] != tt.wantError {
					t.Errorf("body %v, want {\"error\":%q}", e, tt.wantError)
				}
			}
			if tt.ingErr != nil {
				for _, leak := range []string{"pq:", "db.internal", "chatops_admin", "5432"} {
					if bytes.Contains(rec.Body.Bytes(), []byte(leak)) {
						t.Errorf("body %q reveals internal detail %q", rec.Body.String(), leak)
					}
				}
			}
			if n := ing.count(); n != tt.ingested {
				t.Errorf("ingester called %d times, want %d", n, tt.ingested)
			}
			checkCounters(t, reg, map[string]float64{tt.outcome: 1}, float64(tt.alerts))
		})
	}
}

// TestReceiverCountsEachRequest sends a sequence to one receiver and checks
// the counter adds up per outcome.
func TestReceiverCountsEachRequest(t *testing.T) {
	ing := &fakeIngester{id: 1}
	r, reg := newTestReceiver(t, ReceiverConfig{BearerToken: testToken, MaxBodyBytes: 2048}, ing)
	send := func(auth, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/v1/alertmanager", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Code
	}
	good := payloadWith(t, nil)
	steps := []struct {
		auth, body string
		want       int
	}{
		{"Bearer " + testToken, good, 200},
		{"Bearer " + testToken, good, 200},
		{"", good, 401},
		{"Bearer x", good, 401},
		{"Bearer " + testToken, "{", 400},
		{"Bearer " + testToken, oversizedJSON(4096), 413},
	}
	for i, s := range steps {
		if got := send(s.auth, s.body); got != s.want {
			t.Fatalf("step %d: status %d, want %d", i, got, s.want)
		}
	}
	checkCounters(t, reg, map[string]float64{"ok": 2, "unauthorized": 2, "bad_request": 1, "too_large": 1}, 2)
}
