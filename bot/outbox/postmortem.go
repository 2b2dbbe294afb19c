package outbox

import (
	"fmt"
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

// ThreadReply is the reply a thread gets for events it has not shown yet,
// with d's timeline holding them all (a detail built in memory):
// ReplyMessage's summary, led on resolution by how long it took and, for
// P0/P1, the gist of the post-mortem draft. ok is false when there is
// nothing to post: every event is an action taken in the thread itself,
// whose command and answer (or approval card) the thread shows already.
func ThreadReply(d bot.IncidentDetail, dest bot.Destination, events []bot.Event) (m bot.Message, ok bool) {
	c := changesOf(d.Timeline, events)
	rec := recordOf(d)
	return threadReply(d, dest, c, &rec)
}

// threadReply is ThreadReply over a run as the dispatcher reads it; rec,
// the incident's record, is read only when c.resolves(&d).
func threadReply(d bot.IncidentDetail, dest bot.Destination, c changes, rec *record) (m bot.Message, ok bool) {
	if !c.visible() {
		return bot.Message{}, false
	}
	m = replyMessage(d, dest, c)
	if !c.resolves(&d) || rec == nil {
		return m, true
	}
	lead := resolutionLines(&d.Incident, rec)
	if d.Severity <= postMortemSeverities {
		lead = append(lead, postMortemGist(&d.Incident, rec)...)
	}
	keep := max(maxReplyLines-len(lead), 3)
	if len(m.Lines) > keep {
		m.MoreLines += len(m.Lines) - keep
		m.Lines = m.Lines[:keep]
	}
	m.Lines = append(lead, m.Lines...)
	return m, true
}

// record is what a resolution reply and a post-mortem draft say of an
// incident's whole record beyond its row: when its alerts began and
// ended, and what its timeline holds. The dispatcher has the store count
// it (loadRecord); the draft gathers it page by page (drafter).
type record struct {
	span bot.AlertSpan
	// reopened counts the times the incident reopened.
	reopened int
	// outage is the number of the first outage it was part of ("").
	outage string
	// actions are the first actions taken from its thread, oldest first;
	// actionCount counts them all.
	actions     []bot.Event
	actionCount int
}

// recordOf gathers d's record from the alerts and events it holds.
func recordOf(d bot.IncidentDetail) record {
	var dr drafter
	dr.addAlerts(d.Alerts)
	dr.addEvents(d.Timeline)
	return dr.rec
}

// resolutionLines say how long a resolved incident took: its duration
// (the impact window), the time to acknowledge and the time to resolve.
func resolutionLines(inc *bot.Incident, rec *record) []string {
	start, end := impactWindow(inc, rec.span)
	lines := []string{fmt.Sprintf("Duration: %s (%s)", bot.HumanDuration(end.Sub(start)), windowText(start, end))}
	if inc.AckedAt != nil {
		lines = append(lines, fmt.Sprintf("Time to acknowledge: %s (%s)", bot.HumanDuration(inc.AckedAt.Sub(inc.OpenedAt)), bot.Clip(inc.AckedBy, 80)))
	} else {
		lines = append(lines, "Time to acknowledge: never acknowledged")
	}
	return append(lines, "Time to resolve: "+bot.HumanDuration(inc.ResolvedAt.Sub(inc.OpenedAt)))
}

// postMortemGist is the draft's shape in a few lines, and where the whole
// of it is.
func postMortemGist(inc *bot.Incident, rec *record) []string {
	lines := []string{fmt.Sprintf("Post-mortem draft (%s): %s taken, %s.", inc.Severity,
		plural(rec.actionCount, "%d action", "%d actions"), plural(len(openQuestions(inc, rec)), "%d open question", "%d open questions"))}
	for i, a := range rec.actions {
		if i == maxReplyActions {
			break
		}
		lines = append(lines, "Action: "+bot.Clip(a.Detail, 200))
	}
	if rec.actionCount > maxReplyActions {
		lines = append(lines, "…and "+plural(rec.actionCount-maxReplyActions, "%d more action", "%d more actions"))
	}
	return append(lines, fmt.Sprintf("Full draft: chatops incident export %d", inc.ID))
}

// PostMortem renders the post-mortem draft of an incident held in memory
// with all its alerts and events (ExportPostMortem drafts one from the
// store, page by page). It depends on the incident alone (no clock), so
// the same incident always gives the same draft.
func PostMortem(d bot.IncidentDetail) string {
	var dr drafter
	dr.addAlerts(d.Alerts)
	dr.addEvents(d.Timeline)
	return dr.render(&d.Incident)
}

// render writes the draft as Markdown: summary, impact window, timeline,
// actions taken and open questions, to be completed by the people who
// handled the incident.
func (dr *drafter) render(inc *bot.Incident) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Post-mortem draft: #%d %s\n\n", inc.ID, mdText(inc.Title))
	p("_Drafted by chatops from the incident's record. Replace the questions with answers._\n\n")
	p("| | |\n|---|---|\n")
	p("| Severity | %s |\n", inc.Severity)
	p("| Status | %s |\n", inc.Status)
	p("| Opened | %s |\n", stamp(inc.OpenedAt))
	if inc.AckedAt != nil {
		p("| Acknowledged | %s by %s (after %s) |\n", stamp(*inc.AckedAt), mdCell(inc.AckedBy), bot.HumanDuration(inc.AckedAt.Sub(inc.OpenedAt)))
	} else {
		p("| Acknowledged | never |\n")
	}
	if inc.ResolvedAt != nil {
		p("| Resolved | %s (after %s) |\n", stamp(*inc.ResolvedAt), bot.HumanDuration(inc.ResolvedAt.Sub(inc.OpenedAt)))
	} else {
		p("| Resolved | not yet |\n")
	}

	p("\n## Summary\n\n")
	if s := dr.groupAnnotation(inc, "summary"); s != "" {
		p("%s\n\n", mdText(s))
	}
	if s := dr.annotation(inc, "description"); s != "" {
		p("%s\n\n", mdText(s))
	}
	services := dr.serviceList(inc)
	if alerts := dr.rec.span.Alerts; alerts > 0 {
		p("%s: %s on %s.\n", mdText(inc.Title), plural(alerts, "1 alert recorded", "%d alerts recorded"), orNone(services, "no named service"))
	} else {
		p("%s, on %s.\n", mdText(inc.Title), orNone(services, "no named service"))
	}

	p("\n## Impact window\n\n")
	start, end := impactWindow(inc, dr.rec.span)
	if inc.ResolvedAt != nil {
		p("From %s to %s: %s.\n", stamp(start), stamp(end), bot.HumanDuration(end.Sub(start)))
	} else {
		p("From %s, still open.\n", stamp(start))
	}
	if len(dr.earliest) > 0 {
		p("\n| Alert | Where | Severity | Started | Ended |\n|---|---|---|---|---|\n")
		for _, a := range dr.earliest {
			ended := "firing"
			if a.Status == bot.AlertResolved && !a.EndsAt.IsZero() {
				ended = stamp(a.EndsAt)
			}
			p("| %s | %s | %s | %s | %s |\n", mdCell(a.Labels["alertname"]), mdCell(alertWhere(a.Labels)), a.Severity, stamp(a.StartsAt), ended)
		}
		if more := dr.rec.span.Alerts - len(dr.earliest); more > 0 {
			p("\n…and %d more alerts.\n", more)
		}
	}

	p("\n## Timeline\n\n| Time (UTC) | Event | Detail |\n|---|---|---|\n")
	for _, e := range dr.events {
		p("| %s | %s | %s |\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Kind, mdCell(e.Detail))
	}
	if more := dr.eventCount - len(dr.events); more > 0 {
		p("\n…and %d more events.\n", more)
	}

	p("\n## Actions taken\n\n")
	if dr.rec.actionCount == 0 {
		p("_No command was run from the incident's thread._\n")
	}
	for _, a := range dr.rec.actions {
		p("- %s: %s\n", minuteStamp(a.At), mdText(a.Detail))
	}
	if more := dr.rec.actionCount - len(dr.rec.actions); more > 0 {
		p("- …and %d more actions.\n", more)
	}

	p("\n## Open questions\n\n")
	for _, q := range openQuestions(inc, &dr.rec) {
		p("- [ ] %s\n", q)
	}
	return b.String()
}

// openQuestions are what the draft asks its authors, from what the record
// shows.
func openQuestions(inc *bot.Incident, rec *record) []string {
	qs := []string{"What was the root cause?"}
	start, _ := impactWindow(inc, rec.span)
	qs = append(qs, fmt.Sprintf("What changed around %s (deployments, configuration, traffic, dependencies)?", minuteStamp(start)))
	deadline := bot.DefaultDeadlines.For(inc.Severity)
	switch {
	case inc.AckedAt == nil:
		qs = append(qs, "Nobody acknowledged it: did the page reach the on-call engineer?")
	case inc.AckedAt.Sub(inc.OpenedAt) > deadline:
		qs = append(qs, fmt.Sprintf("Acknowledging took %s, past the %s response time of %s: why?",
			bot.HumanDuration(inc.AckedAt.Sub(inc.OpenedAt)), inc.Severity, bot.HumanDuration(deadline)))
	}
	if rec.reopened > 0 {
		qs = append(qs, fmt.Sprintf("It reopened %s: was the alert flapping, or the first fix incomplete?", plural(rec.reopened, "once", "%d times")))
	}
	if rec.outage != "" {
		qs = append(qs, fmt.Sprintf("It was part of outage #%s: what did the failing services have in common?", rec.outage))
	}
	if rec.actionCount == 0 {
		qs = append(qs, "No command was run from the thread: what brought the service back?")
	}
	return append(qs, "What would have caught it sooner, and what keeps it from happening again (owner, due date)?")
}

// outageOf is the outage number a "part of outage #N (...)" event names
// ("" for any other event).
func outageOf(e bot.Event) string {
	const prefix = "part of outage "
	if e.Kind != bot.EventLinked || !strings.HasPrefix(e.Detail, prefix) {
		return ""
	}
	return strings.TrimPrefix(strings.Fields(e.Detail)[3], "#")
}

// impactWindow is when the trouble began (the earliest alert, or the
// incident's opening) and ended (the last alert's end when every alert
// ended, else the resolution; the opening while it is still open).
func impactWindow(inc *bot.Incident, span bot.AlertSpan) (start, end time.Time) {
	start = inc.OpenedAt
	if !span.FirstStart.IsZero() && span.FirstStart.Before(start) {
		start = span.FirstStart
	}
	switch {
	case inc.ResolvedAt == nil:
		end = inc.OpenedAt
	case span.Alerts > 0 && span.Ended && !span.LastEnd.Before(start):
		end = span.LastEnd
	default:
		end = *inc.ResolvedAt
	}
	return start.UTC(), end.UTC()
}

func windowText(start, end time.Time) string {
	if start.YearDay() == end.YearDay() && start.Year() == end.Year() {
		return start.Format("15:04") + "–" + end.Format("15:04 MST")
	}
	return start.Format("Jan 2 15:04") + " – " + end.Format("Jan 2 15:04 MST")
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
