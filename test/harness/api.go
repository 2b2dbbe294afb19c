package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The incidents API's wire types, as GET /v1/incidents and
// GET /v1/incidents/{id} answer: what a test or a tool reads back. They are
// declared here rather than taken from package bot so that a change to the
// wire format shows up as a failing test, not as a silent recompile.

// Incident is one entry of GET /v1/incidents.
type Incident struct {
	ID                int64             `json:"id"`
	Receiver          string            `json:"receiver"`
	GroupKey          string            `json:"group_key"`
	Status            string            `json:"status"`
	Severity          string            `json:"severity"`
	Title             string            `json:"title"`
	GroupLabels       map[string]string `json:"group_labels"`
	CommonLabels      map[string]string `json:"common_labels"`
	CommonAnnotations map[string]string `json:"common_annotations"`
	ExternalURL       string            `json:"external_url"`
	TruncatedAlerts   int               `json:"truncated_alerts"`
	Firing            int               `json:"firing"`
	Resolved          int               `json:"resolved"`
	OpenedAt          string            `json:"opened_at"`
	ResolvedAt        *string           `json:"resolved_at"`
	UpdatedAt         string            `json:"updated_at"`
	AckedAt           *string           `json:"acked_at"`
	AckedBy           string            `json:"acked_by"`
	SeverityOverride  *string           `json:"severity_override"`
	NextReminderAt    *string           `json:"next_reminder_at"`
	Reminders         int               `json:"reminders"`
}

// Alert is one alert of an IncidentDetail.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Severity     string            `json:"severity"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     json.RawMessage   `json:"starts_at"`
	EndsAt       json.RawMessage   `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

// Event is one entry of an incident's timeline.
type Event struct {
	ID     int64           `json:"id"`
	At     string          `json:"at"`
	Kind   string          `json:"kind"`
	Detail json.RawMessage `json:"detail"`
}

// IncidentDetail is GET /v1/incidents/{id}: the incident, its first
// alerts and newest events, and how many of each it has. TryGetIncident
// fills Alerts and Timeline with all of them, from the paged listings.
type IncidentDetail struct {
	Incident
	Alerts      []Alert `json:"alerts"`
	AlertsTotal int     `json:"alerts_total"`
	Timeline    []Event `json:"timeline"`
	EventsTotal int     `json:"events_total"`
}

// Kinds are the kinds of the timeline's events, in order.
func (d IncidentDetail) Kinds() []string {
	var ks []string
	for _, e := range d.Timeline {
		ks = append(ks, e.Kind)
	}
	return ks
}

// HasKind reports whether the timeline has an event of kind.
func (d IncidentDetail) HasKind(kind string) bool {
	for _, e := range d.Timeline {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// AlertByFingerprint is the incident's alert with fingerprint fp.
func (d IncidentDetail) AlertByFingerprint(fp string) (Alert, bool) {
	for _, a := range d.Alerts {
		if a.Fingerprint == fp {
			return a, true
		}
	}
	return Alert{}, false
}

func (i Incident) String() string {
	return fmt.Sprintf("#%d %s %s group=%v firing=%d resolved=%d", i.ID, i.Status, i.Severity, i.GroupLabels, i.Firing, i.Resolved)
}

// DescribeIncidents lists incidents one a line, for failure messages.
func DescribeIncidents(incs []Incident) string {
	if len(incs) == 0 {
		return "(no incidents)"
	}
	var sb strings.Builder
	for _, i := range incs {
		sb.WriteString("  " + i.String() + "\n")
	}
	return sb.String()
}

// GroupIs matches an incident by its group labels alertname and service.
func GroupIs(alertname, service string) func(Incident) bool {
	return func(i Incident) bool {
		return i.GroupLabels["alertname"] == alertname && i.GroupLabels["service"] == service
	}
}

// WebhookAck is the incident id of a webhook's answer: it requires
// 200 {"incident_id": N} with N > 0, the only answer that says the alerts
// are stored.
func WebhookAck(code int, body []byte) (int64, error) {
	if code != http.StatusOK {
		return 0, fmt.Errorf("got %d %s, want 200 {\"incident_id\": N}", code, body)
	}
	var ack struct {
		IncidentID int64 `json:"incident_id"`
	}
	if err := json.Unmarshal(body, &ack); err != nil || ack.IncidentID <= 0 {
		return 0, fmt.Errorf("200 body %s is not {\"incident_id\": N>0} (%v)", body, err)
	}
	return ack.IncidentID, nil
}

// GetJSON GETs path with the API token and decodes a 200 answer into out.
func (b *Bot) GetJSON(path string, out any) error {
	code, body, err := b.Get(path, b.Config.APIToken)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: got %d %s, want 200", path, code, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode %s: %w", path, body, err)
	}
	return nil
}

// TryListIncidents is GET /v1/incidents?status=status.
func (b *Bot) TryListIncidents(status string) ([]Incident, error) {
	var out struct {
		Incidents []Incident `json:"incidents"`
	}
	if err := b.GetJSON("/v1/incidents?status="+status, &out); err != nil {
		return nil, err
	}
	return out.Incidents, nil
}

// ListIncidents is TryListIncidents failing t on error.
func (b *Bot) ListIncidents(t TB, status string) []Incident {
	t.Helper()
	incs, err := b.TryListIncidents(status)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return incs
}

// TryGetIncident is GET /v1/incidents/{id} with every alert (by
// fingerprint) and every event (oldest first), read from
// /v1/incidents/{id}/alerts and /timeline page by page when the detail's
// first ones are not all.
func (b *Bot) TryGetIncident(id int64) (IncidentDetail, error) {
	var d IncidentDetail
	path := fmt.Sprintf("/v1/incidents/%d", id)
	if err := b.GetJSON(path, &d); err != nil {
		return d, err
	}
	var err error
	if len(d.Alerts) < d.AlertsTotal {
		if d.Alerts, err = getAll[Alert](b, path+"/alerts", "alerts"); err != nil {
			return d, err
		}
	}
	if len(d.Timeline) < d.EventsTotal {
		d.Timeline, err = getAll[Event](b, path+"/timeline", "timeline")
	}
	return d, err
}

// maxPages bounds a walk of a paged listing.
const maxPages = 10000

// getAll walks a paged listing of the API: the items under key of every
// page, following next_cursor.
func getAll[T any](b *Bot, path, key string) ([]T, error) {
	var all []T
	next := ""
	for range maxPages {
		target := path + "?limit=1000"
		if next != "" {
			target += "&cursor=" + url.QueryEscape(next)
		}
		var page map[string]json.RawMessage
		if err := b.GetJSON(target, &page); err != nil {
			return nil, err
		}
		var items []T
		if err := json.Unmarshal(page[key], &items); err != nil {
			return nil, fmt.Errorf("GET %s: %s: %w", target, key, err)
		}
		all = append(all, items...)
		raw, more := page["next_cursor"]
		if !more {
			return all, nil
		}
		if err := json.Unmarshal(raw, &next); err != nil {
			return nil, fmt.Errorf("GET %s: next_cursor: %w", target, err)
		}
	}
	return nil, fmt.Errorf("GET %s: more than %d pages", path, maxPages)
}

// GetIncident is TryGetIncident failing t on error.
func (b *Bot) GetIncident(t TB, id int64) IncidentDetail {
	t.Helper()
	d, err := b.TryGetIncident(id)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

// WaitForIncident polls GET /v1/incidents?status=all until an incident
// matching match also satisfies want, and returns it.
func (b *Bot) WaitForIncident(t TB, what string, match, want func(Incident) bool) Incident {
	t.Helper()
	var found Incident
	Eventually(t, what, func() (bool, string) {
		incs, err := b.TryListIncidents("all")
		if err != nil {
			return false, err.Error()
		}
		for _, i := range incs {
			if match(i) && want(i) {
				found = i
				return true, ""
			}
		}
		return false, "GET /v1/incidents?status=all:\n" + DescribeIncidents(incs)
	})
	return found
}
