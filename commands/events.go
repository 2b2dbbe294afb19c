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

// events' --since: the default and its bounds. Kubernetes keeps events
// an hour by default (the API server's --event-ttl); longer-lived
// clusters keep more.
const (
	defaultEventsSince = time.Hour
	minEventsSince     = time.Minute
	maxEventsSince     = 24 * time.Hour
	// maxEventMessage bounds one event's message in the table.
	maxEventMessage = 160
)

// EventReader reads recent events of the namespace or of one service's
// Deployment, ReplicaSets and pods (the cluster).
type EventReader interface {
	Events(ctx context.Context, service string, since time.Duration, warningsFirst bool) (bot.EventsReport, error)
}

func events(c EventReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "events",
		Summary: "Recent Kubernetes events of the namespace or of one service, newest first",
		Role:    policy.Viewer,
		Args: []bot.Arg{
			{Name: "service", Positional: true, Help: "one service: its deployment, replica sets and pods", Complete: "service"},
			{Name: "warnings", Kind: bot.ArgBool, Help: "Warning events first (then the others)"},
			{Name: "since", Kind: bot.ArgDuration, Min: int64(minEventsSince / time.Second), Max: int64(maxEventsSince / time.Second),
				Help: "only events newer than this (default 1h, 1m to 24h)"},
		},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			rep, err := c.Events(ctx, inv.String("service"), inv.Duration("since", defaultEventsSince), inv.Bool("warnings"))
			if err != nil {
				return bot.Answer{}, err
			}
			return eventsAnswer(rep, inv.Bool("warnings"), time.Now()), nil
		},
	}
}

func eventsAnswer(rep bot.EventsReport, warningsFirst bool, now time.Time) bot.Answer {
	scope := rep.Namespace
	if rep.Service != "" {
		scope = rep.Service + " in " + rep.Namespace
	}
	a := bot.Answer{Title: fmt.Sprintf("Events of %s in the last %s: %d, %s", scope, shortDuration(rep.Since), rep.Matched, plural(rep.Warnings, "warning")),
		Color: 0x2EB67D}
	if rep.Warnings > 0 {
		a.Color = 0xECB22E
	}
	order := "Newest first."
	if warningsFirst {
		order = "Warnings first, then the others; newest first in each."
	}
	a.Lines = append(a.Lines, order)
	if len(rep.Events) < rep.Matched {
		a.Lines = append(a.Lines, fmt.Sprintf("Showing the first %d of %d: narrow it with a service or --since.", len(rep.Events), rep.Matched))
	}
	if rep.Incomplete {
		a.Lines = append(a.Lines, "The namespace holds more events than one command reads: older ones may be missing.")
	}
	if len(rep.Events) == 0 {
		a.Lines = append(a.Lines, "No events.")
		return a
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "LAST SEEN\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	for _, e := range rep.Events {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", shortAge(max(now.Sub(e.Last), 0)), e.Type, e.Reason,
			strings.ToLower(e.Kind)+"/"+e.Name, e.Count, oneLine(e.Message, maxEventMessage))
	}
	w.Flush()
	a.Pre = b.String()
	name := "events-" + rep.Namespace + ".txt"
	if rep.Service != "" {
		name = "events-" + rep.Service + ".txt"
	}
	a.File = &bot.File{Name: name, Content: []byte(a.Pre)}
	return a
}

// oneLine is s on one line (a table cell), cut at n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// shortDuration writes a --since as people type it: 1h, 30m, 90s.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return d.Round(time.Second).String()
}
