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

// qLinkCritical links critical incidents not linked yet (up to ?), in one
// statement, from the head's candidate alerts: all critical alerts since
// the cut-off (qCriticalSince), or the newest few (qCriticalNewest).
// ON CONFLICT keeps it repeatable should two passes ever overlap (the
// outage's lock means they do not). Parameters: outage, the head's,
// outage, outage, limit.
const qLinkCritical = `INSERT INTO incident_links (outage_id, incident_id)
	SELECT CAST(? AS BIGINT), u.incident_id FROM (
		SELECT DISTINCT c.incident_id FROM %s c JOIN incidents i ON i.id = c.incident_id
		WHERE i.status = 'open' AND i.id <> ?
		AND NOT EXISTS (SELECT 1 FROM incident_links n WHERE n.outage_id = ? AND n.incident_id = c.incident_id)
		ORDER BY c.incident_id LIMIT ?) u
	WHERE true
	ON CONFLICT (outage_id, incident_id) DO NOTHING
	RETURNING incident_id`

// qCriticalSince is every critical alert since the cut-off: a full pass's
// candidates. Parameter: since.
const qCriticalSince = `(SELECT a.incident_id FROM alerts a
	WHERE a.status = 'firing' AND a.severity <= 1 AND a.starts_at >= ?)`

// qCriticalNewest is the newest (at most ?) critical alerts, those since
// the cut-off among them: a signalled pass's candidates, read by walking
// alerts_critical_firing backwards, however long the storm. Parameters:
// limit, since.
const qCriticalNewest = `(SELECT r.incident_id FROM (SELECT a.incident_id, a.starts_at FROM alerts a
	WHERE a.status = 'firing' AND a.severity <= 1 ORDER BY a.starts_at DESC LIMIT ?) r
	WHERE r.starts_at >= ?)`

// incident_links_changed covers it.
const qChangedLinks = `SELECT l.incident_id, l.counted, i.status, i.title
	FROM incident_links l JOIN incidents i ON i.id = l.incident_id
	WHERE l.outage_id = ? AND l.changed = 1 ORDER BY l.incident_id LIMIT ?`

// qCountLinksHead is followed by a list of placeholders.
const qCountLinksHead = `UPDATE incident_links SET changed = 0, counted = ? WHERE outage_id = ? AND incident_id IN `

// incident_links_by_incident covers it; an incident linked to no outage
// costs one index probe.
const qMarkLinksChanged = `UPDATE incident_links SET changed = 1 WHERE incident_id = ?`

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
	if err := t.walkIndexes(ctx); err != nil {
		return out, err
	}
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

func (t *tx) LinkCritical(ctx context.Context, outageID int64, since time.Time, newest, limit int) ([]int64, error) {
	if err := t.walkIndexes(ctx); err != nil {
		return nil, err
	}
	q, args := fmt.Sprintf(qLinkCritical, qCriticalSince), []any{outageID, since.UTC()}
	if newest > 0 {
		q, args = fmt.Sprintf(qLinkCritical, qCriticalNewest), []any{outageID, newest, since.UTC()}
	}
	rows, err := t.tx.QueryContext(ctx, rebind(q, t.s.d.NumberedParams), append(args, outageID, outageID, limit)...)
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

func (t *tx) ChangedLinks(ctx context.Context, outageID int64, limit int) ([]bot.LinkChange, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qChangedLinks, t.s.d.NumberedParams), outageID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.LinkChange
	for rows.Next() {
		var (
			c               bot.LinkChange
			counted, status string
		)
		if err := rows.Scan(&c.IncidentID, &counted, &status, &c.Title); err != nil {
			return nil, err
		}
		c.Counted, c.Status = bot.IncidentStatus(counted), bot.IncidentStatus(status)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) CountLinks(ctx context.Context, outageID int64, status bot.IncidentStatus, incidentIDs []int64) error {
	for chunk := range slices.Chunk(incidentIDs, maxRowsPerInsert) {
		args := make([]any, 0, 2+len(chunk))
		args = append(args, string(status), outageID)
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := t.tx.ExecContext(ctx, rebind(qCountLinksHead+values(1, len(chunk)), t.s.d.NumberedParams), args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) MarkLinksChanged(ctx context.Context, incidentID int64) error {
	_, err := t.tx.ExecContext(ctx, rebind(qMarkLinksChanged, t.s.d.NumberedParams), incidentID)
	return err
}
