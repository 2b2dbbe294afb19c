package bot

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the store queries behind one /metrics scrape.
const scrapeTimeout = 3 * time.Second

// StoreStats is what StoreCollector reads from the store.
type StoreStats interface {
	CountOpenIncidents(ctx context.Context) (map[Severity]int, error)
	OutboxStats(ctx context.Context) (depth int, oldest time.Time, err error)
}

// StoreCollector exports gauges read from the store at scrape time, so every
// replica reports the same, true figures.
type StoreCollector struct {
	store    StoreStats
	open     *prometheus.Desc
	depth    *prometheus.Desc
	oldest   *prometheus.Desc
	scrapeOK *prometheus.Desc
}

// NewStoreCollector builds the collector; register it once.
func NewStoreCollector(s StoreStats) *StoreCollector {
	return &StoreCollector{
		store:    s,
		open:     prometheus.NewDesc("chatops_open_incidents", "Open incidents by severity.", []string{"severity"}, nil),
		depth:    prometheus.NewDesc("chatops_outbox_depth", "Chat sync jobs waiting in the outbox.", nil, nil),
		oldest:   prometheus.NewDesc("chatops_outbox_oldest_job_age_seconds", "Age of the oldest job in the outbox (0 when empty).", nil, nil),
		scrapeOK: prometheus.NewDesc("chatops_store_scrape_success", "1 when the store answered the metrics queries.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.depth
	ch <- c.oldest
	ch <- c.scrapeOK
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ok := 1.0
	counts, err := c.store.CountOpenIncidents(ctx)
	if err != nil {
		ok = 0
	} else {
		for s := P0; s <= P3; s++ {
			ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(counts[s]), s.String())
		}
	}
	if depth, oldest, err := c.store.OutboxStats(ctx); err != nil {
		ok = 0
	} else {
		age := 0.0
		if !oldest.IsZero() {
			age = time.Since(oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth))
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeOK, prometheus.GaugeValue, ok)
}

// ChatMetrics counts calls to chat platforms. One instance is shared by every
// platform so the series have one name; create it once.
type ChatMetrics struct {
	calls       *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

// NewChatMetrics registers the chat call metrics with reg (nil: not
// registered, for tests).
func NewChatMetrics(reg prometheus.Registerer) *ChatMetrics {
	m := &ChatMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_chat_calls_total",
			Help: "Calls to chat platforms by platform, method and outcome (ok, rate_limited, permanent, error).",
		}, []string{"platform", "method", "outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_chat_rate_limited_total",
			Help: "429 answers from chat platforms, and calls held back by the bot's own rate limiter (source=platform|local).",
		}, []string{"platform", "source"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_chat_call_duration_seconds",
			Help:    "Chat platform call latency by platform and method.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"platform", "method"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.rateLimited, m.latency)
	}
	return m
}

// Known exports platform's series before its first call: every outcome of
// each of methods (the calls worth alerting on: posting and editing), and
// both sources of rate limiting. Other methods appear when first called.
func (m *ChatMetrics) Known(platform string, methods ...string) {
	if m == nil {
		return
	}
	for _, method := range methods {
		for _, o := range []string{"ok", "rate_limited", "permanent", "error"} {
			m.calls.WithLabelValues(platform, method, o)
		}
	}
	for _, src := range []string{"platform", "local"} {
		m.rateLimited.WithLabelValues(platform, src)
	}
}

// Observe records one call that was made (err nil on success).
func (m *ChatMetrics) Observe(platform, method string, start time.Time, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	var rl *RateLimitedError
	switch {
	case err == nil:
	case errors.As(err, &rl):
		outcome = "rate_limited"
		m.rateLimited.WithLabelValues(platform, "platform").Inc()
	case errors.Is(err, ErrPermanent):
		outcome = "permanent"
	default:
		outcome = "error"
	}
	m.calls.WithLabelValues(platform, method, outcome).Inc()
	m.latency.WithLabelValues(platform, method).Observe(time.Since(start).Seconds())
}

// HeldBack records a call the bot's own rate limiter deferred.
func (m *ChatMetrics) HeldBack(platform string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(platform, "local").Inc()
}
