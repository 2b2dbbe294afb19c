package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Limits on a runbook, checked by the configuration and kept here too, so a
// runbook built in code cannot grow a reply past what platforms take.
const (
	MaxRunbookSteps    = 20
	MaxRunbookStepLen  = 300
	runbookButtonLimit = 6 // one per RunbookAction
)

// RunbookAction is something a runbook button does: the command it stands
// for, run on the incident's service.
type RunbookAction string

// The actions a runbook may offer. Restart and rollback are destructive:
// their buttons ask for approval like the typed commands do.
const (
	ActionHealth   RunbookAction = "health"
	ActionLogs     RunbookAction = "logs"
	ActionHistory  RunbookAction = "history"
	ActionStatus   RunbookAction = "status"
	ActionRestart  RunbookAction = "restart"
	ActionRollback RunbookAction = "rollback"
)

// runbookActions are the actions in the order their buttons are shown, with
// their labels; destructive ones are drawn as dangerous.
var runbookActions = []struct {
	action RunbookAction
	label  string
	danger bool
}{
	{ActionHealth, "Health", false},
	{ActionLogs, "Logs", false},
	{ActionHistory, "History", false},
	{ActionStatus, "Rollout status", false},
	{ActionRestart, "Restart (approval)", true},
	{ActionRollback, "Roll back (approval)", true},
}

// ParseRunbookAction accepts the action names of the configuration.
func ParseRunbookAction(s string) (RunbookAction, error) {
	for _, a := range runbookActions {
		if string(a.action) == s {
			return a.action, nil
		}
	}
	names := make([]string, len(runbookActions))
	for i, a := range runbookActions {
		names[i] = string(a.action)
	}
	return "", fmt.Errorf("%q is not a runbook action (want %s)", s, strings.Join(names, ", "))
}

// Runbook is what responders do for one alert: the steps to read, and the
// buttons for what the bot can do itself.
type Runbook struct {
	Steps   []string
	Actions []RunbookAction
}

// Runbooks are runbooks by alert name.
type Runbooks map[string]Runbook

// AlertName is the alert an incident is about: its group's alertname, else
// the one its alerts have in common ("" when neither says).
func AlertName(inc *Incident) string {
	if n := inc.GroupLabels["alertname"]; n != "" {
		return n
	}
	return inc.CommonLabels["alertname"]
}

// RunbookMessage renders the first reply of an incident's thread: the
// runbook for its alert with a button per action, or a note that it has
// none and where to add one.
func RunbookMessage(d IncidentDetail, rbs Runbooks) Message {
	name := AlertName(&d.Incident)
	m := Message{Severity: d.Severity, Status: d.Status, Color: Color(d.Severity, d.Status)}
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
		if i == MaxRunbookSteps {
			m.MoreLines = len(rb.Steps) - MaxRunbookSteps
			break
		}
		m.Lines = append(m.Lines, fmt.Sprintf("%d. %s", i+1, clip(s, MaxRunbookStepLen)))
	}
	service := d.CommonLabels["service"]
	if len(rb.Actions) > 0 {
		switch {
		case validService(service):
			m.Lines = append(m.Lines, "The buttons act on "+service+"; restart and roll back ask for a second person's approval.")
		default:
			m.Lines = append(m.Lines, "This incident names no single service: Health looks at the whole namespace, the other buttons need a service.")
		}
	}
	id := strconv.FormatInt(d.ID, 10)
	for _, a := range runbookActions {
		for _, want := range rb.Actions {
			if want == a.action {
				m.Buttons = append(m.Buttons, Button{ID: "chatops:run:" + string(a.action) + ":" + id, Label: a.label, Danger: a.danger})
				break
			}
		}
		if len(m.Buttons) == runbookButtonLimit {
			break
		}
	}
	return m
}

// serviceName is what a service label must look like to be typed into a
// command: a Kubernetes object name, so a label cannot smuggle flags or
// quotes into the command line a button builds.
var serviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func validService(s string) bool { return serviceName.MatchString(s) }

// IncidentGetter reads one incident (the store).
type IncidentGetter interface {
	GetIncident(ctx context.Context, id int64) (IncidentDetail, error)
}

// runbookCommand is the command text a runbook button stands for, on
// incident inc; refusal is set instead when it cannot be built.
func runbookCommand(action RunbookAction, inc *Incident, root string) (text, refusal string) {
	service := inc.CommonLabels["service"]
	switch {
	case validService(service):
		return string(action) + " " + service, ""
	case action == ActionHealth:
		return "health", "" // the whole namespace
	case service != "":
		return "", fmt.Sprintf("Incident #%d's service label %q is not a service name; type /%s %s <service>.", inc.ID, clip(service, 64), root, action)
	}
	return "", fmt.Sprintf("Incident #%d names no service; type the command with the service you mean.", inc.ID)
}

// runbookClick handles chatops:run:<action>:<incident id>: it runs the
// command the button stands for through the router, as if the clicker had
// typed it, so channel, role, approval and audit rules all apply. It
// reports false for a button that is not a runbook's.
func (b *Buttons) runbookClick(ctx context.Context, c Click, cmd Command, resp Responder) bool {
	parts := strings.Split(c.ButtonID, ":")
	if len(parts) != 4 || parts[0] != "chatops" || parts[1] != "run" {
		return false
	}
	action, err := ParseRunbookAction(parts[2])
	id, ierr := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || ierr != nil || id <= 0 {
		return false
	}
	cmd.Text = "(button " + clip(c.ButtonID, 100) + ")"
	if b.Incidents == nil {
		a, _, _ := b.Router.refuse(ctx, cmd, string(action), "refused", "Runbook buttons are not available on this bot.")
		b.respond(ctx, resp, a)
		return true
	}
	d, err := b.Incidents.GetIncident(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		a, _, _ := b.Router.refuse(ctx, cmd, string(action), "refused", fmt.Sprintf("There is no incident #%d.", id))
		b.respond(ctx, resp, a)
		return true
	case err != nil:
		b.Router.log.Warn("runbook button: incident not read", zap.Int64("incident", id), zap.Error(err))
		b.respond(ctx, resp, errorAnswer(fmt.Sprintf("Incident #%d could not be read right now; try again in a moment.", id)))
		return true
	}
	text, refusal := runbookCommand(action, &d.Incident, b.Router.Root())
	if refusal != "" {
		a, _, _ := b.Router.refuse(ctx, cmd, string(action), "refused", refusal)
		b.respond(ctx, resp, a)
		return true
	}
	cmd.Text = text
	b.Router.Handle(ctx, cmd, resp)
	return true
}

// postRunbook posts a thread's first reply, its runbook, and records that
// it did, so a retry or another replica does not post it again. A reply
// whose answer is lost may be posted twice, as any reply may: platforms
// cannot search a thread's replies.
func (d *Dispatcher) postRunbook(ctx context.Context, chat Chat, inc IncidentDetail, th *Thread) error {
	if d.cfg.Runbooks == nil {
		return nil
	}
	if err := chat.Reply(ctx, th.Ref, RunbookMessage(inc, d.cfg.Runbooks)); err != nil {
		return fmt.Errorf("runbook reply: %w", err)
	}
	th.RunbookPosted = true
	if err := d.store.SaveThread(ctx, *th, d.cfg.Now()); err != nil {
		return fmt.Errorf("record runbook reply: %w", err)
	}
	return nil
}
