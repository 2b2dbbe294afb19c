package bot

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Store when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store is the durable state of chatops. Implementations live in
// integrations/postgres and integrations/sqlite and pass one conformance
// suite (bot/storetest).
type Store interface {
	// InTx runs fn in one transaction and commits when fn returns nil.
	InTx(ctx context.Context, fn func(Tx) error) error
	ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	// GetIncident returns ErrNotFound for an unknown id.
	GetIncident(ctx context.Context, id int64) (IncidentDetail, error)
	CountOpenIncidents(ctx context.Context) (map[Severity]int, error)
	// OutboxStats returns the number of pending jobs and when the oldest
	// was first enqueued (zero when there is none).
	OutboxStats(ctx context.Context) (depth int, oldest time.Time, err error)
	Outbox
	ReplayGuard
	ApprovalStore
	AuditLog
	Timers
	// ThreadIncidents finds the incident a command's thread belongs to.
	ThreadIncidents
	// Ready reports whether the store is reachable and fully migrated.
	Ready(ctx context.Context) error
	Close() error
}

// ReplayGuard remembers signed requests for as long as their signature is
// valid, across replicas.
type ReplayGuard interface {
	// FirstSeen records key until expires and reports whether this is the
	// first time it is seen; false means a replay.
	FirstSeen(ctx context.Context, key string, now, expires time.Time) (bool, error)
}

// Outbox is the dispatcher's side of the store.
type Outbox interface {
	// ClaimJobs claims up to limit due, unclaimed jobs until now+lease, most
	// urgent first. Several replicas never claim the same job.
	ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxJob, error)
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
}

// Tx is what the engine does inside one transaction.
type Tx interface {
	// LockGroup serialises writers of one alert group until the transaction
	// ends, so parallel copies of a notification cannot both open an incident.
	LockGroup(ctx context.Context, receiver, groupKey string) error
	// LatestIncident returns the group's newest incident (the open one, if
	// any, since a new incident only opens after the last one resolved), or
	// nil when the group has none.
	LatestIncident(ctx context.Context, receiver, groupKey string) (*Incident, error)
	// Alerts returns the incident's stored alerts among fingerprints.
	Alerts(ctx context.Context, incidentID int64, fingerprints []string) ([]Alert, error)
	// AlertCounts counts all the incident's alerts by status and severity,
	// so that a notification costs what it carries, not what its
	// incident has accumulated.
	AlertCounts(ctx context.Context, incidentID int64) (AlertCounts, error)
	CreateIncident(ctx context.Context, inc *Incident) (int64, error)
	UpdateIncident(ctx context.Context, inc *Incident) error
	UpsertAlerts(ctx context.Context, incidentID int64, alerts []Alert, at time.Time) error
	AppendEvents(ctx context.Context, incidentID int64, events []Event) error
	// LockIncident loads an incident and holds it until the transaction
	// ends (a person acknowledging it while alerts arrive); ErrNotFound
	// for an unknown id.
	LockIncident(ctx context.Context, id int64) (*Incident, error)
	// AppendAudit seals and appends audit rows to the chain.
	AppendAudit(ctx context.Context, recs ...AuditRecord) error
	// Enqueue adds a sync job for an incident and destination, or, when one
	// is already pending, coalesces into it: the earlier due time and the
	// more urgent priority win.
	Enqueue(ctx context.Context, job OutboxJob) error
}

// AlertCounts counts an incident's alerts by severity (P0..P3).
type AlertCounts struct {
	Firing, Resolved [4]int
}

// Add counts one alert in (n = 1) or out (n = -1).
func (c *AlertCounts) Add(a Alert, n int) {
	if !a.Severity.Valid() {
		return
	}
	if a.Status == AlertFiring {
		c.Firing[a.Severity] += n
	} else {
		c.Resolved[a.Severity] += n
	}
}

// OutboxJob asks the dispatcher to bring one incident's chat thread at one
// destination up to date with the incident's current state.
type OutboxJob struct {
	IncidentID  int64
	Destination string
	Priority    Severity
	DueAt       time.Time

	// Set when claimed.
	ID         int64
	Version    int64
	Attempts   int
	ClaimToken string
	CreatedAt  time.Time
}
