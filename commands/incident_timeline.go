package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// maxTimelineEvents bounds one answer; the export has the rest.
const maxTimelineEvents = 5000

func incidentTimeline(r IncidentReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "incident timeline",
		Summary: "Every event of one incident with its time and kind: alerts, severity, acks, reminders, commands, approvals, resolve",
		Role:    policy.Viewer,
		Args:    []bot.Arg{incidentID},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			id := int64(inv.Int("id", 0))
			d, err := r.IncidentView(ctx, id, 0, maxTimelineEvents)
			if errors.Is(err, bot.ErrNotFound) {
				return bot.Answer{Title: fmt.Sprintf("No incident #%d.", id), Private: true}, nil
			}
			if err != nil {
				return bot.Answer{}, fmt.Errorf("incident %d: %w", id, err)
			}
			return timelineAnswer(d), nil
		},
	}
}

// timelineAnswer lists the newest events oldest first, one line each, as
// preformatted text: a renderer attaches it as a file when it is long.
func timelineAnswer(d bot.IncidentDetail) bot.Answer {
	a := bot.Answer{
		Title: fmt.Sprintf("Timeline of %s · #%d %s: %s", d.Severity, d.ID, d.Title, plural(d.EventCount(), "event")),
		Color: bot.Color(d.Severity, d.Status),
	}
	if len(d.Timeline) == 0 {
		return a
	}
	events := d.Timeline[max(len(d.Timeline)-maxTimelineEvents, 0):]
	var b strings.Builder
	if earlier := d.EventCount() - len(events); earlier > 0 {
		fmt.Fprintf(&b, "(%d earlier events: chatops incident export %d has them all)\n", earlier, d.ID)
	}
	for _, e := range events {
		fmt.Fprintf(&b, "%s  %-16s  %s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Kind, strings.Join(strings.Fields(e.Detail), " "))
	}
	a.Pre = b.String()
	a.File = &bot.File{Name: fmt.Sprintf("incident-%d-timeline.txt", d.ID), Content: []byte(a.Pre)}
	return a
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
