package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

const metricsToken = "metrics-test-token"

// newHandlers builds the main and the metrics handler over one registry,
// as serve does.
func newHandlers(t *testing.T, cfg Config) (main, metrics http.Handler) {
	t.Helper()
	cfg.Token = testToken
	reg := prometheus.NewRegistry()
	main = New(cfg, &fakeReader{}, nil, reg, reg, zap.NewNop())
	if cfg.SeparateMetrics {
		metrics = NewMetrics(cfg, reg, reg)
	}
	return main, metrics
}

func TestMetricsToken(t *testing.T) {
	for _, separate := range []bool{false, true} {
		main, metrics := newHandlers(t, Config{MetricsToken: metricsToken, SeparateMetrics: separate})
		h := main
		if separate {
			h = metrics
		}
		for _, tt := range []struct {
			name, auth string
			want       int
		}{
			{"no Authorization", "", http.StatusUnauthorized},
			{"wrong token", "Bearer nope", http.StatusUnauthorized},
			{"the API's token", "Bearer " + testToken, http.StatusUnauthorized},
			{"token prefix", "Bearer " + metricsToken[:5], http.StatusUnauthorized},
			{"basic scheme", "Basic " + metricsToken, http.StatusUnauthorized},
			{"right token", "Bearer " + metricsToken, http.StatusOK},
		} {
			name := tt.name
			if separate {
				name = "separate listener: " + name
			}
			t.Run(name, func(t *testing.T) {
				rec := do(h, http.MethodGet, "/metrics", tt.auth)
				if rec.Code != tt.want {
					t.Fatalf("status %d, want %d", rec.Code, tt.want)
				}
				if tt.want == http.StatusOK && !strings.Contains(rec.Body.String(), "chatops_http_request_duration_seconds") {
					t.Errorf("/metrics lacks the request histogram:\n%s", rec.Body.String())
				}
				if tt.want == http.StatusUnauthorized && rec.Body.Len() != 0 {
					t.Errorf("a refusal has a body: %q", rec.Body.String())
				}
			})
		}
	}
	// The metrics token opens nothing else.
	main, _ := newHandlers(t, Config{MetricsToken: metricsToken})
	if rec := do(main, http.MethodGet, "/v1/incidents", "Bearer "+metricsToken); rec.Code != http.StatusUnauthorized {
		t.Errorf("/v1/incidents with the metrics token: status %d, want 401", rec.Code)
	}
}

func TestSeparateMetrics(t *testing.T) {
	main, metrics := newHandlers(t, Config{SeparateMetrics: true})
	tests := []struct {
		name   string
		h      http.Handler
		target string
		auth   string
		want   int
	}{
		{"main: no /metrics", main, "/metrics", "", http.StatusNotFound},
		{"main: API still there", main, "/v1/incidents", "Bearer " + testToken, http.StatusOK},
		{"main: healthz still there", main, "/healthz", "", http.StatusOK},
		{"metrics listener: /metrics", metrics, "/metrics", "", http.StatusOK},
		{"metrics listener: no API", metrics, "/v1/incidents", "Bearer " + testToken, http.StatusNotFound},
		{"metrics listener: no health", metrics, "/healthz", "", http.StatusNotFound},
		{"metrics listener: no webhook", metrics, "/v1/alertmanager", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rec := do(tt.h, http.MethodGet, tt.target, tt.auth); rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
		})
	}
	// Both listeners' requests land in the one histogram.
	text := do(metrics, http.MethodGet, "/metrics", "").Body.String()
	for _, want := range []string{
		`chatops_http_request_duration_seconds_count{code="200",route="GET /healthz"} 1`,
		`chatops_http_request_duration_seconds_count{code="200",route="GET /metrics"}`,
		`chatops_http_request_duration_seconds_count{code="404",route="unmatched"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
