package escalation_test

import (
	"testing"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
)

// testEscalationReminderBeforeRoot: a P0's first reminder fires at once,
// often before its root is posted (the channel's earlier roots go first,
// or another replica's lane is busy). The root, posted after, does not
// swallow it: the thread still gets the reminder as a reply of its own,
// paging the first escalation level.
func testEscalationReminderBeforeRoot(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := escEngine(s, clock, nil)
	esc := newEscalator(s, clock.Now, "replica-a", nil)
	chat := bottest.NewChat()
	d := escDispatcher(s, chat, clock)
	id := openAt(t, e, "gateway", bot.P0, t0)
	if n := tick(t, esc); n != 1 {
		t.Fatalf("the P0 fired %d reminders at once, want 1", n)
	}
	reminded(t, s, id, 1, "before the root")
	bottest.Drain(t, d) // the root goes out only now
	r := replies(t, chat, "C-INC")
	if len(r) != 1 || r[0].Title != "Not acknowledged in time" || r[0].Mention != "S-ONCALL" {
		t.Fatalf("replies after a root posted once the P0 was reminded = %+v, want one reminder paging S-ONCALL", r)
	}
}
