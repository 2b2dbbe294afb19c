package prometheus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// Graph defaults.
const (
	// IncidentRange is how far back an incident's graph looks.
	IncidentRange = time.Hour
	// MinRange and MaxRange bound a range asked for in a command.
	MinRange = 5 * time.Minute
	MaxRange = 7 * 24 * time.Hour
	// downFor is how long a Prometheus that did not answer is not asked
	// again: in a storm of new incidents, each thread gets its one line
	// at once instead of each waiting out the timeout.
	downFor = 30 * time.Second
	// keepFor is how long a drawn incident graph is kept, so its other
	// destinations (Slack and Discord) and a retried post reuse it.
	keepFor     = 5 * time.Minute
	maxKept     = 64
	maxTitleLen = 80
)

// Grapher draws charts from one Prometheus.
type Grapher struct {
	client *Client
	// namespace is where services' pods run (ServiceExpr).
	namespace string
	log       *zap.Logger
	now       func() time.Time

	mu         sync.Mutex
	downUntil  time.Time
	downReason string
	kept       map[int64]keptGraph
}

type keptGraph struct {
	file bot.File
	err  error
	at   time.Time
}

// NewGrapher draws with client, services' graphs in namespace; now is
// the clock (nil: time.Now).
func NewGrapher(client *Client, namespace string, log *zap.Logger, now func() time.Time) *Grapher {
	if now == nil {
		now = time.Now
	}
	return &Grapher{client: client, namespace: namespace, log: log, now: now, kept: map[int64]keptGraph{}}
}

// Request is one chart.
type Request struct {
	Title, Expr string
	Range       time.Duration
	// End is the right edge (zero: now).
	End time.Time
	// Marker, when set, is drawn as the incident's start.
	Marker time.Time
}

// Graph draws r's expression as a PNG. Its errors are written for people
// (bot.UserError: "graph unavailable: Prometheus did not answer in 5s");
// the detail goes to the log.
func (g *Grapher) Graph(ctx context.Context, r Request) ([]byte, error) {
	expr, err := CheckExpr(r.Expr)
	if err != nil {
		return nil, bot.Tell("graph unavailable: %v", err)
	}
	rng := min(max(r.Range, MinRange), MaxRange)
	end := r.End
	if end.IsZero() {
		end = g.now()
	}
	end = end.UTC().Truncate(time.Second)
	start := end.Add(-rng)
	if reason, down := g.down(); down {
		return nil, bot.Tell("graph unavailable: %s", reason)
	}
	plotted, op := expr, (*Threshold)(nil)
	if th, ok := SplitThreshold(expr); ok {
		plotted, op = th.Expr, &th
	}
	series, err := g.client.QueryRange(ctx, plotted, start, end)
	if err != nil {
		var qe *QueryError
		if !errors.As(err, &qe) {
			qe = &QueryError{Reason: "Prometheus could not be asked", Err: err}
		}
		g.log.Warn("graph query failed", zap.String("reason", qe.Reason), zap.Error(qe.Err))
		if qe.Down {
			g.mu.Lock()
			g.downUntil, g.downReason = g.now().Add(downFor), qe.Reason
			g.mu.Unlock()
		}
		return nil, bot.Tell("graph unavailable: %s", qe.Reason)
	}
	top, more := TopSeries(series, MaxSeries)
	png, err := Render(Chart{Title: clipRunes(r.Title, maxTitleLen), Expr: expr, Series: top, More: more,
		Start: start, End: end, Marker: r.Marker, Threshold: op, Step: Step(rng)})
	switch {
	case errors.Is(err, ErrNoData):
		return nil, bot.Tell("graph unavailable: no data for %s in the last %s", clipRunes(plotted, 80), bot.HumanDuration(rng))
	case err != nil:
		g.log.Warn("graph not drawn", zap.Error(err))
		return nil, bot.Tell("graph unavailable: the chart could not be drawn")
	}
	return png, nil
}

func (g *Grapher) down() (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.downReason, g.now().Before(g.downUntil)
}

// IncidentGraph draws the expression of inc's alert (its first alert's
// generatorURL) over the hour up to now, with the incident's start
// marked: the picture of a new incident's thread. A graph drawn a moment
// ago for the same incident is reused (its other destinations, a retried
// post).
func (g *Grapher) IncidentGraph(ctx context.Context, inc bot.IncidentDetail) (bot.File, error) {
	now := g.now()
	g.mu.Lock()
	if k, ok := g.kept[inc.ID]; ok && now.Sub(k.at) < keepFor {
		g.mu.Unlock()
		return k.file, k.err
	}
	g.mu.Unlock()
	f, err := g.GraphIncident(ctx, inc, IncidentRange)
	var ue *bot.UserError
	if err == nil || errors.As(err, &ue) {
		g.mu.Lock()
		if len(g.kept) >= maxKept {
			for id, k := range g.kept {
				if now.Sub(k.at) >= keepFor || len(g.kept) >= maxKept {
					delete(g.kept, id)
				}
			}
		}
		g.kept[inc.ID] = keptGraph{file: f, err: err, at: now}
		g.mu.Unlock()
	}
	return f, err
}

// GraphIncident draws inc's alert over rng up to now.
func (g *Grapher) GraphIncident(ctx context.Context, inc bot.IncidentDetail, rng time.Duration) (bot.File, error) {
	expr, err := IncidentExpr(inc)
	if err != nil {
		return bot.File{}, bot.Tell("graph unavailable: %v", err)
	}
	title := bot.AlertName(&inc.Incident)
	if title == "" {
		title = inc.Title
	}
	png, err := g.Graph(ctx, Request{Title: title, Expr: expr, Range: rng, Marker: inc.OpenedAt})
	if err != nil {
		return bot.File{}, err
	}
	return bot.File{Name: "incident-" + strconv.FormatInt(inc.ID, 10) + "-graph.png", Content: png}, nil
}

// ServiceExpr is what a service's graph shows: the CPU its pods use, in
// cores, from the kubelet's cAdvisor metrics, per pod.
func ServiceExpr(namespace, service string) string {
	return fmt.Sprintf(`sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=%q, pod=~%q, container!=""}[5m]))`,
		namespace, regexp.QuoteMeta(service)+"-.*")
}

// GraphService draws ServiceExpr for service over rng up to now. The
// name must be a valid service name (bot.ValidService).
func (g *Grapher) GraphService(ctx context.Context, service string, rng time.Duration) (bot.File, error) {
	if !bot.ValidService(service) {
		return bot.File{}, bot.Tell("%q is not a service name", bot.Clip(service, 60))
	}
	png, err := g.Graph(ctx, Request{Title: service + " CPU by pod (cores)", Expr: ServiceExpr(g.namespace, service), Range: rng})
	if err != nil {
		return bot.File{}, err
	}
	return bot.File{Name: service + "-cpu.png", Content: png}, nil
}

// IncidentExpr is the expression of the incident's alerts: the first
// generatorURL that carries one.
func IncidentExpr(inc bot.IncidentDetail) (string, error) {
	err := ErrNoExpr
	for _, a := range inc.Alerts {
		if a.GeneratorURL == "" {
			continue
		}
		expr, e := ExprFromGeneratorURL(a.GeneratorURL)
		if e == nil {
			return expr, nil
		}
		err = e
	}
	return "", err
}
