package bot

import (
	"sort"
	"strings"
	"time"
)

// AlertStatus is Alertmanager's alert status.
type AlertStatus string

const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// IncidentStatus is where an incident stands.
type IncidentStatus string

const (
	IncidentOpen     IncidentStatus = "open"
	IncidentResolved IncidentStatus = "resolved"
)

// AlertGroup is one Alertmanager notification, already validated: the whole
// current state of one alert group as Alertmanager sees it.
type AlertGroup struct {
	Receiver          string
	GroupKey          string
	Status            AlertStatus
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	TruncatedAlerts   int
	Alerts            []Alert
}

// Alert is one alert of a group, as stored with its incident.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       AlertStatus       `json:"status"`
	Severity     Severity          `json:"severity"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

// Incident is the durable record of one alert group's trouble.
type Incident struct {
	ID                int64             `json:"id"`
	Receiver          string            `json:"receiver"`
	GroupKey          string            `json:"group_key"`
	Status            IncidentStatus    `json:"status"`
	Severity          Severity          `json:"severity"`
	Title             string            `json:"title"`
	GroupLabels       map[string]string `json:"group_labels"`
	CommonLabels      map[string]string `json:"common_labels"`
	CommonAnnotations map[string]string `json:"common_annotations"`
	ExternalURL       string            `json:"external_url"`
	TruncatedAlerts   int               `json:"truncated_alerts"`
	Firing            int               `json:"firing"`
	Resolved          int               `json:"resolved"`
	OpenedAt          time.Time         `json:"opened_at"`
	ResolvedAt        *time.Time        `json:"resolved_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	// AckedAt and AckedBy say who acknowledged the incident, and when.
	AckedAt *time.Time `json:"acked_at,omitempty"`
	AckedBy string     `json:"acked_by,omitempty"`
	// SeverityOverride is a person's choice of severity; it sticks over
	// what the alerts say until the incident resolves.
	SeverityOverride *Severity `json:"severity_override,omitempty"`
	// NextReminderAt is when an open, unacknowledged incident is next
	// reminded and escalated (see NextReminder); nil when it is not due
	// any. Reminders counts the reminders fired since it (re)opened.
	NextReminderAt *time.Time `json:"next_reminder_at"`
	Reminders      int        `json:"reminders"`
}

// EventKind names a timeline entry.
type EventKind string

const (
	EventOpened          EventKind = "opened"
	EventAlertFiring     EventKind = "alert_firing"
	EventAlertResolved   EventKind = "alert_resolved"
	EventSeverityChanged EventKind = "severity_changed"
	EventResolved        EventKind = "resolved"
	EventReopened        EventKind = "reopened"
	EventAcknowledged    EventKind = "acknowledged"
	// EventReminder is an unacknowledged incident past its response
	// deadline: its thread is reminded and its escalation level paged.
	EventReminder EventKind = "reminder"
	// EventAction is a command run from the incident's thread: a request,
	// an approval, an execution and its result.
	EventAction EventKind = "action"
	// EventLinked is a link between an outage and one of its incidents, on
	// both timelines: "linked #12 ServiceDown · orders-service" on the
	// outage's, "part of outage #40" on the incident's.
	EventLinked EventKind = "linked"
)

// The outage incident's identity: the one incident the correlation opens
// when critical alerts hit several services at once. No Alertmanager group
// key looks like OutageGroupKey (theirs are "{}:{...}" label sets), so
// notifications can never land in it, and one open incident per group
// makes it one outage.
const (
	OutageReceiver  = "chatops"
	OutageGroupKey  = "correlation:outage"
	OutageAlertName = "CompleteOutage"
)

// Event is one entry of an incident's timeline. Events are only appended for
// real changes, so a duplicated notification adds none.
type Event struct {
	ID         int64     `json:"id"`
	IncidentID int64     `json:"-"`
	At         time.Time `json:"at"`
	Kind       EventKind `json:"kind"`
	Detail     string    `json:"detail"`
}

// IncidentDetail is an incident with the first of its alerts, the newest
// of its events, and how many of each it has. A store's view holds a
// bounded page of each (Store.IncidentView); a detail built in memory
// (Preview, tests) may hold them all and leave the totals zero.
type IncidentDetail struct {
	Incident
	// Alerts are the first alerts in the order a thread's root lists them
	// (firing first, then the most urgent, the earliest, by fingerprint).
	Alerts []Alert `json:"alerts"`
	// AlertsTotal counts all the incident's alerts.
	AlertsTotal int `json:"alerts_total"`
	// Timeline is the newest events, oldest first.
	Timeline []Event `json:"timeline"`
	// EventsTotal counts all the incident's events.
	EventsTotal int `json:"events_total"`
}

// AlertCount is how many alerts the incident has: its total, or the
// alerts it holds when it was built with all of them and no total.
func (d *IncidentDetail) AlertCount() int { return max(d.AlertsTotal, len(d.Alerts)) }

// EventCount is how many events the incident's timeline has, as
// AlertCount counts alerts.
func (d *IncidentDetail) EventCount() int { return max(d.EventsTotal, len(d.Timeline)) }

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

// IngestResult says what a notification did.
type IngestResult struct {
	IncidentID int64
	Created    bool
	Events     int
	// Enqueued counts the destinations whose threads must catch up.
	Enqueued int
}

// IncidentRefusal is a change to an incident that makes no sense in its
// state (acknowledging a resolved one); its message is for the person.
type IncidentRefusal struct{ Msg string }

func (e *IncidentRefusal) Error() string { return e.Msg }

// IncidentFilter selects incidents for listing, newest first.
type IncidentFilter struct {
	Status IncidentStatus // empty: all
	Limit  int
	// Before, when set, lists only incidents with a smaller id: the last
	// id of the page before, so a long list is walked in pages that each
	// start where the last one ended (keyset pagination).
	Before int64
}

// Title names an incident after its group: the alert name, then the other
// grouping labels' values in label order ("ServiceDown · orders-service").
func Title(groupLabels, commonLabels map[string]string) string {
	name := groupLabels["alertname"]
	if name == "" {
		name = commonLabels["alertname"]
	}
	keys := make([]string, 0, len(groupLabels))
	for k := range groupLabels {
		if k != "alertname" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	if name != "" {
		parts = append(parts, name)
	}
	for _, k := range keys {
		parts = append(parts, groupLabels[k])
	}
	if len(parts) == 0 {
		return "alert group"
	}
	return strings.Join(parts, " · ")
}

// AlertName is the alert an incident is about: its group's alertname, else
// the one its alerts have in common ("" when neither says).
func AlertName(inc *Incident) string {
	if n := inc.GroupLabels["alertname"]; n != "" {
		return n
	}
	return inc.CommonLabels["alertname"]
}
