package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// WriteIncident writes one notification's outcome. With a dialect that
// writes through CTEs (PostgreSQL) the incident, its alerts, its events and
// its sync jobs go in one statement, one round trip; otherwise one
// statement each.
func (t *tx) WriteIncident(ctx context.Context, w bot.IncidentWrite) (int64, error) {
	if w.TraceParent == "" {
		w.TraceParent = telemetry.TraceParent(ctx)
	}
	if t.s.d.WriteCTE {
		return t.writeCTE(ctx, w)
	}
	inc := w.Incident
	id := inc.ID
	switch {
	case id == 0:
		var err error
		if id, err = t.CreateIncident(ctx, inc); err != nil {
			return 0, err
		}
	case w.Update:
		if err := t.UpdateIncident(ctx, inc); err != nil {
			return 0, err
		}
	}
	if err := t.UpsertAlerts(ctx, id, w.Alerts, w.At); err != nil {
		return 0, err
	}
	if err := t.AppendEvents(ctx, id, w.Events); err != nil {
		return 0, err
	}
	jobs := make([]bot.OutboxJob, len(w.Destinations))
	for i, d := range w.Destinations {
		jobs[i] = bot.OutboxJob{IncidentID: id, Destination: d, Priority: inc.Severity, DueAt: w.At, TraceParent: w.TraceParent}
	}
	if err := t.Enqueue(ctx, jobs...); err != nil {
		return 0, err
	}
	if w.StatusChanged && inc.ID != 0 {
		if err := t.MarkLinksChanged(ctx, id); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// writeCTE writes w as one statement of data-modifying CTEs: "inc" creates
// (or updates, or names) the incident, and the alerts, events and jobs are
// inserted from it, so they take its new id and nothing of them is written
// when it is not (an open incident of the group exists: the insert's ON
// CONFLICT leaves it alone and the statement returns no row). Alerts beyond
// one statement's share go in separate statements after it.
func (t *tx) writeCTE(ctx context.Context, w bot.IncidentWrite) (int64, error) {
	q, args := writeStatement(w, false)
	var id int64
	err := t.tx.QueryRowContext(ctx, q, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if w.Incident.ID == 0 {
			return 0, bot.ErrConflict
		}
		return 0, bot.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if rest := w.Alerts[min(len(w.Alerts), maxRowsPerInsert):]; len(rest) > 0 {
		if err := t.UpsertAlerts(ctx, id, rest, w.At); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// OpenIncident writes w as a new group's first incident. On PostgreSQL a
// notification of a group seen for the first time costs one statement,
// its own transaction: the incident is inserted only when no incident of
// the group exists (and the one-open-incident index settles two at once),
// with its alerts, events and jobs from the same statement.
func (s *Store) OpenIncident(ctx context.Context, w bot.IncidentWrite) (id int64, ok bool, err error) {
	defer s.observe("open_incident", time.Now(), &err)
	if w.TraceParent == "" {
		w.TraceParent = telemetry.TraceParent(ctx)
	}
	if !s.d.WriteCTE || len(w.Alerts) > maxRowsPerInsert {
		err = s.runTx(ctx, func(t *tx) error {
			latest, err := t.LatestIncident(ctx, w.Incident.Receiver, w.Incident.GroupKey)
			if err != nil || latest != nil {
				return err
			}
			id, err = t.WriteIncident(ctx, w)
			if errors.Is(err, bot.ErrConflict) {
				return nil
			}
			ok = err == nil
			return err
		})
		return id, ok, err
	}
	q, args := writeStatement(w, true)
	err = s.db.QueryRowContext(ctx, q, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// writeStatement is w as one statement of data-modifying CTEs, with its
// arguments. With onlyNewGroup the incident is inserted only when its
// group has no incident at all.
func writeStatement(w bot.IncidentWrite, onlyNewGroup bool) (string, []any) {
	inc := w.Incident
	var (
		b    strings.Builder
		args []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	list := func(vs ...any) string {
		ps := make([]string, len(vs))
		for i, v := range vs {
			ps[i] = arg(v)
		}
		return strings.Join(ps, ", ")
	}
	b.WriteString("WITH inc AS (")
	switch {
	case inc.ID == 0:
		b.WriteString(`INSERT INTO incidents (receiver, group_key, status, severity, title, group_labels,
	common_labels, common_annotations, external_url, truncated_alerts, firing, resolved, opened_at,
	resolved_at, updated_at, acked_at, acked_by, severity_override, next_reminder_at, reminders)`)
		if !onlyNewGroup {
			b.WriteString(` VALUES (`)
		}
		values := list(inc.Receiver, inc.GroupKey, string(inc.Status), int(inc.Severity), inc.Title,
			jsonText(inc.GroupLabels), jsonText(inc.CommonLabels), jsonText(inc.CommonAnnotations),
			inc.ExternalURL, inc.TruncatedAlerts, inc.Firing, inc.Resolved,
			inc.OpenedAt.UTC(), nullTime(inc.ResolvedAt), inc.UpdatedAt.UTC(),
			nullTime(inc.AckedAt), inc.AckedBy, nullSeverity(inc.SeverityOverride),
			nullTime(inc.NextReminderAt), inc.Reminders)
		if onlyNewGroup {
			// $1 and $2 are the receiver and the group key.
			b.WriteString(` SELECT ` + values + ` WHERE NOT EXISTS (SELECT 1 FROM incidents WHERE receiver = $1 AND group_key = $2)`)
		} else {
			b.WriteString(values + `)`)
		}
		b.WriteString(qOneOpenIncident + ` RETURNING id)`)
	case w.Update:
		b.WriteString(`UPDATE incidents SET status = ` + arg(string(inc.Status)) + `, severity = ` + arg(int(inc.Severity)) +
			`, title = ` + arg(inc.Title) + `, group_labels = ` + arg(jsonText(inc.GroupLabels)) +
			`, common_labels = ` + arg(jsonText(inc.CommonLabels)) + `, common_annotations = ` + arg(jsonText(inc.CommonAnnotations)) +
			`, external_url = ` + arg(inc.ExternalURL) + `, truncated_alerts = ` + arg(inc.TruncatedAlerts) +
			`, firing = ` + arg(inc.Firing) + `, resolved = ` + arg(inc.Resolved) + `, resolved_at = ` + arg(nullTime(inc.ResolvedAt)) +
			`, updated_at = ` + arg(inc.UpdatedAt.UTC()) + `, acked_at = ` + arg(nullTime(inc.AckedAt)) + `, acked_by = ` + arg(inc.AckedBy) +
			`, severity_override = ` + arg(nullSeverity(inc.SeverityOverride)) + `, next_reminder_at = ` + arg(nullTime(inc.NextReminderAt)) +
			`, reminders = ` + arg(inc.Reminders) + ` WHERE id = ` + arg(inc.ID) + ` RETURNING id)`)
	default:
		b.WriteString(`SELECT ` + arg(inc.ID) + `::bigint AS id)`)
	}
	first := w.Alerts[:min(len(w.Alerts), maxRowsPerInsert)]
	if len(first) > 0 {
		b.WriteString(`, al AS (INSERT INTO alerts (incident_id, fingerprint, status, severity, labels, annotations,
	starts_at, ends_at, generator_url, updated_at) SELECT inc.id, v.* FROM inc, (VALUES `)
		for i, a := range first {
			if i > 0 {
				b.WriteString(", ")
			}
			var ends *time.Time
			if !a.EndsAt.IsZero() {
				ends = &a.EndsAt
			}
			b.WriteString("(" + arg(a.Fingerprint) + "::text, " + arg(string(a.Status)) + "::text, " + arg(int(a.Severity)) +
				"::smallint, " + arg(jsonText(a.Labels)) + "::jsonb, " + arg(jsonText(a.Annotations)) + "::jsonb, " +
				arg(a.StartsAt.UTC()) + "::timestamptz, " + arg(nullTime(ends)) + "::timestamptz, " + arg(a.GeneratorURL) +
				"::text, " + arg(w.At.UTC()) + "::timestamptz)")
		}
		b.WriteString(`) AS v` + qUpsertAlertsTail + `)`)
	}
	if len(w.Events) > 0 {
		// Ordered, so that the events' ids follow the notification's order.
		b.WriteString(`, ev AS (INSERT INTO timeline (incident_id, at, kind, detail) SELECT inc.id, v.at, v.kind, v.detail
	FROM inc, (VALUES `)
		for i, e := range w.Events {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + strconv.Itoa(i) + ", " + arg(e.At.UTC()) + "::timestamptz, " + arg(string(e.Kind)) + "::text, " + arg(e.Detail) + "::text)")
		}
		b.WriteString(`) AS v (n, at, kind, detail) ORDER BY v.n)`)
	}
	if len(w.Destinations) > 0 {
		at := w.At.UTC()
		b.WriteString(`, ob AS (INSERT INTO outbox (incident_id, destination, priority, due_at, created_at, updated_at, traceparent)
	SELECT inc.id, v.destination, ` + arg(int(inc.Severity)) + `::smallint, ` + arg(at) + `::timestamptz, ` +
			arg(at) + `::timestamptz, ` + arg(at) + `::timestamptz, ` + arg(nullTraceParent(w.TraceParent)) + `::text FROM inc, (VALUES `)
		for i, d := range w.Destinations {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + arg(d) + "::text)")
		}
		b.WriteString(`) AS v (destination)` + qEnqueueConflict + `)`)
	}
	if w.StatusChanged && inc.ID != 0 {
		// A new incident has no links yet.
		b.WriteString(`, lk AS (UPDATE incident_links SET changed = 1 WHERE incident_id = (SELECT id FROM inc))`)
	}
	b.WriteString(` SELECT id FROM inc`)
	return b.String(), args
}
