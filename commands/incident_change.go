package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// IncidentChanger is the incident engine as people change incidents: each
// change is one transaction with its timeline event, chat sync and audit
// row.
type IncidentChanger interface {
	Acknowledge(ctx context.Context, id int64, who bot.Identity, channel string) (bot.Incident, error)
	ResolveByHand(ctx context.Context, id int64, who bot.Identity, channel string) (bot.Incident, error)
	SetSeverity(ctx context.Context, id int64, sev bot.Severity, who bot.Identity, channel string) (bot.Incident, error)
}

var incidentID = bot.Arg{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 53, Help: "the incident's number (#12)"}

func incidentChange(name, summary string, role policy.Role, extra []bot.Arg, c IncidentChanger,
	change func(ctx context.Context, inv bot.Invocation, id int64) (bot.Incident, error), done string) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    name,
		Summary: summary,
		Role:    role,
		Args:    append([]bot.Arg{incidentID}, extra...),
		// The change is its own timeline event (acknowledged by carol).
		OwnTimeline: true,
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			inc, err := change(ctx, inv, int64(inv.Int("id", 0)))
			var refusal *bot.IncidentRefusal
			if errors.As(err, &refusal) {
				return bot.Answer{Title: refusal.Msg, Private: true}, nil
			}
			if err != nil {
				return bot.Answer{}, err
			}
			return bot.Answer{
				Title: fmt.Sprintf("#%d %s %s by %s", inc.ID, inc.Title, done, displayName(inv.Command.User)),
				Color: bot.Color(inc.Severity, inc.Status),
			}, nil
		},
	}
}

func incidentChanges(c IncidentChanger) []bot.CommandSpec {
	return []bot.CommandSpec{
		incidentChange("incident ack", "Acknowledge an incident: you are on it (stops escalation)", policy.Member, nil, c,
			func(ctx context.Context, inv bot.Invocation, id int64) (bot.Incident, error) {
				return c.Acknowledge(ctx, id, inv.Command.User, inv.Command.Channel)
			}, "acknowledged"),
		incidentChange("incident resolve", "Resolve an incident by hand (alerts still firing reopen it)", policy.Admin, nil, c,
			func(ctx context.Context, inv bot.Invocation, id int64) (bot.Incident, error) {
				return c.ResolveByHand(ctx, id, inv.Command.User, inv.Command.Channel)
			}, "resolved"),
		incidentChange("incident severity", "Set an incident's severity by hand (it sticks while the incident is open)", policy.Admin,
			[]bot.Arg{{Name: "severity", Positional: true, Required: true, Help: "P0, P1, P2 or P3"}}, c,
			func(ctx context.Context, inv bot.Invocation, id int64) (bot.Incident, error) {
				sev, err := bot.ParseSeverity(inv.String("severity"))
				if err != nil {
					return bot.Incident{}, &bot.UsageError{Spec: inv.Spec, Msg: err.Error()}
				}
				return c.SetSeverity(ctx, id, sev, inv.Command.User, inv.Command.Channel)
			}, "severity set"),
	}
}
