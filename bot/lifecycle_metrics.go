package bot

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lifecycleBuckets span the guide's response times, from an immediate P0
// page to a P3 left for a day.
var lifecycleBuckets = []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600}

// lifecycleMetrics measure how fast people answer incidents. They are
// observed once the acknowledgement or resolution has committed, by the
// replica that committed it, so each is counted once across replicas.
type lifecycleMetrics struct {
	toAck, toResolve *prometheus.HistogramVec
}

func newLifecycleMetrics(reg prometheus.Registerer) lifecycleMetrics {
	m := lifecycleMetrics{
		toAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_incident_time_to_acknowledge_seconds",
			Help:    "Time from an incident opening to its acknowledgement, by severity at the acknowledgement.",
			Buckets: lifecycleBuckets,
		}, []string{"severity"}),
		toResolve: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_incident_time_to_resolve_seconds",
			Help:    "Time from an incident opening to its resolution (by its alerts or by hand), by severity at the resolution.",
			Buckets: lifecycleBuckets,
		}, []string{"severity"}),
	}
	if reg != nil {
		reg.MustRegister(m.toAck, m.toResolve)
	}
	return m
}

// observe records what a committed event of kind did to inc. A reopened
// incident is measured again from its first opening: the time people spent
// on it includes the flap.
func (m lifecycleMetrics) observe(inc *Incident, kind EventKind) {
	if m.toAck == nil {
		return
	}
	switch {
	case kind == EventAcknowledged && inc.AckedAt != nil:
		m.toAck.WithLabelValues(inc.Severity.String()).Observe(inc.AckedAt.Sub(inc.OpenedAt).Seconds())
	case kind == EventResolved && inc.ResolvedAt != nil:
		m.toResolve.WithLabelValues(inc.Severity.String()).Observe(inc.ResolvedAt.Sub(inc.OpenedAt).Seconds())
	}
}

// pastDeadlineCollector exports the number of open, unacknowledged
// incidents past their response deadline, read from the store at scrape
// time: every replica reports the same true figure, whichever of them holds
// the timers, and nothing goes stale when the holder dies.
type pastDeadlineCollector struct {
	store Timers
	now   func() time.Time
	desc  *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *pastDeadlineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. A store that does not answer
// leaves the series out (chatops_store_scrape_success says why).
func (c *pastDeadlineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, err := c.store.CountPastDeadline(ctx, c.now())
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
