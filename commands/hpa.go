package commands

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// HPAReader reads HorizontalPodAutoscalers (the cluster).
type HPAReader interface {
	HPAs(ctx context.Context, service string) ([]bot.HPA, error)
}

func hpa(c HPAReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "hpa",
		Summary: "HorizontalPodAutoscalers: replicas, metrics against targets, conditions",
		Role:    policy.Viewer,
		Args:    []bot.Arg{{Name: "service", Positional: true, Help: "only the autoscaler of this service (deployment)", Complete: "service"}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			service := inv.String("service")
			hs, err := c.HPAs(ctx, service)
			if err != nil {
				return bot.Answer{}, err
			}
			return hpaAnswer(service, hs), nil
		},
	}
}

func hpaAnswer(service string, hs []bot.HPA) bot.Answer {
	if len(hs) == 0 {
		if service != "" {
			return bot.Answer{Title: fmt.Sprintf("No HorizontalPodAutoscaler scales %s.", service)}
		}
		return bot.Answer{Title: "No HorizontalPodAutoscalers in the namespace."}
	}
	a := bot.Answer{Title: fmt.Sprintf("%d HorizontalPodAutoscalers", len(hs)), Color: 0x2EB67D}
	if service != "" {
		a.Title = fmt.Sprintf("HorizontalPodAutoscalers of %s: %d", service, len(hs))
	}
	var b strings.Builder
	limited := 0
	for i, h := range hs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s → %s: %d current, %d desired (min %d, max %d)\n", h.Name, h.Target, h.Current, h.Desired, h.Min, h.Max)
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		if len(h.Metrics) > 0 {
			fmt.Fprintln(w, "  METRIC\tCURRENT\tTARGET")
			for _, m := range h.Metrics {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", m.Name, m.Current, m.Target)
			}
		}
		w.Flush()
		for _, cd := range h.Conditions {
			line := fmt.Sprintf("  %s=%s", cd.Type, cd.Status)
			if cd.Reason != "" {
				line += " (" + cd.Reason + ")"
			}
			if cd.Message != "" {
				line += ": " + oneLine(cd.Message, maxEventMessage)
			}
			b.WriteString(line + "\n")
			if cd.Type == "ScalingLimited" && cd.Status == "True" {
				limited++
			}
		}
	}
	if limited > 0 {
		a.Color = 0xECB22E
		a.Lines = append(a.Lines, fmt.Sprintf("%d at their replica bounds (ScalingLimited).", limited))
	}
	a.Pre = b.String()
	return a
}
