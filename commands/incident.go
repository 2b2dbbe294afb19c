package commands

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// IncidentReader is what the incident commands read: a list, and one
// incident with the first of its alerts and the newest of its events
// (bot.IncidentPages), never the whole of a storm's incident.
type IncidentReader interface {
	ListIncidents(ctx context.Context, f bot.IncidentFilter) ([]bot.Incident, error)
	IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error)
}

// What the incident commands show at most.
const (
	listLimit      = 20
	showAlertLines = 15
	showEvents     = 20
)

func incidentList(r IncidentReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "incident list",
		Summary: "Open incidents, most urgent first (or --status resolved|all)",
		Role:    policy.Viewer,
		Args:    []bot.Arg{{Name: "status", Help: "open (default), resolved or all"}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			f := bot.IncidentFilter{Status: bot.IncidentOpen, Limit: listLimit}
			switch s := inv.String("status"); s {
			case "", "open":
			case "resolved":
				f.Status = bot.IncidentResolved
			case "all":
				f.Status = ""
			default:
				return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("status %q: want open, resolved or all", s)}
			}
			incs, err := r.ListIncidents(ctx, f)
			if err != nil {
				return bot.Answer{}, fmt.Errorf("list incidents: %w", err)
			}
			a := bot.Answer{Title: fmt.Sprintf("%d %s incidents", len(incs), statusWord(f.Status))}
			if len(incs) == 0 {
				a.Title = "No " + statusWord(f.Status) + " incidents."
				return a, nil
			}
			sortUrgent(incs)
			var b strings.Builder
			for _, inc := range incs {
				fmt.Fprintf(&b, "#%-5d %s  %-8s %3d firing  %s  %s\n", inc.ID, inc.Severity, inc.Status, inc.Firing,
					inc.OpenedAt.UTC().Format("01-02 15:04"), inc.Title)
			}
			a.Pre = b.String()
			if len(incs) == listLimit {
				a.Lines = append(a.Lines, fmt.Sprintf("Showing the newest %d.", listLimit))
			}
			return a, nil
		},
	}
}

func incidentShow(r IncidentReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "incident show",
		Summary: "One incident: state, alerts and timeline",
		Role:    policy.Viewer,
		Args:    []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 53, Help: "the incident number (#12 → 12)"}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			id := int64(inv.Int("id", 0))
			d, err := r.IncidentView(ctx, id, showAlertLines, showEvents)
			if errors.Is(err, bot.ErrNotFound) {
				return bot.Answer{Title: fmt.Sprintf("No incident #%d.", id), Private: true}, nil
			}
			if err != nil {
				return bot.Answer{}, fmt.Errorf("incident %d: %w", id, err)
			}
			a := bot.Answer{
				Title: fmt.Sprintf("%s · #%d %s", d.Severity, d.ID, d.Title),
				Color: bot.Color(d.Severity, d.Status),
				Fields: []bot.Field{
					{Name: "Status", Value: fmt.Sprintf("%s: %d firing, %d resolved", d.Status, d.Firing, d.Resolved)},
					{Name: "Opened", Value: bot.AtAgo(d.OpenedAt)},
				},
			}
			if d.AckedAt != nil {
				a.Fields = append(a.Fields, bot.Field{Name: "Acknowledged", Value: d.AckedBy + " at " + bot.At(*d.AckedAt)})
			}
			if d.ResolvedAt != nil {
				a.Fields = append(a.Fields, bot.Field{Name: "Resolved", Value: bot.At(*d.ResolvedAt)})
			}
			var b strings.Builder
			b.WriteString("Alerts\n")
			alerts := d.Alerts[:min(len(d.Alerts), showAlertLines)]
			for _, al := range alerts {
				fmt.Fprintf(&b, "  %-8s %s %s\n", al.Status, al.Severity, labelSummary(al.Labels))
			}
			if more := d.AlertCount() - len(alerts); more > 0 {
				fmt.Fprintf(&b, "  …and %d more\n", more)
			}
			b.WriteString("Timeline\n")
			events := d.Timeline[max(len(d.Timeline)-showEvents, 0):]
			if earlier := d.EventCount() - len(events); earlier > 0 {
				fmt.Fprintf(&b, "  (%d earlier events)\n", earlier)
			}
			for _, e := range events {
				fmt.Fprintf(&b, "  %s  %s\n", e.At.UTC().Format("01-02 15:04:05"), e.Detail)
			}
			a.Pre = b.String()
			return a, nil
		},
	}
}

func statusWord(s bot.IncidentStatus) string {
	if s == "" {
		return "recent"
	}
	return string(s)
}

// sortUrgent orders incidents by severity, then newest first.
func sortUrgent(incs []bot.Incident) {
	sort.SliceStable(incs, func(i, j int) bool {
		if incs[i].Severity != incs[j].Severity {
			return incs[i].Severity < incs[j].Severity
		}
		return incs[i].ID > incs[j].ID
	})
}

func labelSummary(labels map[string]string) string {
	var parts []string
	for _, k := range []string{"alertname", "service", "pod", "instance"} {
		if v := labels[k]; v != "" {
			parts = append(parts, k+"="+strconv.Quote(v))
		}
	}
	return strings.Join(parts, " ")
}
