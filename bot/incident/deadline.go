package incident

import (
	"time"

	"github.com/bakewise/chatops/bot"
)

// NextReminder is when incident next, just changed from prev (nil: it has
// only now opened) at now, is due for its next reminder; nil when it needs
// none. The rules:
//
//   - resolved or acknowledged: none, and a new firing alert in an
//     acknowledged incident does not start the paging again;
//   - opened: opened_at + its severity's deadline (P0: at once);
//   - reopened: from the reopening time, as new trouble;
//   - severity raised while unacknowledged: the earlier of the current
//     reminder and opened_at + the new deadline (it may be due at once);
//   - severity lowered: it may move later, to opened_at + the new deadline,
//     but never earlier than it was nor than now;
//   - anything else: unchanged.
func NextReminder(prev, next *bot.Incident, dl bot.Deadlines, now time.Time) *time.Time {
	if next.Status != bot.IncidentOpen || next.AckedAt != nil {
		return nil
	}
	at := func(t time.Time) *time.Time { t = t.UTC(); return &t }
	switch {
	case prev == nil:
		return at(next.OpenedAt.Add(dl.For(next.Severity)))
	case prev.Status != bot.IncidentOpen:
		return at(now.Add(dl.For(next.Severity)))
	}
	cur := next.NextReminderAt
	if next.Severity == prev.Severity {
		return cur
	}
	target := next.OpenedAt.Add(dl.For(next.Severity))
	if next.Severity < prev.Severity { // more urgent
		if cur != nil && cur.Before(target) {
			return cur
		}
		return at(target)
	}
	if target.Before(now) {
		target = now
	}
	if cur != nil && cur.After(target) {
		return cur
	}
	return at(target)
}

// schedule sets the incident's next reminder after a notification changed
// it from prev (the group's latest incident before, which is not the
// incident's previous state when the notification opened a new one).
func (ch *change) schedule(prev *bot.Incident, dl bot.Deadlines) {
	if ch.isNew {
		prev = nil
	}
	next := NextReminder(prev, &ch.incident, dl, ch.at)
	reopened := prev != nil && prev.Status != bot.IncidentOpen && ch.incident.Status == bot.IncidentOpen
	if sameTime(next, ch.incident.NextReminderAt) && !(reopened && ch.incident.Reminders != 0) {
		return
	}
	ch.incident.NextReminderAt = next
	if reopened {
		ch.incident.Reminders = 0 // new trouble: the escalation starts again at level 1
	}
	ch.dirty, ch.incident.UpdatedAt = true, ch.at
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
