package outbox

import (
	"fmt"
	"slices"

	"github.com/bakewise/chatops/bot"
)

// RunbookMessage renders the first reply of an incident's thread: the
// runbook for its alert with a button per action, or a note that it has
// none and where to add one.
func RunbookMessage(d bot.IncidentDetail, rbs bot.Runbooks) bot.Message {
	name := bot.AlertName(&d.Incident)
	m := bot.Message{Severity: d.Severity, Status: d.Status, Color: bot.Color(d.Severity, d.Status)}
	rb, ok := rbs[name]
	if name == "" || !ok {
		what := name
		if what == "" {
			what = "this alert group (it has no alertname)"
		}
		m.Title = "No runbook for " + what + ": add one under runbooks in the configuration."
		return m
	}
	m.Title = "Runbook: " + name
	for i, s := range rb.Steps {
		if i == bot.MaxRunbookSteps {
			m.MoreLines = len(rb.Steps) - bot.MaxRunbookSteps
			break
		}
		m.Lines = append(m.Lines, fmt.Sprintf("%d. %s", i+1, bot.Clip(s, bot.MaxRunbookStepLen)))
	}
	service := d.CommonLabels["service"]
	if len(rb.Actions) > 0 {
		switch {
		case bot.ValidService(service):
			m.Lines = append(m.Lines, "The buttons act on "+service+"; restart and roll back ask for a second person's approval.")
		default:
			m.Lines = append(m.Lines, "This incident names no single service: Health looks at the whole namespace, the other buttons need a service.")
		}
	}
	for _, a := range bot.RunbookActions {
		if slices.Contains(rb.Actions, a) {
			m.Buttons = append(m.Buttons, bot.Button{ID: bot.RunbookButtonID(a, d.ID), Label: a.Label(), Danger: a.Destructive()})
		}
	}
	return m
}

// runbookReply is a thread's first reply: the runbook rb with what
// changed since the root (change) in the same message, so that a new
// thread costs one reply rather than two.
func runbookReply(rb, change bot.Message) bot.Message {
	if rb.MoreLines > 0 {
		rb.Lines = append(rb.Lines, fmt.Sprintf("…and %d more steps", rb.MoreLines))
	}
	rb.Lines = append(rb.Lines, "Since the root: "+change.Title)
	rb.Lines = append(rb.Lines, change.Lines...)
	rb.MoreLines = change.MoreLines
	rb.Severity, rb.Status, rb.Color = change.Severity, change.Status, change.Color
	return rb
}
