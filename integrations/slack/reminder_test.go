package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

// reminderDetail is a P1 incident reminded twice, with ids as the store
// gives them, and the two reminder events.
func reminderDetail(t *testing.T) (bot.IncidentDetail, bot.Event, bot.Event) {
	t.Helper()
	d := preview(t, loadGroup(t, "service-down-firing.json"))
	for i := range d.Timeline {
		d.Timeline[i].ID = int64(i + 1)
	}
	n := int64(len(d.Timeline))
	first := bot.Event{ID: n + 1, At: d.OpenedAt.Add(15 * time.Minute), Kind: bot.EventReminder,
		Detail: "not acknowledged 15m after opening (P1 deadline 15m): escalating to level 1"}
	second := bot.Event{ID: n + 2, At: d.OpenedAt.Add(30 * time.Minute), Kind: bot.EventReminder,
		Detail: "not acknowledged 30m after opening (P1 deadline 15m): escalating to level 2"}
	d.Timeline = append(d.Timeline, first, second)
	return d, first, second
}

// A reminder reply pages its escalation level's user group, shown in the
// blocks and the notification text, and nobody once the incident is
// acknowledged.
func TestReminderReplyPagesItsLevel(t *testing.T) {
	d, first, second := reminderDetail(t)
	dest := testDest
	dest.Mention, dest.Escalation = "S0ONCALL", []string{"S0ONCALL", "S0LEADS"}

	m := outbox.ReplyMessage(d, dest, []bot.Event{second})
	req := sentReply(t, m)
	checkLimits(t, req)
	checkGolden(t, "reply-reminder-level-2", golden(t, req))
	if got := pings(t, req); strings.Join(got, ",") != "<!subteam^S0LEADS>,<!subteam^S0LEADS>" {
		t.Errorf("second reminder pings %v, want the leads group in the text and the blocks", got)
	}
	if got := outbox.ReplyMessage(d, dest, []bot.Event{first}).Mention; got != "S0ONCALL" {
		t.Errorf("first reminder pages %q, want the on-call group", got)
	}

	acked := d
	at := second.At.Add(time.Minute)
	acked.AckedAt, acked.AckedBy = &at, "carol"
	if got := pings(t, sentReply(t, outbox.ReplyMessage(acked, dest, []bot.Event{second}))); len(got) != 0 {
		t.Errorf("a reminder shown after the ack pings %v", got)
	}
}
