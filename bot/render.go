package bot

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
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
func RootMessage(d IncidentDetail, dest Destination) Message {
	m := Message{
		Marker:      Marker(d.ID, dest.Name),
		Severity:    d.Severity,
		Status:      d.Status,
		Color:       Color(d.Severity, d.Status),
		Title:       fmt.Sprintf("%s · #%d %s", d.Severity, d.ID, d.Title),
		Summary:     groupAnnotation(d, "summary"),
		Description: firstAnnotation(d, "description"),
	}
	status := "Firing"
	if d.Status == IncidentResolved {
		status = "Resolved"
	}
	m.Fields = append(m.Fields,
		Field{"Status", fmt.Sprintf("%s: %d firing, %d resolved", status, d.Firing, d.Resolved)},
		Field{"Started", d.OpenedAt.UTC().Format("2006-01-02 15:04 MST")},
	)
	if d.Status == IncidentResolved && d.ResolvedAt != nil {
		m.Fields = append(m.Fields, Field{"Duration", humanDuration(d.ResolvedAt.Sub(d.OpenedAt))})
	}
	if d.AckedAt != nil {
		m.Fields = append(m.Fields, Field{"Acknowledged", clip(d.AckedBy, maxFieldValue) + " at " + d.AckedAt.UTC().Format("15:04 MST")})
	}
	if d.Status == IncidentOpen {
		id := strconv.FormatInt(d.ID, 10)
		if d.AckedAt == nil {
			m.Buttons = append(m.Buttons, Button{ID: "chatops:incident:ack:" + id, Label: "Acknowledge"})
		}
		m.Buttons = append(m.Buttons, Button{ID: "chatops:incident:resolve:" + id, Label: "Resolve"})
		// One button per other severity: five buttons at most, one
		// Discord row.
		for sev := P0; sev <= P3; sev++ {
			if sev != d.Severity && len(m.Buttons) < 5 {
				m.Buttons = append(m.Buttons, Button{ID: "chatops:incident:severity:" + id + ":" + sev.String(), Label: "Set " + sev.String()})
			}
		}
	}
	for _, k := range keyLabels {
		if v := d.CommonLabels[k]; v != "" {
			m.Fields = append(m.Fields, Field{k, clip(v, maxFieldValue)})
		}
	}
	if d.TruncatedAlerts > 0 {
		m.Fields = append(m.Fields, Field{"Truncated", fmt.Sprintf("%d alerts not sent by Alertmanager", d.TruncatedAlerts)})
	}

	alerts := append([]Alert(nil), d.Alerts...)
	sort.SliceStable(alerts, func(i, j int) bool {
		if alerts[i].Status != alerts[j].Status {
			return alerts[i].Status == AlertFiring
		}
		return alerts[i].Severity < alerts[j].Severity
	})
	for i, a := range alerts {
		if i == maxListedAlerts {
			m.MoreAlerts = len(alerts) - maxListedAlerts
			break
		}
		m.Alerts = append(m.Alerts, AlertLine{Status: a.Status, Text: alertText(a)})
	}
	m.MoreAlerts += d.TruncatedAlerts

	if len(alerts) > 0 && alerts[0].GeneratorURL != "" {
		m.Links = append(m.Links, Link{"Source", alerts[0].GeneratorURL})
	}
	if u := firstAnnotation(d, "runbook_url"); u != "" {
		m.Links = append(m.Links, Link{"Runbook", u})
	}
	if u := silenceURL(d.ExternalURL, d.GroupLabels); u != "" && d.Status == IncidentOpen {
		m.Links = append(m.Links, Link{"Silence", u})
	}
	if dest.Mention != "" && d.Status == IncidentOpen && dest.MentionsFor(d.Severity) {
		m.Mention = dest.Mention
	}
	return m
}

// ReplyMessage sums up timeline events for a thread reply at dest. A reply
// that carries a reminder pages dest's escalation level for it, while the
// incident is still open and unacknowledged.
func ReplyMessage(d IncidentDetail, dest Destination, events []Event) Message {
	m := Message{
		Severity: d.Severity,
		Status:   d.Status,
		Color:    Color(d.Severity, d.Status),
		Title:    replyTitle(d, events),
	}
	for i, e := range events {
		if i == maxReplyLines {
			m.MoreLines = len(events) - maxReplyLines
			break
		}
		m.Lines = append(m.Lines, e.Detail)
	}
	if level := reminderLevel(d.Timeline, events); level > 0 && d.Status == IncidentOpen && d.AckedAt == nil &&
		dest.MentionsFor(d.Severity) {
		m.Mention = dest.EscalationMention(level)
	}
	return m
}

func replyTitle(d IncidentDetail, events []Event) string {
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].Kind {
		case EventResolved:
			return fmt.Sprintf("Resolved after %s", humanDuration(events[i].At.Sub(d.OpenedAt)))
		case EventReopened:
			return "Reopened: firing again"
		case EventSeverityChanged:
			return "Severity now " + d.Severity.String()
		case EventReminder:
			if d.Status == IncidentOpen && d.AckedAt == nil { // not once someone took it
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
func groupAnnotation(d IncidentDetail, key string) string {
	v := firstAnnotation(d, key)
	if v == "" || d.CommonAnnotations[key] != "" || len(d.Alerts) < 2 {
		return v
	}
	return fmt.Sprintf("%s (and %d other alerts)", v, len(d.Alerts)-1)
}

func firstAnnotation(d IncidentDetail, key string) string {
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

func alertText(a Alert) string {
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
	return clip(text, maxFieldValue)
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

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// clip shortens s to at most n bytes at a word boundary, with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n-len("…")], ' ')
	if cut < n/2 {
		cut = n - len("…")
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
