package bot

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Store when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is a write that another writer beat to it: an open incident
// of the same alert group was committed first. Nothing was written; the
// transaction may read again and go on.
var ErrConflict = errors.New("conflict: another writer came first")

// IncidentWrite is everything one notification writes about its
// incident, handed to the store at once so that it can send it in as few
// statements as its database allows.
type IncidentWrite struct {
	// Incident is created when its ID is 0, else updated when Update is
	// set (and left as it is otherwise).
	Incident *Incident
	Update   bool
	// Alerts are written by fingerprint (inserted or replaced), stamped At.
	Alerts []Alert
	At     time.Time
	// Events are appended to the timeline, in order.
	Events []Event
	// Destinations each get a sync job at the incident's severity, due at
	// At, coalescing into one already pending (see Tx.Enqueue).
	Destinations []string
	// StatusChanged says the incident opened, resolved or reopened: the
	// outages it is linked to must count it again (Tx.MarkLinksChanged).
	StatusChanged bool
	// TraceParent, when set, is what the jobs store as the change's
	// traceparent (otherwise the writing span's; see OutboxJob).
	TraceParent string
}

// Store is everything chatops keeps durably: the contract that the
// PostgreSQL and SQLite implementations (integrations/postgres,
// integrations/sqlite) fulfil and that one conformance suite
// (bot/storetest) checks on both. No service takes all of it: each declares
// the few methods it calls, and main hands it the store.
type Store interface {
	// InTx runs fn in one transaction and commits when fn returns nil. The
	// Tx also implements CorrelationTx.
	InTx(ctx context.Context, fn func(Tx) error) error
	// OpenIncident writes w (a new open incident, its alerts, events and
	// jobs) when its group has no incident at all, in one round trip where
	// the database allows, and returns the new id; ok is false, and
	// nothing is written, when the group has one (then the notification
	// takes the transactional path).
	OpenIncident(ctx context.Context, w IncidentWrite) (id int64, ok bool, err error)
	// ListIncidents returns up to f.Limit incidents, newest first.
	ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	// GetIncident returns an incident with all its alerts (by start) and
	// its whole timeline, however many: for tests and for tools on small
	// incidents. The services read IncidentPages, which are bounded.
	// ErrNotFound for an unknown id.
	GetIncident(ctx context.Context, id int64) (IncidentDetail, error)
	IncidentPages
	CountOpenIncidents(ctx context.Context) (map[Severity]int, error)
	// OutboxStats returns the number of pending jobs and when the oldest
	// was first enqueued (zero when there is none).
	OutboxStats(ctx context.Context) (depth int, oldest time.Time, err error)
	Outbox
	ReplayGuard
	Approvals
	Audit
	Timers
	ConsoleReads
	// IncidentByThread returns the incident whose thread at platform, in
	// channel (the thread's parent channel), is thread (Slack: the root's
	// ts; Discord: the thread's id); ErrNotFound when it is no incident's.
	IncidentByThread(ctx context.Context, platform, channel, thread string) (int64, error)
	// Ready reports whether the store is reachable and fully migrated.
	Ready(ctx context.Context) error
	Close() error
}

// Approvals is the store's side of the two-person rule.
type Approvals interface {
	// ApprovalTx runs fn in one transaction and commits when fn returns nil.
	ApprovalTx(ctx context.Context, fn func(ApprovalTx) error) error
	// GetApproval reads a request with its votes.
	GetApproval(ctx context.Context, id int64) (Approval, error)
	// DueApprovals returns up to limit pending requests whose expiry is at
	// or before now, oldest first.
	DueApprovals(ctx context.Context, now time.Time, limit int) ([]Approval, error)
}

// Audit is the store's side of the audit log.
type Audit interface {
	// AppendAudit seals and appends rows to the chain in a transaction of
	// their own.
	AppendAudit(ctx context.Context, recs ...AuditRecord) error
	// AuditRecords calls fn for every row at or after since (zero: all), in
	// sequence order, and stops at fn's first error.
	AuditRecords(ctx context.Context, since time.Time, fn func(AuditRecord) error) error
}

// Timers are durable deadlines and the lease that lets one replica at a
// time fire them.
type Timers interface {
	// DueReminders returns up to limit ids of open, unacknowledged
	// incidents whose next reminder is at or before now, longest overdue
	// first.
	DueReminders(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// CountPastDeadline counts open, unacknowledged incidents past their
	// response deadline at now: reminded at least once, or due.
	CountPastDeadline(ctx context.Context, now time.Time) (int, error)
	// CountOverdueReminders counts open, unacknowledged incidents whose
	// next reminder fell due before dueBefore and has not fired: the
	// escalator's own health, read by every replica.
	CountOverdueReminders(ctx context.Context, dueBefore time.Time) (int, error)
	// AcquireLease gives lease name to holder until now+ttl when it is
	// free, expired or already holder's (then it renews it), and reports
	// whether holder has it. Holder's own lease with ttl 0 is given up:
	// it expires at once.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// ReplayClockSkew is how far apart the replicas' clocks may be without a
// replay slipping through: every replica checks a signature's age on its
// own clock, so a key is kept this long past its expiry (as the clock of
// whoever sweeps reads it) and a replica running slow still finds it.
const ReplayClockSkew = time.Minute

// ReplayGuard remembers signed requests for as long as their signature is
// valid, across replicas.
type ReplayGuard interface {
	// FirstSeen records key until expires and reports whether this is the
	// first time it is seen; false means a replay. A key is kept at least
	// ReplayClockSkew past expires as now reads it.
	FirstSeen(ctx context.Context, key string, now, expires time.Time) (bool, error)
}

// Outbox is the store's side of the chat threads: sync jobs and what each
// thread shows.
type Outbox interface {
	// ClaimJobs claims up to limit due, unclaimed jobs until now+lease, most
	// urgent first. Several replicas never claim the same job.
	ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxJob, error)
	// ClaimNext claims the next due job of one destination until
	// now+lease: first the jobs whose incident has no root there yet
	// (most urgent, then oldest first), then, unless rootsOnly, the
	// others (most urgent, then oldest). ok is false when none is due.
	ClaimNext(ctx context.Context, destination string, now time.Time, lease time.Duration, rootsOnly bool) (job OutboxJob, ok bool, err error)
	// ContinueJob releases a claimed job whose first part is done (its
	// root is posted) as new work due at due, for what it still owes (the
	// runbook): its attempts start again, and unless a change folded into
	// it meanwhile it counts as enqueued at due.
	ContinueJob(ctx context.Context, job OutboxJob, due time.Time) error
	// FinishJob removes a claimed job, unless a change folded into it while
	// it was claimed: then it only releases the claim, and the job runs
	// again for the newer change.
	FinishJob(ctx context.Context, job OutboxJob) error
	// RetryJob releases a claimed job, due again at due (or earlier, if a
	// newer change asked for it).
	RetryJob(ctx context.Context, job OutboxJob, due time.Time, lastErr string) error
	// ExpediteJobs makes up to limit (0: all) jobs of destinations that
	// wait for a later retry due now, most urgent first: the platform
	// answered again after an outage, or is being probed.
	ExpediteJobs(ctx context.Context, destinations []string, now time.Time, limit int) (int, error)
	// Thread returns the thread state of an incident at a destination; a
	// zero Thread (RootID "") when nothing was posted yet.
	Thread(ctx context.Context, incidentID int64, destination string) (Thread, error)
	SaveThread(ctx context.Context, th Thread, at time.Time) error
}

// Thread is what chatops knows of one incident's thread at one destination.
type Thread struct {
	IncidentID  int64
	Destination string
	Platform    string
	Ref         ThreadRef
	// RootAttemptedAt is set before a root is posted; a root still unknown
	// after it means the outcome of that attempt is unknown.
	RootAttemptedAt *time.Time
	// RootHash is the hash of the root as last posted or edited.
	RootHash string
	// LastEventID is the newest timeline event the thread has shown.
	LastEventID int64
	// RunbookPosted says the thread's first reply, the runbook, was posted.
	RunbookPosted bool
	// GraphState says whether the thread's graph of its alert was posted.
	GraphState GraphState
}

// GraphState is where a thread's graph reply is. The graph is posted at
// most once: an attempt whose outcome is unknown is not made again.
type GraphState int

const (
	// GraphPending: not posted yet.
	GraphPending GraphState = iota
	// GraphPosting: a post was attempted and its outcome is unknown.
	GraphPosting
	// GraphDone: posted (the picture, or the line saying why there is
	// none), or given up.
	GraphDone
)

// Tx is what the engine does inside one transaction.
type Tx interface {
	// LockGroup serialises writers of one alert group until the transaction
	// ends, so parallel copies of a notification cannot both open an
	// incident. Writers of an existing incident are already serialised by
	// LatestIncident's row lock, and two opening one are told apart by
	// WriteIncident's ErrConflict: the engine takes it only after a
	// conflict, and before opening an incident already resolved.
	LockGroup(ctx context.Context, receiver, groupKey string) error
	// LatestIncident returns the group's newest incident (the open one, if
	// any, since a new incident only opens after the last one resolved), or
	// nil when the group has none. The row stays locked until the
	// transaction ends.
	LatestIncident(ctx context.Context, receiver, groupKey string) (*Incident, error)
	// Alerts returns the incident's stored alerts among fingerprints.
	Alerts(ctx context.Context, incidentID int64, fingerprints []string) ([]Alert, error)
	// AlertCounts counts all the incident's alerts by status and severity,
	// so that a notification costs what it carries, not what its
	// incident has accumulated.
	AlertCounts(ctx context.Context, incidentID int64) (AlertCounts, error)
	// CreateIncident stores a new incident and returns its id; a second
	// open incident of a group is ErrConflict.
	CreateIncident(ctx context.Context, inc *Incident) (int64, error)
	UpdateIncident(ctx context.Context, inc *Incident) error
	UpsertAlerts(ctx context.Context, incidentID int64, alerts []Alert, at time.Time) error
	AppendEvents(ctx context.Context, incidentID int64, events []Event) error
	// LockIncident loads an incident and holds it until the transaction
	// ends (a person acknowledging it while alerts arrive); ErrNotFound
	// for an unknown id.
	LockIncident(ctx context.Context, id int64) (*Incident, error)
	// WriteIncident writes w and returns the incident's id. Creating an
	// open incident while the group has one returns ErrConflict, having
	// written nothing: a notification that ran beside this one opened it.
	WriteIncident(ctx context.Context, w IncidentWrite) (int64, error)
	// MarkLinksChanged marks the incident's links to outages as changed:
	// its status moved, and each outage must count it again.
	MarkLinksChanged(ctx context.Context, incidentID int64) error
	// AppendAudit seals and appends audit rows to the chain.
	AppendAudit(ctx context.Context, recs ...AuditRecord) error
	// Enqueue adds a sync job per incident and destination, in as few
	// statements as the database allows, or, when one is already pending
	// (or named twice), coalesces into it: the earlier due time and the
	// more urgent priority win.
	Enqueue(ctx context.Context, jobs ...OutboxJob) error
}

// OutboxJob asks the dispatcher to bring one incident's chat thread at one
// destination up to date with the incident's current state.
type OutboxJob struct {
	IncidentID  int64
	Destination string
	Priority    Severity
	DueAt       time.Time
	// TraceParent is the W3C traceparent of the change that queued the
	// job (empty: the queuing span's, or none when tracing is off).
	// Claimed, it is the last change's, read back from the store.
	TraceParent string

	// Set when claimed.
	ID         int64
	Version    int64
	Attempts   int
	ClaimToken string
	CreatedAt  time.Time
}

// RecentCritical is what a pass reads of the newest critical alerts.
type RecentCritical struct {
	// Services are their distinct non-empty service labels, sorted.
	Services []string
	// Unlinked: one of their incidents is not linked to the outage asked
	// about yet (with no outage: false).
	Unlinked bool
}

// LinkChange is an outage's link whose incident changed status since the
// outage counted it.
type LinkChange struct {
	IncidentID int64
	Title      string
	// Counted is the status the outage's counts have for it ("" when it
	// was never counted: just linked); Status is its status now.
	Counted, Status IncidentStatus
}

// CorrelationTx is what the outage correlation (bot/incident) does inside
// one transaction, besides what the engine does. The stores' transactions
// implement it. A critical alert is a firing P0/P1 alert of an open
// incident that started at or after a cut-off (since); a critical incident
// has one.
type CorrelationTx interface {
	Tx
	// RecentCritical reads the newest (at most limit) critical alerts:
	// their services, and whether one of their incidents, other than the
	// outage, is not linked to outageID (0: no outage, nothing to link).
	RecentCritical(ctx context.Context, outageID int64, since time.Time, limit int) (RecentCritical, error)
	// LinkCritical links to the outage, in one statement, up to limit
	// critical incidents not linked to it yet and returns their ids,
	// ascending. With newest 0 it looks at every critical alert since the
	// cut-off, however many; otherwise only at the newest (at most newest)
	// critical alerts, a read bounded however long the storm. A new link
	// is changed and not counted yet.
	LinkCritical(ctx context.Context, outageID int64, since time.Time, newest, limit int) ([]int64, error)
	// ChangedLinks returns up to limit of the outage's links marked
	// changed, by incident id.
	ChangedLinks(ctx context.Context, outageID int64, limit int) ([]LinkChange, error)
	// CountLinks records that the outage's counts have the incidents at
	// status, and clears their marks, in one statement.
	CountLinks(ctx context.Context, outageID int64, status IncidentStatus, incidentIDs []int64) error
	// LockIncidents loads the incidents, by ascending id, and holds them
	// until the transaction ends, in one statement; ErrNotFound when one
	// is unknown. A pass costs a round trip, not one per incident.
	LockIncidents(ctx context.Context, ids []int64) ([]Incident, error)
	// AppendToEach appends ev to each incident's timeline, in one
	// statement.
	AppendToEach(ctx context.Context, ids []int64, ev Event) error
}

// MaxPage is the most alerts or events one read of an incident returns,
// whatever its caller asks: an incident may hold any number of alerts (a
// storm adds 10,000 a notification), and no read may hold them all.
const MaxPage = 5000

// IncidentPages are the store's bounded reads of one incident: a view for
// what a thread, an answer or the API shows, pages to walk the rest, and
// counts and spans the database computes so that nobody has to load
// everything to know them. Each reads through an index and returns at most
// MaxPage rows.
type IncidentPages interface {
	// IncidentView returns an incident with up to alerts of its alerts,
	// in the order a thread's root lists them (firing first, then the most
	// urgent, the earliest, by fingerprint), up to events of its newest
	// events (oldest first), and how many of each it has, read in one
	// transaction; ErrNotFound for an unknown id.
	IncidentView(ctx context.Context, id int64, alerts, events int) (IncidentDetail, error)
	// AlertPage returns up to limit of the incident's alerts by
	// fingerprint, those after the fingerprint after ("": from the
	// first). The order never changes as alerts change, so a walk sees
	// every alert that stays in place exactly once. ErrNotFound for an
	// unknown incident.
	AlertPage(ctx context.Context, incidentID int64, after string, limit int) ([]Alert, error)
	// EventPage returns up to q.Limit of the incident's events after
	// q.After (0: from the first), oldest first, only of q.Kind when it is
	// set; ErrNotFound for an unknown incident.
	EventPage(ctx context.Context, q EventQuery) ([]Event, error)
	// CountEvents counts the incident's events with ids between after and
	// before (both excluded; before 0: no upper end), by kind.
	CountEvents(ctx context.Context, incidentID, after, before int64) (EventCounts, error)
	// AlertSpan says when the incident's alerts began and ended.
	AlertSpan(ctx context.Context, incidentID int64) (AlertSpan, error)
}

// EventQuery selects one page of an incident's timeline.
type EventQuery struct {
	IncidentID int64
	// After is the id of the last event of the page before (0: none).
	After int64
	// Kind, when set, keeps only events of that kind.
	Kind  EventKind
	Limit int
}

// KindCount counts the events of one kind and names the newest.
type KindCount struct {
	Count  int
	Newest int64
}

// EventCounts counts events by kind.
type EventCounts map[EventKind]KindCount

// Total counts the events of every kind.
func (c EventCounts) Total() int {
	n := 0
	for _, k := range c {
		n += k.Count
	}
	return n
}

// Newest is the newest event's id among every kind (0: none).
func (c EventCounts) Newest() int64 {
	var id int64
	for _, k := range c {
		id = max(id, k.Newest)
	}
	return id
}

// AlertSpan is when an incident's alerts began and ended.
type AlertSpan struct {
	// Alerts counts them.
	Alerts int
	// FirstStart is the earliest start (zero without alerts).
	FirstStart time.Time
	// Ended says every alert is resolved with an end; LastEnd is then the
	// latest end.
	Ended   bool
	LastEnd time.Time
}
