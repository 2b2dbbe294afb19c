package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Correlation defaults: the operations guide's "complete outage" is several
// services failing at once, not one service failing several ways.
const (
	DefaultCorrelationMinServices = 3
	DefaultCorrelationWindow      = 5 * time.Minute
)

// The outage incident's identity. No Alertmanager group key looks like
// OutageGroupKey (theirs are "{}:{...}" label sets), so notifications can
// never land in it, and one open incident per group makes it one outage.
const (
	OutageReceiver  = "chatops"
	OutageGroupKey  = "correlation:outage"
	OutageAlertName = "CompleteOutage"
)

// Bounds of one correlation pass: the critical alerts it reads (newest
// first; a real outage shows its services long before this many) and the
// incidents it links (the rest are linked by the next pass).
const (
	maxCorrelationAlerts = 2000
	maxLinksPerPass      = 200
	correlationTimeout   = 5 * time.Second
)

// EventLinked is a link between an outage and one of its incidents, on
// both timelines: "linked #12 ServiceDown · orders-service" on the
// outage's, "part of outage #40" on the incident's.
const EventLinked EventKind = "linked"

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

// CriticalAlert is a firing P0/P1 alert of an open incident, as the
// correlation sees it.
type CriticalAlert struct {
	IncidentID int64
	// Service is the alert's service label ("" without one).
	Service string
}

// CorrelationTx is what the correlation does inside one transaction,
// besides what the engine does. The stores' transactions implement it.
type CorrelationTx interface {
	Tx
	// CriticalAlerts returns up to limit firing P0/P1 alerts that started
	// at or after since, of open incidents other than exclude, newest
	// first.
	CriticalAlerts(ctx context.Context, since time.Time, exclude int64, limit int) ([]CriticalAlert, error)
	// LinkIncident links an incident to an outage; false when it already
	// was.
	LinkIncident(ctx context.Context, outageID, incidentID int64) (bool, error)
	// LinkedIncidents returns the incidents linked to an outage, by id.
	LinkedIncidents(ctx context.Context, outageID int64) ([]Incident, error)
	// OutagesOf returns the open outages an incident is linked to.
	OutagesOf(ctx context.Context, incidentID int64) ([]int64, error)
}

var errNoCorrelation = errors.New("the store cannot correlate incidents")

// afterIngest runs the correlation a committed notification calls for:
// critical firing alerts may make (or join) an outage, and a resolved
// incident may end one. It runs in transactions of its own and never fails
// the notification: the alerts are stored already.
func (e *Engine) afterIngest(ctx context.Context, g AlertGroup, ch change) {
	if !e.cfg.Correlation.Enabled || (g.Receiver == OutageReceiver && g.GroupKey == OutageGroupKey) {
		return
	}
	critical := false
	for _, a := range g.Alerts {
		critical = critical || (a.Status == AlertFiring && a.Severity <= P1)
	}
	resolved := false
	for _, ev := range ch.events {
		resolved = resolved || ev.Kind == EventResolved
	}
	if !critical && !resolved {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), correlationTimeout)
	defer cancel()
	if critical {
		if err := e.Correlate(ctx); err != nil {
			e.log.Warn("correlation failed; the next critical notification tries again", zap.Error(err))
		}
	}
	if resolved && ch.incident.Status == IncidentResolved {
		e.afterResolve(ctx, ch.incident.ID)
	}
}

// afterResolve ends the outages a just-resolved incident was the last open
// part of (logged on failure: the next resolution checks again).
func (e *Engine) afterResolve(ctx context.Context, incidentID int64) {
	if !e.cfg.Correlation.Enabled {
		return
	}
	if err := e.ResolveOutages(ctx, incidentID); err != nil {
		e.log.Warn("outage resolution check failed", zap.Int64("incident", incidentID), zap.Error(err))
	}
}

// Correlate opens the outage incident when critical alerts touch enough
// services within the window, and links to the open outage every critical
// incident that joins while it lasts. It runs under the outage's group lock,
// so parallel notifications on any replica open exactly one.
func (e *Engine) Correlate(ctx context.Context) error {
	cfg := e.cfg.Correlation.withDefaults()
	now := e.cfg.Now().UTC()
	var (
		outage      Incident
		kinds       []EventKind
		enqueued    bool
		linkedCount int
	)
	err := e.store.InTx(ctx, func(tx Tx) error {
		kinds, enqueued, linkedCount = nil, false, 0
		ct, ok := tx.(CorrelationTx)
		if !ok {
			return errNoCorrelation
		}
		if err := tx.LockGroup(ctx, OutageReceiver, OutageGroupKey); err != nil {
			return fmt.Errorf("lock the outage: %w", err)
		}
		latest, err := tx.LatestIncident(ctx, OutageReceiver, OutageGroupKey)
		if err != nil {
			return fmt.Errorf("latest outage: %w", err)
		}
		open := latest != nil && latest.Status == IncidentOpen
		since := now.Add(-cfg.Window)
		var exclude int64
		if latest != nil {
			exclude = latest.ID
		}
		if open {
			since = latest.OpenedAt.Add(-cfg.Window) // everyone who joined since it began
		}
		alerts, err := ct.CriticalAlerts(ctx, since, exclude, maxCorrelationAlerts)
		if err != nil {
			return fmt.Errorf("critical alerts: %w", err)
		}
		services := map[string]bool{}
		var ids []int64
		seen := map[int64]bool{}
		for _, a := range alerts {
			if a.Service != "" {
				services[a.Service] = true
			}
			if !seen[a.IncidentID] {
				seen[a.IncidentID] = true
				ids = append(ids, a.IncidentID)
			}
		}
		slices.Sort(ids)
		var prev *Incident
		switch {
		case open:
			outage = *latest
			prev = latest
		case len(services) < cfg.MinServices:
			return nil
		case latest != nil && latest.ResolvedAt != nil && now.Sub(*latest.ResolvedAt) <= e.cfg.ReopenWindow:
			// Flap control, as for any group: the same outage again.
			outage, prev = *latest, latest
			outage.Status, outage.ResolvedAt, outage.AckedAt, outage.AckedBy = IncidentOpen, nil, nil, ""
			outage.Reminders = 0
		default:
			outage = Incident{
				Receiver: OutageReceiver, GroupKey: OutageGroupKey, Status: IncidentOpen, Severity: P0,
				GroupLabels:       map[string]string{"alertname": OutageAlertName},
				CommonLabels:      map[string]string{"alertname": OutageAlertName},
				CommonAnnotations: map[string]string{},
				OpenedAt:          now, UpdatedAt: now,
			}
		}
		var events []Event
		grew := describeOutage(&outage, services, cfg.Window)
		switch {
		case prev == nil:
			outage.NextReminderAt = NextReminder(nil, &outage, e.cfg.Deadlines, now)
			id, err := tx.CreateIncident(ctx, &outage)
			if err != nil {
				return fmt.Errorf("create the outage: %w", err)
			}
			outage.ID = id
			events = append(events, Event{At: now, Kind: EventOpened, Detail: fmt.Sprintf("%s opened at %s: %s",
				outage.Title, outage.Severity, outage.CommonAnnotations["summary"])})
		case !open:
			outage.NextReminderAt = NextReminder(prev, &outage, e.cfg.Deadlines, now)
			events = append(events, Event{At: now, Kind: EventReopened, Detail: "fired again: " + outage.CommonAnnotations["summary"]})
		}
		n := 0
		for _, id := range ids {
			if n == maxLinksPerPass {
				e.log.Info("correlation: more incidents to link than one pass takes; the next pass links the rest",
					zap.Int64("outage", outage.ID))
				break
			}
			added, err := ct.LinkIncident(ctx, outage.ID, id)
			if err != nil {
				return fmt.Errorf("outage %d: link incident %d: %w", outage.ID, id, err)
			}
			if !added {
				continue
			}
			n++
			inc, err := tx.LockIncident(ctx, id)
			if err != nil {
				return fmt.Errorf("outage %d: linked incident: %w", outage.ID, err)
			}
			events = append(events, Event{At: now, Kind: EventLinked, Detail: fmt.Sprintf("linked #%d %s", inc.ID, inc.Title)})
			if err := e.appendAndEnqueue(ctx, tx, inc, Event{At: now, Kind: EventLinked,
				Detail: fmt.Sprintf("part of outage #%d (%s)", outage.ID, outage.Title)}); err != nil {
				return err
			}
		}
		linked, err := ct.LinkedIncidents(ctx, outage.ID)
		if err != nil {
			return fmt.Errorf("outage %d: linked incidents: %w", outage.ID, err)
		}
		linkedCount = len(linked)
		counted := countLinked(&outage, linked)
		if len(events) == 0 && !grew && !counted {
			return nil
		}
		outage.UpdatedAt = now
		if err := tx.UpdateIncident(ctx, &outage); err != nil {
			return fmt.Errorf("outage %d: update: %w", outage.ID, err)
		}
		for _, ev := range events {
			kinds = append(kinds, ev.Kind)
		}
		enqueued = true
		return e.appendAndEnqueue(ctx, tx, &outage, events...)
	})
	if err != nil {
		return err
	}
	for _, k := range kinds {
		if k == EventOpened || k == EventReopened {
			e.metrics.incidents.WithLabelValues(string(k)).Inc()
			e.log.Warn("complete outage", zap.Int64("incident", outage.ID), zap.String("title", outage.Title),
				zap.Int("linked", linkedCount))
		}
	}
	if enqueued && e.cfg.Enqueued != nil {
		e.cfg.Enqueued()
	}
	return nil
}

// ResolveOutages brings the open outages incident id is part of up to date
// with its resolution: the count of linked incidents still open, and the
// outage resolved once none is.
func (e *Engine) ResolveOutages(ctx context.Context, id int64) error {
	now := e.cfg.Now().UTC()
	var resolved []Incident
	err := e.store.InTx(ctx, func(tx Tx) error {
		resolved = nil
		ct, ok := tx.(CorrelationTx)
		if !ok {
			return errNoCorrelation
		}
		outages, err := ct.OutagesOf(ctx, id)
		if err != nil || len(outages) == 0 {
			return err
		}
		if err := tx.LockGroup(ctx, OutageReceiver, OutageGroupKey); err != nil {
			return fmt.Errorf("lock the outage: %w", err)
		}
		for _, oid := range outages {
			out, err := tx.LockIncident(ctx, oid)
			if err != nil {
				return fmt.Errorf("outage %d: %w", oid, err)
			}
			if out.Status != IncidentOpen {
				continue
			}
			linked, err := ct.LinkedIncidents(ctx, oid)
			if err != nil {
				return fmt.Errorf("outage %d: linked incidents: %w", oid, err)
			}
			countLinked(out, linked)
			var events []Event
			for _, inc := range linked {
				if inc.ID == id && inc.Status == IncidentResolved {
					events = append(events, Event{At: now, Kind: EventLinked,
						Detail: fmt.Sprintf("#%d %s resolved; %d of %d linked incidents still open", inc.ID, inc.Title, out.Firing, len(linked))})
				}
			}
			if out.Firing == 0 {
				out.Status, out.ResolvedAt, out.SeverityOverride = IncidentResolved, &now, nil
				out.NextReminderAt = nil
				events = append(events, Event{At: now, Kind: EventResolved, Detail: fmt.Sprintf("all %d linked incidents resolved", len(linked))})
				resolved = append(resolved, *out)
			}
			out.UpdatedAt = now
			if err := tx.UpdateIncident(ctx, out); err != nil {
				return fmt.Errorf("outage %d: update: %w", oid, err)
			}
			if err := e.appendAndEnqueue(ctx, tx, out, events...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range resolved {
		e.metrics.incidents.WithLabelValues(string(EventResolved)).Inc()
		e.metrics.lifecycle.observe(&resolved[i], EventResolved)
		e.log.Info("complete outage resolved", zap.Int64("incident", resolved[i].ID))
	}
	if e.cfg.Enqueued != nil {
		e.cfg.Enqueued()
	}
	return nil
}

// appendAndEnqueue appends events to inc's timeline (none: only the root
// changed) and queues the sync of its threads.
func (e *Engine) appendAndEnqueue(ctx context.Context, tx Tx, inc *Incident, events ...Event) error {
	if len(events) > 0 {
		if err := tx.AppendEvents(ctx, inc.ID, events); err != nil {
			return fmt.Errorf("incident %d: append events: %w", inc.ID, err)
		}
	}
	for _, dest := range e.cfg.Routes.Destinations(inc) {
		job := OutboxJob{IncidentID: inc.ID, Destination: dest, Priority: inc.Severity, DueAt: e.cfg.Now().UTC()}
		if err := tx.Enqueue(ctx, job); err != nil {
			return fmt.Errorf("incident %d: enqueue %s: %w", inc.ID, dest, err)
		}
	}
	return nil
}

// describeOutage keeps the outage's title and summary in step with the
// services seen failing (they only grow while it is open) and reports
// whether they changed.
func describeOutage(out *Incident, failing map[string]bool, window time.Duration) bool {
	all := map[string]bool{}
	for _, s := range strings.Split(out.CommonAnnotations["services"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			all[s] = true
		}
	}
	maps.Copy(all, failing)
	names := make([]string, 0, len(all))
	for s := range all {
		names = append(names, s)
	}
	sort.Strings(names)
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
	out.CommonAnnotations["summary"] = clip(fmt.Sprintf("Critical alerts on %d services within %s: %s", len(names), humanDuration(window), list), maxFieldValue*4)
	return true
}

// countLinked sets the outage's counts from its linked incidents: Firing
// counts those still open, Resolved those resolved (an outage has no alerts
// of its own). It reports whether they changed.
func countLinked(out *Incident, linked []Incident) bool {
	open, done := 0, 0
	for _, inc := range linked {
		if inc.Status == IncidentOpen {
			open++
		} else {
			done++
		}
	}
	if out.Firing == open && out.Resolved == done {
		return false
	}
	out.Firing, out.Resolved = open, done
	return true
}
