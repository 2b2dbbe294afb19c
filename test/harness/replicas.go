package harness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
)

// Replicas are several `chatops serve` processes of one configuration on
// one PostgreSQL database, as the ha overlay runs them, with a round-robin
// proxy in front standing in for their Kubernetes Service.
type Replicas struct {
	// Bots are the replicas, each with a configuration of its own that
	// differs from the others' only in its listen address.
	Bots  []*Bot
	Proxy *RoundRobin
}

// ReplicaConfig is a copy of cfg listening on a port of its own: another
// replica of the same bot (same store, tokens, stand-ins, config file and
// environment).
func ReplicaConfig(t TB, cfg *BotConfig) *BotConfig {
	t.Helper()
	c := *cfg
	c.Addr = FreeAddr(t)
	c.Env = append([]string(nil), cfg.Env...)
	c.LogPath = ""
	return &c
}

// StartReplicas starts n replicas of cfg, which must be on PostgreSQL
// (SQLite is one process's), and the proxy in front of them. cfg itself
// is the first replica's configuration. tweak, when not nil, changes
// replica i's configuration before it starts (an API URL of its own).
func StartReplicas(t TB, cfg *BotConfig, n int, tweak func(i int, c *BotConfig)) *Replicas {
	t.Helper()
	if cfg.Store.Kind != Postgres {
		t.Fatalf("replicas share a PostgreSQL database; the store is %s", cfg.Store.Kind)
	}
	if n < 1 {
		t.Fatalf("StartReplicas: %d replicas", n)
	}
	r := &Replicas{}
	for i := range n {
		c := cfg
		if i > 0 || tweak != nil {
			c = ReplicaConfig(t, cfg)
		}
		if tweak != nil {
			tweak(i, c)
		}
		r.Bots = append(r.Bots, StartBot(t, c))
	}
	backends := make([]string, n)
	for i, b := range r.Bots {
		backends[i] = b.BaseURL
	}
	r.Proxy = StartRoundRobin(t, backends...)
	return r
}

// Restart starts replica i again on its configuration (after Kill or
// Stop) and waits until it is ready.
func (r *Replicas) Restart(t TB, i int) *Bot {
	t.Helper()
	r.Bots[i] = StartBot(t, r.Bots[i].Config)
	return r.Bots[i]
}

// WebhookURL is where Alertmanager posts: the proxy, as it would post to
// the Service.
func (r *Replicas) WebhookURL() string { return r.Proxy.URL + "/v1/alertmanager" }

// PostWebhook posts body to POST /v1/alertmanager through the proxy, with
// token as the bearer token: to whichever replica's turn it is.
func (r *Replicas) PostWebhook(body []byte, token string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, r.WebhookURL(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return Do(req)
}

// RoundRobin is an HTTP reverse proxy that hands each request to the next
// of its backends in turn, as a Service spreads connections over its
// endpoints. A backend that refuses the connection (a killed replica whose
// endpoint is not yet removed) makes that request fail with 502: the
// sender's retry reaches the next one. It keeps no connection to a backend
// between requests, so requests alternate rather than stick.
type RoundRobin struct {
	URL string

	backends []*url.URL
	next     atomic.Uint64
	mu       sync.Mutex
	served   []int // answers other than 502, by backend
	failed   []int // 502s, by backend
}

// StartRoundRobin starts a proxy in front of backends (base URLs), closed
// when t ends.
func StartRoundRobin(t TB, backends ...string) *RoundRobin {
	t.Helper()
	rr := &RoundRobin{served: make([]int, len(backends)), failed: make([]int, len(backends))}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil || !Loopback(u.Hostname()) {
			t.Fatalf("round-robin backend %q: want a loopback http URL (%v)", b, err)
		}
		rr.backends = append(rr.backends, u)
	}
	// No keep-alive: a Service balances connections, and a sender that
	// reuses one would stick to one replica.
	transport := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: WaitTimeout}).DialContext}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		i := int(rr.next.Add(1)-1) % len(rr.backends)
		target := rr.backends[i]
		status := &statusWriter{ResponseWriter: w}
		p := &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
			Transport: transport,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				var op *net.OpError
				msg := "replica unreachable"
				if errors.As(err, &op) {
					msg = fmt.Sprintf("replica %d unreachable: %s", i, op.Op)
				}
				http.Error(w, msg, http.StatusBadGateway)
			},
		}
		p.ServeHTTP(status, req)
		rr.mu.Lock()
		if status.code == http.StatusBadGateway {
			rr.failed[i]++
		} else {
			rr.served[i]++
		}
		rr.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	rr.URL = srv.URL
	return rr
}

// Served is how many requests each backend answered (502s not counted).
func (rr *RoundRobin) Served() []int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]int(nil), rr.served...)
}

// Unreachable is how many requests each backend could not be reached for.
func (rr *RoundRobin) Unreachable() []int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]int(nil), rr.failed...)
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
