package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/bakewise/chatops/bot"
)

// pageSize is a limit as the store reads it: at least 0, at most
// bot.MaxPage, whatever the caller asked.
func pageSize(n int) int { return min(max(n, 0), bot.MaxPage) }

// IncidentView reads an incident with its first alerts in root order, its
// newest events and how many of each it has, in one read transaction so
// that the counts and the lists are one picture.
func (s *Store) IncidentView(ctx context.Context, id int64, alerts, events int) (d bot.IncidentDetail, err error) {
	defer s.observe("incident_view", time.Now(), &err)
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return d, err
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	if d.Incident, err = scanIncident(rtx.QueryRowContext(ctx, s.q.get, id)); err != nil {
		return d, err
	}
	if err = rtx.QueryRowContext(ctx, s.q.countAll, id, id).Scan(&d.AlertsTotal, &d.EventsTotal); err != nil {
		return d, fmt.Errorf("incident %d: count: %w", id, err)
	}
	d.Alerts, d.Timeline = []bot.Alert{}, []bot.Event{}
	if n := pageSize(alerts); n > 0 && d.AlertsTotal > 0 {
		if d.Alerts, err = queryAlerts(ctx, rtx, s.q.alertsRanked, id, n); err != nil {
			return d, fmt.Errorf("incident %d: alerts: %w", id, err)
		}
	}
	if n := pageSize(events); n > 0 && d.EventsTotal > 0 {
		if d.Timeline, err = queryEvents(ctx, rtx, id, s.q.newestEvents, id, n); err != nil {
			return d, fmt.Errorf("incident %d: timeline: %w", id, err)
		}
		slices.Reverse(d.Timeline) // read newest first, shown oldest first
	}
	return d, nil
}

// AlertPage reads a page of an incident's alerts by fingerprint.
func (s *Store) AlertPage(ctx context.Context, incidentID int64, after string, limit int) (out []bot.Alert, err error) {
	defer s.observe("alert_page", time.Now(), &err)
	if out, err = queryAlerts(ctx, s.db, s.q.alertPage, incidentID, after, pageSize(limit)); err != nil {
		return nil, fmt.Errorf("incident %d: alerts: %w", incidentID, err)
	}
	if len(out) == 0 {
		return out, s.mustExist(ctx, incidentID)
	}
	return out, nil
}

// EventPage reads a page of an incident's timeline, oldest first.
func (s *Store) EventPage(ctx context.Context, q bot.EventQuery) (out []bot.Event, err error) {
	defer s.observe("event_page", time.Now(), &err)
	if q.Kind == "" {
		out, err = queryEvents(ctx, s.db, q.IncidentID, s.q.eventPage, q.IncidentID, q.After, pageSize(q.Limit))
	} else {
		out, err = queryEvents(ctx, s.db, q.IncidentID, s.q.eventPageKind, q.IncidentID, q.After, string(q.Kind), pageSize(q.Limit))
	}
	if err != nil {
		return nil, fmt.Errorf("incident %d: timeline: %w", q.IncidentID, err)
	}
	if len(out) == 0 {
		return out, s.mustExist(ctx, q.IncidentID)
	}
	return out, nil
}

// mustExist tells an empty page of an incident from one of no incident.
func (s *Store) mustExist(ctx context.Context, id int64) error {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q.incidentExists, id).Scan(&n); err != nil {
		return fmt.Errorf("incident %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	return nil
}

// CountEvents counts an incident's events in a range of ids by kind; the
// database counts, so the answer is a handful of rows however long the
// timeline.
func (s *Store) CountEvents(ctx context.Context, incidentID, after, before int64) (out bot.EventCounts, err error) {
	defer s.observe("count_events", time.Now(), &err)
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.db.QueryContext(ctx, s.q.countEvents, incidentID, after, before)
	if err != nil {
		return nil, fmt.Errorf("incident %d: count events: %w", incidentID, err)
	}
	defer rows.Close()
	out = bot.EventCounts{}
	for rows.Next() {
		var (
			kind string
			c    bot.KindCount
		)
		if err := rows.Scan(&kind, &c.Count, &c.Newest); err != nil {
			return nil, err
		}
		out[bot.EventKind(kind)] = c
	}
	return out, rows.Err()
}

// AlertSpan reads when an incident's alerts began and ended, in one read
// transaction.
func (s *Store) AlertSpan(ctx context.Context, incidentID int64) (span bot.AlertSpan, err error) {
	defer s.observe("alert_span", time.Now(), &err)
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return span, err
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	var unended sql.NullInt64
	if err := rtx.QueryRowContext(ctx, s.q.unended, incidentID).Scan(&span.Alerts, &unended); err != nil {
		return span, fmt.Errorf("incident %d: alert span: %w", incidentID, err)
	}
	if span.Alerts == 0 {
		return span, nil
	}
	if err := rtx.QueryRowContext(ctx, s.q.firstStart, incidentID).Scan(&span.FirstStart); err != nil {
		return span, fmt.Errorf("incident %d: first alert start: %w", incidentID, err)
	}
	span.FirstStart = span.FirstStart.UTC()
	if span.Ended = unended.Int64 == 0; !span.Ended {
		return span, nil
	}
	err = rtx.QueryRowContext(ctx, s.q.lastEnd, incidentID).Scan(&span.LastEnd)
	if errors.Is(err, sql.ErrNoRows) {
		return span, nil // ended alerts all have an end: only a race gets here
	}
	if err != nil {
		return span, fmt.Errorf("incident %d: last alert end: %w", incidentID, err)
	}
	span.LastEnd = span.LastEnd.UTC()
	return span, nil
}

// queryEvents reads timeline rows (id, at, kind, detail) of incident id.
func queryEvents(ctx context.Context, q queryer, id int64, query string, args ...any) ([]bot.Event, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []bot.Event{}
	for rows.Next() {
		e := bot.Event{IncidentID: id}
		var kind string
		if err := rows.Scan(&e.ID, &e.At, &kind, &e.Detail); err != nil {
			return nil, err
		}
		e.Kind, e.At = bot.EventKind(kind), e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
