package bot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Limits on a runbook, checked by the configuration and kept here too, so a
// runbook built in code cannot grow a reply past what platforms take.
const (
	MaxRunbookSteps   = 20
	MaxRunbookStepLen = 300
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

// RunbookActions are the actions in the order their buttons are shown.
var RunbookActions = []RunbookAction{ActionHealth, ActionLogs, ActionHistory, ActionStatus, ActionRestart, ActionRollback}

// Label is the action's button label.
func (a RunbookAction) Label() string {
	switch a {
	case ActionHealth:
		return "Health"
	case ActionLogs:
		return "Logs"
	case ActionHistory:
		return "History"
	case ActionStatus:
		return "Rollout status"
	case ActionRestart:
		return "Restart (approval)"
	case ActionRollback:
		return "Roll back (approval)"
	}
	return string(a)
}

// Destructive reports whether the action asks for approval; its button is
// drawn as dangerous.
func (a RunbookAction) Destructive() bool { return a == ActionRestart || a == ActionRollback }

// ParseRunbookAction accepts the action names of the configuration.
func ParseRunbookAction(s string) (RunbookAction, error) {
	names := make([]string, len(RunbookActions))
	for i, a := range RunbookActions {
		if string(a) == s {
			return a, nil
		}
		names[i] = string(a)
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

// RunbookButtonID is the id of the button for action on incident id:
// chatops:run:<action>:<incident id>.
func RunbookButtonID(action RunbookAction, incidentID int64) string {
	return "chatops:run:" + string(action) + ":" + strconv.FormatInt(incidentID, 10)
}

// ParseRunbookButtonID reads a RunbookButtonID; ok is false for any other
// button.
func ParseRunbookButtonID(id string) (action RunbookAction, incidentID int64, ok bool) {
	parts := strings.Split(id, ":")
	if len(parts) != 4 || parts[0] != "chatops" || parts[1] != "run" {
		return "", 0, false
	}
	action, err := ParseRunbookAction(parts[2])
	n, nerr := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || nerr != nil || n <= 0 {
		return "", 0, false
	}
	return action, n, true
}

// serviceName is what a service label must look like to be typed into a
// command: a Kubernetes object name, so a label cannot smuggle flags or
// quotes into the command line a button builds.
var serviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ValidService reports whether s can name a service in a command a button
// builds.
func ValidService(s string) bool { return serviceName.MatchString(s) }
