package commands

import (
	"context"
	"strings"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

func whoami() bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "whoami",
		Summary: "Who the bot thinks you are, and your role",
		Role:    policy.Viewer,
		Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
			u := inv.Command.User
			a := bot.Answer{
				Title:   "You are " + displayName(u),
				Private: true,
				Fields: []bot.Field{
					{Name: "Platform", Value: u.Platform},
					{Name: "User id", Value: u.UserID},
					{Name: "Role", Value: inv.Role.String()},
				},
			}
			if len(u.Groups) > 0 {
				a.Fields = append(a.Fields, bot.Field{Name: "Groups", Value: strings.Join(u.Groups, ", ")})
			}
			return a, nil
		},
	}
}

func displayName(u bot.Identity) string { return u.Display() }
