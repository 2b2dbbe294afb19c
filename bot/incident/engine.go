package incident

import (
	"context"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// DefaultReopenWindow is how long after resolving an incident the same group
// firing again reopens it instead of opening a new one (flap control).
const DefaultReopenWindow = 10 * time.Minute

// Store is what the engine needs of the store: one transaction at a time.
// The store's transactions also implement bot.CorrelationTx, which the
// outage correlation asks for.
type Store interface {
	InTx(ctx context.Context, fn func(bot.Tx) error) error
}

// Opener is a store's optional way in for a group's first notification: it
// writes the new incident only if the group has none, in one round trip
// (bot.Store.OpenIncident).
type Opener interface {
	OpenIncident(ctx context.Context, w bot.IncidentWrite) (id int64, ok bool, err error)
}

// knownGroups bounds the groups the engine remembers having seen: their
// notifications go straight to the transactional path. 8,192 keys cost
// about a megabyte.
const knownGroups = 8192

// Notifier is told that a commit queued chat work (the outbox
// dispatcher). Notify must not block.
type Notifier interface {
	Notify()
}

// Config is what the incident engine needs besides its store.
type Config struct {
	Classifier   bot.Classifier
	Routes       bot.Routes
	ReopenWindow time.Duration
	// Deadlines are the response deadlines by severity (nil:
	// DefaultDeadlines); the engine stores each incident's next reminder.
	Deadlines bot.Deadlines
	// Correlation opens one P0 outage incident when critical alerts hit
	// several services at once (zero: off).
	Correlation CorrelationConfig
	// Now is the clock; nil means time.Now. Tests pass a controllable one.
	Now func() time.Time
	// Outbox, when set, is notified after a commit that queued chat work.
	Outbox Notifier
}

// Engine turns alert groups into incidents, one transaction per notification.
type Engine struct {
	store   Store
	cfg     Config
	log     *zap.Logger
	metrics engineMetrics
	// corr carries committed notifications' news to the background
	// correlation (RunCorrelation).
	corr *correlationSignals
	// known holds the groups this engine has stored a notification of
	// lately. Any other group's notification first tries the Opener: a
	// group seen for the first time (most notifications in a storm of new
	// groups) costs one round trip; a known group, or one the store turns
	// out to know, takes the transaction.
	known *lru.Cache[string, struct{}]
}

type engineMetrics struct {
	alerts    *prometheus.CounterVec
	incidents *prometheus.CounterVec
	lifecycle lifecycleMetrics
	// passes times the outage correlation's passes by kind (signalled or
	// full) and outcome.
	passes *prometheus.HistogramVec
}

// New builds an engine. Its metrics go to reg (nil: not registered).
func New(store Store, cfg Config, log *zap.Logger, reg prometheus.Registerer) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReopenWindow <= 0 {
		cfg.ReopenWindow = DefaultReopenWindow
	}
	m := engineMetrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_alerts_processed_total",
			Help: "Alerts received in notifications, by what they did: changed (a new alert or a status change), updated (details only) or unchanged (a duplicate or stale copy).",
		}, []string{"result"}),
		incidents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_incident_transitions_total",
			Help: "Incident lifecycle transitions: opened, resolved, reopened, severity_changed, acknowledged.",
		}, []string{"transition"}),
		passes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_correlation_pass_seconds",
			Help:    "Time one outage correlation pass took, by kind (signalled: after a critical notification or a resolution; full: at start and every 30 s) and outcome (ok, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"kind", "outcome"}),
	}
	// Every label value exported from the start: an alert or a panel on a
	// rate sees zeros rather than a missing series.
	for _, r := range []string{"changed", "updated", "unchanged"} {
		m.alerts.WithLabelValues(r)
	}
	for _, k := range []bot.EventKind{bot.EventOpened, bot.EventResolved, bot.EventReopened, bot.EventSeverityChanged, bot.EventAcknowledged} {
		m.incidents.WithLabelValues(string(k))
	}
	if reg != nil {
		reg.MustRegister(m.alerts, m.incidents, m.passes)
	}
	m.lifecycle = newLifecycleMetrics(reg)
	known, _ := lru.New[string, struct{}](knownGroups) // only a size below 1 fails
	return &Engine{store: store, cfg: cfg, log: log, metrics: m, corr: newCorrelationSignals(), known: known}
}

// Ingest records one alert group durably. It returns only after the
// transaction committed; an error means nothing of g was stored and the
// sender should retry.
//
// Its span, incident.ingest, is the parent of the outbox jobs the
// transaction queues: each job stores the span's traceparent.
func (e *Engine) Ingest(ctx context.Context, g bot.AlertGroup) (res bot.IngestResult, err error) {
	ctx, span := telemetry.Start(ctx, "incident.ingest", attribute.Int("chatops.alerts", len(g.Alerts)))
	defer func() {
		if err == nil {
			span.SetAttributes(attribute.Int64("chatops.incident", res.IncidentID),
				attribute.Bool("chatops.incident.created", res.Created),
				attribute.Int("chatops.outbox.jobs", res.Enqueued))
		}
		telemetry.End(span, err)
	}()
	return e.ingest(ctx, g)
}

// storedTimePrecision is the finest time the stores keep: PostgreSQL's
// timestamptz holds microseconds, while Alertmanager writes nanoseconds.
const storedTimePrecision = time.Microsecond

func (e *Engine) ingest(ctx context.Context, g bot.AlertGroup) (bot.IngestResult, error) {
	g.Alerts = append([]bot.Alert(nil), g.Alerts...) // classified below; the caller's slice stays as it was
	for i := range g.Alerts {
		a := &g.Alerts[i]
		a.Severity = e.cfg.Classifier.Classify(a.Labels)
		// Compared with what the store read back, at the store's precision:
		// otherwise a nanosecond startsAt is "later" than its stored self
		// at every notification.
		a.StartsAt, a.EndsAt = a.StartsAt.Truncate(storedTimePrecision), a.EndsAt.Truncate(storedTimePrecision)
	}
	now := e.cfg.Now().UTC()
	key := g.Receiver + "\x00" + g.GroupKey
	var res bot.IngestResult
	var ch change
	opened, err := e.open(ctx, key, g, now, &ch, &res)
	if err != nil {
		return bot.IngestResult{}, err
	}
	if !opened {
		err = e.store.InTx(ctx, func(tx bot.Tx) error {
			// The group's lock is taken only when it is needed: the incident's
			// row lock already serialises the writers of an existing incident,
			// and two notifications that open one at once are told apart by
			// the store (ErrConflict). An incident that opens already resolved
			// has no such guard, so it is opened under the lock.
			for locked := false; ; locked = true {
				if locked {
					if err := tx.LockGroup(ctx, g.Receiver, g.GroupKey); err != nil {
						return fmt.Errorf("lock group: %w", err)
					}
				}
				latest, err := e.read(ctx, tx, g)
				if err != nil {
					return err
				}
				ch = reconcile(latest.incident, latest.alerts, latest.counts, g, now)
				if cur := latest.incident; cur != nil && cur.Status == bot.IncidentResolved && ch.incident.Status == bot.IncidentOpen &&
					cur.ResolvedAt != nil && now.Sub(*cur.ResolvedAt) > e.cfg.ReopenWindow {
					// Too long since it resolved: this is new trouble, with a thread of its own.
					ch = reconcile(nil, nil, bot.AlertCounts{}, g, now)
				}
				if ch.isNew && ch.incident.Status != bot.IncidentOpen && !locked {
					continue
				}
				ch.schedule(latest.incident, e.cfg.Deadlines)
				res, err = e.apply(ctx, tx, &ch)
				if errors.Is(err, bot.ErrConflict) && !locked {
					continue // another notification opened it first: read what it wrote
				}
				return err
			}
		})
	}
	if err != nil {
		return bot.IngestResult{}, err
	}
	e.known.Add(key, struct{}{})
	e.observe(ctx, ch)
	if res.Enqueued > 0 {
		e.notify()
	}
	e.afterIngest(g, ch)
	return res, nil
}

// Preview is the incident that groups, applied in order to one incident,
// would leave, computed without a store: for rendering previews and golden
// tests. Alerts are classified with c; events carry no ids. Each group is
// applied at the time it describes (its alerts' latest startsAt or endsAt),
// so the result does not depend on the clock.
func Preview(c bot.Classifier, groups ...bot.AlertGroup) bot.IncidentDetail {
	var (
		cur    *bot.Incident
		stored []bot.Alert
		d      bot.IncidentDetail
	)
	for _, g := range groups {
		g.Alerts = append([]bot.Alert(nil), g.Alerts...)
		for i := range g.Alerts {
			g.Alerts[i].Severity = c.Classify(g.Alerts[i].Labels)
		}
		var counts bot.AlertCounts
		for _, a := range stored {
			counts.Add(a, 1)
		}
		var now time.Time
		for _, a := range g.Alerts {
			now = latest(now, a.StartsAt, a.EndsAt)
		}
		ch := reconcile(cur, stored, counts, g, now)
		for _, up := range ch.upserts {
			replaced := false
			for i := range stored {
				if stored[i].Fingerprint == up.Fingerprint {
					stored[i], replaced = up, true
				}
			}
			if !replaced {
				stored = append(stored, up)
			}
		}
		ch.incident.ID = 1
		cur = &ch.incident
		d.Timeline = append(d.Timeline, ch.events...)
	}
	if cur != nil {
		d.Incident = *cur
	}
	d.Alerts = stored
	return d
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// write is what storing ch takes: the incident, its alerts and events,
// and a job per destination when anything happened.
func (e *Engine) write(ch *change) bot.IncidentWrite {
	w := bot.IncidentWrite{Incident: &ch.incident, Update: ch.dirty, Alerts: ch.upserts, At: ch.at, Events: ch.events}
	for _, ev := range ch.events {
		w.StatusChanged = w.StatusChanged || ev.Kind == bot.EventResolved || ev.Kind == bot.EventReopened
	}
	if len(ch.events) > 0 {
		w.Destinations = e.cfg.Routes.Destinations(&ch.incident)
	}
	return w
}

func (e *Engine) apply(ctx context.Context, tx bot.Tx, ch *change) (bot.IngestResult, error) {
	inc := &ch.incident
	w := e.write(ch)
	res := bot.IngestResult{IncidentID: inc.ID, Created: ch.isNew, Events: len(ch.events), Enqueued: len(w.Destinations)}
	if !ch.isNew && !ch.dirty && len(w.Alerts) == 0 && len(w.Events) == 0 {
		return res, nil // a duplicate: nothing to write
	}
	id, err := tx.WriteIncident(ctx, w)
	switch {
	case errors.Is(err, bot.ErrConflict):
		return bot.IngestResult{}, err
	case err != nil && ch.isNew:
		return bot.IngestResult{}, fmt.Errorf("create incident: %w", err)
	case err != nil:
		return bot.IngestResult{}, fmt.Errorf("incident %d: write: %w", inc.ID, err)
	}
	inc.ID, res.IncidentID = id, id
	return res, nil
}

// open tries to store g as its group's first incident, in one round trip,
// when the store can and the group is not known to this engine. It reports
// whether it did; when the group turns out to have an incident, nothing
// was written and the caller takes the transactional path.
func (e *Engine) open(ctx context.Context, key string, g bot.AlertGroup, now time.Time, ch *change, res *bot.IngestResult) (bool, error) {
	o, ok := e.store.(Opener)
	if !ok || e.known.Contains(key) {
		return false, nil
	}
	*ch = reconcile(nil, nil, bot.AlertCounts{}, g, now)
	if ch.incident.Status != bot.IncidentOpen {
		return false, nil // opened already resolved: under the group's lock
	}
	ch.schedule(nil, e.cfg.Deadlines)
	w := e.write(ch)
	id, ok, err := o.OpenIncident(ctx, w)
	if err != nil {
		return false, fmt.Errorf("open incident: %w", err)
	}
	if !ok {
		return false, nil
	}
	ch.incident.ID = id
	*res = bot.IngestResult{IncidentID: id, Created: true, Events: len(ch.events), Enqueued: len(w.Destinations)}
	return true, nil
}

// stored is what a notification's group already has: its newest incident
// (nil: none), that incident's stored alerts among the notification's, and
// the counts of all its alerts.
type stored struct {
	incident *bot.Incident
	alerts   []bot.Alert
	counts   bot.AlertCounts
}

// read loads what g's group already has, locking its newest incident's row.
func (e *Engine) read(ctx context.Context, tx bot.Tx, g bot.AlertGroup) (stored, error) {
	var (
		st  stored
		err error
	)
	if st.incident, err = tx.LatestIncident(ctx, g.Receiver, g.GroupKey); err != nil {
		return st, fmt.Errorf("latest incident: %w", err)
	}
	if st.incident == nil {
		return st, nil
	}
	fps := make([]string, len(g.Alerts))
	for i, a := range g.Alerts {
		fps[i] = a.Fingerprint
	}
	if st.alerts, err = tx.Alerts(ctx, st.incident.ID, fps); err != nil {
		return st, fmt.Errorf("incident %d: alerts: %w", st.incident.ID, err)
	}
	if st.counts, err = tx.AlertCounts(ctx, st.incident.ID); err != nil {
		return st, fmt.Errorf("incident %d: alert counts: %w", st.incident.ID, err)
	}
	return st, nil
}

func (e *Engine) observe(ctx context.Context, ch change) {
	for _, ev := range ch.events {
		switch ev.Kind {
		case bot.EventOpened, bot.EventResolved, bot.EventReopened, bot.EventSeverityChanged:
			e.metrics.incidents.WithLabelValues(string(ev.Kind)).Inc()
		}
		e.metrics.lifecycle.observe(&ch.incident, ev.Kind)
	}
	e.metrics.alerts.WithLabelValues("changed").Add(float64(ch.alertsChanged))
	e.metrics.alerts.WithLabelValues("updated").Add(float64(ch.alertsUpdated))
	e.metrics.alerts.WithLabelValues("unchanged").Add(float64(ch.alertsUnchanged))
	if len(ch.events) > 0 {
		telemetry.Logger(ctx, e.log).Info("incident changed",
			zap.Int64("incident", ch.incident.ID),
			zap.String("title", ch.incident.Title),
			zap.Stringer("severity", ch.incident.Severity),
			zap.String("status", string(ch.incident.Status)),
			zap.Int("events", len(ch.events)))
	}
}

// notify tells the outbox that chat work was committed.
func (e *Engine) notify() {
	if e.cfg.Outbox != nil {
		e.cfg.Outbox.Notify()
	}
}
