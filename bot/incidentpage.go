package bot

import (
	"context"
	"time"
)

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
