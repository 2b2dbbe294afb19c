package escalation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bakewise/chatops/bot"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Escalator defaults.
const (
	// DefaultEscalatorTick is how often due reminders are looked for: a
	// reminder fires at most this late.
	DefaultEscalatorTick = time.Second
	// TimerLease is the lease the replica that fires timers holds.
	TimerLease = "timers"
	// DefaultTimerLeaseTTL is how long a lease outlives its last renewal:
	// a replica that dies hands the timers over within it.
	DefaultTimerLeaseTTL = 15 * time.Second
	// DefaultTimerLeaseRenew is how often the holder renews its lease.
	DefaultTimerLeaseRenew = 5 * time.Second
	// maxRemindersPerTick bounds one tick's work; a backlog (after an
	// outage) drains at this many a tick, longest overdue first.
	maxRemindersPerTick = 100
	// timerStoreTimeout bounds each store call of the escalator, so that a
	// stuck database cannot hold the lease loop.
	timerStoreTimeout = 10 * time.Second
	// scrapeTimeout bounds the store queries behind one /metrics scrape.
	scrapeTimeout = 3 * time.Second
	// ReminderGrace is how long a due reminder may wait before
	// chatops_incidents_reminder_overdue counts it: the holder fires within
	// a tick, a lease handover takes up to DefaultTimerLeaseTTL, and a
	// backlog drains maxRemindersPerTick a tick. Past a minute, nobody is
	// firing reminders.
	ReminderGrace = time.Minute
)

// Store is the escalator's side of the store: the due reminders, the
// lease, and one transaction per reminder.
type Store interface {
	InTx(ctx context.Context, fn func(bot.Tx) error) error
	// DueReminders returns up to limit ids of open, unacknowledged
	// incidents whose next reminder is at or before now, longest overdue
	// first.
	DueReminders(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// CountPastDeadline counts open, unacknowledged incidents past their
	// response deadline at now.
	CountPastDeadline(ctx context.Context, now time.Time) (int, error)
	// CountOverdueReminders counts open, unacknowledged incidents whose
	// next reminder fell due before dueBefore and has not fired.
	CountOverdueReminders(ctx context.Context, dueBefore time.Time) (int, error)
	// AcquireLease gives lease name to holder until now+ttl when it is
	// free, expired or holder's own, and reports whether holder has it;
	// ttl 0 gives holder's lease up.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// Notifier is told that a reminder queued chat work (the outbox
// dispatcher). Notify must not block.
type Notifier interface {
	Notify()
}

// Config is what the escalator needs.
type Config struct {
	Destinations []bot.Destination
	Routes       bot.Routes
	// Deadlines are only named in the reminders' text; the engine stores
	// each incident's next reminder.
	Deadlines bot.Deadlines
	// Interval is how often an incident is reminded again after its first
	// reminder (default DefaultEscalationInterval).
	Interval time.Duration
	// Tick is how often due reminders are looked for (default 1s).
	Tick time.Duration
	// Holder identifies this replica in the timer lease; it must differ
	// between replicas.
	Holder string
	// LeaseTTL and LeaseRenew: the lease lasts LeaseTTL after each renewal
	// (default 15s), renewed every LeaseRenew (default 5s).
	LeaseTTL, LeaseRenew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Outbox, when set, is notified after a reminder committed.
	Outbox Notifier
}

// Escalator fires the reminders of incidents nobody acknowledged in time.
// Deadlines live in the store, so a restart loses none; only the replica
// holding the timer lease fires them, and each reminder is claimed under
// its incident's row lock and checked again there, so even two replicas
// firing at once (a lease handed over while the old holder still runs, or
// racing clocks) never fire one reminder twice.
type Escalator struct {
	store       Store
	cfg         Config
	dests       map[string]bot.Destination
	log         *zap.Logger
	escalations *prometheus.CounterVec
	leaseHeld   prometheus.Gauge
	ticks       *prometheus.HistogramVec

	mu        sync.Mutex
	held      bool
	renewedAt time.Time
	failing   bool
}

// New builds an escalator; its metrics go to reg (nil: none).
func New(store Store, cfg Config, log *zap.Logger, reg prometheus.Registerer) *Escalator {
	if cfg.Interval <= 0 {
		cfg.Interval = bot.DefaultEscalationInterval
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultEscalatorTick
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultTimerLeaseTTL
	}
	if cfg.LeaseRenew <= 0 || cfg.LeaseRenew >= cfg.LeaseTTL {
		cfg.LeaseRenew = cfg.LeaseTTL / 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Escalator{store: store, cfg: cfg, log: log, dests: map[string]bot.Destination{}}
	for _, d := range cfg.Destinations {
		e.dests[d.Name] = d
	}
	e.escalations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatops_escalations_total",
		Help: "Reminders fired for incidents not acknowledged by their deadline, by the escalation level paged (0: the incident's destinations page nobody).",
	}, []string{"level"})
	e.leaseHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "chatops_timer_lease_held",
		Help: "1 on the replica that holds the timer lease and fires reminders.",
	})
	e.ticks = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chatops_escalation_pass_seconds",
		Help:    "Time one escalator tick took (the lease, the due reminders and firing them), by outcome (ok, error).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"outcome"})
	// Every level a destination can page, and both outcomes, show from the
	// start: an alert on them needs the series before the first event.
	maxLevel := 0
	for _, d := range cfg.Destinations {
		maxLevel = max(maxLevel, d.EscalationLevels())
	}
	for l := 0; l <= maxLevel; l++ {
		e.escalations.WithLabelValues(strconv.Itoa(l))
	}
	for _, o := range []string{"ok", "error"} {
		e.ticks.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(e.escalations, e.leaseHeld, e.ticks, &pastDeadlineCollector{
			store: store, now: cfg.Now,
			desc: prometheus.NewDesc("chatops_incidents_past_deadline",
				"Open, unacknowledged incidents past their response deadline.", nil, nil),
			overdue: prometheus.NewDesc("chatops_incidents_reminder_overdue",
				"Open, unacknowledged incidents whose due reminder (the first at the response deadline, or a repeat) has not fired within a minute of falling due: nobody is firing reminders.", nil, nil),
		})
	}
	return e
}

// Run fires due reminders every Tick while this replica holds the timer
// lease, until ctx ends; then it gives the lease up so another replica
// takes over at its next tick instead of after the lease's TTL.
func (e *Escalator) Run(ctx context.Context) error {
	if e.cfg.Holder == "" {
		return errors.New("escalator: no lease holder id")
	}
	defer e.release()
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		start := time.Now()
		_, err := e.RunOnce(ctx)
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		e.ticks.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		e.noteHealth(ctx, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// noteHealth logs the first failure of a run of them and the recovery, not
// every tick of a database outage.
func (e *Escalator) noteHealth(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	e.mu.Lock()
	was := e.failing
	e.failing = err != nil
	e.mu.Unlock()
	switch {
	case err != nil && !was:
		e.log.Warn("escalator: reminders not fired; retrying every tick", append(incidentFields(err), zap.Error(err))...)
	case err != nil:
		e.log.Debug("escalator: still failing", append(incidentFields(err), zap.Error(err))...)
	case was:
		e.log.Info("escalator: firing reminders again")
	}
}

// reminderError is one incident's reminder that did not fire.
type reminderError struct {
	incident int64
	err      error
}

func (e *reminderError) Error() string {
	return fmt.Sprintf("incident %d: reminder: %v", e.incident, e.err)
}

func (e *reminderError) Unwrap() error { return e.err }

// maxLoggedIncidents bounds the ids one log line names.
const maxLoggedIncidents = 20

// incidentFields names the incidents whose reminders err says failed: the
// incident field for one, incidents for several (at most
// maxLoggedIncidents), nothing for a failure of the whole tick.
func incidentFields(err error) []zap.Field {
	var ids []int64
	var walk func(error)
	walk = func(err error) {
		if re, ok := err.(*reminderError); ok {
			if len(ids) < maxLoggedIncidents {
				ids = append(ids, re.incident)
			}
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if u := errors.Unwrap(err); u != nil {
			walk(u)
		}
	}
	walk(err)
	switch len(ids) {
	case 0:
		return nil
	case 1:
		return []zap.Field{zap.Int64("incident", ids[0])}
	}
	return []zap.Field{zap.Int64s("incidents", ids)}
}

// RunOnce is one tick: it takes or renews the timer lease when due, and
// fires what is due if this replica holds it. It returns how many reminders
// it fired.
func (e *Escalator) RunOnce(ctx context.Context) (int, error) {
	held, err := e.lease(ctx, e.cfg.Now().UTC())
	if err != nil || !held {
		return 0, err
	}
	return e.FireDue(ctx)
}

// lease reports whether this replica holds the timer lease, renewing it
// every LeaseRenew; a replica without it asks every tick, so it takes over
// within a tick of the lease expiring.
func (e *Escalator) lease(ctx context.Context, now time.Time) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held && now.Sub(e.renewedAt) < e.cfg.LeaseRenew && !now.Before(e.renewedAt) {
		return true, nil
	}
	lctx, cancel := context.WithTimeout(ctx, timerStoreTimeout)
	defer cancel()
	ok, err := e.store.AcquireLease(lctx, TimerLease, e.cfg.Holder, now, e.cfg.LeaseTTL)
	if err != nil {
		// Unsure whether it is still ours: stop firing rather than risk
		// firing beside a new holder (harmless, but not the promise).
		err = fmt.Errorf("timer lease: %w", err)
		ok = false
	}
	if ok != e.held {
		if ok {
			e.log.Info("escalator: took the timer lease; this replica fires reminders", zap.String("holder", e.cfg.Holder))
		} else {
			e.log.Info("escalator: lost the timer lease; another replica fires reminders", zap.String("holder", e.cfg.Holder))
		}
	}
	e.held = ok
	if ok {
		e.renewedAt = now
		e.leaseHeld.Set(1)
	} else {
		e.leaseHeld.Set(0)
	}
	return ok, err
}

// release gives the lease up on the way out.
func (e *Escalator) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timerStoreTimeout)
	defer cancel()
	if _, err := e.store.AcquireLease(ctx, TimerLease, e.cfg.Holder, e.cfg.Now().UTC(), 0); err != nil {
		e.log.Warn("escalator: timer lease not given up; it expires on its own", zap.Error(err))
	}
	e.held = false
	e.leaseHeld.Set(0)
}

// FireDue fires every due reminder (up to one batch) whether or not this
// replica holds the lease; RunOnce is the leased way in. It returns how many
// fired; a failed one does not stop the others.
func (e *Escalator) FireDue(ctx context.Context) (int, error) {
	now := e.cfg.Now().UTC()
	qctx, cancel := context.WithTimeout(ctx, timerStoreTimeout)
	ids, err := e.store.DueReminders(qctx, now, maxRemindersPerTick)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("due reminders: %w", err)
	}
	fired := 0
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		ok, err := e.fire(ctx, id, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			fired++
		}
	}
	if fired > 0 && e.cfg.Outbox != nil {
		e.cfg.Outbox.Notify()
	}
	return fired, errors.Join(errs...)
}

// fire claims incident id's due reminder and fires it, in one transaction:
// the row lock and the checks under it make a reminder that was
// acknowledged, resolved or fired by another replica since it was listed a
// no-op, so no reminder is ever doubled.
func (e *Escalator) fire(ctx context.Context, id int64, now time.Time) (bool, error) {
	tctx, cancel := context.WithTimeout(ctx, timerStoreTimeout)
	defer cancel()
	var (
		inc   bot.Incident
		level int
		fired bool
	)
	err := e.store.InTx(tctx, func(tx bot.Tx) error {
		cur, err := tx.LockIncident(tctx, id)
		if errors.Is(err, bot.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Status != bot.IncidentOpen || cur.AckedAt != nil || cur.NextReminderAt == nil || cur.NextReminderAt.After(now) {
			return nil
		}
		inc = *cur
		n := inc.Reminders + 1
		dests := e.cfg.Routes.Destinations(&inc)
		level = min(n, e.levels(&inc, dests))
		ev := bot.Event{At: now, Kind: bot.EventReminder, Detail: e.reminderDetail(&inc, n, level, now)}
		next := now.Add(e.cfg.Interval)
		inc.Reminders, inc.NextReminderAt, inc.UpdatedAt = n, &next, now
		if err := tx.UpdateIncident(tctx, &inc); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		if err := tx.AppendEvents(tctx, id, []bot.Event{ev}); err != nil {
			return fmt.Errorf("append reminder: %w", err)
		}
		for _, dest := range dests {
			if err := tx.Enqueue(tctx, bot.OutboxJob{IncidentID: id, Destination: dest, Priority: inc.Severity, DueAt: now}); err != nil {
				return fmt.Errorf("enqueue %s: %w", dest, err)
			}
		}
		fired = true
		return nil
	})
	if err != nil {
		return false, &reminderError{incident: id, err: err}
	}
	if fired {
		e.escalations.WithLabelValues(strconv.Itoa(level)).Inc()
		e.log.Info("incident not acknowledged in time: reminder fired",
			zap.Int64("incident", id), zap.Stringer("severity", inc.Severity),
			zap.Int("reminder", inc.Reminders), zap.Int("escalation_level", level))
	}
	return fired, nil
}

// levels is the most escalation levels among the incident's destinations
// that page for its severity; 0 when none does.
func (e *Escalator) levels(inc *bot.Incident, dests []string) int {
	n := 0
	for _, name := range dests {
		if d, ok := e.dests[name]; ok && d.MentionsFor(inc.Severity) {
			n = max(n, d.EscalationLevels())
		}
	}
	return n
}

// reminderDetail says why the thread is reminded and whom it pages:
// "not acknowledged 15m after opening (P1 deadline 15m): escalating to
// level 2".
func (e *Escalator) reminderDetail(inc *bot.Incident, n, level int, now time.Time) string {
	deadline := e.cfg.Deadlines.For(inc.Severity)
	why := fmt.Sprintf("%s deadline %s", inc.Severity, shortDuration(deadline))
	if deadline == 0 {
		why = inc.Severity.String() + " pages at once"
	}
	head := fmt.Sprintf("not acknowledged %s after opening (%s)", shortDuration(now.Sub(inc.OpenedAt)), why)
	switch {
	case level == 0:
		return fmt.Sprintf("%s: reminder %d", head, n)
	case level < n:
		return fmt.Sprintf("%s: paging level %d again (reminder %d)", head, level, n)
	}
	return fmt.Sprintf("%s: escalating to level %d", head, level)
}

// shortDuration prints 15m, 4h or 1h30m rather than 15m0s or 4h0m0s.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := d.Truncate(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// pastDeadlineCollector exports the number of open, unacknowledged
// incidents past their response deadline, and of those whose due reminder
// has not fired, read from the store at scrape time: every replica reports
// the same true figures, whichever of them holds the timers, and nothing
// goes stale when the holder dies.
type pastDeadlineCollector struct {
	store         Store
	now           func() time.Time
	desc, overdue *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *pastDeadlineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.overdue
}

// Collect implements prometheus.Collector. A store that does not answer
// leaves the series out (chatops_store_scrape_success says why).
func (c *pastDeadlineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := c.now()
	if n, err := c.store.CountPastDeadline(ctx, now); err == nil {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
	}
	if n, err := c.store.CountOverdueReminders(ctx, now.Add(-ReminderGrace)); err == nil {
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(n))
	}
}
