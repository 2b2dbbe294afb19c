package commands

import (
	"context"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Decider is the approval service as the approval commands use it; it
// applies the two-person rule and audits every decision.
type Decider interface {
	Approve(ctx context.Context, b bot.Ballot) bot.Answer
	Deny(ctx context.Context, b bot.Ballot) bot.Answer
	Cancel(ctx context.Context, b bot.Ballot) bot.Answer
	BreakGlass(ctx context.Context, b bot.Ballot) bot.Answer
}

var requestID = bot.Arg{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 53, Help: "the request's number, from its card"}

// decision builds approve, deny, cancel and break-glass: each hands a
// ballot to the approvals, which decide whether it counts. Their role is
// Viewer so that the approvals, not the router, refuse (and audit) people
// without the role the request needs.
func decision(name, summary string, reason *bot.Arg, d Decider, decide func(Decider, context.Context, bot.Ballot) bot.Answer) bot.CommandSpec {
	args := []bot.Arg{requestID}
	if reason != nil {
		args = append(args, *reason)
	}
	return bot.CommandSpec{
		Name:    name,
		Summary: summary,
		Role:    policy.Viewer,
		Args:    args,
		Timeout: 2 * bot.DefaultCommandTimeout, // an approval may run the action
		// The approvals put a request's decisions on its incident's timeline.
		OwnTimeline: true,
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			cmd := inv.Command
			return decide(d, ctx, bot.Ballot{
				Who: cmd.User, Channel: cmd.Channel, ID: int64(inv.Int("id", 0)),
				Reason: inv.String("reason"), Via: "command", At: cmd.ReceivedAt,
			}), nil
		},
	}
}

func approvalCommands(d Decider) []bot.CommandSpec {
	return []bot.CommandSpec{
		decision("approve", "Approve someone else's request for a destructive action", nil, d, Decider.Approve),
		decision("deny", "Deny a request for a destructive action", &bot.Arg{Name: "reason", Positional: true, Rest: true, Help: "why (optional)"}, d, Decider.Deny),
		decision("cancel", "Cancel your own request", nil, d, Decider.Cancel),
		decision("break-glass", "Owners only, when enabled: run your own request alone, with a written reason (audited and announced)",
			&bot.Arg{Name: "reason", Positional: true, Required: true, Rest: true, Help: "why it cannot wait for a second person"}, d, Decider.BreakGlass),
	}
}
