package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

var alertNames = []string{"HighErrorRate", "HighLatency", "HighMemoryUsage", "DatabaseConnectionsHigh", "ServiceDown"}

// group is one alert group's life: it opens with one alert, grows to n
// alerts over the first 70% of its life, and resolves them all at its
// end. Its webhooks go one at a time (as Alertmanager notifies a group),
// each carrying the whole group as it is at that moment.
type group struct {
	name      string
	alertname string
	groupKey  string
	labels    map[string]string // group labels
	severity  func(k int) string
	born      time.Time
	life      time.Duration
	n         int
	alerts    []*alert

	// Set by the sender only (one webhook in flight per group).
	busy     bool
	resolved bool // the resolving webhook was acknowledged
	incident int64
	split    []int64
}

type alert struct {
	labels      map[string]string
	fingerprint string
	startsAt    time.Time
}

// newGroup is the run's i-th group, born now.
func newGroup(i int, runID string, now time.Time, c config, rng *rand.Rand) *group {
	g := &group{name: fmt.Sprintf("g%05d", i), alertname: alertNames[i%len(alertNames)], born: now,
		life: c.lifeMin + time.Duration(rng.Int64N(int64(c.lifeMax-c.lifeMin)+1)), n: 1 + rng.IntN(c.maxAlerts)}
	g.labels = map[string]string{"alertname": g.alertname, "soak_group": g.name, "soak_run": runID}
	g.groupKey = harness.GroupKey(g.labels)
	switch i % 3 {
	case 0:
		g.severity = func(int) string { return "critical" }
	case 1:
		g.severity = func(int) string { return "warning" }
	default: // opens at P2, turns P1 with its second alert
		g.severity = func(k int) string { return map[bool]string{true: "warning", false: "critical"}[k%2 == 0] }
	}
	return g
}

// due is whether the group's life is over: its next webhook resolves it.
func (g *group) due(now time.Time) bool { return now.Sub(g.born) >= g.life }

// webhook is the group's notification at now: the alerts it has by now
// (one more each growth step), all firing, or all resolved once its life
// is over. It returns the body and each alert's status in it.
func (g *group) webhook(now time.Time, seq func() int, runID string) ([]byte, map[string]string) {
	grow := time.Duration(float64(g.life) * 0.7)
	want := 1
	if g.n > 1 {
		want = 1 + int(float64(g.n-1)*float64(now.Sub(g.born))/float64(grow))
	}
	for len(g.alerts) < min(want, g.n) {
		k := len(g.alerts)
		pod := fmt.Sprintf("%s-%s-%d", g.name, runID, k)
		g.alerts = append(g.alerts, &alert{
			// No service label: a timeline line names the pod, so each
			// alert's lines are its own (duplicate replies are found by
			// their lines).
			labels: map[string]string{"alertname": g.alertname, "namespace": "bakery-ia", "pod": pod,
				"severity": g.severity(k), "soak_group": g.name, "soak_run": runID},
			fingerprint: fmt.Sprintf("%s%08x", runID, seq()),
			startsAt:    now.UTC(),
		})
	}
	resolve := g.due(now)
	status := map[string]string{}
	as := make([]harness.WebhookAlert, len(g.alerts))
	for i, a := range g.alerts {
		w := harness.FiringAlert(a.labels, map[string]string{"summary": g.alertname + " on " + a.labels["pod"]}, a.startsAt, a.fingerprint)
		if resolve {
			w = w.ResolvedAt(now)
		}
		w.GeneratorURL = harness.ExternalURL + "/graph?g0.expr=" + g.alertname
		as[i] = w
		status[a.fingerprint] = w.Status
	}
	w := harness.NewWebhook(receiver, maps.Clone(g.labels), as...)
	return w.JSON(), status
}
