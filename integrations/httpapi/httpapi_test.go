package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

const testToken = "api-test-token"

// fakeReader is a Reader over fixed incidents; err, when set, fails every
// read, and notReady fails Ready.
type fakeReader struct {
	mu        sync.Mutex
	incidents []bot.Incident
	details   map[int64]bot.IncidentDetail
	err       error
	notReady  error
	filters   []bot.IncidentFilter
	gets      []int64
}

func (f *fakeReader) ListIncidents(_ context.Context, flt bot.IncidentFilter) ([]bot.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	if f.err != nil {
		return nil, f.err
	}
	return f.incidents, nil
}

func (f *fakeReader) IncidentView(_ context.Context, id int64, alerts, events int) (bot.IncidentDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, id)
	if f.err != nil {
		return bot.IncidentDetail{}, f.err
	}
	d, ok := f.details[id]
	if !ok {
		return bot.IncidentDetail{}, fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	return view(d, alerts, events), nil
}

func (f *fakeReader) AlertPage(_ context.Context, id int64, after string, limit int) ([]bot.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, id)
	if f.err != nil {
		return nil, f.err
	}
	d, ok := f.details[id]
	if !ok {
		return nil, fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	return alertPage(d.Alerts, after, limit), nil
}

func (f *fakeReader) EventPage(_ context.Context, q bot.EventQuery) ([]bot.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, q.IncidentID)
	if f.err != nil {
		return nil, f.err
	}
	d, ok := f.details[q.IncidentID]
	if !ok {
		return nil, fmt.Errorf("incident %d: %w", q.IncidentID, bot.ErrNotFound)
	}
	return eventPage(d.Timeline, q.After, q.Limit), nil
}

func (f *fakeReader) Ready(context.Context) error { return f.notReady }

func sampleIncident() bot.Incident {
	at := time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)
	return bot.Incident{
		ID: 7, Receiver: "chatops", GroupKey: `{}:{alertname="ServiceDown"}`,
		Status: bot.IncidentOpen, Severity: bot.P1, Title: "ServiceDown · orders-service",
		GroupLabels: map[string]string{"alertname": "ServiceDown"}, Firing: 1,
		OpenedAt: at, UpdatedAt: at,
	}
}

func sampleDetail() bot.IncidentDetail {
	inc := sampleIncident()
	return bot.IncidentDetail{
		Incident: inc,
		Alerts: []bot.Alert{{
			Fingerprint: "0a5f525a4a3f70b4", Status: bot.AlertFiring, Severity: bot.P1,
			Labels: map[string]string{"alertname": "ServiceDown"}, StartsAt: inc.OpenedAt,
		}},
		Timeline: []bot.Event{{ID: 1, IncidentID: inc.ID, At: inc.OpenedAt, Kind: bot.EventOpened}},
	}
}

// newAPI builds the handler over store with a fresh registry, which it
// also returns as the gatherer /metrics serves.
func newAPI(t *testing.T, store Reader, mounts ...Mount) (http.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return New(Config{Token: testToken}, store, mounts, reg, reg, zap.NewNop()), reg
}

func do(h http.Handler, method, target, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("body %q is not a JSON error: %v", rec.Body.String(), err)
	}
	return e["error"]
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		target string
		auth   string
		want   int
	}{
		{"list: no Authorization", "/v1/incidents", "", http.StatusUnauthorized},
		{"list: wrong token", "/v1/incidents", "Bearer nope", http.StatusUnauthorized},
		{"list: token prefix", "/v1/incidents", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"list: scheme only", "/v1/incidents", "Bearer ", http.StatusUnauthorized},
		{"list: no scheme", "/v1/incidents", testToken, http.StatusUnauthorized},
		{"list: basic scheme", "/v1/incidents", "Basic " + testToken, http.StatusUnauthorized},
		{"list: right token", "/v1/incidents", "Bearer " + testToken, http.StatusOK},
		{"list: lower-case scheme", "/v1/incidents", "bearer " + testToken, http.StatusOK},
		{"get: no Authorization", "/v1/incidents/7", "", http.StatusUnauthorized},
		{"get: wrong token", "/v1/incidents/7", "Bearer nope", http.StatusUnauthorized},
		{"get: unauthorized before a bad id", "/v1/incidents/abc", "", http.StatusUnauthorized},
		{"get: right token", "/v1/incidents/7", "Bearer " + testToken, http.StatusOK},
		{"healthz needs none", "/healthz", "", http.StatusOK},
		{"readyz needs none", "/readyz", "", http.StatusOK},
		{"metrics needs none", "/metrics", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeReader{
				incidents: []bot.Incident{sampleIncident()},
				details:   map[int64]bot.IncidentDetail{7: sampleDetail()},
			}
			h, _ := newAPI(t, store)
			rec := do(h, http.MethodGet, tt.target, tt.auth)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.want, rec.Body.String())
			}
			if tt.want == http.StatusUnauthorized {
				if rec.Body.Len() != 0 {
					t.Errorf("401 body %q, want empty", rec.Body.String())
				}
				if len(store.filters)+len(store.gets) != 0 {
					t.Errorf("store read for an unauthorized request: %v %v", store.filters, store.gets)
				}
			}
		})
	}
}

func TestAPIWithEmptyTokenRejectsEmptyBearer(t *testing.T) {
	// A Config with no token must not let "Bearer " (nothing after) in.
	h := New(Config{}, &fakeReader{}, nil, prometheus.NewRegistry(), nil, zap.NewNop())
	for _, auth := range []string{"", "Bearer", "Bearer "} {
		if rec := do(h, http.MethodGet, "/v1/incidents", auth); rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, rec.Code)
		}
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		storeErr   error
		want       int
		wantFilter *bot.IncidentFilter // nil: the store must not be read
		wantError  string
	}{
		{"default", "", nil, 200, &bot.IncidentFilter{Status: bot.IncidentOpen, Limit: 101}, ""},
		{"status=open", "?status=open", nil, 200, &bot.IncidentFilter{Status: bot.IncidentOpen, Limit: 101}, ""},
		{"status=resolved", "?status=resolved", nil, 200, &bot.IncidentFilter{Status: bot.IncidentResolved, Limit: 101}, ""},
		{"status=all", "?status=all", nil, 200, &bot.IncidentFilter{Status: "", Limit: 101}, ""},
		{"status empty", "?status=", nil, 200, &bot.IncidentFilter{Status: bot.IncidentOpen, Limit: 101}, ""},
		{"bad status", "?status=closed", nil, 400, nil, "status must be open, resolved or all"},
		{"status is case-sensitive", "?status=OPEN", nil, 400, nil, "status must be open, resolved or all"},
		{"limit=1", "?limit=1", nil, 200, &bot.IncidentFilter{Status: bot.IncidentOpen, Limit: 2}, ""},
		{"limit=1000", "?status=all&limit=1000", nil, 200, &bot.IncidentFilter{Limit: 1001}, ""},
		{"limit=0", "?limit=0", nil, 400, nil, "limit must be an integer from 1 to 1000"},
		{"limit=1001", "?limit=1001", nil, 400, nil, "limit must be an integer from 1 to 1000"},
		{"limit=-1", "?limit=-1", nil, 400, nil, "limit must be an integer from 1 to 1000"},
		{"limit not a number", "?limit=ten", nil, 400, nil, "limit must be an integer from 1 to 1000"},
		{"limit overflows", "?limit=99999999999999999999", nil, 400, nil, "limit must be an integer from 1 to 1000"},
		{"limit empty", "?limit=", nil, 200, &bot.IncidentFilter{Status: bot.IncidentOpen, Limit: 101}, ""},
		{"store error", "?status=all", errors.New("sql: connection refused at 10.0.0.5"), 503, &bot.IncidentFilter{Limit: 101}, "store unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeReader{incidents: []bot.Incident{sampleIncident()}, err: tt.storeErr}
			h, _ := newAPI(t, store)
			rec := do(h, http.MethodGet, "/v1/incidents"+tt.query, "Bearer "+testToken)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.want, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			switch {
			case tt.wantFilter == nil && len(store.filters) != 0:
				t.Errorf("store read with %+v, want no read", store.filters)
			case tt.wantFilter != nil && (len(store.filters) != 1 || store.filters[0] != *tt.wantFilter):
				t.Errorf("store filters %+v, want [%+v]", store.filters, *tt.wantFilter)
			}
			if tt.wantError != "" {
				if got := errorOf(t, rec); got != tt.wantError {
					t.Errorf("error %q, want %q", got, tt.wantError)
				}
				if strings.Contains(rec.Body.String(), "10.0.0.5") {
					t.Errorf("body %q reveals the store's error", rec.Body.String())
				}
				return
			}
			var body struct {
				Incidents []bot.Incident `json:"incidents"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if len(body.Incidents) != 1 || body.Incidents[0].ID != 7 {
				t.Errorf("incidents %+v, want incident 7", body.Incidents)
			}
		})
	}
}

func TestListEmptyIsAnArray(t *testing.T) {
	h, _ := newAPI(t, &fakeReader{})
	rec := do(h, http.MethodGet, "/v1/incidents", "Bearer "+testToken)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"incidents":[]}` {
		t.Errorf("status %d body %q, want 200 {\"incidents\":[]}", rec.Code, rec.Body.String())
	}
}

func TestGet(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		storeErr  error
		want      int
		wantGet   bool
		wantError string
	}{
		{"found", "7", nil, 200, true, ""},
		{"unknown", "8", nil, 404, true, "no incident 8"},
		{"not a number", "abc", nil, 400, false, "incident id must be a positive integer"},
		{"zero", "0", nil, 400, false, "incident id must be a positive integer"},
		{"negative", "-7", nil, 400, false, "incident id must be a positive integer"},
		{"fraction", "7.0", nil, 400, false, "incident id must be a positive integer"},
		{"overflow", "9223372036854775808", nil, 400, false, "incident id must be a positive integer"},
		{"store error", "7", errors.New("database is locked: /var/lib/chatops/chatops.db"), 503, true, "store unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeReader{details: map[int64]bot.IncidentDetail{7: sampleDetail()}, err: tt.storeErr}
			h, _ := newAPI(t, store)
			rec := do(h, http.MethodGet, "/v1/incidents/"+tt.id, "Bearer "+testToken)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.want, rec.Body.String())
			}
			if got := len(store.gets) == 1; got != tt.wantGet {
				t.Errorf("store read %v, want %v", store.gets, tt.wantGet)
			}
			if tt.wantError != "" {
				if got := errorOf(t, rec); got != tt.wantError {
					t.Errorf("error %q, want %q", got, tt.wantError)
				}
				if strings.Contains(rec.Body.String(), "chatops.db") {
					t.Errorf("body %q reveals the store's error", rec.Body.String())
				}
				return
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			for _, k := range []string{"id", "status", "severity", "title", "alerts", "timeline"} {
				if _, ok := body[k]; !ok {
					t.Errorf("body has no %q key: %s", k, rec.Body.String())
				}
			}
			var d struct {
				ID       int64       `json:"id"`
				Severity string      `json:"severity"`
				Alerts   []bot.Alert `json:"alerts"`
				Timeline []bot.Event `json:"timeline"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			if d.ID != 7 || d.Severity != "P1" || len(d.Alerts) != 1 || len(d.Timeline) != 1 ||
				d.Alerts[0].Fingerprint != "0a5f525a4a3f70b4" || d.Timeline[0].Kind != bot.EventOpened {
				t.Errorf("detail %+v", d)
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		notReady error
		want     int
		wantBody string
	}{
		{"healthz", "/healthz", nil, 200, "ok\n"},
		{"healthz while the store is down", "/healthz", errors.New("down"), 200, "ok\n"},
		{"readyz ready", "/readyz", nil, 200, "ok\n"},
		{"readyz not ready", "/readyz", errors.New("migrations pending: password=hunter2"), 503, "store not ready\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newAPI(t, &fakeReader{notReady: tt.notReady})
			rec := do(h, http.MethodGet, tt.target, "")
			if rec.Code != tt.want || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.want, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	store := &fakeReader{details: map[int64]bot.IncidentDetail{7: sampleDetail()}}
	h, _ := newAPI(t, store)
	for _, r := range []struct{ target, auth string }{
		{"/healthz", ""},
		{"/v1/incidents/7", "Bearer " + testToken},
		{"/v1/incidents/12345", "Bearer " + testToken},
		{"/v1/incidents", ""},
		{"/no/such/path", ""},
	} {
		do(h, http.MethodGet, r.target, r.auth)
	}
	rec := do(h, http.MethodGet, "/metrics", "")
	if rec.Code != 200 {
		t.Fatalf("/metrics status %d", rec.Code)
	}
	text := rec.Body.String()
	tests := []struct {
		name string
		want string
	}{
		{"histogram type", "# TYPE chatops_http_request_duration_seconds histogram"},
		{"healthz by pattern", `chatops_http_request_duration_seconds_count{code="200",route="GET /healthz"} 1`},
		{"found incident by pattern", `chatops_http_request_duration_seconds_count{code="200",route="GET /v1/incidents/{id}"} 1`},
		{"unknown incident by pattern", `chatops_http_request_duration_seconds_count{code="404",route="GET /v1/incidents/{id}"} 1`},
		{"unauthorized list", `chatops_http_request_duration_seconds_count{code="401",route="GET /v1/incidents"} 1`},
		{"unmatched path", `chatops_http_request_duration_seconds_count{code="404",route="unmatched"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(text, tt.want) {
				t.Errorf("/metrics lacks %q", tt.want)
			}
		})
	}
	if strings.Contains(text, "12345") || strings.Contains(text, "/no/such/path") {
		t.Error("/metrics has a raw request path as a label value")
	}
}

// recordingHandler answers 202 and remembers it was called.
type recordingHandler struct {
	mu     sync.Mutex
	called int
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.called++
	h.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusAccepted)
}

func TestMounts(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		want       int
		wantCalled int
		wantAllow  string
	}{
		{"mount reachable", http.MethodPost, "/v1/alertmanager", http.StatusAccepted, 1, ""},
		{"wrong method on the mount", http.MethodGet, "/v1/alertmanager", http.StatusMethodNotAllowed, 0, "POST"},
		{"PUT on the mount", http.MethodPut, "/v1/alertmanager", http.StatusMethodNotAllowed, 0, "POST"},
		{"POST on the read API", http.MethodPost, "/v1/incidents", http.StatusMethodNotAllowed, 0, "GET"},
		{"other path", http.MethodPost, "/v1/alertmanager/x", http.StatusNotFound, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mh := &recordingHandler{}
			h, reg := newAPI(t, &fakeReader{}, Mount{Pattern: "POST /v1/alertmanager", Handler: mh})
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader("{}"))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if mh.called != tt.wantCalled {
				t.Errorf("mount called %d times, want %d", mh.called, tt.wantCalled)
			}
			if tt.wantAllow != "" && !strings.Contains(rec.Header().Get("Allow"), tt.wantAllow) {
				t.Errorf("Allow %q, want it to contain %s", rec.Header().Get("Allow"), tt.wantAllow)
			}
			if tt.want == http.StatusAccepted {
				mfs, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, mf := range mfs {
					for _, m := range mf.GetMetric() {
						for _, l := range m.GetLabel() {
							found = found || (l.GetName() == "route" && l.GetValue() == "POST /v1/alertmanager")
						}
					}
				}
				if !found {
					t.Error("no latency series for the mount's pattern")
				}
			}
		})
	}
}
