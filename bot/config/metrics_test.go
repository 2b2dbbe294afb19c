package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetricsDefaults(t *testing.T) {
	cfg, err := Load("", tokens())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.ListenAddr != "" || cfg.Metrics.Token != "" {
		t.Fatalf("metrics = %+v, want /metrics on listen_addr with no token", cfg.Metrics)
	}
}

func TestMetricsFromFileAndEnvironment(t *testing.T) {
	tokenFile := writeFile(t, "metrics-token", "  scrape-token-7c1d\n")
	file := writeFile(t, "c.yaml", fmt.Sprintf("metrics:\n  listen_addr: 0.0.0.0:9090\n  token_file: %s\n", tokenFile))
	cfg, err := Load(file, tokens())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.ListenAddr != "0.0.0.0:9090" || cfg.Metrics.Token.Reveal() != "scrape-token-7c1d" {
		t.Errorf("metrics = %q, token %q; want 0.0.0.0:9090 and the file's token", cfg.Metrics.ListenAddr, cfg.Metrics.Token.Reveal())
	}
	// The environment wins over the file, as for every other setting.
	cfg, err = Load(file, tokens(EnvMetricsAddr, "127.0.0.1:9191", EnvMetricsToken, "env-scrape-token"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.ListenAddr != "127.0.0.1:9191" || cfg.Metrics.Token.Reveal() != "env-scrape-token" {
		t.Errorf("metrics = %q, token %q; want the environment's", cfg.Metrics.ListenAddr, cfg.Metrics.Token.Reveal())
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg.Metrics, cfg.Metrics, cfg.Metrics); strings.Contains(s, "scrape-token") {
		t.Errorf("the metrics token is printed: %s", s)
	}
}

func TestMetricsProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-token")
	empty := writeFile(t, "empty-token", "\n")
	tests := []struct {
		name, yaml string
		// path and what the problem must say; "" path: no problem.
		path, want string
	}{
		{"separate port", "metrics:\n  listen_addr: 0.0.0.0:9090\n", "", ""},
		{"free port", "metrics:\n  listen_addr: 127.0.0.1:0\n", "", ""},
		{"same port, other interface", "listen_addr: 127.0.0.1:8080\nmetrics:\n  listen_addr: 10.0.0.5:8080\n", "", ""},
		{"token inline", "metrics:\n  token: s3cret\n", "metrics.token", "secrets are not read from the config file"},
		{"not host:port", "metrics:\n  listen_addr: nope\n", "metrics.listen_addr", `"nope" is not host:port`},
		{"named port", "metrics:\n  listen_addr: 127.0.0.1:http\n", "metrics.listen_addr", "the port must be a number"},
		{"port out of range", "metrics:\n  listen_addr: 127.0.0.1:70000\n", "metrics.listen_addr", "the port must be a number"},
		{"listen_addr itself", "listen_addr: 127.0.0.1:8080\nmetrics:\n  listen_addr: 127.0.0.1:8080\n", "metrics.listen_addr", "listen_addr's address"},
		{"every interface, same port", "listen_addr: 127.0.0.1:8080\nmetrics:\n  listen_addr: 0.0.0.0:8080\n", "metrics.listen_addr", "a port of its own"},
		{"main on every interface", "listen_addr: :8080\nmetrics:\n  listen_addr: 127.0.0.1:8080\n", "metrics.listen_addr", "a port of its own"},
		{"token file missing", "metrics:\n  token_file: " + missing + "\n", "metrics.token_file", "no such file"},
		{"token file empty", "metrics:\n  token_file: " + empty + "\n", "metrics.token_file", "is empty"},
		{"unknown key", "metrics:\n  listen: 127.0.0.1:9090\n", "metrics.listen", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "c.yaml", tt.yaml), tokens())
			ps := problems(t, err)
			if tt.path == "" {
				if len(ps) > 0 {
					t.Fatalf("problems: %v", ps)
				}
				return
			}
			p, ok := findProblem(ps, tt.path)
			if !ok || !strings.Contains(p.Msg, tt.want) {
				t.Fatalf("want a problem at %s saying %q; got %v", tt.path, tt.want, ps)
			}
			if strings.Contains(ps.Error(), "s3cret") {
				t.Errorf("a problem prints the inline secret: %v", ps)
			}
		})
	}
}
