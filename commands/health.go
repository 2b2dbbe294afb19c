package commands

import (
	"context"
	"fmt"
	"io"
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
	if len(rep.NodesNotReady) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "NODE\tREADY\tREASON\tFOR")
		for _, n := range rep.NodesNotReady {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n.Name, orDash(n.Ready), orDash(n.Reason), shortAge(n.For))
		}
	}
	if rep.MetricsAvailable {
		topTable(w, "TOP MEMORY", rep.TopMemory, true)
		topTable(w, "TOP CPU", rep.TopCPU, false)
	}
	w.Flush()
	for _, n := range rep.NodesNotReady {
		if n.Message != "" {
			fmt.Fprintf(&b, "\n%s: %s", n.Name, bot.Clip(n.Message, maxNodeMessage))
		}
	}
	if len(rep.NodesNotReady) > 0 {
		b.WriteString("\n")
	}
	if !rep.MetricsAvailable {
		a.Lines = append(a.Lines, "metrics.k8s.io is not available: no top pods by memory and CPU.")
	} else if len(rep.TopMemory) == 0 {
		a.Lines = append(a.Lines, "metrics.k8s.io has no usage for these pods yet.")
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

// maxNodeMessage bounds a node's condition message as shown: the kubelet's
// can run to a paragraph.
const maxNodeMessage = 200

// topTable writes the pods using the most memory (byMemory) or CPU, the
// sorting resource first.
func topTable(w io.Writer, title string, pods []bot.PodUsage, byMemory bool) {
	if len(pods) == 0 {
		return
	}
	fmt.Fprintln(w)
	if byMemory {
		fmt.Fprintf(w, "%s\tMEMORY\tCPU\n", title)
	} else {
		fmt.Fprintf(w, "%s\tCPU\tMEMORY\n", title)
	}
	for _, u := range pods {
		mem, cpu := fmt.Sprintf("%dMi", u.MemoryBytes>>20), fmt.Sprintf("%dm", u.CPUMilli)
		if byMemory {
			fmt.Fprintf(w, "%s\t%s\t%s\n", u.Name, mem, cpu)
		} else {
			fmt.Fprintf(w, "%s\t%s\t%s\n", u.Name, cpu, mem)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
