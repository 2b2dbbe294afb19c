package bot

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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
