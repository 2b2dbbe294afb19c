package discord

import (
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

// A reminder reply pages its escalation level's role and only it; once
// the incident is acknowledged it pings nobody.
func TestReminderReplyPagesItsLevel(t *testing.T) {
	d := preview(t, loadGroup(t, "service-down-firing"))
	for i := range d.Timeline {
		d.Timeline[i].ID = int64(i + 1)
	}
	n := int64(len(d.Timeline))
	first := bot.Event{ID: n + 1, At: d.OpenedAt.Add(15 * time.Minute), Kind: bot.EventReminder,
		Detail: "not acknowledged 15m after opening (P1 deadline 15m): escalating to level 1"}
	second := bot.Event{ID: n + 2, At: d.OpenedAt.Add(30 * time.Minute), Kind: bot.EventReminder,
		Detail: "not acknowledged 30m after opening (P1 deadline 15m): escalating to level 2"}
	d.Timeline = append(d.Timeline, first, second)
	const leads = "1200000000000000003"
	dst := dest(testRole)
	dst.Escalation = []string{testRole, leads}

	m := outbox.ReplyMessage(d, dst, []bot.Event{second})
	if m.Mention != leads {
		t.Fatalf("second reminder pages %q, want the leads role", m.Mention)
	}
	req := replyRequests(m)
	checkLimits(t, req.CreateMessage)
	checkMentions(t, req.CreateMessage, leads)
	checkGolden(t, "reply-reminder-level-2", req)
	if got := outbox.ReplyMessage(d, dst, []bot.Event{first}).Mention; got != testRole {
		t.Errorf("first reminder pages %q, want the on-call role", got)
	}

	at := second.At.Add(time.Minute)
	d.AckedAt, d.AckedBy = &at, "carol"
	acked := replyRequests(outbox.ReplyMessage(d, dst, []bot.Event{second}))
	checkMentions(t, acked.CreateMessage, "")

	if r := renderReply(bot.Message{Title: "x", Mention: "@here"}); len(r.problems) != 1 || len(r.mentions.Roles) != 0 {
		t.Errorf("a mention that is not a role id: problems %v, roles %v", r.problems, r.mentions.Roles)
	}
}
