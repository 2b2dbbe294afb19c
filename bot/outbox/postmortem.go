package outbox

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
)

// What a resolution reply and a post-mortem draft show at most: the reply
// is a summary in a chat thread, the draft a file people edit.
const (
	maxReplyActions      = 3
	maxPostMortemEvents  = 1000
	maxPostMortemAlerts  = 50
	maxPostMortemCell    = 300
	postMortemSeverities = bot.P1 // P0 and P1 get a post-mortem, as the guide asks
)

// ThreadReply is the reply a thread gets for events it has not shown yet:
// ReplyMessage's summary, led on resolution by how long it took and, for
// P0/P1, the gist of the post-mortem draft. ok is false when there is
// nothing to post: every event is an action taken in the thread itself,
// whose command and answer (or approval card) the thread shows already.
func ThreadReply(d bot.IncidentDetail, dest bot.Destination, events []bot.Event) (m bot.Message, ok bool) {
	visible := false
	for _, e := range events {
		visible = visible || e.Kind != bot.EventAction
	}
	if !visible {
		return bot.Message{}, false
	}
	m = ReplyMessage(d, dest, events)
	resolved := false
	for _, e := range events {
		resolved = resolved || e.Kind == bot.EventResolved
	}
	if !resolved || d.Status != bot.IncidentResolved || d.ResolvedAt == nil {
		return m, true
	}
	lead := resolutionLines(d)
	if d.Severity <= postMortemSeverities {
		lead = append(lead, postMortemGist(d)...)
	}
	keep := max(maxReplyLines-len(lead), 3)
	if len(m.Lines) > keep {
		m.MoreLines += len(m.Lines) - keep
		m.Lines = m.Lines[:keep]
	}
	m.Lines = append(lead, m.Lines...)
	return m, true
}

// resolutionLines say how long a resolved incident took: its duration
// (the impact window), the time to acknowledge and the time to resolve.
func resolutionLines(d bot.IncidentDetail) []string {
	start, end := impactWindow(d)
	lines := []string{fmt.Sprintf("Duration: %s (%s)", bot.HumanDuration(end.Sub(start)), windowText(start, end))}
	if d.AckedAt != nil {
		lines = append(lines, fmt.Sprintf("Time to acknowledge: %s (%s)", bot.HumanDuration(d.AckedAt.Sub(d.OpenedAt)), bot.Clip(d.AckedBy, 80)))
	} else {
		lines = append(lines, "Time to acknowledge: never acknowledged")
	}
	return append(lines, "Time to resolve: "+bot.HumanDuration(d.ResolvedAt.Sub(d.OpenedAt)))
}

// postMortemGist is the draft's shape in a few lines, and where the whole
// of it is.
func postMortemGist(d bot.IncidentDetail) []string {
	actions := actionEvents(d.Timeline)
	lines := []string{fmt.Sprintf("Post-mortem draft (%s): %s taken, %s.", d.Severity,
		plural(len(actions), "%d action", "%d actions"), plural(len(openQuestions(d)), "%d open question", "%d open questions"))}
	for i, a := range actions {
		if i == maxReplyActions {
			lines = append(lines, "…and "+plural(len(actions)-maxReplyActions, "%d more action", "%d more actions"))
			break
		}
		lines = append(lines, "Action: "+bot.Clip(a.Detail, 200))
	}
	return append(lines, fmt.Sprintf("Full draft: chatops incident export %d", d.ID))
}

// PostMortem renders an incident's post-mortem draft as Markdown: summary,
// impact window, timeline, actions taken and open questions, to be
// completed by the people who handled it. It depends on the incident alone
// (no clock), so the same incident always gives the same draft.
func PostMortem(d bot.IncidentDetail) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Post-mortem draft: #%d %s\n\n", d.ID, mdText(d.Title))
	p("_Drafted by chatops from the incident's record. Replace the questions with answers._\n\n")
	p("| | |\n|---|---|\n")
	p("| Severity | %s |\n", d.Severity)
	p("| Status | %s |\n", d.Status)
	p("| Opened | %s |\n", stamp(d.OpenedAt))
	if d.AckedAt != nil {
		p("| Acknowledged | %s by %s (after %s) |\n", stamp(*d.AckedAt), mdCell(d.AckedBy), bot.HumanDuration(d.AckedAt.Sub(d.OpenedAt)))
	} else {
		p("| Acknowledged | never |\n")
	}
	if d.ResolvedAt != nil {
		p("| Resolved | %s (after %s) |\n", stamp(*d.ResolvedAt), bot.HumanDuration(d.ResolvedAt.Sub(d.OpenedAt)))
	} else {
		p("| Resolved | not yet |\n")
	}

	p("\n## Summary\n\n")
	if s := groupAnnotation(d, "summary"); s != "" {
		p("%s\n\n", mdText(s))
	}
	if s := firstAnnotation(d, "description"); s != "" {
		p("%s\n\n", mdText(s))
	}
	services := serviceList(d)
	if len(d.Alerts) > 0 {
		p("%s: %s on %s.\n", mdText(d.Title), plural(len(d.Alerts), "1 alert recorded", "%d alerts recorded"), orNone(services, "no named service"))
	} else {
		p("%s, on %s.\n", mdText(d.Title), orNone(services, "no named service"))
	}

	p("\n## Impact window\n\n")
	start, end := impactWindow(d)
	if d.ResolvedAt != nil {
		p("From %s to %s: %s.\n", stamp(start), stamp(end), bot.HumanDuration(end.Sub(start)))
	} else {
		p("From %s, still open.\n", stamp(start))
	}
	if len(d.Alerts) > 0 {
		p("\n| Alert | Where | Severity | Started | Ended |\n|---|---|---|---|---|\n")
		alerts := append([]bot.Alert(nil), d.Alerts...)
		sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].StartsAt.Before(alerts[j].StartsAt) })
		for i, a := range alerts {
			if i == maxPostMortemAlerts {
				p("\n…and %d more alerts.\n", len(alerts)-maxPostMortemAlerts)
				break
			}
			ended := "firing"
			if a.Status == bot.AlertResolved && !a.EndsAt.IsZero() {
				ended = stamp(a.EndsAt)
			}
			p("| %s | %s | %s | %s | %s |\n", mdCell(a.Labels["alertname"]), mdCell(alertWhere(a.Labels)), a.Severity, stamp(a.StartsAt), ended)
		}
	}

	p("\n## Timeline\n\n| Time (UTC) | Event | Detail |\n|---|---|---|\n")
	for i, e := range d.Timeline {
		if i == maxPostMortemEvents {
			p("\n…and %d more events.\n", len(d.Timeline)-maxPostMortemEvents)
			break
		}
		p("| %s | %s | %s |\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Kind, mdCell(e.Detail))
	}

	p("\n## Actions taken\n\n")
	actions := actionEvents(d.Timeline)
	if len(actions) == 0 {
		p("_No command was run from the incident's thread._\n")
	}
	for _, a := range actions {
		p("- %s: %s\n", minuteStamp(a.At), mdText(a.Detail))
	}

	p("\n## Open questions\n\n")
	for _, q := range openQuestions(d) {
		p("- [ ] %s\n", q)
	}
	return b.String()
}

// openQuestions are what the draft asks its authors, from what the record
// shows.
func openQuestions(d bot.IncidentDetail) []string {
	qs := []string{"What was the root cause?"}
	start, _ := impactWindow(d)
	qs = append(qs, fmt.Sprintf("What changed around %s (deployments, configuration, traffic, dependencies)?", minuteStamp(start)))
	deadline := bot.DefaultDeadlines.For(d.Severity)
	switch {
	case d.AckedAt == nil:
		qs = append(qs, "Nobody acknowledged it: did the page reach the on-call engineer?")
	case d.AckedAt.Sub(d.OpenedAt) > deadline:
		qs = append(qs, fmt.Sprintf("Acknowledging took %s, past the %s response time of %s: why?",
			bot.HumanDuration(d.AckedAt.Sub(d.OpenedAt)), d.Severity, bot.HumanDuration(deadline)))
	}
	reopened, outage := 0, ""
	for _, e := range d.Timeline {
		switch {
		case e.Kind == bot.EventReopened:
			reopened++
		case e.Kind == bot.EventLinked && strings.HasPrefix(e.Detail, "part of outage ") && outage == "":
			outage = strings.TrimPrefix(strings.Fields(e.Detail)[3], "#")
		}
	}
	if reopened > 0 {
		qs = append(qs, fmt.Sprintf("It reopened %s: was the alert flapping, or the first fix incomplete?", plural(reopened, "once", "%d times")))
	}
	if outage != "" {
		qs = append(qs, fmt.Sprintf("It was part of outage #%s: what did the failing services have in common?", outage))
	}
	if len(actionEvents(d.Timeline)) == 0 {
		qs = append(qs, "No command was run from the thread: what brought the service back?")
	}
	return append(qs, "What would have caught it sooner, and what keeps it from happening again (owner, due date)?")
}

func actionEvents(events []bot.Event) []bot.Event {
	var out []bot.Event
	for _, e := range events {
		if e.Kind == bot.EventAction {
			out = append(out, e)
		}
	}
	return out
}

// impactWindow is when the trouble began (the earliest alert, or the
// incident's opening) and ended (the last alert's end when every alert
// ended, else the resolution; the opening while it is still open).
func impactWindow(d bot.IncidentDetail) (start, end time.Time) {
	start = d.OpenedAt
	allEnded := len(d.Alerts) > 0
	var lastEnd time.Time
	for _, a := range d.Alerts {
		if !a.StartsAt.IsZero() && a.StartsAt.Before(start) {
			start = a.StartsAt
		}
		if a.Status != bot.AlertResolved || a.EndsAt.IsZero() {
			allEnded = false
		} else if a.EndsAt.After(lastEnd) {
			lastEnd = a.EndsAt
		}
	}
	switch {
	case d.ResolvedAt == nil:
		end = d.OpenedAt
	case allEnded && !lastEnd.Before(start):
		end = lastEnd
	default:
		end = *d.ResolvedAt
	}
	return start.UTC(), end.UTC()
}

func windowText(start, end time.Time) string {
	if start.YearDay() == end.YearDay() && start.Year() == end.Year() {
		return start.Format("15:04") + "–" + end.Format("15:04 MST")
	}
	return start.Format("Jan 2 15:04") + " – " + end.Format("Jan 2 15:04 MST")
}

// serviceList is the services the incident's alerts name, sorted.
func serviceList(d bot.IncidentDetail) string {
	seen := map[string]bool{}
	for _, a := range d.Alerts {
		if s := a.Labels["service"]; s != "" {
			seen[s] = true
		}
	}
	if s := d.CommonLabels["service"]; s != "" {
		seen[s] = true
	}
	if s := d.CommonAnnotations["services"]; s != "" && d.GroupKey == bot.OutageGroupKey {
		for _, v := range strings.Split(s, ",") {
			seen[strings.TrimSpace(v)] = true
		}
	}
	names := make([]string, 0, len(seen))
	for s := range seen {
		names = append(names, mdText(s))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func alertWhere(labels map[string]string) string {
	for _, k := range []string{"pod", "instance", "database", "service"} {
		if v := labels[k]; v != "" {
			return k + "=" + v
		}
	}
	return ""
}

// plural formats n with one when it is 1, else with many; either may
// leave the number out ("once").
func plural(n int, one, many string) string {
	f := many
	if n == 1 {
		f = one
	}
	if !strings.Contains(f, "%d") {
		return f
	}
	return fmt.Sprintf(f, n)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

func minuteStamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// mdText keeps text on its line and from turning into Markdown it did not
// mean (a heading, a table, a link to somewhere else).
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "`", "'").Replace(bot.Clip(s, 2000))
}

// mdCell is text for a table cell.
func mdCell(s string) string {
	return mdText(bot.Clip(strings.Join(strings.Fields(s), " "), maxPostMortemCell))
}
