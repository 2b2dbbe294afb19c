package outbox

import (
	"time"

	"github.com/bakewise/chatops/bot"
)

// changes are the timeline events a thread has not shown yet, as a reply
// needs them: the first of them, which it lists, and all of them counted
// by kind. A storm adds an event per alert; a reply lists maxReplyLines
// and counts the rest, so the dispatcher reads a page and the counts,
// never the whole run (see loadChanges).
type changes struct {
	// first are the oldest events of the run: all of them, or at least
	// maxReplyLines when there are more.
	first []bot.Event
	// total counts the events of the run.
	total int
	// kinds counts them by kind. A kind's Newest ranks its newest event
	// in the run: its id, or its position in a run held in memory.
	kinds bot.EventCounts
	// resolvedAt is when the newest resolution of the run happened.
	resolvedAt time.Time
	// level is the escalation level the run's newest reminder pages: its
	// ordinal among the reminders since the incident last (re)opened, as
	// the escalator counted when it fired it; 0 without a reminder, or
	// when it pages nobody (the incident is acknowledged or resolved).
	level int
}

// changesOf sums up events held in memory, a run of timeline.
func changesOf(timeline, events []bot.Event) changes {
	c := changes{first: events, total: len(events), kinds: bot.EventCounts{}}
	for i, e := range events {
		k := c.kinds[e.Kind]
		k.Count++
		k.Newest = int64(i + 1)
		c.kinds[e.Kind] = k
		if e.Kind == bot.EventResolved {
			c.resolvedAt = e.At
		}
	}
	c.level = reminderLevel(timeline, events)
	return c
}

// has reports whether the run holds an event of kind.
func (c changes) has(kind bot.EventKind) bool { return c.kinds[kind].Count > 0 }

// visible reports whether the run holds something a thread does not show
// yet: every event but the actions taken in the thread itself, whose
// command and answer (or approval card) the thread shows already.
func (c changes) visible() bool { return c.total > c.kinds[bot.EventAction].Count }

// resolves reports whether a reply about the run announces d's
// resolution, which leads with its durations and, for P0/P1, the gist of
// the post-mortem draft: what needs the incident's record.
func (c changes) resolves(d *bot.IncidentDetail) bool {
	return c.has(bot.EventResolved) && d.Status == bot.IncidentResolved && d.ResolvedAt != nil
}

// reminderLevel is the escalation level that a reply showing events pages:
// that of its newest reminder, which is the reminder's ordinal among the
// incident's reminders since it last (re)opened, as the escalator counted
// when it fired it. 0 when events hold no reminder.
func reminderLevel(timeline, events []bot.Event) int {
	var newest *bot.Event
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == bot.EventReminder {
			newest = &events[i]
			break
		}
	}
	if newest == nil {
		return 0
	}
	n := 0
	for _, ev := range timeline {
		switch ev.Kind {
		case bot.EventReopened:
			n = 0
		case bot.EventReminder:
			n++
			if newest.ID != 0 && ev.ID == newest.ID {
				return n
			}
		}
	}
	return max(n, 1) // not in the timeline given: the latest count
}
