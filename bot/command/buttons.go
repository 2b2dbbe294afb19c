package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// ApprovalClicks are the approval service's buttons (bot/approval).
type ApprovalClicks interface {
	// HandleClick acts on an approval card's button; ok is false for a
	// button that is not an approval's.
	HandleClick(ctx context.Context, c bot.Click) (a bot.Answer, ok bool)
}

// IncidentGetter reads one incident (the store): a view of it, of which a
// button needs the labels alone, not the alerts or events.
type IncidentGetter interface {
	IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error)
}

// Buttons routes clicks: an approval card's buttons to the approvals, an
// incident's buttons to the command they stand for (so the same channel,
// role and audit rules apply as when it is typed).
type Buttons struct {
	approvals ApprovalClicks
	router    *Router
	incidents IncidentGetter
}

// NewButtons routes clicks to approvals (nil: approval buttons are
// unknown), and to router for the buttons that stand for a command;
// incidents reads the incident a runbook button is about (nil: runbook
// buttons are refused).
func NewButtons(approvals ApprovalClicks, router *Router, incidents IncidentGetter) *Buttons {
	return &Buttons{approvals: approvals, router: router, incidents: incidents}
}

// HandleClick implements bot.ClickHandler.
func (b *Buttons) HandleClick(ctx context.Context, c bot.Click, resp bot.Responder) {
	cmd := bot.Command{Platform: c.Platform, User: c.User, Channel: c.Channel, Thread: c.Thread, ReceivedAt: c.ReceivedAt}
	if b.approvals != nil {
		if a, ok := b.approvals.HandleClick(ctx, c); ok {
			b.respond(ctx, resp, a)
			return
		}
	}
	if action, id, ok := bot.ParseRunbookButtonID(c.ButtonID); ok {
		b.runbookClick(ctx, c, cmd, action, id, resp)
		return
	}
	if alert, service, ok := bot.ParseSilenceButtonID(c.ButtonID); ok {
		// An alerts answer's Silence: the silence command typed with the
		// group's matchers, rebuilt from two checked names, so the
		// clicker's role (read now), the plan's breadth rule, approval
		// and audit apply as when typed. A group that stopped firing
		// since is still silenced: the matchers are what was asked for.
		cmd.Text = bot.SilenceButtonCommand(alert, service)
		b.router.Handle(ctx, cmd, resp)
		return
	}
	if text, ok := incidentButton(c.ButtonID); ok {
		cmd.Text = text
		b.router.Handle(ctx, cmd, resp)
		return
	}
	cmd.Text = "(button " + bot.Clip(c.ButtonID, 100) + ")"
	a, _, _ := b.router.refuse(ctx, cmd, "button", "refused", "That button is not one chatops knows.")
	b.respond(ctx, resp, a)
}

func (b *Buttons) respond(ctx context.Context, resp bot.Responder, a bot.Answer) {
	if err := resp.Respond(ctx, a); err != nil {
		b.router.log.Warn("button answer not delivered", zap.Error(err))
	}
}

// incidentButton reads an incident root's button as the command it stands
// for: chatops:incident:ack:<id>, chatops:incident:resolve:<id>,
// chatops:incident:severity:<id>:<P0-P3>.
func incidentButton(buttonID string) (string, bool) {
	parts := strings.Split(buttonID, ":")
	if len(parts) < 4 || parts[0] != "chatops" || parts[1] != "incident" {
		return "", false
	}
	if id, err := strconv.ParseInt(parts[3], 10, 64); err != nil || id <= 0 {
		return "", false
	}
	switch {
	case len(parts) == 4 && (parts[2] == "ack" || parts[2] == "resolve"):
		return "incident " + parts[2] + " " + parts[3], true
	case len(parts) == 5 && parts[2] == "severity":
		if sev, err := bot.ParseSeverity(parts[4]); err == nil {
			return "incident severity " + parts[3] + " " + sev.String(), true
		}
	}
	return "", false
}

// runbookClick handles a runbook's button (bot.RunbookButtonID): it runs
// the command the button stands for through the router, as if the clicker
// had typed it, so channel, role, approval and audit rules all apply.
func (b *Buttons) runbookClick(ctx context.Context, c bot.Click, cmd bot.Command, action bot.RunbookAction, id int64, resp bot.Responder) {
	cmd.Text = "(button " + bot.Clip(c.ButtonID, 100) + ")"
	refuse := func(msg string) {
		a, _, _ := b.router.refuse(ctx, cmd, string(action), "refused", msg)
		b.respond(ctx, resp, a)
	}
	if b.incidents == nil {
		refuse("Runbook buttons are not available on this bot.")
		return
	}
	d, err := b.incidents.IncidentView(ctx, id, 0, 0)
	switch {
	case errors.Is(err, bot.ErrNotFound):
		refuse(fmt.Sprintf("There is no incident #%d.", id))
		return
	case err != nil:
		rid, log := telemetry.ForError(ctx, b.router.log)
		log.Warn("runbook button: incident not read", zap.Int64("incident", id), zap.Error(err))
		b.respond(ctx, resp, bot.ErrorAnswer(fmt.Sprintf("Incident #%d could not be read right now; try again in a moment (request id %s).", id, rid)))
		return
	}
	text, refusal := runbookCommand(action, &d.Incident, b.router.Root())
	if refusal != "" {
		refuse(refusal)
		return
	}
	cmd.Text = text
	b.router.Handle(ctx, cmd, resp)
}

// runbookCommand is the command text a runbook button stands for, on
// incident inc; refusal is set instead when it cannot be built.
func runbookCommand(action bot.RunbookAction, inc *bot.Incident, root string) (text, refusal string) {
	service := inc.CommonLabels["service"]
	switch {
	case bot.ValidService(service):
		return string(action) + " " + service, ""
	case action == bot.ActionHealth:
		return "health", "" // the whole namespace
	case service != "":
		return "", fmt.Sprintf("Incident #%d's service label %q is not a service name; type /%s %s <service>.", inc.ID, bot.Clip(service, 64), root, action)
	}
	return "", fmt.Sprintf("Incident #%d names no service; type the command with the service you mean.", inc.ID)
}
