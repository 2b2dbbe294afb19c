package bot

import (
	"context"
	"time"
)

// MaxConsolePage is the most rows one console list returns, whatever its
// caller asks.
const MaxConsolePage = 200

// ConsolePage is a console list's page size as the store reads it: at
// least 1, at most MaxConsolePage.
func ConsolePage(n int) int { return min(max(n, 1), MaxConsolePage) }

// ConsoleReads are the store's reads for the web console: every list is
// bounded (MaxConsolePage) and keyset-paginated, and walks an index in its
// own order, so a page costs its rows, not the years stored before them.
type ConsoleReads interface {
	// IncidentList returns up to q.Limit incidents after q.After in the
	// console's order: open ones first (the most urgent, then the oldest),
	// then resolved ones (the newest first), with q's filters applied, and
	// where the next page starts (zero: the list ends here). A title
	// search reads at most TextScanWindow resolved incidents a page, so its
	// page may hold fewer than q.Limit and still have a next.
	IncidentList(ctx context.Context, q IncidentQuery) (incidents []Incident, next ListCursor, err error)
	// IncidentLinks returns up to limit outages the incident is part of
	// and up to limit incidents of the outage it is, by id.
	IncidentLinks(ctx context.Context, id int64, limit int) (IncidentLinks, error)
	// Threads returns the incident's threads, one per destination that
	// has one, by destination (at most MaxConsolePage).
	Threads(ctx context.Context, incidentID int64) ([]Thread, error)
	// ApprovalList returns up to q.Limit requests, newest first, with
	// their votes.
	ApprovalList(ctx context.Context, q ApprovalQuery) ([]Approval, error)
	// AuditList returns up to q.Limit audit rows before q.Before, newest
	// first.
	AuditList(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// LastAudit is the chain's newest row as a head; false when the log
	// is empty.
	LastAudit(ctx context.Context) (AuditHead, bool, error)
	// IncidentTimes returns up to limit incidents opened at or after
	// since, oldest first: what the reliability charts count.
	IncidentTimes(ctx context.Context, since time.Time, limit int) ([]IncidentTiming, error)
	// ChangeMark names the store's latest change: it moves whenever an
	// incident's timeline, an approval or the audit log does.
	ChangeMark(ctx context.Context) (ChangeMark, error)
}

// TextScanWindow is how many ids of resolved incidents one page of a
// title search reads at most: no index serves a substring, and a text
// that matches nothing would otherwise read every incident there is.
const TextScanWindow = 20000

// ListCursor is where a page of the console's incident list ended: in the
// open part (by severity, then id) or the resolved part (by id, down). The
// zero cursor is the list's start.
type ListCursor struct {
	Resolved bool
	Severity Severity
	ID       int64
}

// IsZero says the cursor is the list's start.
func (c ListCursor) IsZero() bool { return c == ListCursor{} }

// CursorAfter is the cursor of the page that ends with inc.
func CursorAfter(inc Incident) ListCursor {
	return ListCursor{Resolved: inc.Status == IncidentResolved, Severity: inc.Severity, ID: inc.ID}
}

// IncidentQuery selects a page of the console's incident list. Empty
// fields do not filter.
type IncidentQuery struct {
	Status IncidentStatus
	// Severity filters when AnySeverity is false.
	Severity    Severity
	AnySeverity bool
	// Service and AlertName match the incident's label exactly.
	Service, AlertName string
	// Text is a case-insensitive substring of the title.
	Text string
	// TextWindow is how many ids of resolved incidents a page of a title
	// search reads (0: TextScanWindow).
	TextWindow int64
	After      ListCursor
	Limit      int
}

// IncidentLinks are an incident's links to outages, both ways.
type IncidentLinks struct {
	// Outages are the outages the incident is part of.
	Outages []Incident
	// Members are the incidents of the outage the incident is.
	Members []Incident
}

// ApprovalQuery selects a page of approval requests, newest first.
type ApprovalQuery struct {
	// Pending lists the pending requests; otherwise the closed ones.
	Pending bool
	// IncidentID, when set, lists the incident's requests, whatever their
	// status (Pending is ignored).
	IncidentID int64
	// Before is the id of the last request of the page before (0: none).
	Before int64
	Limit  int
}

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	// Actor, when its Platform is set, keeps only that person's rows.
	Actor Identity
	// Action, when set, keeps only rows of that action.
	Action string
	// Before is the seq of the last row of the page before (0: none).
	Before int64
	Limit  int
}

// IncidentTiming is what the reliability charts read of one incident.
type IncidentTiming struct {
	Severity   Severity
	OpenedAt   time.Time
	AckedAt    *time.Time
	ResolvedAt *time.Time
}

// ChangeMark is the newest timeline event, approval and audit row.
type ChangeMark struct {
	Event, Approval, Audit int64
}
