package config

import (
	"net/url"
	"time"
)

// Prometheus is the Prometheus the bot reads to draw each new incident's
// alert and answer the graph command. Empty URL: no graphs. Its
// credentials come only from the environment (or the files it names):
// CHATOPS_PROMETHEUS_TOKEN(_FILE) for a bearer token, or username here
// with CHATOPS_PROMETHEUS_PASSWORD(_FILE).
type Prometheus struct {
	URL      string        `yaml:"url"`
	Timeout  time.Duration `yaml:"timeout"`
	Username string        `yaml:"username"`
	Token    Secret        `yaml:"-"`
	Password Secret        `yaml:"-"`
}

// Prometheus settings.
const (
	EnvPrometheusURL          = "CHATOPS_PROMETHEUS_URL"
	EnvPrometheusToken        = "CHATOPS_PROMETHEUS_TOKEN"
	EnvPrometheusTokenFile    = "CHATOPS_PROMETHEUS_TOKEN_FILE"
	EnvPrometheusPassword     = "CHATOPS_PROMETHEUS_PASSWORD"
	EnvPrometheusPasswordFile = "CHATOPS_PROMETHEUS_PASSWORD_FILE"
	// DefaultPrometheusTimeout bounds one query: a graph is worth a few
	// seconds, and the thread's line says when it did not come.
	DefaultPrometheusTimeout = 5 * time.Second
	MinPrometheusTimeout     = 500 * time.Millisecond
	MaxPrometheusTimeout     = 30 * time.Second
)

func applyPrometheusEnv(c *Config, getenv func(string) string, ps *Problems) {
	if v := getenv(EnvPrometheusURL); v != "" {
		c.Prometheus.URL = v
	}
	c.Prometheus.Token, _ = envSecret(getenv, EnvPrometheusToken, EnvPrometheusTokenFile, ps)
	c.Prometheus.Password, _ = envSecret(getenv, EnvPrometheusPassword, EnvPrometheusPasswordFile, ps)
}

func validatePrometheus(c *Config, ps *Problems) {
	p := &c.Prometheus
	if p.URL == "" {
		if p.Username != "" || p.Token != "" || p.Password != "" {
			ps.add("prometheus.url", "credentials are set but no url")
		}
		return
	}
	pu, err := url.Parse(p.URL)
	switch {
	case err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "":
		ps.add("prometheus.url", "%q is not an http(s) URL", p.URL)
	case pu.User != nil:
		ps.add("prometheus.url", "has credentials in it: set username and %s, or %s", EnvPrometheusPassword, EnvPrometheusToken)
	case pu.RawQuery != "" || pu.Fragment != "":
		ps.add("prometheus.url", "is Prometheus's base URL, without a query or fragment")
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPrometheusTimeout
	}
	if p.Timeout < MinPrometheusTimeout || p.Timeout > MaxPrometheusTimeout {
		ps.add("prometheus.timeout", "%s: must be between %s and %s", p.Timeout, MinPrometheusTimeout, MaxPrometheusTimeout)
	}
	switch {
	case p.Token != "" && (p.Username != "" || p.Password != ""):
		ps.add("prometheus.username", "set a bearer token (%s) or a username and password, not both", EnvPrometheusToken)
	case p.Username != "" && p.Password == "":
		ps.add("prometheus.username", "needs a password in %s or %s", EnvPrometheusPassword, EnvPrometheusPasswordFile)
	case p.Username == "" && p.Password != "":
		ps.add("prometheus.username", "is missing: a password is set")
	}
}
