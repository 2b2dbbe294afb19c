package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bakewise/chatops/bot"
)

// The incident lifecycle's queries: which incident a chat thread belongs
// to, and the links between a complete outage and its incidents.

var (
	_ bot.CorrelationTx = (*tx)(nil)
	_ bot.Store         = (*Store)(nil)
)

// threads_by_thread covers it. Several destinations may share a channel
// (never a thread): the newest incident wins, which is the only one.
const qIncidentByThread = `SELECT incident_id FROM threads
	WHERE platform = ? AND channel = ? AND thread_id = ? ORDER BY incident_id DESC LIMIT 1`

// The correlation's queries. A critical alert is a firing P0/P1 alert of
// an open incident that started at or after a cut-off. The alerts'
// predicate is alerts_critical_firing's, written out as literals so that
// the planner matches the partial index. The service label is read with
// ->>, which both PostgreSQL (jsonb) and SQLite (JSON text, 3.38+) have.

// qRecentCritical reads the newest (at most ?) critical alerts, walking
// alerts_critical_firing backwards: a pass reads a bounded number of rows
// however long the storm. Per service, whether an incident other than the
// outage is not linked to it; the CASE asks the links only when there is
// an outage (its id is not 0). Parameters: outage, outage, outage, since,
// limit.
const qRecentCritical = `SELECT r.service, MAX(CASE
		WHEN CAST(? AS BIGINT) = 0 OR r.incident_id = ? THEN 0
		WHEN EXISTS (SELECT 1 FROM incident_links n WHERE n.outage_id = ? AND n.incident_id = r.incident_id) THEN 0
		ELSE 1 END)
	FROM (SELECT a.incident_id, a.labels ->> 'service' AS service FROM alerts a JOIN incidents i ON i.id = a.incident_id
		WHERE a.status = 'firing' AND a.severity <= 1 AND a.starts_at >= ? AND i.status = 'open'
		ORDER BY a.starts_at DESC LIMIT ?) r
	GROUP BY r.service`

// incident_links' primary key covers it.
const qLinkCounts = `SELECT COUNT(CASE WHEN i.status = 'open' THEN 1 END), COUNT(CASE WHEN i.status = 'resolved' THEN 1 END)
	FROM incident_links l JOIN incidents i ON i.id = l.incident_id WHERE l.outage_id = ?`

// qLinkCritical links every critical incident not linked yet (up to ?),
// in one statement. ON CONFLICT keeps it repeatable should two passes
// ever overlap (the outage's lock means they do not). Parameters: outage,
// since, outage, outage, limit.
const qLinkCritical = `INSERT INTO incident_links (outage_id, incident_id)
	SELECT CAST(? AS BIGINT), u.incident_id FROM (
		SELECT DISTINCT a.incident_id FROM alerts a JOIN incidents i ON i.id = a.incident_id
		WHERE a.status = 'firing' AND a.severity <= 1 AND a.starts_at >= ? AND i.status = 'open' AND i.id <> ?
		AND NOT EXISTS (SELECT 1 FROM incident_links n WHERE n.outage_id = ? AND n.incident_id = a.incident_id)
		ORDER BY a.incident_id LIMIT ?) u
	WHERE true
	ON CONFLICT (outage_id, incident_id) DO NOTHING
	RETURNING incident_id`

const qLinkedIncidents = `SELECT ` + incidentColumns + ` FROM incidents
	WHERE id IN (SELECT incident_id FROM incident_links WHERE outage_id = ?) ORDER BY id`

// timeline_by_incident finds each incident's newest resolved event,
// walking back from its newest event.
const qLastResolutions = `SELECT l.incident_id,
		COALESCE((SELECT MAX(r.id) FROM timeline r WHERE r.incident_id = l.incident_id AND r.kind = 'resolved'), 0)
	FROM incident_links l JOIN incidents i ON i.id = l.incident_id
	WHERE l.outage_id = ? AND i.status = 'resolved'`

const qEventsOfKind = `SELECT id, at, kind, detail FROM timeline WHERE incident_id = ? AND kind = ? ORDER BY id`

// IncidentByThread finds the incident whose thread a command was typed in.
func (s *Store) IncidentByThread(ctx context.Context, platform, channel, thread string) (id int64, err error) {
	defer s.observe("incident_by_thread", time.Now(), &err)
	err = s.interactive.QueryRowContext(ctx, rebind(qIncidentByThread, s.d.NumberedParams), platform, channel, thread).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("thread %s in %s: %w", thread, channel, bot.ErrNotFound)
	}
	return id, err
}

func (t *tx) RecentCritical(ctx context.Context, outageID int64, since time.Time, limit int) (bot.RecentCritical, error) {
	var out bot.RecentCritical
	rows, err := t.tx.QueryContext(ctx, rebind(qRecentCritical, t.s.d.NumberedParams), outageID, outageID, outageID, since.UTC(), limit)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			service  sql.NullString
			unlinked int64
		)
		if err := rows.Scan(&service, &unlinked); err != nil {
			return out, err
		}
		out.Unlinked = out.Unlinked || unlinked != 0
		if service.String != "" {
			out.Services = append(out.Services, service.String)
		}
	}
	// The databases sort NULL differently: sort here.
	slices.Sort(out.Services)
	return out, rows.Err()
}

func (t *tx) LinkCounts(ctx context.Context, outageID int64) (open, resolved int, err error) {
	err = t.tx.QueryRowContext(ctx, rebind(qLinkCounts, t.s.d.NumberedParams), outageID).Scan(&open, &resolved)
	return open, resolved, err
}

func (t *tx) LinkCritical(ctx context.Context, outageID int64, since time.Time, limit int) ([]int64, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qLinkCritical, t.s.d.NumberedParams), outageID, since.UTC(), outageID, outageID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out) // RETURNING promises no order
	return out, nil
}

func (t *tx) LinkedIncidents(ctx context.Context, outageID int64) ([]bot.Incident, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qLinkedIncidents, t.s.d.NumberedParams), outageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

func (t *tx) LastResolutions(ctx context.Context, outageID int64) (map[int64]int64, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qLastResolutions, t.s.d.NumberedParams), outageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, event int64
		if err := rows.Scan(&id, &event); err != nil {
			return nil, err
		}
		out[id] = event
	}
	return out, rows.Err()
}

func (t *tx) EventsOfKind(ctx context.Context, incidentID int64, kind bot.EventKind) ([]bot.Event, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qEventsOfKind, t.s.d.NumberedParams), incidentID, string(kind))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Event
	for rows.Next() {
		ev := bot.Event{IncidentID: incidentID}
		var kind string
		if err := rows.Scan(&ev.ID, &ev.At, &kind, &ev.Detail); err != nil {
			return nil, err
		}
		ev.Kind, ev.At = bot.EventKind(kind), ev.At.UTC()
		out = append(out, ev)
	}
	return out, rows.Err()
}
