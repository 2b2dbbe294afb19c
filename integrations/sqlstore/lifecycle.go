package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bakewise/chatops/bot"
)

// The incident lifecycle's queries: which incident a chat thread belongs
// to, and the links between a complete outage and its incidents.

var (
	_ bot.CorrelationTx   = (*tx)(nil)
	_ bot.ThreadIncidents = (*Store)(nil)
)

// threads_by_thread covers it. Several destinations may share a channel
// (never a thread): the newest incident wins, which is the only one.
const qIncidentByThread = `SELECT incident_id FROM threads
	WHERE platform = ? AND channel = ? AND thread_id = ? ORDER BY incident_id DESC LIMIT 1`

// alerts_critical_firing covers it: its predicate is written out here as
// literals so the planner can match the partial index.
const qCriticalAlerts = `SELECT a.incident_id, a.labels FROM alerts a JOIN incidents i ON i.id = a.incident_id
	WHERE a.status = 'firing' AND a.severity <= 1 AND a.starts_at >= ? AND i.status = 'open' AND i.id <> ?
	ORDER BY a.starts_at DESC, a.incident_id LIMIT ?`

const qLinkIncident = `INSERT INTO incident_links (outage_id, incident_id) VALUES (?, ?)
	ON CONFLICT (outage_id, incident_id) DO NOTHING`

const qLinkedIncidents = `SELECT ` + incidentColumns + ` FROM incidents
	WHERE id IN (SELECT incident_id FROM incident_links WHERE outage_id = ?) ORDER BY id`

const qOutagesOf = `SELECT l.outage_id FROM incident_links l JOIN incidents o ON o.id = l.outage_id
	WHERE l.incident_id = ? AND o.status = 'open' ORDER BY l.outage_id`

// IncidentByThread finds the incident whose thread a command was typed in.
func (s *Store) IncidentByThread(ctx context.Context, platform, channel, thread string) (id int64, err error) {
	defer s.observe("incident_by_thread", time.Now(), &err)
	err = s.interactive.QueryRowContext(ctx, rebind(qIncidentByThread, s.d.NumberedParams), platform, channel, thread).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("thread %s in %s: %w", thread, channel, bot.ErrNotFound)
	}
	return id, err
}

func (t *tx) CriticalAlerts(ctx context.Context, since time.Time, exclude int64, limit int) ([]bot.CriticalAlert, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qCriticalAlerts, t.s.d.NumberedParams), since.UTC(), exclude, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.CriticalAlert
	for rows.Next() {
		var (
			a      bot.CriticalAlert
			labels string
		)
		if err := rows.Scan(&a.IncidentID, &labels); err != nil {
			return nil, err
		}
		var l map[string]string
		if err := json.Unmarshal([]byte(labels), &l); err != nil {
			return nil, fmt.Errorf("incident %d: decode alert labels: %w", a.IncidentID, err)
		}
		a.Service = l["service"]
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) LinkIncident(ctx context.Context, outageID, incidentID int64) (bool, error) {
	res, err := t.tx.ExecContext(ctx, rebind(qLinkIncident, t.s.d.NumberedParams), outageID, incidentID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
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

func (t *tx) OutagesOf(ctx context.Context, incidentID int64) ([]int64, error) {
	rows, err := t.tx.QueryContext(ctx, rebind(qOutagesOf, t.s.d.NumberedParams), incidentID)
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
	return out, rows.Err()
}
