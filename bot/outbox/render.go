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
		bot.Field{Name: "Started", Value: d.OpenedAt.UTC().Format("2006-01-02 15:04 MST")},
	)
	if d.Status == bot.IncidentResolved && d.ResolvedAt != nil {
		m.Fields = append(m.Fields, bot.Field{Name: "Duration", Value: bot.HumanDuration(d.ResolvedAt.Sub(d.OpenedAt))})
	}
	if d.AckedAt != nil {
		m.Fields = append(m.Fields, bot.Field{Name: "Acknowledged", Value: bot.Clip(d.AckedBy, maxFieldValue) + " at " + d.AckedAt.UTC().Format("15:04 MST")})
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

	alerts := append([]bot.Alert(nil), d.Alerts...)
	sort.SliceStable(alerts, func(i, j int) bool {
		if alerts[i].Status != alerts[j].Status {
			return alerts[i].Status == bot.AlertFiring
		}
		return alerts[i].Severity < alerts[j].Severity
	})
	for i, a := range alerts {
		if i == maxListedAlerts {
			m.MoreAlerts = len(alerts) - maxListedAlerts
			break
		}
		m.Alerts = append(m.Alerts, bot.AlertLine{Status: a.Status, Text: alertText(a)})
	}
	m.MoreAlerts += d.TruncatedAlerts

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

// ReplyMessage sums up timeline events for a thread reply at dest. A reply
// that carries a reminder pages dest's escalation level for it, while the
// incident is still open and unacknowledged.
func ReplyMessage(d bot.IncidentDetail, dest bot.Destination, events []bot.Event) bot.Message {
	m := bot.Message{
		Severity: d.Severity,
		Status:   d.Status,
		Color:    bot.Color(d.Severity, d.Status),
		Title:    replyTitle(d, events),
	}
	for i, e := range events {
		if i == maxReplyLines {
			m.MoreLines = len(events) - maxReplyLines
			break
		}
		m.Lines = append(m.Lines, e.Detail)
	}
	if level := reminderLevel(d.Timeline, events); level > 0 && d.Status == bot.IncidentOpen && d.AckedAt == nil &&
		dest.MentionsFor(d.Severity) {
		m.Mention = dest.EscalationMention(level)
	}
	return m
}

func replyTitle(d bot.IncidentDetail, events []bot.Event) string {
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].Kind {
		case bot.EventResolved:
			return fmt.Sprintf("Resolved after %s", bot.HumanDuration(events[i].At.Sub(d.OpenedAt)))
		case bot.EventReopened:
			return "Reopened: firing again"
		case bot.EventSeverityChanged:
			return "Severity now " + d.Severity.String()
		case bot.EventReminder:
			if d.Status == bot.IncidentOpen && d.AckedAt == nil { // not once someone took it
				return "Not acknowledged in time"
			}
		}
	}
	return pluralChanges(len(events))
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
	if v == "" || d.CommonAnnotations[key] != "" || len(d.Alerts) < 2 {
		return v
	}
	return fmt.Sprintf("%s (and %d other alerts)", v, len(d.Alerts)-1)
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

// reminderLevel is the escalation level that a reply showing events pages:
// that of its newest reminder, which is the reminder's ordinal among the
// incident's reminders since it last (re)opened, as the escalator counted
// when it fired it. 0 when events hold no reminder.
func reminderLevel(timeline, events []bot.Event) int {
	var newest *bot.Event
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == bot.EventReminder {
			newest = &events[i]
			break
		}
	}
	if newest == nil {
		return 0
	}
	n := 0
	for _, ev := range timeline {
		switch ev.Kind {
		case bot.EventReopened:
			n = 0
		case bot.EventReminder:
			n++
			if newest.ID != 0 && ev.ID == newest.ID {
				return n
			}
		}
	}
	return max(n, 1) // not in the timeline given: the latest count
}
