package monitoring

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// otherExporters are the metrics the rules and the dashboard read from
// outside chatops: Prometheus' own up, and kube-state-metrics.
var otherExporters = map[string]bool{
	"up": true,
	"kube_deployment_status_replicas_available": true,
	"kube_deployment_spec_replicas":             true,
}

var (
	chatopsName = regexp.MustCompile(`\bchatops_[a-z0-9_]+`)
	// A selector's metric name: an identifier right before its braces.
	selectorName = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
)

// usedMetrics are the metric names the rules' expressions and the
// dashboard's queries read, with where each is read.
func usedMetrics(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	add := func(where, expr string) {
		for _, n := range chatopsName.FindAllString(expr, -1) {
			used[n] = where
		}
		for _, m := range selectorName.FindAllStringSubmatch(expr, -1) {
			if !strings.HasPrefix(m[1], "chatops_") {
				used[m[1]] = where
			}
		}
	}
	for _, a := range alerts(t, loadRule(t)) {
		add("alert "+a.Alert, a.Expr)
	}
	d := loadDashboard(t, harness.RepoPath(t, "deploy", "monitoring", "dashboard.json"))
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			add("panel "+p.Title, tg.Expr)
		}
	}
	return used
}

// TestMetricsOnRunningBinary builds and starts the real binary (SQLite,
// the example configuration, the chat stand-ins, /metrics on a listener of
// its own behind a token, as deploy/kubernetes runs it), sends it one
// alert and scrapes it: every chatops metric the rules and the dashboard
// read must be there, and chatops_build_info must carry its three labels.
func TestMetricsOnRunningBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	tmp := t.TempDir()
	bin, err := harness.Chatops(context.Background(), os.Getenv("CHATOPS_E2E_BIN"), tmp)
	if err != nil {
		t.Fatal(err)
	}
	cfg := harness.NewBotConfig(t, bin, harness.SQLite)
	metricsAddr, metricsToken := harness.FreeAddr(t), "metrics-"+harness.RandHex(16)
	cfg.Env = append(cfg.Env, "CHATOPS_METRICS_LISTEN_ADDR="+metricsAddr, "CHATOPS_METRICS_TOKEN="+metricsToken)
	b := harness.StartBot(t, cfg)
	defer b.Stop(t)

	url := "http://" + metricsAddr + "/metrics"
	authed := &http.Client{Timeout: 10 * time.Second, Transport: bearer{metricsToken}}
	scrape := func() harness.Metrics {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := harness.ScrapeMetrics(ctx, authed, url)
		if err != nil {
			t.Fatalf("scrape with the metrics token: %v", err)
		}
		return m
	}
	if _, err := harness.ScrapeMetrics(context.Background(), &http.Client{Timeout: 10 * time.Second}, url); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("scrape without the metrics token: %v, want a 401", err)
	}

	// One alert: the webhook's route gets its latency series and the
	// outbox posts the incident, so the chat calls get theirs.
	b.MustPostWebhook(t, harness.Fixture(t, "service-down-firing.json"))
	var m harness.Metrics
	harness.Eventually(t, "the incident posted to chat", func() (bool, string) {
		m = scrape()
		n, _ := m.Sum("chatops_chat_call_duration_seconds_count")
		return n > 0, "no chat call observed yet"
	})

	have := map[string]bool{}
	for _, s := range m {
		have[s.Name] = true
	}
	used := usedMetrics(t)
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		switch {
		case otherExporters[n]:
		case !strings.HasPrefix(n, "chatops_"):
			t.Errorf("%s reads %s, which is neither chatops' nor a known exporter's", used[n], n)
		case have[n], have[n+"_count"]: // a histogram's base name, or a series as named
		default:
			t.Errorf("%s reads %s, which the running binary's /metrics does not have", used[n], n)
		}
	}

	// Every chatops metric the binary serves is in the README's table.
	text := readme(t)
	for n := range have {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && have[b+"_count"] {
				base = b
			}
		}
		if strings.HasPrefix(base, "chatops_") && !strings.Contains(text, "| `"+base+"` |") {
			t.Errorf("%s is served but not in the README's metrics table (Monitoring chatops)", base)
		}
	}

	var info []harness.Sample
	for _, s := range m {
		if s.Name == "chatops_build_info" {
			info = append(info, s)
		}
	}
	if len(info) != 1 || info[0].Value != 1 {
		t.Fatalf("chatops_build_info = %+v, want one series of value 1", info)
	}
	for _, l := range []string{"version", "revision", "goversion"} {
		if !regexp.MustCompile(`(^|,)` + l + `="[^"]+"`).MatchString(info[0].Labels) {
			t.Errorf("chatops_build_info{%s}: no non-empty %s label", info[0].Labels, l)
		}
	}
}

// bearer sends the metrics token, as the ServiceMonitor's authorization
// does.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
