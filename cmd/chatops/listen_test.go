package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/httpapi"
)

// noIncidents is a store with nothing in it, ready.
type noIncidents struct{}

func (noIncidents) ListIncidents(context.Context, bot.IncidentFilter) ([]bot.Incident, error) {
	return nil, nil
}
func (noIncidents) IncidentView(context.Context, int64, int, int) (bot.IncidentDetail, error) {
	return bot.IncidentDetail{}, bot.ErrNotFound
}
func (noIncidents) AlertPage(context.Context, int64, string, int) ([]bot.Alert, error) {
	return nil, bot.ErrNotFound
}
func (noIncidents) EventPage(context.Context, bot.EventQuery) ([]bot.Event, error) {
	return nil, bot.ErrNotFound
}
func (noIncidents) Ready(context.Context) error { return nil }

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// With metrics.listen_addr set, /metrics is on its own port, behind its
// token, and not on the main one; both listeners have the same limits and
// stop together.
func TestSeparateMetricsListener(t *testing.T) {
	cfg := httpapi.Config{Token: "api-token", MetricsToken: "scrape-token", SeparateMetrics: true}
	reg := prometheus.NewRegistry()
	main := httpapi.New(cfg, noIncidents{}, nil, reg, reg, zap.NewNop())
	metrics := httpapi.NewMetrics(cfg, reg, reg)
	ls, err := listenHTTP("127.0.0.1:0", main, "127.0.0.1:0", metrics, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Fatalf("%d listeners, want 2", len(ls))
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	serveHTTP(gctx, g, ls, config.DefaultShutdown, nil, zap.NewNop())
	mainURL, metricsURL := "http://"+ls[0].ln.Addr().String(), "http://"+ls[1].ln.Addr().String()

	for _, c := range []struct {
		name, url, token string
		want             int
	}{
		{"main: no /metrics", mainURL + "/metrics", "scrape-token", http.StatusNotFound},
		{"main: the API", mainURL + "/v1/incidents", "api-token", http.StatusOK},
		{"metrics: no token", metricsURL + "/metrics", "", http.StatusUnauthorized},
		{"metrics: the API's token", metricsURL + "/metrics", "api-token", http.StatusUnauthorized},
		{"metrics: its token", metricsURL + "/metrics", "scrape-token", http.StatusOK},
		{"metrics: no API", metricsURL + "/v1/incidents", "api-token", http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := get(t, c.url, c.token); got != c.want {
				t.Errorf("GET %s: %d, want %d", c.url, got, c.want)
			}
		})
	}
	t.Run("same hardening", func(t *testing.T) {
		for _, l := range ls {
			s := l.srv
			if s.ReadHeaderTimeout != readHeaderTimeout || s.ReadTimeout != readTimeout || s.WriteTimeout != writeTimeout ||
				s.IdleTimeout != idleTimeout || s.MaxHeaderBytes != maxHeaderBytes || s.ErrorLog == nil {
				t.Errorf("%s listener: %+v, want the limits of every listener", l.name, s)
			}
		}
		// A header beyond the limit is refused on the metrics port too.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, metricsURL+"/metrics", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 2*maxHeaderBytes))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a %d-byte header: %d, want 431", 2*maxHeaderBytes, resp.StatusCode)
		}
	})

	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, l := range ls {
		if _, err := http.Get("http://" + l.ln.Addr().String() + "/metrics"); err == nil {
			t.Errorf("the %s listener still answers after shutdown", l.name)
		}
	}
}

// A request in flight on the metrics listener when SIGTERM comes is
// finished before serve returns.
func TestMetricsListenerGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		w.WriteHeader(http.StatusOK)
	})
	ls, err := listenHTTP("127.0.0.1:0", http.NotFoundHandler(), "127.0.0.1:0", slow, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	shuttingDown := make(chan struct{})
	ls[1].srv.RegisterOnShutdown(func() { close(shuttingDown) })
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	stopped := false
	serveHTTP(gctx, g, ls, config.DefaultShutdown, []func(context.Context) error{func(context.Context) error { stopped = true; return nil }}, zap.NewNop())

	code := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ls[1].ln.Addr().String() + "/metrics")
		if err != nil {
			code <- -1
			return
		}
		resp.Body.Close()
		code <- resp.StatusCode
	}()
	<-started
	cancel()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	<-shuttingDown // the listener is closing while the request is still in flight
	close(release)
	if c := <-code; c != http.StatusOK {
		t.Errorf("the request in flight got %d, want 200", c)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !stopped {
		t.Error("the chat connections were not stopped")
	}
}

// A metrics port that cannot be opened fails the start and leaves the main
// port closed.
func TestMetricsListenerBusy(t *testing.T) {
	ls, err := listenHTTP("127.0.0.1:0", http.NotFoundHandler(), "", nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	busy := ls[0].ln.Addr().String()
	defer ls[0].ln.Close()
	_, err = listenHTTP("127.0.0.1:0", http.NotFoundHandler(), busy, http.NotFoundHandler(), zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "metrics listener") {
		t.Fatalf("listen on a busy metrics port: %v, want a metrics listener error", err)
	}
}

func TestConfigCheckMetrics(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("listen_addr: 127.0.0.1:8080\nmetrics:\n  listen_addr: 0.0.0.0:8080\n  token: inline\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	onlyEnv(t, map[string]string{"CHATOPS_API_TOKEN": "a", "CHATOPS_WEBHOOK_TOKEN": "w"})
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "check", "--config", file}, &stdout, &stderr); code != exitFail {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFail, stderr.String())
	}
	for _, want := range []string{
		"chatops: configuration: metrics.listen_addr: \"0.0.0.0:8080\" is listen_addr's address",
		"chatops: configuration: metrics.token: secrets are not read from the config file",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), "inline") {
		t.Error("config check prints the inline secret")
	}

	if err := os.WriteFile(file, []byte("metrics:\n  listen_addr: 0.0.0.0:9090\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	onlyEnv(t, map[string]string{"CHATOPS_API_TOKEN": "a", "CHATOPS_WEBHOOK_TOKEN": "w", "CHATOPS_METRICS_TOKEN": "m"})
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"config", "check", "--config", file}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "metrics on 0.0.0.0:9090 with a token") {
		t.Errorf("config check does not say where /metrics is: %s", stdout.String())
	}
}
