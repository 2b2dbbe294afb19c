package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Dispatcher defaults.
const (
	DefaultWorkers      = 4
	DefaultLease        = 2 * time.Minute
	DefaultPollInterval = time.Second
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Minute
	// DefaultProbeInterval is how often a failing platform is tried.
	DefaultProbeInterval = 2 * time.Second
	claimBatch           = 32
	// bookkeepingTimeout bounds finishing or putting back a job, which
	// outlives the job's own context.
	bookkeepingTimeout = 10 * time.Second
	// findRootSlack widens the search for a root of unknown outcome, for
	// clock skew between the bot and the platform.
	findRootSlack = time.Minute
)

// Store is the dispatcher's side of the store: the jobs, the threads, and
// the incidents they show.
type Store interface {
	// ClaimJobs claims up to limit due, unclaimed jobs until now+lease, most
	// urgent first. Several replicas never claim the same job.
	ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]bot.OutboxJob, error)
	// ClaimNext claims the next due job of one destination: roots first
	// (only those when rootsOnly), then the most urgent, then the oldest.
	ClaimNext(ctx context.Context, destination string, now time.Time, lease time.Duration, rootsOnly bool) (bot.OutboxJob, bool, error)
	// ContinueJob releases a job whose root is posted as new work, due at
	// due, for the rest it owes.
	ContinueJob(ctx context.Context, job bot.OutboxJob, due time.Time) error
	// FinishJob removes a claimed job, unless a change folded into it while
	// it was claimed: then it only releases the claim.
	FinishJob(ctx context.Context, job bot.OutboxJob) error
	// RetryJob releases a claimed job, due again at due.
	RetryJob(ctx context.Context, job bot.OutboxJob, due time.Time, lastErr string) error
	// ExpediteJobs makes up to limit (0: all) waiting jobs of destinations
	// due now.
	ExpediteJobs(ctx context.Context, destinations []string, now time.Time, limit int) (int, error)
	Thread(ctx context.Context, incidentID int64, destination string) (bot.Thread, error)
	SaveThread(ctx context.Context, th bot.Thread, at time.Time) error
	// IncidentView reads the incident with the first alerts its root
	// lists and its newest events (see bot.IncidentPages).
	IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error)
	// EventPage reads a page of its timeline, oldest first.
	EventPage(ctx context.Context, q bot.EventQuery) ([]bot.Event, error)
	// CountEvents counts its events between two ids, by kind.
	CountEvents(ctx context.Context, incidentID, after, before int64) (bot.EventCounts, error)
	// AlertSpan says when its alerts began and ended.
	AlertSpan(ctx context.Context, incidentID int64) (bot.AlertSpan, error)
}

// Config is what the outbox dispatcher needs.
type Config struct {
	Destinations []bot.Destination
	// Chats by platform name ("slack", "discord").
	Chats map[string]bot.Chat
	// Workers bounds how many jobs are delivered at once, across all
	// destinations (each destination delivers one at a time).
	Workers      int
	Lease        time.Duration
	PollInterval time.Duration
	MinBackoff   time.Duration
	MaxBackoff   time.Duration
	// ProbeInterval: how often one job of a failing platform is retried.
	ProbeInterval time.Duration
	// Runbooks by alert name: each thread's first reply is its alert's
	// runbook, or says it has none. Nil turns runbook replies off (the
	// configuration always sets it, empty or not).
	Runbooks bot.Runbooks
	// Graph draws each new incident's alert; its picture is a later reply
	// in the thread, after the root and the runbook. Nil: no graphs.
	Graph Grapher
	Now   func() time.Time
}

// Dispatcher drains the outbox: for each job it brings one incident's thread
// at one destination up to date. A job leaves the outbox only when its
// thread shows the incident as it is; failures put it back with a delay
// (the platform's Retry-After, or exponential backoff with jitter).
type Dispatcher struct {
	store   Store
	cfg     Config
	dests   map[string]bot.Destination
	log     *zap.Logger
	metrics dispatcherMetrics
	// wakes has one channel per destination: Notify wakes every lane.
	wakes map[string]chan struct{}
	// busy bounds the jobs delivered at once to Workers.
	busy chan struct{}

	mu sync.Mutex
	// failing holds the platforms whose last call failed transiently; the
	// first success after that ends their jobs' backoff (recover).
	failing map[string]bool
}

type dispatcherMetrics struct {
	jobs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// New builds a dispatcher; its metrics go to reg (nil: none).
func New(store Store, cfg Config, log *zap.Logger, reg prometheus.Registerer) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dispatcher{store: store, cfg: cfg, log: log, dests: map[string]bot.Destination{},
		wakes: map[string]chan struct{}{}, busy: make(chan struct{}, cfg.Workers), failing: map[string]bool{}}
	for _, dest := range cfg.Destinations {
		d.dests[dest.Name] = dest
		d.wakes[dest.Name] = make(chan struct{}, 1)
	}
	d.metrics = dispatcherMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_outbox_jobs_total",
			Help: "Outbox jobs handled, by destination and outcome: done, continued (its root posted, the runbook next), rate_limited (put back for the platform's Retry-After), retry (failed, put back with backoff), dropped.",
		}, []string{"destination", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_chat_sync_latency_seconds",
			Help:    "Time from the webhook commit that enqueued a change to the chat thread showing it, by destination.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}, []string{"destination"}),
	}
	// One series per configured destination and outcome, from the start.
	for name := range d.dests {
		for _, o := range []string{"done", "continued", "rate_limited", "retry", "dropped"} {
			d.metrics.jobs.WithLabelValues(name, o)
		}
		d.metrics.latency.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(d.metrics.jobs, d.metrics.latency)
	}
	return d
}

// Notify wakes the dispatcher: new work was committed. It never blocks.
func (d *Dispatcher) Notify() {
	for _, w := range d.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Run drains the outbox until ctx ends, with one lane per destination.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.probe(ctx)
	}()
	for _, dest := range d.dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.lane(ctx, dest)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// lane delivers one destination's jobs one at a time, at the pace its
// channel takes them. It claims a job only when the channel can take the
// job's first call at once (bot.Pacer), so a job is never claimed to be
// held back and retried; meanwhile the changes that arrive fold into the
// waiting jobs. Roots go first: no reply or runbook goes out while a root
// waits (the store's ClaimNext orders them so), and when the channel's
// edits must wait, only roots are claimed.
func (d *Dispatcher) lane(ctx context.Context, dest bot.Destination) {
	pacer, _ := d.cfg.Chats[dest.Platform].(bot.Pacer)
	delay := func(k bot.CallKind) time.Duration {
		if pacer == nil {
			return 0
		}
		return pacer.Delay(dest.Channel, k)
	}
	for ctx.Err() == nil {
		if wait := delay(bot.CallRoot); wait > 0 {
			sleep(ctx, wait)
			continue
		}
		rootsOnly := delay(bot.CallEdit) > 0 || delay(bot.CallReply) > 0
		job, ok, err := d.store.ClaimNext(ctx, dest.Name, d.cfg.Now(), d.cfg.Lease, rootsOnly)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("outbox claim failed", zap.String("destination", dest.Name), zap.Error(err))
		}
		if !ok {
			poll := d.cfg.PollInterval
			if rootsOnly {
				poll = min(poll, max(delay(bot.CallEdit), delay(bot.CallReply)))
			}
			select {
			case <-ctx.Done():
			case <-d.wakes[dest.Name]:
			case <-time.After(poll):
			}
			continue
		}
		select {
		case d.busy <- struct{}{}:
		case <-ctx.Done():
			d.release(job)
			return
		}
		d.handle(ctx, job)
		<-d.busy
	}
}

// release gives a claimed job back untouched, on the way out.
func (d *Dispatcher) release(job bot.OutboxJob) {
	ctx, cancel := context.WithTimeout(context.Background(), bookkeepingTimeout)
	defer cancel()
	if err := d.store.RetryJob(ctx, job, job.DueAt, "released at shutdown"); err != nil {
		d.log.Warn("outbox: release job", zap.Int64("incident", job.IncidentID), zap.Error(err))
	}
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// RunOnce claims one batch of due jobs, handles them with up to Workers at
// a time, and returns how many it claimed once all are handled (for tests
// and tools that step the dispatcher).
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	jobs, err := d.store.ClaimJobs(ctx, d.cfg.Now(), d.cfg.Lease, claimBatch)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	for _, job := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.handle(ctx, job)
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

// handle runs one job and puts it back or removes it. The job's context is
// bounded by half the lease, so a slow platform cannot keep a job past its
// claim and let another replica take it while this one still works.
//
// Its span, outbox.job, is a child of the change that queued the job (the
// traceparent stored with it), even when another replica queued it long
// before. A job that coalesced several changes carries the last one's:
// it continues that change's trace, and the earlier changes' traces end
// at their ingest (chatops.outbox.version counts the changes folded in).
func (d *Dispatcher) handle(ctx context.Context, job bot.OutboxJob) {
	ctx, span := telemetry.StartKind(telemetry.WithTraceParent(ctx, job.TraceParent), "outbox.job", trace.SpanKindConsumer,
		attribute.Int64("chatops.incident", job.IncidentID),
		attribute.String("chatops.destination", job.Destination),
		attribute.Int("chatops.outbox.attempt", job.Attempts),
		attribute.Int64("chatops.outbox.version", job.Version))
	jctx, cancel := context.WithTimeout(ctx, d.cfg.Lease/2)
	defer cancel()
	log := telemetry.Logger(ctx, d.log.With(zap.Int64("incident", job.IncidentID), zap.String("destination", job.Destination)))
	err := d.sync(jctx, job)
	defer func() {
		if errors.Is(err, errContinue) {
			telemetry.End(span, nil) // its first part is done
			return
		}
		telemetry.End(span, err)
	}()
	d.track(ctx, job, err)
	// Bookkeeping outlives a cancelled job context: a job must not stay
	// claimed until its lease runs out because the sync was interrupted.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer bcancel()
	var (
		drop *dropError
		rl   *bot.RateLimitedError
	)
	switch {
	case errors.Is(err, errContinue):
		d.metrics.jobs.WithLabelValues(job.Destination, "continued").Inc()
		if cerr := d.store.ContinueJob(bctx, job, d.cfg.Now()); cerr != nil {
			log.Warn("outbox: continue job", zap.Error(cerr))
		}
	case errors.As(err, &rl):
		// A wait for the platform, not a failure.
		d.metrics.jobs.WithLabelValues(job.Destination, "rate_limited").Inc()
		delay := d.backoff(job, err)
		log.Debug("outbox: rate limited, will go again", zap.Duration("in", delay), zap.Error(err))
		if rerr := d.store.RetryJob(bctx, job, d.cfg.Now().Add(delay), err.Error()); rerr != nil {
			log.Warn("outbox: reschedule job", zap.Error(rerr))
		}
	case err == nil:
		d.metrics.jobs.WithLabelValues(job.Destination, "done").Inc()
		d.metrics.latency.WithLabelValues(job.Destination).Observe(d.cfg.Now().Sub(job.CreatedAt).Seconds())
		if ferr := d.store.FinishJob(bctx, job); ferr != nil {
			log.Warn("outbox: finish job", zap.Error(ferr))
		}
	case errors.As(err, &drop):
		d.metrics.jobs.WithLabelValues(job.Destination, "dropped").Inc()
		log.Warn("outbox: job cannot be delivered and is dropped", zap.Error(err))
		if ferr := d.store.FinishJob(bctx, job); ferr != nil {
			log.Warn("outbox: finish job", zap.Error(ferr))
		}
	default:
		delay := d.backoff(job, err)
		d.metrics.jobs.WithLabelValues(job.Destination, "retry").Inc()
		level := log.Info
		if errors.Is(err, bot.ErrPermanent) || job.Attempts >= 5 {
			level = log.Warn
		}
		level("outbox: sync failed, will retry", zap.Int("attempt", job.Attempts), zap.Duration("in", delay), zap.Error(err))
		if rerr := d.store.RetryJob(bctx, job, d.cfg.Now().Add(delay), err.Error()); rerr != nil {
			log.Warn("outbox: reschedule job", zap.Error(rerr))
		}
	}
}

// track notes whether a job's platform is answering. When one that failed
// answers again, the jobs that wait in backoff for it become due at once,
// so a recovered platform catches up at its rate limit rather than at the
// pace of the longest backoff.
func (d *Dispatcher) track(ctx context.Context, job bot.OutboxJob, err error) {
	dest, ok := d.dests[job.Destination]
	if !ok {
		return
	}
	var rl *bot.RateLimitedError
	switch {
	case err == nil:
	case errors.As(err, &rl), errors.Is(err, bot.ErrPermanent):
		return // says nothing about whether the platform is reachable
	default:
		d.mu.Lock()
		d.failing[dest.Platform] = true
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	wasFailing := d.failing[dest.Platform]
	delete(d.failing, dest.Platform)
	d.mu.Unlock()
	if !wasFailing {
		return
	}
	n, eerr := d.store.ExpediteJobs(context.WithoutCancel(ctx), d.destinationsOf(dest.Platform), d.cfg.Now(), 0)
	if eerr != nil {
		d.log.Warn("outbox: expedite after recovery", zap.Error(eerr))
		return
	}
	d.log.Info("outbox: platform answers again; waiting jobs are due now", zap.String("platform", dest.Platform), zap.Int("jobs", n))
	d.Notify()
}

func (d *Dispatcher) destinationsOf(platform string) []string {
	var names []string
	for _, dest := range d.dests {
		if dest.Platform == platform {
			names = append(names, dest.Name)
		}
	}
	return names
}

// probe makes one waiting job of each failing platform due every
// ProbeInterval, so the dispatcher notices a platform's return within
// that time instead of when some job's backoff happens to end, without
// sending a platform that is down more than one call per interval.
func (d *Dispatcher) probe(ctx context.Context) {
	t := time.NewTicker(d.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		var failing []string
		for p := range d.failing {
			failing = append(failing, p)
		}
		d.mu.Unlock()
		for _, p := range failing {
			if n, err := d.store.ExpediteJobs(ctx, d.destinationsOf(p), d.cfg.Now(), 1); err == nil && n > 0 {
				d.Notify()
			}
		}
	}
}

// backoff is the platform's Retry-After when it gave one, the slowest
// backoff for errors retrying cannot fix soon, and otherwise exponential
// backoff with full jitter.
func (d *Dispatcher) backoff(job bot.OutboxJob, err error) time.Duration {
	var rl *bot.RateLimitedError
	switch {
	case errors.As(err, &rl):
		return rl.After + time.Duration(rand.Int64N(int64(250*time.Millisecond)))
	case errors.Is(err, bot.ErrPermanent):
		return d.cfg.MaxBackoff
	}
	exp := d.cfg.MinBackoff << min(max(job.Attempts-1, 0), 20)
	if exp <= 0 || exp > d.cfg.MaxBackoff {
		exp = d.cfg.MaxBackoff
	}
	return exp/2 + time.Duration(rand.Int64N(int64(exp/2)+1))
}

// errContinue says a job's root is posted and the rest of its work (the
// runbook) waits its turn behind the channel's other roots.
var errContinue = errors.New("root posted; the rest follows")

// dropError marks a job that can never be delivered (its destination is no
// longer configured).
type dropError struct{ reason string }

func (e *dropError) Error() string { return e.reason }

// sync brings the thread of job's incident at job's destination up to date:
// the root the first time, then an edit when the root's rendering changed and
// one reply for the timeline events the thread has not shown yet.
func (d *Dispatcher) sync(ctx context.Context, job bot.OutboxJob) error {
	dest, ok := d.dests[job.Destination]
	if !ok {
		return &dropError{reason: fmt.Sprintf("destination %q is not configured any more", job.Destination)}
	}
	chat, ok := d.cfg.Chats[dest.Platform]
	if !ok {
		return &dropError{reason: fmt.Sprintf("destination %q: platform %s is not configured", dest.Name, dest.Platform)}
	}
	// The alerts the root lists and the newest event: a sync reads what
	// the thread shows, never the whole of a storm's incident.
	inc, err := d.store.IncidentView(ctx, job.IncidentID, maxListedAlerts, 1)
	if errors.Is(err, bot.ErrNotFound) {
		return &dropError{reason: "incident no longer exists"}
	}
	if err != nil {
		return fmt.Errorf("load incident: %w", err)
	}
	th, err := d.store.Thread(ctx, job.IncidentID, dest.Name)
	if err != nil {
		return fmt.Errorf("load thread: %w", err)
	}
	th.Platform = dest.Platform
	root := RootMessage(inc, dest)
	hash := messageHash(root)
	lastEvent := int64(0)
	if n := len(inc.Timeline); n > 0 {
		lastEvent = inc.Timeline[n-1].ID
	}

	if th.Ref.RootID == "" {
		if err := d.findRoot(ctx, chat, dest, root, &th); err != nil {
			return err
		}
	}
	if th.Ref.RootID == "" {
		now := d.cfg.Now()
		th.RootAttemptedAt = &now
		th.Ref.Channel = dest.Channel
		// Recorded before the post: if the answer is lost, the next attempt
		// looks for this root instead of posting another.
		if err := d.store.SaveThread(ctx, th, now); err != nil {
			return fmt.Errorf("record root attempt: %w", err)
		}
		ref, err := chat.PostRoot(ctx, dest.Channel, root)
		if err != nil {
			if notPosted(err) {
				// Nothing reached the channel: the next attempt posts
				// again without reading the channel's history first.
				th.RootAttemptedAt = nil
				if serr := d.store.SaveThread(ctx, th, d.cfg.Now()); serr != nil {
					telemetry.Logger(ctx, d.log).Warn("outbox: forget a root attempt that was not sent", zap.Int64("incident", job.IncidentID), zap.Error(serr))
				}
			}
			return fmt.Errorf("post root: %w", err)
		}
		// The root shows everything so far; a resolution it already shows
		// still gets its reply (how long it took, the post-mortem gist).
		shown, err := d.shownByRoot(ctx, &inc, lastEvent)
		if err != nil {
			shown = lastEvent // the thread misses the resolution's reply, not its root
			telemetry.Logger(ctx, d.log).Warn("outbox: read what a root shows", zap.Int64("incident", job.IncidentID), zap.Error(err))
		}
		th.Ref, th.RootHash, th.LastEventID = ref, hash, shown
		if err := d.store.SaveThread(ctx, th, d.cfg.Now()); err != nil {
			return fmt.Errorf("record root %s: %w", ref.RootID, err)
		}
		if th.LastEventID != lastEvent || d.cfg.Runbooks != nil && inc.Status == bot.IncidentOpen || d.graphDue(th, inc) {
			return errContinue // its first reply waits behind the channel's other roots
		}
		return nil
	}

	if th.RootHash != hash {
		if err := chat.EditRoot(ctx, th.Ref, root); err != nil {
			return fmt.Errorf("edit root: %w", err)
		}
		th.RootHash = hash
		if err := d.store.SaveThread(ctx, th, d.cfg.Now()); err != nil {
			return fmt.Errorf("record root edit: %w", err)
		}
	}
	fresh, err := d.loadChanges(ctx, &inc, th.LastEventID, lastEvent)
	if err != nil {
		return fmt.Errorf("load changes: %w", err)
	}
	var rec *record
	if fresh.resolves(&inc) {
		if rec, err = d.loadRecord(ctx, &inc); err != nil {
			return fmt.Errorf("load record: %w", err)
		}
	}
	// The thread's first reply is its runbook, while the incident is open;
	// a quiet change since the root goes in the same message, one that
	// pages someone in a message of its own after it.
	runbook := !th.RunbookPosted && d.cfg.Runbooks != nil && inc.Status == bot.IncidentOpen
	change, changed := threadReply(inc, dest, fresh, rec)
	if runbook {
		rb := RunbookMessage(inc, d.cfg.Runbooks)
		if changed && change.Mention == "" {
			rb, changed = runbookReply(rb, change), false
			th.LastEventID = lastEvent
		}
		if err := chat.Reply(ctx, th.Ref, rb); err != nil {
			return fmt.Errorf("runbook reply: %w", err)
		}
		th.RunbookPosted = true
		if err := d.store.SaveThread(ctx, th, d.cfg.Now()); err != nil {
			return fmt.Errorf("record runbook reply: %w", err)
		}
	}
	if th.LastEventID != lastEvent {
		if changed {
			if err := chat.Reply(ctx, th.Ref, change); err != nil {
				return fmt.Errorf("reply: %w", err)
			}
		}
		th.LastEventID = lastEvent
		if err := d.store.SaveThread(ctx, th, d.cfg.Now()); err != nil {
			return fmt.Errorf("record reply: %w", err)
		}
	}
	if d.graphDue(th, inc) {
		if runbook {
			return errContinue // the graph waits behind the channel's other roots
		}
		return d.postGraph(ctx, chat, inc, &th)
	}
	return nil
}

// shownByRoot is the newest event a root of inc's present state shows:
// the last one (lastEvent); for a resolved incident the one before its
// resolution, whose reply says how long it took; for an open,
// unacknowledged one reminded before its root was posted (a P0, whose
// deadline is 0, while the channel's earlier roots go out), the one
// before its newest reminder, whose reply pages the escalation level.
func (d *Dispatcher) shownByRoot(ctx context.Context, inc *bot.IncidentDetail, lastEvent int64) (int64, error) {
	reminded := inc.Status == bot.IncidentOpen && inc.AckedAt == nil && inc.Reminders > 0
	if inc.Status != bot.IncidentResolved && !reminded || lastEvent == 0 {
		return lastEvent, nil
	}
	counts, err := d.store.CountEvents(ctx, inc.ID, 0, lastEvent+1)
	if err != nil {
		return 0, err
	}
	kind := bot.EventResolved
	if reminded {
		kind = bot.EventReminder
	}
	newest := counts[kind].Newest
	if newest == 0 {
		return lastEvent, nil
	}
	before, err := d.store.CountEvents(ctx, inc.ID, 0, newest)
	if err != nil {
		return 0, err
	}
	if prev := before.Newest(); prev > 0 {
		return prev, nil
	}
	return lastEvent, nil // the resolution opened the timeline
}

// loadChanges reads the events after the one a thread shows up to
// lastEvent, as a reply needs them: the first maxReplyLines, the counts
// of all by kind, when the newest resolution happened, and the level the
// newest reminder pages. However many events a storm appended, that is a
// page and a few counts.
func (d *Dispatcher) loadChanges(ctx context.Context, inc *bot.IncidentDetail, shown, lastEvent int64) (changes, error) {
	c := changes{kinds: bot.EventCounts{}}
	if lastEvent <= shown {
		return c, nil
	}
	var err error
	if c.kinds, err = d.store.CountEvents(ctx, inc.ID, shown, lastEvent+1); err != nil {
		return c, err
	}
	c.total = c.kinds.Total()
	page, err := d.store.EventPage(ctx, bot.EventQuery{IncidentID: inc.ID, After: shown, Limit: maxReplyLines})
	if err != nil {
		return c, err
	}
	for _, e := range page {
		if e.ID <= lastEvent { // not what came after the incident was read
			c.first = append(c.first, e)
		}
	}
	if r := c.kinds[bot.EventResolved]; r.Count > 0 {
		ev, err := d.store.EventPage(ctx, bot.EventQuery{IncidentID: inc.ID, After: r.Newest - 1, Kind: bot.EventResolved, Limit: 1})
		if err != nil {
			return c, err
		}
		if len(ev) == 1 {
			c.resolvedAt = ev[0].At
		}
	}
	if r := c.kinds[bot.EventReminder]; r.Count > 0 && inc.Status == bot.IncidentOpen && inc.AckedAt == nil {
		// Its ordinal since the last reopening before it, as the escalator
		// counted when it fired it.
		before, err := d.store.CountEvents(ctx, inc.ID, 0, r.Newest)
		if err != nil {
			return c, err
		}
		since, err := d.store.CountEvents(ctx, inc.ID, before[bot.EventReopened].Newest, r.Newest+1)
		if err != nil {
			return c, err
		}
		c.level = since[bot.EventReminder].Count
	}
	return c, nil
}

// maxLinkedScan bounds the linked events read to find the outage an
// incident was part of: an incident is linked a handful of times; only an
// outage has many links, and those name no outage.
const maxLinkedScan = 100

// loadRecord has the store count what a resolution reply says of the
// incident's whole record: the alerts' span, reopenings, the first
// actions and the outage it was part of.
func (d *Dispatcher) loadRecord(ctx context.Context, inc *bot.IncidentDetail) (*record, error) {
	span, err := d.store.AlertSpan(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	counts, err := d.store.CountEvents(ctx, inc.ID, 0, 0)
	if err != nil {
		return nil, err
	}
	rec := &record{span: span, reopened: counts[bot.EventReopened].Count, actionCount: counts[bot.EventAction].Count}
	if rec.actionCount > 0 {
		if rec.actions, err = d.store.EventPage(ctx, bot.EventQuery{IncidentID: inc.ID, Kind: bot.EventAction, Limit: maxReplyActions}); err != nil {
			return nil, err
		}
	}
	if counts[bot.EventLinked].Count > 0 && inc.GroupKey != bot.OutageGroupKey {
		linked, err := d.store.EventPage(ctx, bot.EventQuery{IncidentID: inc.ID, Kind: bot.EventLinked, Limit: maxLinkedScan})
		if err != nil {
			return nil, err
		}
		for _, e := range linked {
			if rec.outage = outageOf(e); rec.outage != "" {
				break
			}
		}
	}
	return rec, nil
}

// notPosted reports whether a failed post certainly left nothing in the
// channel: it never left the bot, the platform refused it for its rate
// limit, or for good.
func notPosted(err error) bool {
	var rl *bot.RateLimitedError
	return errors.Is(err, bot.ErrNotSent) || errors.As(err, &rl) || errors.Is(err, bot.ErrPermanent)
}

// findRoot looks for the root of an earlier attempt whose outcome is
// unknown, where the platform can search. A root found this way may show an
// older state: it is edited and the thread catches up from here.
func (d *Dispatcher) findRoot(ctx context.Context, chat bot.Chat, dest bot.Destination, root bot.Message, th *bot.Thread) error {
	finder, ok := chat.(bot.RootFinder)
	if th.RootAttemptedAt == nil || !ok {
		return nil
	}
	ref, found, err := finder.FindRoot(ctx, dest.Channel, root.Marker, th.RootAttemptedAt.Add(-findRootSlack))
	if err != nil {
		return fmt.Errorf("look for the root of an earlier attempt: %w", err)
	}
	if !found {
		return nil
	}
	telemetry.Logger(ctx, d.log).Info("outbox: found the root of an earlier attempt; not posting it again",
		zap.Int64("incident", th.IncidentID), zap.String("destination", dest.Name))
	th.Ref, th.RootHash = ref, ""
	if err := d.store.SaveThread(ctx, *th, d.cfg.Now()); err != nil {
		return fmt.Errorf("record the root found: %w", err)
	}
	return nil
}

// messageHash identifies a rendering, so an unchanged root is not edited.
func messageHash(m bot.Message) string {
	b, _ := json.Marshal(m) // a Message always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
