package outbox

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/bakewise/chatops/bot"
)

// What a message lists at most; platforms may cut further to fit their own
// limits, and always say how many they left out.
const (
	maxListedAlerts = 10
	maxReplyLines   = 15
	maxFieldValue   = 200
)

// keyLabels are shown as fields on the root when the incident has them.
var keyLabels = []string{"service", "namespace", "database", "instance", "pod"}

// Marker identifies the root message of an incident at a destination.
func Marker(incidentID int64, destination string) string {
	return fmt.Sprintf("chatops:incident:%d:%s", incidentID, destination)
}

// RootMessage renders an incident's current state as its thread's root. It
// depends on the incident's state alone (no clock), so an unchanged
// incident renders the same and its root is not edited for nothing.
func RootMessage(d bot.IncidentDetail, dest bot.Destination) bot.Message {
	// The annotations quoted are those of the alerts as the root lists
	// them, which is all a store's view holds of a large incident.
	alerts := rootOrder(d.Alerts)
	d.Alerts = alerts
	m := bot.Message{
		Marker:      Marker(d.ID, dest.Name),
		Severity:    d.Severity,
		Status:      d.Status,
		Color:       bot.Color(d.Severity, d.Status),
		Title:       fmt.Sprintf("%s · #%d %s", d.Severity, d.ID, d.Title),
		Summary:     groupAnnotation(d, "summary"),
		Description: firstAnnotation(d, "description"),
	}
	status := "Firing"
	if d.Status == bot.IncidentResolved {
		status = "Resolved"
	}
	m.Fields = append(m.Fields,
		bot.Field{Name: "Status", Value: fmt.Sprintf("%s: %d firing, %d resolved", status, d.Firing, d.Resolved)},
		bot.Field{Name: "Started", Value: bot.AtAgo(d.OpenedAt)},
	)
	if d.Status == bot.IncidentResolved && d.ResolvedAt != nil {
		m.Fields = append(m.Fields,
			bot.Field{Name: "Resolved", Value: bot.At(*d.ResolvedAt)},
			bot.Field{Name: "Duration", Value: bot.HumanDuration(d.ResolvedAt.Sub(d.OpenedAt))})
	}
	if d.AckedAt != nil {
		m.Fields = append(m.Fields, bot.Field{Name: "Acknowledged", Value: bot.Clip(d.AckedBy, maxFieldValue) + " at " + bot.At(*d.AckedAt)})
	}
	if d.Status == bot.IncidentOpen {
		id := strconv.FormatInt(d.ID, 10)
		if d.AckedAt == nil {
			m.Buttons = append(m.Buttons, bot.Button{ID: "chatops:incident:ack:" + id, Label: "Acknowledge"})
		}
		m.Buttons = append(m.Buttons, bot.Button{ID: "chatops:incident:resolve:" + id, Label: "Resolve"})
		// One button per other severity: five buttons at most, one
		// Discord row.
		for sev := bot.P0; sev <= bot.P3; sev++ {
			if sev != d.Severity && len(m.Buttons) < 5 {
				m.Buttons = append(m.Buttons, bot.Button{ID: "chatops:incident:severity:" + id + ":" + sev.String(), Label: "Set " + sev.String()})
			}
		}
	}
	for _, k := range keyLabels {
		if v := d.CommonLabels[k]; v != "" {
			m.Fields = append(m.Fields, bot.Field{Name: k, Value: bot.Clip(v, maxFieldValue)})
		}
	}
	if d.TruncatedAlerts > 0 {
		m.Fields = append(m.Fields, bot.Field{Name: "Truncated", Value: fmt.Sprintf("%d alerts not sent by Alertmanager", d.TruncatedAlerts)})
	}

	for i, a := range alerts {
		if i == maxListedAlerts {
			break
		}
		m.Alerts = append(m.Alerts, bot.AlertLine{Status: a.Status, Text: alertText(a)})
	}
	// A view holds the first alerts and counts them all.
	m.MoreAlerts = max(d.AlertCount()-len(m.Alerts), 0) + d.TruncatedAlerts

	if len(alerts) > 0 && alerts[0].GeneratorURL != "" {
		m.Links = append(m.Links, bot.Link{Text: "Source", URL: alerts[0].GeneratorURL})
	}
	if u := firstAnnotation(d, "runbook_url"); u != "" {
		m.Links = append(m.Links, bot.Link{Text: "Runbook", URL: u})
	}
	if u := silenceURL(d.ExternalURL, d.GroupLabels); u != "" && d.Status == bot.IncidentOpen {
		m.Links = append(m.Links, bot.Link{Text: "Silence", URL: u})
	}
	if dest.Mention != "" && d.Status == bot.IncidentOpen && dest.MentionsFor(d.Severity) {
		m.Mention = dest.Mention
	}
	return m
}

// rootOrder is the order a root lists alerts in: firing first, then the
// most urgent; otherwise as given (a store's view: the earliest, then by
// fingerprint).
func rootOrder(alerts []bot.Alert) []bot.Alert {
	out := append([]bot.Alert(nil), alerts...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Status != out[j].Status {
			return out[i].Status == bot.AlertFiring
		}
		return out[i].Severity < out[j].Severity
	})
	return out
}

// ReplyMessage sums up timeline events for a thread reply at dest; d's
// timeline holds them all (a detail built in memory). A reply that
// carries a reminder pages dest's escalation level for it, while the
// incident is still open and unacknowledged.
func ReplyMessage(d bot.IncidentDetail, dest bot.Destination, events []bot.Event) bot.Message {
	return replyMessage(d, dest, changesOf(d.Timeline, events))
}

// replyMessage is ReplyMessage over a run of events as the dispatcher
// reads it: the first of them and the counts of all.
func replyMessage(d bot.IncidentDetail, dest bot.Destination, c changes) bot.Message {
	m := bot.Message{
		Severity: d.Severity,
		Status:   d.Status,
		Color:    bot.Color(d.Severity, d.Status),
		Title:    replyTitle(d, c),
	}
	for i, e := range c.first {
		if i == maxReplyLines {
			break
		}
		m.Lines = append(m.Lines, e.Detail)
	}
	if c.total > maxReplyLines {
		m.MoreLines = c.total - len(m.Lines)
	}
	if c.level > 0 && d.Status == bot.IncidentOpen && d.AckedAt == nil && dest.MentionsFor(d.Severity) {
		m.Mention = dest.EscalationMention(c.level)
	}
	return m
}

// replyTitle names the run by its newest event that says more than "a
// change": a resolution, a reopening, a new severity, or a reminder while
// nobody took the incident.
func replyTitle(d bot.IncidentDetail, c changes) string {
	title, newest := pluralChanges(c.total), int64(0)
	for _, k := range []struct {
		kind  bot.EventKind
		title func() string
		ok    bool
	}{
		{bot.EventResolved, func() string {
			return fmt.Sprintf("Resolved after %s", bot.HumanDuration(c.resolvedAt.Sub(d.OpenedAt)))
		}, true},
		{bot.EventReopened, func() string { return "Reopened: firing again" }, true},
		{bot.EventSeverityChanged, func() string { return "Severity now " + d.Severity.String() }, true},
		// not once someone took it
		{bot.EventReminder, func() string { return "Not acknowledged in time" }, d.Status == bot.IncidentOpen && d.AckedAt == nil},
	} {
		if kc := c.kinds[k.kind]; k.ok && kc.Count > 0 && kc.Newest > newest {
			title, newest = k.title(), kc.Newest
		}
	}
	return title
}

func pluralChanges(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

// groupAnnotation is the group's common annotation; without one, the first
// alert's, saying it is one of several.
func groupAnnotation(d bot.IncidentDetail, key string) string {
	v := firstAnnotation(d, key)
	if v == "" || d.CommonAnnotations[key] != "" || d.AlertCount() < 2 {
		return v
	}
	return fmt.Sprintf("%s (and %d other alerts)", v, d.AlertCount()-1)
}

func firstAnnotation(d bot.IncidentDetail, key string) string {
	if v := d.CommonAnnotations[key]; v != "" {
		return v
	}
	for _, a := range d.Alerts {
		if v := a.Annotations[key]; v != "" {
			return v
		}
	}
	return ""
}

func alertText(a bot.Alert) string {
	var parts []string
	for _, k := range []string{"pod", "instance", "service", "database", "container"} {
		if v := a.Labels[k]; v != "" {
			parts = append(parts, k+"="+v)
			break
		}
	}
	name := a.Labels["alertname"]
	if name == "" {
		name = a.Fingerprint
	}
	text := name
	if len(parts) > 0 {
		text += " " + strings.Join(parts, " ")
	}
	if s := a.Annotations["summary"]; s != "" {
		text += ": " + s
	}
	return bot.Clip(text, maxFieldValue)
}

// silenceURL opens Alertmanager's new-silence form filled with the group's
// labels.
func silenceURL(externalURL string, groupLabels map[string]string) string {
	if externalURL == "" || len(groupLabels) == 0 {
		return ""
	}
	keys := make([]string, 0, len(groupLabels))
	for k := range groupLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ms := make([]string, len(keys))
	for i, k := range keys {
		ms[i] = fmt.Sprintf("%s=%q", k, groupLabels[k])
	}
	return strings.TrimRight(externalURL, "/") + "/#/silences/new?filter=" + url.QueryEscape("{"+strings.Join(ms, ",")+"}")
}
