package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
)

// The web console's reads (bot.ConsoleReads). Every list is one query that
// walks an index of migration 00012 in the list's order from the cursor
// and stops at its page. Optional filters are constant fragments joined
// to a constant head, their values always parameters.

// The incident list in two parts: the open incidents by severity then id
// (incidents_open_by_severity, or the service and alert-name indexes),
// then the resolved ones by id, down (incidents_by_status).
const (
	qListOpenHead = `SELECT ` + incidentColumns + ` FROM incidents WHERE status = 'open' AND (severity, id) > (?, ?)`
	qListOpenTail = ` ORDER BY severity, id LIMIT ?`

	qListResolvedHead = `SELECT ` + incidentColumns + ` FROM incidents WHERE status = 'resolved' AND id < ?`
	qListResolvedTail = ` ORDER BY id DESC LIMIT ?`

	fSeverity  = ` AND severity = ?`
	fService   = ` AND service = ?`
	fAlertName = ` AND alertname = ?`
	// No index serves a substring: the title search reads the part's
	// index from the cursor, the resolved part in windows (fFloor).
	fText = ` AND lower(title) LIKE ? ESCAPE '\'`
	// fFloor bounds a title search's walk of the resolved part.
	fFloor = ` AND id >= ?`

	qNewestIncident = `SELECT max(id) FROM incidents`
)

// maxLinks bounds each direction of an incident's outage links.
const maxLinks = bot.MaxConsolePage

var (
	qOutagesOf = `SELECT ` + incidentColumnsOf + ` FROM incident_links l JOIN incidents i ON i.id = l.outage_id
		WHERE l.incident_id = ? ORDER BY l.outage_id LIMIT ?`
	qMembersOf = `SELECT ` + incidentColumnsOf + ` FROM incident_links l JOIN incidents i ON i.id = l.incident_id
		WHERE l.outage_id = ? ORDER BY l.incident_id LIMIT ?`
)

const (
	qThreads = `SELECT destination, platform, channel, root_id, thread_id, root_attempted_at, root_hash,
		last_event_id, runbook_posted FROM threads WHERE incident_id = ? ORDER BY destination LIMIT ?`

	qApprovalsPending = `SELECT ` + approvalColumns + ` FROM approvals WHERE status = 'pending' AND id < ?
		ORDER BY id DESC LIMIT ?`
	// Closed requests walk the primary key down past the pending few.
	qApprovalsClosed = `SELECT ` + approvalColumns + ` FROM approvals WHERE status <> 'pending' AND id < ?
		ORDER BY id DESC LIMIT ?`
	qApprovalsOfIncident = `SELECT ` + approvalColumns + ` FROM approvals WHERE incident_id = ? AND id < ?
		ORDER BY id DESC LIMIT ?`

	qAuditListHead = `SELECT ` + auditColumns + ` FROM audit_log WHERE seq < ?`
	qAuditListTail = ` ORDER BY seq DESC LIMIT ?`
	fAuditActor    = ` AND actor_platform = ? AND actor_user_id = ?`
	fAuditAction   = ` AND action = ?`

	qIncidentTimes = `SELECT severity, opened_at, acked_at, resolved_at FROM incidents
		WHERE opened_at >= ? ORDER BY opened_at LIMIT ?`

	// Each max walks to the end of a primary key.
	qChangeMark = `SELECT (SELECT coalesce(max(id), 0) FROM timeline), (SELECT coalesce(max(id), 0) FROM approvals),
		(SELECT coalesce(max(seq), 0) FROM audit_log)`
)

// incidentColumnsOf is incidentColumns of the incidents table aliased i.
var incidentColumnsOf = "i." + strings.ReplaceAll(strings.Join(strings.Fields(incidentColumns), " "), ", ", ", i.")

// noCursor is above every id: a walk down from it starts at the newest.
const noCursor = int64(1<<63 - 1)

// IncidentList reads a page of the console's incident list: the open
// part from the cursor, then, while the page has room, the resolved part.
func (s *Store) IncidentList(ctx context.Context, q bot.IncidentQuery) (out []bot.Incident, next bot.ListCursor, err error) {
	defer s.observe("incident_list", time.Now(), &err)
	limit := bot.ConsolePage(q.Limit)
	var filters string
	var args []any
	if !q.AnySeverity {
		filters, args = filters+fSeverity, append(args, int(q.Severity))
	}
	if q.Service != "" {
		filters, args = filters+fService, append(args, q.Service)
	}
	if q.AlertName != "" {
		filters, args = filters+fAlertName, append(args, q.AlertName)
	}
	if q.Text != "" {
		filters, args = filters+fText, append(args, likePattern(q.Text))
	}
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, next, fmt.Errorf("incident list: begin: %w", err)
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	if !q.After.Resolved && q.Status != bot.IncidentResolved {
		query := rebind(qListOpenHead+filters+qListOpenTail, s.d.NumberedParams)
		a := append([]any{int(q.After.Severity), q.After.ID}, args...)
		if q.After.IsZero() {
			a[0], a[1] = -1, 0
		}
		if out, err = queryIncidents(ctx, rtx, query, append(a, limit)...); err != nil {
			return nil, next, fmt.Errorf("incident list: open: %w", err)
		}
		if len(out) == limit {
			return out, bot.CursorAfter(out[limit-1]), nil
		}
	}
	if q.Status == bot.IncidentOpen {
		return out, next, nil
	}
	before := noCursor
	if q.After.Resolved {
		before = q.After.ID
	}
	query, a := qListResolvedHead+filters, append([]any{before}, args...)
	// A title search reads a window of ids, down from the cursor.
	var floor int64
	if q.Text != "" {
		if before == noCursor {
			var newest sql.NullInt64
			if err := rtx.QueryRowContext(ctx, qNewestIncident).Scan(&newest); err != nil {
				return nil, next, fmt.Errorf("incident list: newest: %w", err)
			}
			before = newest.Int64 + 1
			a[0] = before
		}
		window := q.TextWindow
		if window <= 0 {
			window = bot.TextScanWindow
		}
		floor = max(before-window, 0)
		query, a = query+fFloor, append(a, floor)
	}
	more, err := queryIncidents(ctx, rtx, rebind(query+qListResolvedTail, s.d.NumberedParams), append(a, limit-len(out))...)
	if err != nil {
		return nil, next, fmt.Errorf("incident list: resolved: %w", err)
	}
	out = append(out, more...)
	switch {
	case len(out) == limit:
		next = bot.CursorAfter(out[limit-1])
	case floor > 1:
		next = bot.ListCursor{Resolved: true, ID: floor}
	}
	return out, next, nil
}

// likePattern matches text anywhere, its own % _ and \ taken literally.
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(text)) + "%"
}

func queryIncidents(ctx context.Context, q queryer, query string, args ...any) ([]bot.Incident, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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

// IncidentLinks reads an incident's outages and, if it is one, its
// incidents.
func (s *Store) IncidentLinks(ctx context.Context, id int64, limit int) (l bot.IncidentLinks, err error) {
	defer s.observe("incident_links", time.Now(), &err)
	limit = min(max(limit, 1), maxLinks)
	if l.Outages, err = queryIncidents(ctx, s.db, rebind(qOutagesOf, s.d.NumberedParams), id, limit); err != nil {
		return l, fmt.Errorf("incident %d: outages: %w", id, err)
	}
	if l.Members, err = queryIncidents(ctx, s.db, rebind(qMembersOf, s.d.NumberedParams), id, limit); err != nil {
		return l, fmt.Errorf("incident %d: linked incidents: %w", id, err)
	}
	return l, nil
}

// Threads reads an incident's threads at every destination.
func (s *Store) Threads(ctx context.Context, incidentID int64) (out []bot.Thread, err error) {
	defer s.observe("threads", time.Now(), &err)
	rows, err := s.db.QueryContext(ctx, rebind(qThreads, s.d.NumberedParams), incidentID, bot.MaxConsolePage)
	if err != nil {
		return nil, fmt.Errorf("incident %d: threads: %w", incidentID, err)
	}
	defer rows.Close()
	for rows.Next() {
		th := bot.Thread{IncidentID: incidentID}
		var attempted sql.NullTime
		if err := rows.Scan(&th.Destination, &th.Platform, &th.Ref.Channel, &th.Ref.RootID, &th.Ref.ThreadID,
			&attempted, &th.RootHash, &th.LastEventID, &th.RunbookPosted); err != nil {
			return nil, fmt.Errorf("incident %d: threads: %w", incidentID, err)
		}
		th.RootAttemptedAt = timePtr(attempted)
		out = append(out, th)
	}
	return out, rows.Err()
}

// ApprovalList reads a page of requests with their votes.
func (s *Store) ApprovalList(ctx context.Context, q bot.ApprovalQuery) (out []bot.Approval, err error) {
	defer s.observe("approval_list", time.Now(), &err)
	before := q.Before
	if before <= 0 {
		before = noCursor
	}
	query, args := qApprovalsClosed, []any{before, bot.ConsolePage(q.Limit)}
	switch {
	case q.IncidentID != 0:
		query, args = qApprovalsOfIncident, append([]any{q.IncidentID}, args...)
	case q.Pending:
		query = qApprovalsPending
	}
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("approval list: begin: %w", err)
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	if out, err = s.approvalsWithVotes(ctx, rtx, rebind(query, s.d.NumberedParams), args...); err != nil {
		return nil, fmt.Errorf("approval list: %w", err)
	}
	return out, nil
}

// AuditList reads a page of the audit log, newest first.
func (s *Store) AuditList(ctx context.Context, q bot.AuditQuery) (out []bot.AuditRecord, err error) {
	defer s.observe("audit_list", time.Now(), &err)
	before := q.Before
	if before <= 0 {
		before = noCursor
	}
	query, args := qAuditListHead, []any{before}
	if q.Actor.Platform != "" {
		query, args = query+fAuditActor, append(args, q.Actor.Platform, q.Actor.UserID)
	}
	if q.Action != "" {
		query, args = query+fAuditAction, append(args, q.Action)
	}
	limit := bot.ConsolePage(q.Limit)
	rows, err := s.db.QueryContext(ctx, rebind(query+qAuditListTail, s.d.NumberedParams), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	if out, err = scanAudit(rows, limit); err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	return out, nil
}

// LastAudit reads the chain's newest row.
func (s *Store) LastAudit(ctx context.Context) (h bot.AuditHead, ok bool, err error) {
	defer s.observe("last_audit", time.Now(), &err)
	var keyed bool
	var keyID string
	err = s.db.QueryRowContext(ctx, s.q.auditLast).Scan(&h.Seq, &h.Hash, &keyed, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("audit head: %w", err)
	}
	return h, true, nil
}

// IncidentTimes reads what the reliability charts count.
func (s *Store) IncidentTimes(ctx context.Context, since time.Time, limit int) (out []bot.IncidentTiming, err error) {
	defer s.observe("incident_times", time.Now(), &err)
	rows, err := s.db.QueryContext(ctx, rebind(qIncidentTimes, s.d.NumberedParams), since.UTC(), max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("incident times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			t             bot.IncidentTiming
			sev           int
			acked, solved sql.NullTime
		)
		if err := rows.Scan(&sev, &t.OpenedAt, &acked, &solved); err != nil {
			return nil, fmt.Errorf("incident times: %w", err)
		}
		t.Severity, t.OpenedAt = bot.Severity(sev), t.OpenedAt.UTC()
		t.AckedAt, t.ResolvedAt = timePtr(acked), timePtr(solved)
		out = append(out, t)
	}
	return out, rows.Err()
}

// ChangeMark reads the newest event, approval and audit row.
func (s *Store) ChangeMark(ctx context.Context) (m bot.ChangeMark, err error) {
	defer s.observe("change_mark", time.Now(), &err)
	err = s.db.QueryRowContext(ctx, qChangeMark).Scan(&m.Event, &m.Approval, &m.Audit)
	return m, err
}
