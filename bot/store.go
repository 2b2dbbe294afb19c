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
	OutboxDepth(ctx context.Context) (int, error)
	// Ready reports whether the store is reachable and fully migrated.
	Ready(ctx context.Context) error
	Close() error
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
}
