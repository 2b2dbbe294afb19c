package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

var (
	alertKinds = []struct{ name, summary string }{
		{"HighErrorRate", "5xx ratio above 5%"},
		{"HighLatency", "p95 latency above 1s"},
		{"HighMemoryUsage", "working set above 80% of the limit"},
		{"DatabaseConnectionsHigh", "connection pool above 80%"},
		{"ServiceDown", "not answering health checks"},
	}
	services = []string{
		"gateway", "auth-service", "orders-service", "forecasting-service", "inventory-service",
		"tenant-service", "notification-service", "production-service", "sales-service", "suppliers-service",
	}
)

// group is one alert group: its constant labels and its alerts so far.
type group struct {
	index       int
	name        string
	alertname   string
	service     string
	mode        string // critical, warning, mixed
	n           int    // alerts in the storm
	groupKey    string
	groupLabels map[string]string
	alerts      []*alert
	// common is the labels all alerts so far share (Alertmanager's
	// commonLabels), kept as alerts are added.
	common, commonAnn map[string]string
	runID             string
	firstAlert        int // global index of its first alert, for fingerprints
	// openedAt: -via-alertmanager, when the bot opened the group's
	// incident, i.e. when Alertmanager's first notification arrived.
	openedAt time.Time
}

type alert struct {
	labels      map[string]string
	annotations map[string]string
	fingerprint string
	startsAt    time.Time
	firingJSON  []byte // rendered once, firing, with startsAt
}

func makeGroups(alerts, n int, runID string) []*group {
	gs := make([]*group, n)
	for i := range n {
		k := alertKinds[i%len(alertKinds)]
		// Every group its own (alertname, service) pair: Alertmanager
		// groups by those two, so two groups sharing them would be one.
		svc := i / len(alertKinds)
		service := services[svc%len(services)]
		if svc >= len(services) {
			service = fmt.Sprintf("%s-%d", service, svc/len(services)+1)
		}
		g := &group{
			index: i, name: fmt.Sprintf("s%04d", i), alertname: k.name,
			service: service, runID: runID,
			n: alerts / n,
		}
		if i < alerts%n {
			g.n++
		}
		switch i % 3 {
		case 0:
			g.mode = "critical"
		case 1:
			g.mode = "warning"
		default:
			g.mode = "mixed" // warning first, then critical: P2 becomes P1
		}
		g.groupLabels = map[string]string{"alertname": g.alertname, "storm_group": g.name, "storm_run": runID}
		g.groupKey = fmt.Sprintf(`{}/{storm_run=%q}:{alertname=%q, storm_group=%q}`, runID, g.alertname, g.name)
		gs[i] = g
	}
	return gs
}

// groupOf is the group of the storm's i-th alert: interleaved, alert i
// goes to group i mod groups, so every group starts within the storm's
// first groups alerts; sequential, the groups come one after another, each
// with its share of the alerts (makeGroups' sizes), as services failing in
// a cascade.
func groupOf(i, alerts, groups int, order string) int {
	if order != "sequential" {
		return i % groups
	}
	q, r := alerts/groups, alerts%groups
	if i < r*(q+1) {
		return i / (q + 1)
	}
	return r + (i-r*(q+1))/q
}

func (g *group) severityOf(k int) string {
	switch g.mode {
	case "critical":
		return "critical"
	case "warning":
		return "warning"
	}
	if k%2 == 0 {
		return "warning"
	}
	return "critical"
}

// expectedSeverity is the incident's severity once the storm is over:
// the worst firing alert (critical → P1, warning → P2).
func (g *group) expectedSeverity() string {
	if g.mode == "warning" || (g.mode == "mixed" && g.n == 1) {
		return "P2"
	}
	return "P1"
}

// addAlert introduces the group's next alert, firing since now.
func (g *group) addAlert(seq int, now time.Time) {
	k := len(g.alerts)
	kind := alertKinds[g.index%len(alertKinds)]
	a := &alert{
		labels: map[string]string{
			"alertname": g.alertname, "service": g.service, "namespace": "bakery-ia",
			"severity": g.severityOf(k), "pod": fmt.Sprintf("%s-%05d", g.service, k),
			"storm_group": g.name, "storm_run": g.runID,
		},
		annotations: map[string]string{
			"summary":     fmt.Sprintf("%s: %s", g.service, kind.summary),
			"description": fmt.Sprintf("%s on pod %s-%05d", kind.summary, g.service, k),
			"runbook_url": "https://runbooks.example/" + strings.ToLower(g.alertname),
		},
		fingerprint: fmt.Sprintf("%s%08x", g.runID, seq),
		startsAt:    now.UTC(),
	}
	a.firingJSON = alertJSON(a, a.startsAt, time.Time{})
	g.alerts = append(g.alerts, a)
	if g.common == nil {
		g.common, g.commonAnn = maps.Clone(a.labels), maps.Clone(a.annotations)
		return
	}
	for key, v := range g.common {
		if a.labels[key] != v {
			delete(g.common, key)
		}
	}
	for key, v := range g.commonAnn {
		if a.annotations[key] != v {
			delete(g.commonAnn, key)
		}
	}
}

func (a *alert) generatorURL() string {
	return harness.ExternalURL + "/graph?g0.expr=" + url.QueryEscape(a.labels["alertname"])
}

// postable is a as Alertmanager's API takes it: firing (no endsAt, so
// Alertmanager keeps it for its resolve_timeout), or resolved at endsAt
// when that is set.
func (a *alert) postable(endsAt time.Time) harness.PostableAlert {
	p := harness.PostableAlert{
		Labels: a.labels, Annotations: a.annotations, StartsAt: harness.RFC3339(a.startsAt),
		GeneratorURL: a.generatorURL(),
	}
	if !endsAt.IsZero() {
		p.EndsAt = harness.RFC3339(endsAt)
	}
	return p
}

// alertJSON renders a: firing since startsAt, or resolved at endsAt when
// that is set.
func alertJSON(a *alert, startsAt, endsAt time.Time) []byte {
	w := harness.FiringAlert(a.labels, a.annotations, startsAt, a.fingerprint)
	if !endsAt.IsZero() {
		w = w.ResolvedAt(endsAt)
	}
	w.GeneratorURL = a.generatorURL()
	out, _ := json.Marshal(w)
	return out
}

// body is an Alertmanager v4 webhook for the group with the given
// rendered alerts; the alerts are spliced in, not re-encoded.
func (g *group) body(status string, alerts [][]byte) []byte {
	return harness.Webhook{
		Version: "4", GroupKey: g.groupKey, Status: status, Receiver: receiver,
		GroupLabels: g.groupLabels, CommonLabels: g.common, CommonAnnotations: g.commonAnn,
		ExternalURL: harness.ExternalURL,
	}.JSONWith(alerts)
}

// stormBody is the webhook that brings the group's latest alert: every
// alert so far, firing.
func (g *group) stormBody() []byte {
	alerts := make([][]byte, len(g.alerts))
	for i, a := range g.alerts {
		alerts[i] = a.firingJSON
	}
	return g.body("firing", alerts)
}

// resolveBody resolves every alert of the group at now.
func (g *group) resolveBody(now time.Time) []byte {
	alerts := make([][]byte, len(g.alerts))
	for i, a := range g.alerts {
		alerts[i] = alertJSON(a, a.startsAt, now)
	}
	return g.body("resolved", alerts)
}

// refireBody fires every alert of the group again, as a new occurrence
// (a later startsAt), which reopens the resolved incident.
func (g *group) refireBody(now time.Time) []byte {
	alerts := make([][]byte, len(g.alerts))
	for i, a := range g.alerts {
		a.startsAt = now.UTC()
		a.firingJSON = alertJSON(a, a.startsAt, time.Time{})
		alerts[i] = a.firingJSON
	}
	return g.body("firing", alerts)
}
