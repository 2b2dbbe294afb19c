package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The store is filled straight in the database, in a few INSERT ... SELECT
// statements over generate_series: through the bot it would take hours.
// The statements name every column they write, so a column a later
// migration adds with a default does not break them; the shapes follow the
// migrations the bot applied first (chatops migrate).
//
// What the rows look like, and why:
//   - ids 1..resolved are resolved incidents spread over about two years
//     before the last 30 days; ids after them are the open ones, spread
//     over the last 30 days, newest last.
//   - Group keys repeat among resolved incidents (a group that fires now
//     and then), never among open ones (the database allows one open
//     incident per group).
//   - Severities: 2 % P0, 18 % P1, 40 % P2, 40 % P3; 1, 2 or 3 alerts
//     each (60/30/10 %); an open incident with three alerts has one of them
//     resolved.
//   - 90 % of open incidents are acknowledged (no reminder pending); the
//     rest were reminded before and are next due after the measurement,
//     except about -due of them, due at the bot's start, so the escalator
//     has a little to do and then nothing.
//   - The 20 newest open incidents are critical ServiceDown on two
//     services, opened in the last 200 s: the correlation's scan finds
//     them, and two services are one short of an outage.
//   - Timelines: opened, one alert_firing per later alert, acknowledged,
//     a reminder, resolved; 30 % of incidents have a Slack thread.
const (
	openSpan     = 30 * 24 * time.Hour
	resolvedSpan = 700 * 24 * time.Hour
	recentOpen   = 20
)

// fillArgs are the statements' parameters: $1 resolved, $2 open, $3 now,
// $4 the seconds after now from which the pending reminders fall due, $5
// how many are due at once, $6 and $7 the seconds between two open and two
// resolved incidents' openings.
type fillArgs struct {
	resolved, open, due    int
	now                    time.Time
	reminderAfter          time.Duration
	openStep, resolvedStep float64
}

// fillStatements are run in order, each with the parameters it names.
var fillStatements = []struct {
	what string
	args func(fillArgs) []any
	sql  string
}{
	{"incidents", func(a fillArgs) []any {
		return []any{a.resolved, a.open, a.now, a.reminderAfter.Seconds(), a.due, a.openStep, a.resolvedStep}
	}, `
INSERT INTO incidents (id, receiver, group_key, status, severity, title, group_labels, common_labels,
	common_annotations, external_url, truncated_alerts, firing, resolved, opened_at, resolved_at, updated_at,
	acked_at, acked_by, severity_override, next_reminder_at, reminders)
SELECT id, 'chatops',
	format('{}:{alertname="%s", instance="%s", service="%s"}', alertname, instance, service),
	CASE WHEN open THEN 'open' ELSE 'resolved' END,
	sev,
	alertname || ' · ' || instance || ' · ' || service,
	jsonb_build_object('alertname', alertname, 'instance', instance, 'service', service),
	jsonb_build_object('alertname', alertname, 'instance', instance, 'service', service,
		'namespace', 'bakery-ia', 'severity', CASE WHEN sev <= 1 THEN 'critical' WHEN sev = 2 THEN 'warning' ELSE 'info' END),
	jsonb_build_object('summary', service || ': ' || alertname,
		'runbook_url', 'https://runbooks.bakery-ia.example/' || lower(alertname)),
	'http://alertmanager.monitoring:9093', 0,
	CASE WHEN NOT open THEN 0 WHEN n = 3 THEN 2 ELSE n END,
	CASE WHEN NOT open THEN n WHEN n = 3 THEN 1 ELSE 0 END,
	opened,
	CASE WHEN NOT open THEN opened + lasts END,
	CASE WHEN open THEN opened + interval '1 minute' ELSE opened + lasts END,
	CASE WHEN acked THEN opened + make_interval(secs => 60 + id % 900) END,
	CASE WHEN acked THEN 'U0' || lpad((id % 40)::text, 7, '0') ELSE '' END,
	CASE WHEN open AND id % 100 = 7 THEN sev END,
	CASE
		WHEN NOT open OR acked THEN NULL
		WHEN recent THEN opened + interval '15 minutes'
		WHEN due THEN $3::timestamptz - make_interval(secs => 1 + rank % 60)
		ELSE $3::timestamptz + make_interval(secs => $4::double precision + id % 3600)
	END,
	CASE WHEN open AND NOT acked AND NOT recent THEN 1 + id % 4 ELSE 0 END
FROM (
	SELECT id, open, recent, n, rank, lasts,
		open AND NOT recent AND id % 10 = 3 AND rank < $5::bigint * 10 + 20 AS due,
		CASE WHEN open THEN NOT recent AND id % 10 <> 3 ELSE id % 10 < 7 END AS acked,
		CASE WHEN recent THEN 'ServiceDown'
			ELSE (ARRAY['HighErrorRate', 'HighLatency', 'HighMemoryUsage', 'DatabaseConnectionsHigh',
				'ServiceDown', 'CertificateExpiringSoon', 'PodCrashLooping', 'DiskSpaceLow'])[1 + gid % 8] END AS alertname,
		CASE WHEN recent THEN (ARRAY['orders-service', 'gateway'])[1 + id % 2]
			ELSE (ARRAY['gateway', 'auth-service', 'tenant-service', 'orders-service', 'forecasting-service',
				'notification-service', 'alert-processor', 'inventory-service', 'pos-service', 'production-service',
				'sales-service', 'suppliers-service', 'recipes-service', 'training-service', 'external-service',
				'procurement-service', 'distribution-service', 'orchestrator-service'])[1 + (gid / 8) % 18] END AS service,
		'i-' || lpad(to_hex(gid), 7, '0') AS instance,
		CASE WHEN recent THEN 1
			WHEN id * 7 % 100 < 2 THEN 0 WHEN id * 7 % 100 < 20 THEN 1 WHEN id * 7 % 100 < 60 THEN 2 ELSE 3 END AS sev,
		CASE
			WHEN recent THEN $3::timestamptz - make_interval(secs => 10 * rank)
			WHEN open THEN $3::timestamptz - make_interval(secs => rank * $6::double precision)
			ELSE $3::timestamptz - interval '30 days' - make_interval(secs => ($1::bigint - id) * $7::double precision)
		END AS opened
	FROM (
		SELECT id, id > $1::bigint AS open, $1::bigint + $2::bigint - id AS rank,
			id > $1::bigint AND $1::bigint + $2::bigint - id < 20 AS recent,
			id % greatest($2::bigint, $1::bigint / 4, 1) AS gid,
			CASE WHEN id % 10 < 6 THEN 1 WHEN id % 10 < 9 THEN 2 ELSE 3 END AS n,
			make_interval(secs => 300 + id * 37 % 21600) AS lasts
		FROM generate_series(1, $1::bigint + $2::bigint) AS id
	) base
) shaped`},
	{"alerts", func(fillArgs) []any { return nil }, `
INSERT INTO alerts (incident_id, fingerprint, status, severity, labels, annotations, starts_at, ends_at,
	generator_url, updated_at)
SELECT i.id, lpad(to_hex(i.id * 4 + k), 16, '0'),
	CASE WHEN i.status = 'resolved' OR k = 3 THEN 'resolved' ELSE 'firing' END,
	i.severity,
	i.common_labels || jsonb_build_object('pod', (i.group_labels ->> 'service') || '-' || k || '-' || to_hex(i.id)),
	i.common_annotations || jsonb_build_object('description', (i.group_labels ->> 'alertname') || ' on pod ' || k),
	i.opened_at + make_interval(secs => (k - 1) * 30),
	CASE WHEN i.status = 'resolved' THEN i.resolved_at WHEN k = 3 THEN i.opened_at + interval '10 minutes' END,
	'http://prometheus.monitoring:9090/graph?g0.expr=' || (i.group_labels ->> 'alertname'),
	coalesce(i.resolved_at, i.opened_at + make_interval(secs => (k - 1) * 30))
FROM incidents i CROSS JOIN LATERAL generate_series(1, i.firing + i.resolved) AS k`},
	{"timeline", func(fillArgs) []any { return nil }, `
INSERT INTO timeline (incident_id, at, kind, detail)
SELECT incident_id, at, kind, detail FROM (
	SELECT id AS incident_id, opened_at AS at, 'opened' AS kind,
		format('%s opened at P%s: %s firing', title, severity, CASE WHEN firing + resolved = 1 THEN '1 alert' ELSE (firing + resolved) || ' alerts' END) AS detail
	FROM incidents
	UNION ALL
	SELECT a.incident_id, a.starts_at, 'alert_firing',
		format('%s service=%s firing (P%s)', a.labels ->> 'alertname', a.labels ->> 'service', a.severity)
	FROM alerts a JOIN incidents i ON i.id = a.incident_id WHERE a.starts_at > i.opened_at
	UNION ALL
	SELECT id, acked_at, 'acknowledged', 'acknowledged by <@' || acked_by || '>' FROM incidents WHERE acked_at IS NOT NULL
	UNION ALL
	SELECT id, opened_at + interval '15 minutes', 'reminder',
		format('not acknowledged 15m after opening: escalating to level %s', reminders)
	FROM incidents WHERE reminders > 0
	UNION ALL
	SELECT id, resolved_at, 'resolved', 'all alerts resolved' FROM incidents WHERE status = 'resolved'
) events ORDER BY incident_id, at`},
	{"threads", func(fillArgs) []any { return nil }, `
INSERT INTO threads (incident_id, destination, platform, channel, root_id, thread_id, root_attempted_at,
	root_hash, last_event_id, updated_at, runbook_posted, graph_state)
SELECT i.id, 'slack-incidents', 'slack', 'C0INCIDENTS', ts, ts, i.opened_at, md5(i.id::text), e.last, i.updated_at, true, 2
FROM (SELECT id, opened_at, updated_at,
		to_char(extract(epoch FROM opened_at)::bigint, 'FM9999999999') || '.' || lpad((id % 1000000)::text, 6, '0') AS ts
	FROM incidents WHERE id % 10 < 3) i
JOIN (SELECT incident_id, max(id) AS last FROM timeline GROUP BY incident_id) e ON e.incident_id = i.id`},
	{"the incident id sequence", func(a fillArgs) []any { return []any{a.resolved, a.open} }, `SELECT setval(pg_get_serial_sequence('incidents', 'id'), greatest($1::bigint + $2::bigint, 1))`},
}

// FillResult is what the fill made and how long it took.
type FillResult struct {
	Open      int                `json:"open"`
	Resolved  int                `json:"resolved"`
	Rows      map[string]int64   `json:"rows"`
	Seconds   map[string]float64 `json:"seconds"`
	TotalS    float64            `json:"total_s"`
	VacuumS   float64            `json:"vacuum_analyze_s"`
	SizeMiB   float64            `json:"database_mib"`
	DueAtOpen int64              `json:"reminders_due_at_start"`
	Pending   int64              `json:"reminders_pending"`
}

// fill generates the store in the database at dbURL, then vacuums and
// analyzes it, so that the planner knows the tables and autovacuum has
// nothing to do while the bot idles.
func fill(ctx context.Context, dbURL string, open, resolved, due int, reminderAfter time.Duration) (*FillResult, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	for _, set := range []string{"SET synchronous_commit TO off", "SET work_mem TO '64MB'", "SET maintenance_work_mem TO '256MB'"} {
		if _, err := conn.Exec(ctx, set); err != nil {
			return nil, fmt.Errorf("%s: %w", set, err)
		}
	}
	res := &FillResult{Open: open, Resolved: resolved, Rows: map[string]int64{}, Seconds: map[string]float64{}}
	now := time.Now().UTC()
	fa := fillArgs{resolved: resolved, open: open, due: due, now: now, reminderAfter: reminderAfter,
		openStep: openSpan.Seconds() / float64(max(open, 1)), resolvedStep: resolvedSpan.Seconds() / float64(max(resolved, 1))}
	begin := time.Now()
	for _, st := range fillStatements {
		t0 := time.Now()
		tag, err := conn.Exec(ctx, st.sql, st.args(fa)...)
		if err != nil {
			return nil, fmt.Errorf("fill %s: %w", st.what, err)
		}
		res.Seconds[st.what] = time.Since(t0).Seconds()
		if tag.Insert() {
			res.Rows[st.what] = tag.RowsAffected()
		}
		logf("filled %s: %d rows in %.1f s", st.what, tag.RowsAffected(), time.Since(t0).Seconds())
	}
	res.TotalS = time.Since(begin).Seconds()
	t0 := time.Now()
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}
	res.VacuumS = time.Since(t0).Seconds()
	var bytes int64
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&bytes); err != nil {
		return nil, fmt.Errorf("database size: %w", err)
	}
	res.SizeMiB = float64(bytes) / (1 << 20)
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE next_reminder_at <= $1), count(*) FROM incidents
		WHERE status = 'open' AND acked_at IS NULL AND next_reminder_at IS NOT NULL`, now).Scan(&res.DueAtOpen, &res.Pending); err != nil {
		return nil, fmt.Errorf("count reminders: %w", err)
	}
	return res, nil
}
