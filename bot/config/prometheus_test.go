package config

import (
	"strings"
	"testing"
	"time"
)

func TestPrometheusConfig(t *testing.T) {
	bad := []struct {
		name, yaml string
		env        []string
		path, msg  string
	}{
		{"not a URL", "prometheus:\n  url: prometheus:9090\n", nil, "prometheus.url", "not an http(s) URL"},
		{"credentials in the URL", "prometheus:\n  url: http://u:p@prometheus:9090\n", nil, "prometheus.url", "has credentials"},
		{"a query", "prometheus:\n  url: http://prometheus:9090/graph?g0.expr=up\n", nil, "prometheus.url", "without a query"},
		{"timeout too long", "prometheus:\n  url: http://prometheus:9090\n  timeout: 2m\n", nil, "prometheus.timeout", "between 500ms and 30s"},
		{"timeout too short", "prometheus:\n  url: http://prometheus:9090\n  timeout: 10ms\n", nil, "prometheus.timeout", "between"},
		{"username without password", "prometheus:\n  url: http://prometheus:9090\n  username: bot\n", nil, "prometheus.username", "needs a password"},
		{"token and username", "prometheus:\n  url: http://prometheus:9090\n  username: bot\n", []string{EnvPrometheusToken, "t", EnvPrometheusPassword, "p"}, "prometheus.username", "not both"},
		{"password without url", "", []string{EnvPrometheusPassword, "p"}, "prometheus.url", "no url"},
		{"inline password", "prometheus:\n  url: http://prometheus:9090\n  password: x\n", nil, "prometheus.password", "secrets are not read"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "chatops.yaml", tt.yaml), tokens(tt.env...))
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Msg, tt.msg) {
				t.Fatalf("problems %v, want one at %s saying %q", err, tt.path, tt.msg)
			}
		})
	}
	c, err := Load(writeFile(t, "chatops.yaml", "prometheus:\n  url: https://prometheus.monitoring:9090/prom\n  username: bot\n"),
		tokens(EnvPrometheusPassword, "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Prometheus.Timeout != DefaultPrometheusTimeout || c.Prometheus.Password != "s3cret" || c.Prometheus.Username != "bot" {
		t.Fatalf("prometheus %+v", c.Prometheus)
	}
	c, err = Load(writeFile(t, "chatops.yaml", ""), tokens(EnvPrometheusURL, "http://127.0.0.1:9090", EnvPrometheusToken, "tok"))
	if err != nil || c.Prometheus.URL != "http://127.0.0.1:9090" || c.Prometheus.Token != "tok" || c.Prometheus.Timeout != 5*time.Second {
		t.Fatalf("from the environment: %+v, %v", c.Prometheus, err)
	}
}
