package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bakewise/chatops/bot"

	"go.uber.org/zap"
)

// Correlation defaults: the operations guide's "complete outage" is several
// services failing at once, not one service failing several ways.
const (
	DefaultCorrelationMinServices = 3
	DefaultCorrelationWindow      = 5 * time.Minute
)

// The correlation runs in the background, never on a webhook's path: a
// committed notification only signals it. Bounds of the loop and of one
// pass:
const (
	// correlationGap is the least time between two signalled passes: a
	// storm of critical notifications costs one pass per gap, not one per
	// webhook.
	correlationGap = 250 * time.Millisecond
	// correlationSafetyInterval runs a full pass with no signal, so that
	// what a lost signal (a crash between a commit and its pass), another
	// replica or the bounded look left undone is done within it.
	correlationSafetyInterval = 30 * time.Second
	// correlationTimeout bounds one pass, its lock wait included.
	correlationTimeout = 5 * time.Second
	// maxCorrelationAlerts bounds the critical alerts a pass reads to name
	// the failing services and, with an outage open, to look for
	// incidents to link (newest first; a real outage shows its services
	// long before this many).
	maxCorrelationAlerts = 2000
	// maxOutageSummary bounds the outage's summary, which lists the
	// failing services.
	maxOutageSummary = 800
	// maxLinksPerPass bounds the incidents one pass links, and
	// maxCountsPerPass the changed links it counts. Each incident stays
	// locked until the pass commits, and a webhook for it waits that long;
	// a pass that reaches a bound asks for another.
	maxLinksPerPass  = 100
	maxCountsPerPass = 200
)

// CorrelationConfig says when critical alerts on several services make one
// P0 "complete outage" incident. Zero means off: the configuration turns it
// on by default.
type CorrelationConfig struct {
	Enabled bool
	// MinServices distinct services (the alerts' service label) with
	// firing P0/P1 alerts that started within Window open the outage.
	MinServices int
	Window      time.Duration
}

func (c CorrelationConfig) withDefaults() CorrelationConfig {
	if c.MinServices <= 0 {
		c.MinServices = DefaultCorrelationMinServices
	}
	if c.Window <= 0 {
		c.Window = DefaultCorrelationWindow
	}
	return c
}

var errNoCorrelation = errors.New("the store cannot correlate incidents")

// correlationSignals wake the background pass. The wake-up coalesces:
// any number of signals before a pass make one pass.
type correlationSignals struct {
	wake chan struct{}
	// full: the next pass must not trust the bounded look (a pass left
	// incidents to link, or a full pass failed).
	full atomic.Bool
}

func newCorrelationSignals() *correlationSignals {
	return &correlationSignals{wake: make(chan struct{}, 1)}
}

// signal never blocks: a wake-up already pending covers this one.
func (c *correlationSignals) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// afterIngest tells the background correlation about a committed
// notification: critical firing alerts may make (or join) an outage, and
// a resolved incident may end one. It never blocks and never fails the
// notification: the correlation's cost is kept off the webhook's path.
func (e *Engine) afterIngest(g bot.AlertGroup, ch change) {
	if !e.cfg.Correlation.Enabled || (g.Receiver == bot.OutageReceiver && g.GroupKey == bot.OutageGroupKey) {
		return
	}
	critical := false
	for _, a := range g.Alerts {
		critical = critical || (a.Status == bot.AlertFiring && a.Severity <= bot.P1)
	}
	resolved := false
	for _, ev := range ch.events {
		resolved = resolved || ev.Kind == bot.EventResolved
	}
	if critical || (resolved && ch.incident.Status == bot.IncidentResolved) {
		e.corr.signal()
	}
}

// afterResolve tells the background correlation that an incident resolved:
// it may have been an outage's last open part. The pass finds it from the
// outage's counts, and runs later under its own context.
func (e *Engine) afterResolve(context.Context, int64) {
	if !e.cfg.Correlation.Enabled {
		return
	}
	e.corr.signal()
}

// RunCorrelation runs correlation passes until ctx ends: a full one at
// once (for what committed before a restart), then one at most every
// correlationGap while committed notifications signal, and a full one
// every correlationSafetyInterval regardless. A failed pass is logged and
// the next one tries again. With the correlation off it returns at once.
func (e *Engine) RunCorrelation(ctx context.Context) error {
	if !e.cfg.Correlation.Enabled {
		return nil
	}
	safety := time.NewTicker(correlationSafetyInterval)
	defer safety.Stop()
	full := true
	for {
		pctx, cancel := context.WithTimeout(ctx, correlationTimeout)
		start := time.Now()
		err := e.correlate(pctx, full)
		cancel()
		kind, outcome := "signalled", "ok"
		if full {
			kind = "full"
		}
		if err != nil {
			outcome = "error"
		}
		e.metrics.passes.WithLabelValues(kind, outcome).Observe(time.Since(start).Seconds())
		if err != nil && ctx.Err() == nil {
			e.log.Warn("correlation pass failed; the next pass tries again", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(correlationGap):
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.corr.wake:
			full = false
		case <-safety.C:
			full = true
		}
	}
}

// passResult is what a pass did, for the metrics, logs and wake-ups after
// its commit.
type passResult struct {
	outage      bot.Incident
	transitions []bot.EventKind
	linked      int
	enqueued    bool
	// more: the pass linked as many incidents as it may; others may wait.
	more bool
}

// Correlate runs one correlation pass, in one transaction: it opens the
// outage incident when critical alerts touch enough services within the
// window, links to the open outage every critical incident that joins
// while it lasts, and resolves it once none of them is open. It first
// looks without a lock or a write; only when there is something to do
// does it take the outage's group lock, look again and act, so passes on
// several replicas at once open exactly one outage. It is the pass the
// background loop runs when signalled; tests and tools may call it.
func (e *Engine) Correlate(ctx context.Context) error {
	return e.correlate(ctx, false)
}

// correlate is one pass; full skips the bounded look when an outage is
// open (the loop's first pass and its safety passes): it links whatever
// critical incident the look, reading only the newest alerts, would miss.
func (e *Engine) correlate(ctx context.Context, full bool) error {
	if !e.cfg.Correlation.Enabled {
		return nil
	}
	cfg := e.cfg.Correlation.withDefaults()
	now := e.cfg.Now().UTC()
	full = e.corr.full.Swap(false) || full
	var res passResult
	err := e.store.InTx(ctx, func(tx bot.Tx) error {
		res = passResult{}
		ct, ok := tx.(bot.CorrelationTx)
		if !ok {
			return errNoCorrelation
		}
		work, err := e.outageWork(ctx, ct, cfg, now, full)
		if err != nil || !work {
			return err
		}
		if err := tx.LockGroup(ctx, bot.OutageReceiver, bot.OutageGroupKey); err != nil {
			return fmt.Errorf("lock the outage: %w", err)
		}
		res, err = e.correlateLocked(ctx, ct, cfg, now, full)
		return err
	})
	if err != nil {
		// Not signalled: a store in trouble is not hammered every gap. The
		// next signal or safety pass does what this one could not.
		if full {
			e.corr.full.Store(true)
		}
		return err
	}
	for _, k := range res.transitions {
		e.metrics.incidents.WithLabelValues(string(k)).Inc()
		switch k {
		case bot.EventOpened, bot.EventReopened:
			e.log.Warn("complete outage", zap.Int64("incident", res.outage.ID), zap.String("title", res.outage.Title),
				zap.Int("linked", res.linked))
		case bot.EventResolved:
			e.metrics.lifecycle.observe(&res.outage, bot.EventResolved)
			e.log.Info("complete outage resolved", zap.Int64("incident", res.outage.ID))
		}
	}
	if res.more {
		e.log.Info("correlation: more incidents to link than one pass takes; the next pass links the rest",
			zap.Int64("outage", res.outage.ID))
		if full {
			e.corr.full.Store(true) // the rest may be older than the newest alerts
		}
		e.corr.signal()
	}
	if res.enqueued {
		e.notify()
	}
	return nil
}

// outageWork looks, without a lock or a write, whether a pass has anything
// to do: with no outage open, whether enough services fail; with one open
// (unless locking anyway), whether a link is marked changed (a linked
// incident resolved or reopened, or was just linked), or the newest critical
// alerts show an incident not linked yet or a service not in its title.
// Reading only the newest alerts keeps the look cheap in a storm; the full
// passes catch the rest.
func (e *Engine) outageWork(ctx context.Context, ct bot.CorrelationTx, cfg CorrelationConfig, now time.Time, lock bool) (bool, error) {
	latest, err := ct.LatestIncident(ctx, bot.OutageReceiver, bot.OutageGroupKey)
	if err != nil {
		return false, fmt.Errorf("latest outage: %w", err)
	}
	if latest == nil || latest.Status != bot.IncidentOpen {
		recent, err := ct.RecentCritical(ctx, 0, outageSince(latest, now, cfg.Window), maxCorrelationAlerts)
		if err != nil {
			return false, fmt.Errorf("critical alerts: %w", err)
		}
		return len(recent.Services) >= cfg.MinServices, nil
	}
	if lock {
		return true, nil
	}
	changed, err := ct.ChangedLinks(ctx, latest.ID, 1)
	if err != nil {
		return false, fmt.Errorf("outage %d: changed links: %w", latest.ID, err)
	}
	if len(changed) > 0 {
		return true, nil
	}
	recent, err := ct.RecentCritical(ctx, latest.ID, latest.OpenedAt.Add(-cfg.Window), maxCorrelationAlerts)
	if err != nil {
		return false, fmt.Errorf("outage %d: critical alerts: %w", latest.ID, err)
	}
	if recent.Unlinked {
		return true, nil
	}
	known := outageServices(latest)
	for _, s := range recent.Services {
		if !known[s] {
			return true, nil
		}
	}
	return false, nil
}

// outageSince is where a pass with no outage open starts counting: the
// window before now, and never before the last outage resolved, so that an
// outage someone resolved by hand is not opened again by the very alerts
// it was made of.
func outageSince(latest *bot.Incident, now time.Time, window time.Duration) time.Time {
	since := now.Add(-window)
	if latest != nil && latest.ResolvedAt != nil && latest.ResolvedAt.After(since) {
		since = *latest.ResolvedAt
	}
	return since
}

// correlateLocked is the pass under the outage's group lock: it looks
// again (another replica may have acted meanwhile), then opens, reopens,
// extends or resolves the outage. A full pass, or one that opens the
// outage, links from every critical alert since the cut-off; the others
// only from the newest, so that a pass in a storm costs what is new.
func (e *Engine) correlateLocked(ctx context.Context, ct bot.CorrelationTx, cfg CorrelationConfig, now time.Time, full bool) (passResult, error) {
	var res passResult
	latest, err := ct.LatestIncident(ctx, bot.OutageReceiver, bot.OutageGroupKey)
	if err != nil {
		return res, fmt.Errorf("latest outage: %w", err)
	}
	if latest != nil {
		// The row too: acks, reminders and hands write it under its row
		// lock, not the group's, and the pass writes it back whole.
		if latest, err = ct.LockIncident(ctx, latest.ID); err != nil {
			return res, fmt.Errorf("lock the outage: %w", err)
		}
	}
	open := latest != nil && latest.Status == bot.IncidentOpen
	since := outageSince(latest, now, cfg.Window)
	if open {
		since = latest.OpenedAt.Add(-cfg.Window) // everyone who joined since it began
	}
	recent, err := ct.RecentCritical(ctx, 0, since, maxCorrelationAlerts)
	if err != nil {
		return res, fmt.Errorf("critical alerts: %w", err)
	}
	services := recent.Services
	var (
		outage bot.Incident
		prev   *bot.Incident
	)
	switch {
	case open:
		outage, prev = *latest, latest
	case len(services) < cfg.MinServices:
		return res, nil
	case latest != nil && latest.ResolvedAt != nil && now.Sub(*latest.ResolvedAt) <= e.cfg.ReopenWindow:
		// Flap control, as for any group: the same outage again.
		outage, prev = *latest, latest
		outage.Status, outage.ResolvedAt, outage.AckedAt, outage.AckedBy = bot.IncidentOpen, nil, nil, ""
		outage.Reminders = 0
	default:
		outage = bot.Incident{
			Receiver: bot.OutageReceiver, GroupKey: bot.OutageGroupKey, Status: bot.IncidentOpen, Severity: bot.P0,
			GroupLabels:       map[string]string{"alertname": bot.OutageAlertName},
			CommonLabels:      map[string]string{"alertname": bot.OutageAlertName},
			CommonAnnotations: map[string]string{},
			OpenedAt:          now, UpdatedAt: now,
		}
	}
	var events []bot.Event
	grew := describeOutage(&outage, services, cfg.Window)
	switch {
	case prev == nil:
		outage.NextReminderAt = NextReminder(nil, &outage, e.cfg.Deadlines, now)
		id, err := ct.CreateIncident(ctx, &outage)
		if err != nil {
			return res, fmt.Errorf("create the outage: %w", err)
		}
		outage.ID = id
		events = append(events, bot.Event{At: now, Kind: bot.EventOpened, Detail: fmt.Sprintf("%s opened at %s: %s",
			outage.Title, outage.Severity, outage.CommonAnnotations["summary"])})
		res.transitions = append(res.transitions, bot.EventOpened)
	case !open:
		outage.NextReminderAt = NextReminder(prev, &outage, e.cfg.Deadlines, now)
		events = append(events, bot.Event{At: now, Kind: bot.EventReopened, Detail: "fired again: " + outage.CommonAnnotations["summary"]})
		res.transitions = append(res.transitions, bot.EventReopened)
	}

	newest := maxCorrelationAlerts
	if full || !open {
		newest = 0
	}
	ids, err := ct.LinkCritical(ctx, outage.ID, since, newest, maxLinksPerPass)
	if err != nil {
		return res, fmt.Errorf("outage %d: link incidents: %w", outage.ID, err)
	}
	res.more = len(ids) == maxLinksPerPass
	if len(ids) > 0 {
		// A handful of statements for the lot, not a few per incident: in
		// a storm a pass links many, beside the webhooks' writes.
		linked, err := ct.LockIncidents(ctx, ids)
		if err != nil {
			return res, fmt.Errorf("outage %d: linked incidents: %w", outage.ID, err)
		}
		for _, inc := range linked {
			events = append(events, bot.Event{At: now, Kind: bot.EventLinked, Detail: fmt.Sprintf("linked #%d %s", inc.ID, inc.Title)})
		}
		if err := ct.AppendToEach(ctx, ids, bot.Event{At: now, Kind: bot.EventLinked,
			Detail: fmt.Sprintf("part of outage #%d (%s)", outage.ID, outage.Title)}); err != nil {
			return res, fmt.Errorf("outage %d: linked incidents' timelines: %w", outage.ID, err)
		}
		if err := ct.Enqueue(ctx, e.jobs(now, linked...)...); err != nil {
			return res, fmt.Errorf("outage %d: linked incidents' threads: %w", outage.ID, err)
		}
		res.enqueued = true
	}

	lines, counted, more, err := e.countChanges(ctx, ct, &outage, now)
	if err != nil {
		return res, err
	}
	res.more = res.more || more
	events = append(events, lines...)
	total := outage.Firing + outage.Resolved
	res.linked = total
	if outage.Firing == 0 && total > 0 && !more {
		outage.Status, outage.ResolvedAt, outage.SeverityOverride = bot.IncidentResolved, &now, nil
		outage.NextReminderAt = nil
		events = append(events, bot.Event{At: now, Kind: bot.EventResolved, Detail: fmt.Sprintf("all %d linked incidents resolved", total)})
		res.transitions = append(res.transitions, bot.EventResolved)
	}
	res.outage = outage
	if len(events) == 0 && !grew && !counted {
		return res, nil
	}
	outage.UpdatedAt = now
	if err := ct.UpdateIncident(ctx, &outage); err != nil {
		return res, fmt.Errorf("outage %d: update: %w", outage.ID, err)
	}
	res.outage, res.enqueued = outage, true
	return res, e.appendAndEnqueue(ctx, ct, &outage, events...)
}

// resolutionLine is the outage's line for a linked incident's resolution.
const resolutionLine = "#%d %s resolved; %d of %d linked incidents still open"

// countChanges brings the outage's counts up to date with its links that
// changed (new links, and linked incidents whose status moved), at most
// maxCountsPerPass of them, each under its incident's row lock so that its
// status holds until the pass commits. Firing counts the linked incidents
// open, Resolved those resolved (an outage has no alerts of its own). It
// returns the outage's lines for the resolutions among them, in id order,
// each saying how many linked incidents were still open once it resolved;
// whether the counts moved; and whether more changes wait for the next
// pass. A pass costs what changed, not how many incidents are linked.
func (e *Engine) countChanges(ctx context.Context, ct bot.CorrelationTx, out *bot.Incident, now time.Time) (lines []bot.Event, moved, more bool, err error) {
	changes, err := ct.ChangedLinks(ctx, out.ID, maxCountsPerPass)
	if err != nil {
		return nil, false, false, fmt.Errorf("outage %d: changed links: %w", out.ID, err)
	}
	if len(changes) == 0 {
		return nil, false, false, nil
	}
	ids := make([]int64, len(changes))
	for i, c := range changes {
		ids[i] = c.IncidentID
	}
	incs, err := ct.LockIncidents(ctx, ids) // by id, as ChangedLinks returns them
	if err != nil {
		return nil, false, false, fmt.Errorf("outage %d: linked incidents: %w", out.ID, err)
	}
	var resolved []bot.LinkChange
	byStatus := map[bot.IncidentStatus][]int64{}
	for i, c := range changes {
		inc := incs[i]
		if inc.ID != c.IncidentID {
			return nil, false, false, fmt.Errorf("outage %d: linked incident %d read as %d", out.ID, c.IncidentID, inc.ID)
		}
		c.Status, c.Title = inc.Status, inc.Title // as it holds now, under its lock
		count(out, c.Counted, -1)
		count(out, c.Status, +1)
		moved = moved || c.Counted != c.Status
		if c.Status == bot.IncidentResolved && c.Counted != bot.IncidentResolved {
			resolved = append(resolved, c)
		}
		byStatus[c.Status] = append(byStatus[c.Status], c.IncidentID)
	}
	for _, status := range []bot.IncidentStatus{bot.IncidentOpen, bot.IncidentResolved} {
		if ids := byStatus[status]; len(ids) > 0 {
			if err := ct.CountLinks(ctx, out.ID, status, ids); err != nil {
				return nil, false, false, fmt.Errorf("outage %d: count %s links: %w", out.ID, status, err)
			}
		}
	}
	for i, c := range resolved {
		lines = append(lines, bot.Event{At: now, Kind: bot.EventLinked,
			Detail: fmt.Sprintf(resolutionLine, c.IncidentID, c.Title, out.Firing+len(resolved)-1-i, out.Firing+out.Resolved)})
	}
	return lines, moved, len(changes) == maxCountsPerPass, nil
}

// count adds n to the outage's count of linked incidents in status.
func count(out *bot.Incident, status bot.IncidentStatus, n int) {
	switch status {
	case bot.IncidentOpen:
		out.Firing += n
	case bot.IncidentResolved:
		out.Resolved += n
	}
}

// appendAndEnqueue appends events to inc's timeline (none: only the root
// changed) and queues the sync of its threads.
func (e *Engine) appendAndEnqueue(ctx context.Context, tx bot.Tx, inc *bot.Incident, events ...bot.Event) error {
	if len(events) > 0 {
		if err := tx.AppendEvents(ctx, inc.ID, events); err != nil {
			return fmt.Errorf("incident %d: append events: %w", inc.ID, err)
		}
	}
	if err := tx.Enqueue(ctx, e.jobs(e.cfg.Now().UTC(), *inc)...); err != nil {
		return fmt.Errorf("incident %d: enqueue: %w", inc.ID, err)
	}
	return nil
}

// jobs are the sync jobs, due at, of incs' threads at their destinations.
func (e *Engine) jobs(at time.Time, incs ...bot.Incident) []bot.OutboxJob {
	var out []bot.OutboxJob
	for i := range incs {
		for _, dest := range e.cfg.Routes.Destinations(&incs[i]) {
			out = append(out, bot.OutboxJob{IncidentID: incs[i].ID, Destination: dest, Priority: incs[i].Severity, DueAt: at})
		}
	}
	return out
}

// describeOutage keeps the outage's title and summary in step with the
// services seen failing (they only grow while it is open) and reports
// whether they changed.
func describeOutage(out *bot.Incident, failing []string, window time.Duration) bool {
	all := outageServices(out)
	for _, s := range failing {
		all[s] = true
	}
	names := make([]string, 0, len(all))
	for s := range all {
		names = append(names, s)
	}
	slices.Sort(names)
	list := strings.Join(names, ", ")
	if out.CommonAnnotations == nil {
		out.CommonAnnotations = map[string]string{}
	}
	title := fmt.Sprintf("Complete outage: %d services failing", len(names))
	if out.CommonAnnotations["services"] == list && out.Title == title {
		return false
	}
	out.Title = title
	out.CommonAnnotations["services"] = list
	out.CommonAnnotations["summary"] = bot.Clip(fmt.Sprintf("Critical alerts on %d services within %s: %s", len(names), bot.HumanDuration(window), list), maxOutageSummary)
	return true
}

// outageServices are the services an outage's title counts.
func outageServices(out *bot.Incident) map[string]bool {
	all := map[string]bool{}
	for _, s := range strings.Split(out.CommonAnnotations["services"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			all[s] = true
		}
	}
	return all
}
