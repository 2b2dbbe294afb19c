package commands

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// HistoryReader reads a deployment's rollout history (the cluster).
type HistoryReader interface {
	History(ctx context.Context, service string) ([]bot.Revision, error)
}

// StatusReader reads a deployment's rollout status (the cluster).
type StatusReader interface {
	Status(ctx context.Context, service string) (bot.RolloutStatus, error)
}

func history(c HistoryReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "history",
		Summary: "A service's rollout history: revisions with image, change-cause and age",
		Role:    policy.Viewer,
		Args:    []bot.Arg{{Name: "service", Positional: true, Required: true, Help: "the service (deployment)", Complete: "service"}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			service := inv.String("service")
			revs, err := c.History(ctx, service)
			if err != nil {
				return bot.Answer{}, err
			}
			a := bot.Answer{Title: fmt.Sprintf("%s: %d revisions", service, len(revs))}
			if len(revs) == 0 {
				return a, nil
			}
			var b strings.Builder
			w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "REVISION\tAGE\tIMAGE\tCHANGE-CAUSE")
			now := time.Now()
			for _, r := range revs {
				mark := ""
				if r.Current {
					mark = " (current)"
				}
				cause := r.ChangeCause
				if cause == "" {
					cause = "-"
				}
				fmt.Fprintf(w, "%d%s\t%s\t%s\t%s\n", r.Number, mark, shortAge(now.Sub(r.Created)), strings.Join(r.Images, ","), cause)
			}
			w.Flush()
			a.Pre = b.String()
			return a, nil
		},
	}
}

func status(c StatusReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "status",
		Summary: "A service's rollout status: updated, ready and available replicas, conditions",
		Role:    policy.Viewer,
		Args:    []bot.Arg{{Name: "service", Positional: true, Required: true, Help: "the service (deployment)", Complete: "service"}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			st, err := c.Status(ctx, inv.String("service"))
			if err != nil {
				return bot.Answer{}, err
			}
			icon, color := "⏳", 0xECB22E
			if st.Done {
				icon, color = "✅", 0x2EB67D
			}
			a := bot.Answer{
				Title: fmt.Sprintf("%s %s: %s", icon, st.Name, st.Message),
				Color: color,
				Fields: []bot.Field{
					{Name: "Desired", Value: fmt.Sprint(st.Desired)},
					{Name: "Updated", Value: fmt.Sprint(st.Updated)},
					{Name: "Ready", Value: fmt.Sprint(st.Ready)},
					{Name: "Available", Value: fmt.Sprint(st.Available)},
				},
			}
			if st.Paused {
				a.Fields = append(a.Fields, bot.Field{Name: "Paused", Value: "yes"})
			}
			for _, cd := range st.Conditions {
				line := fmt.Sprintf("%s=%s", cd.Type, cd.Status)
				if cd.Reason != "" {
					line += " (" + cd.Reason + ")"
				}
				if cd.Message != "" {
					line += ": " + cd.Message
				}
				a.Lines = append(a.Lines, line)
			}
			return a, nil
		},
	}
}
