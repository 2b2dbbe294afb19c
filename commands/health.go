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

// AlertCounter counts firing alerts by their severity label, for one
// service ("" for all) (Alertmanager's API v2 in production).
type AlertCounter interface {
	FiringBySeverity(ctx context.Context, service string) (map[string]int, error)
}

// HealthChecker reports on the namespace or one service (the cluster).
type HealthChecker interface {
	Health(ctx context.Context, service string) (bot.HealthReport, error)
}

func health(c HealthChecker, alerts AlertCounter) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "health",
		Summary: "Pods in trouble, deployments, nodes, top pods and firing alerts: one screen, worst first",
		Role:    policy.Viewer,
		Args:    []bot.Arg{{Name: "service", Positional: true, Help: "one service (a deployment) instead of the whole namespace", Complete: "service"}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			rep, err := c.Health(ctx, inv.String("service"))
			if err != nil {
				return bot.Answer{}, err
			}
			return healthAnswer(ctx, rep, alerts), nil
		},
	}
}

func healthAnswer(ctx context.Context, rep bot.HealthReport, alerts AlertCounter) bot.Answer {
	scope := rep.Namespace
	if rep.Service != "" {
		scope = rep.Service + " in " + rep.Namespace
	}
	notReady := 0
	for _, d := range rep.Deployments {
		if d.Ready < d.Desired {
			notReady++
		}
	}
	a := bot.Answer{Color: 0x2EB67D}
	switch {
	case len(rep.Problems) == 0 && notReady == 0 && len(rep.NodesNotReady) == 0:
		a.Title = fmt.Sprintf("✅ %s is healthy: %d pods, %d deployments ready", scope, rep.Pods, len(rep.Deployments))
	default:
		a.Title = fmt.Sprintf("⚠️ %s: %d pods in trouble, %d of %d deployments not ready, %d nodes not ready",
			scope, len(rep.Problems), notReady, len(rep.Deployments), len(rep.NodesNotReady))
		a.Color = 0xECB22E
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if len(rep.Problems) > 0 {
		fmt.Fprintln(w, "POD\tREASON\tREADY\tRESTARTS\tAGE")
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", p.Name, p.Reason, p.Ready, p.Restarts, shortAge(p.Age))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "DEPLOYMENT\tREADY\tUP-TO-DATE")
	for _, d := range rep.Deployments {
		fmt.Fprintf(w, "%s\t%d/%d\t%d\n", d.Name, d.Ready, d.Desired, d.Updated)
	}
	w.Flush()
	if len(rep.NodesNotReady) > 0 {
		fmt.Fprintf(&b, "\nNodes not Ready: %s\n", strings.Join(rep.NodesNotReady, ", "))
	}
	if rep.MetricsAvailable {
		b.WriteString("\nTop memory: ")
		for i, u := range rep.TopMemory {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %dMi", u.Name, u.MemoryBytes>>20)
		}
		b.WriteString("\nTop CPU: ")
		for i, u := range rep.TopCPU {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %dm", u.Name, u.CPUMilli)
		}
		b.WriteString("\n")
	} else {
		a.Lines = append(a.Lines, "metrics.k8s.io is not available: no top pods by memory and CPU.")
	}
	a.Pre = b.String()
	if alerts == nil {
		a.Lines = append(a.Lines, "Firing alerts: the Alertmanager API is not configured.")
	} else if counts, err := alerts.FiringBySeverity(ctx, rep.Service); err != nil {
		// The error names addresses and Alertmanager's own text: the log
		// has it (the AlertCounter logs its failures), chat does not.
		a.Lines = append(a.Lines, "Firing alerts: Alertmanager did not answer; the details are in chatops' log.")
	} else {
		a.Lines = append(a.Lines, "Firing alerts: "+severityCounts(counts))
	}
	return a
}

func severityCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range []string{"critical", "warning", "info"} {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	for s, n := range counts {
		if s != "critical" && s != "warning" && s != "info" && n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

func shortAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
