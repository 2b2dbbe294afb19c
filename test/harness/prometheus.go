package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PrometheusBinary is Debian's prometheus package's server (.ci/run
// installs it). Under CI its absence fails the test; elsewhere too: the
// graph tests have nothing to draw without it.
const PrometheusBinary = "/usr/bin/prometheus"

// Prometheus is a real Prometheus server scraping a target the test
// serves, every second.
type Prometheus struct {
	// URL is its base URL (http://127.0.0.1:port).
	URL     string
	Process *Process
	// Gauge is harness_graph_load{pod}: the test moves it and Prometheus
	// scrapes it.
	Gauge *prometheus.GaugeVec
	// Metric is the gauge's name.
	Metric string
}

// PrometheusLoad is the gauge's value for pod at a time: the harness
// writes it for the past (History) and sets it while the test runs.
type PrometheusLoad func(pod string, at time.Time) float64

// PrometheusOptions shape the data Prometheus holds.
type PrometheusOptions struct {
	// Pods label the gauge's series; Load gives their values.
	Pods []string
	Load PrometheusLoad
	// History, when set, is written into the TSDB before Prometheus
	// starts (promtool tsdb create-blocks-from openmetrics, every 15 s),
	// so a chart of the last hour has an hour to show.
	History time.Duration
}

// StartPrometheus starts PrometheusBinary on a free port with a temporary
// TSDB and a scrape config for a /metrics target of the test's own
// (scrape and evaluation interval 1s), and waits until its first samples
// are queryable.
func StartPrometheus(t TB, o PrometheusOptions) *Prometheus {
	t.Helper()
	if st, err := os.Stat(PrometheusBinary); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("a real Prometheus is required at %s (Debian: apt-get install prometheus): %v", PrometheusBinary, err)
	}
	const metric = "harness_graph_load"
	reg := prometheus.NewRegistry()
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metric, Help: "A value the test moves."}, []string{"pod"})
	reg.MustRegister(gauge)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the metrics target: %v", err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	if o.History > 0 && o.Load != nil {
		backfill(t, filepath.Join(dir, "tsdb"), metric, ln.Addr().String(), o)
	}
	if o.Load != nil {
		stop, moved := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(moved)
			for {
				now := time.Now()
				for _, pod := range o.Pods {
					gauge.WithLabelValues(pod).Set(o.Load(pod, now))
				}
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		t.Cleanup(func() { close(stop); <-moved })
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: harness
    static_configs:
      - targets: [%q]
`, ln.Addr().String())
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("write prometheus.yml: %v", err)
	}
	addr := FreeAddr(t)
	cmd := exec.Command(PrometheusBinary, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Env = CleanEnviron()
	p := &Prometheus{URL: "http://" + addr, Process: Start(t, "prometheus", "", cmd), Gauge: gauge, Metric: metric}
	EventuallyWithin(t, 60*time.Second, "Prometheus has scraped the test's target", func() (bool, string) {
		n, err := p.series(`up{job="harness"} == 1`)
		if err != nil {
			return false, err.Error()
		}
		return n > 0, fmt.Sprintf("%d targets up", n)
	})
	return p
}

// backfill writes o.History of the gauge, up to a minute ago, into the
// TSDB at dir with the labels the scrapes will give it, so the past and
// the scraped present are one series.
func backfill(t TB, dir, metric, instance string, o PrometheusOptions) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool (Debian's prometheus package) is required to write the past: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s A value the test moves.\n# TYPE %s gauge\n", metric, metric)
	end := time.Now().Add(-time.Minute).Truncate(15 * time.Second)
	for _, pod := range o.Pods {
		for at := end.Add(-o.History); !at.After(end); at = at.Add(15 * time.Second) {
			fmt.Fprintf(&b, "%s{instance=%q,job=\"harness\",pod=%q} %g %d\n", metric, instance, pod, o.Load(pod, at), at.Unix())
		}
	}
	b.WriteString("# EOF\n")
	in := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write the history: %v", err)
	}
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, dir).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
}

// series counts the series of expr Prometheus answers now (an instant
// query), or says why it cannot.
func (p *Prometheus) series(expr string) (int, error) {
	if p.Process.Exited() {
		return 0, fmt.Errorf("prometheus exited: %v", p.Process.Err())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	return len(body.Data.Result), nil
}

// Stop ends Prometheus (the graph's "Prometheus is down" case).
func (p *Prometheus) Stop() { p.Process.Terminate(5 * time.Second) }
