package incident

import (
	"github.com/bakewise/chatops/bot"

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
	for s := bot.P0; s <= bot.P3; s++ {
		m.toAck.WithLabelValues(s.String())
		m.toResolve.WithLabelValues(s.String())
	}
	if reg != nil {
		reg.MustRegister(m.toAck, m.toResolve)
	}
	return m
}

// observe records what a committed event of kind did to inc. A reopened
// incident is measured again from its first opening: the time people spent
// on it includes the flap.
func (m lifecycleMetrics) observe(inc *bot.Incident, kind bot.EventKind) {
	if m.toAck == nil {
		return
	}
	switch {
	case kind == bot.EventAcknowledged && inc.AckedAt != nil:
		m.toAck.WithLabelValues(inc.Severity.String()).Observe(inc.AckedAt.Sub(inc.OpenedAt).Seconds())
	case kind == bot.EventResolved && inc.ResolvedAt != nil:
		m.toResolve.WithLabelValues(inc.Severity.String()).Observe(inc.ResolvedAt.Sub(inc.OpenedAt).Seconds())
	}
}
