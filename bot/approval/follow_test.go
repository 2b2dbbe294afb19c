package approval_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/policy"
)

// flakyCards are the rig's cards with a chat outage: the next failures
// edits fail, and every edit is counted.
type flakyCards struct {
	*bottest.Cards
	mu       sync.Mutex
	failures int
	edits    []string // the last line of each edit that landed
}

func (f *flakyCards) EditCard(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("chat is down")
	}
	if len(m.Lines) > 0 {
		f.edits = append(f.edits, m.Lines[len(m.Lines)-1])
	}
	return f.Cards.EditCard(ctx, ref, m)
}

func (f *flakyCards) fail(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = n
}

func (f *flakyCards) landed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.edits...)
}

// An executed request's card follows what it set in motion: the approval
// is answered while the follow still runs, progress edits are spaced out
// (a burst of reports is one edit), and the final line lands through a
// chat outage.
func testApprovalFollows(t *testing.T, s bot.Store) {
	reports := make(chan bot.Progress)
	followed := make(chan struct{})
	cards := &flakyCards{Cards: &bottest.Cards{}}
	roles := access.New(policy.Access{Default: policy.Viewer, Users: map[string]policy.Role{
		"slack:UALICE": policy.Admin, "slack:UBOB": policy.Admin}}, nil)
	r := newApprovalRigWithSpec(t, s, policy.DefaultRule, roles, zap.NewNop(), func(spec *bot.CommandSpec) {
		spec.Follow = func(ctx context.Context, _ bot.Invocation, _ bot.Plan, report func(bot.Progress)) {
			defer close(followed)
			for {
				select {
				case p := <-reports:
					report(p)
					if p.Final {
						return
					}
				case <-ctx.Done():
					report(bot.Progress{Line: "stopped", Final: true})
					return
				}
			}
		}
	}, cards)
	r.cards = cards.Cards
	t.Cleanup(r.ap.StopFollows)
	id := r.request(3)

	answered := make(chan bot.Answer, 1)
	go func() { answered <- r.click(bob, apChannel, r.buttons(id)["Approve"]) }()
	select {
	case a := <-answered:
		if !strings.Contains(a.Title+strings.Join(a.Lines, " "), "Ran at") {
			t.Fatalf("the approval was answered %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the approval waited for the follow")
	}
	r.wantRuns(1)

	send := func(line string, final bool) {
		t.Helper()
		select {
		case reports <- bot.Progress{Line: line, Final: final}:
		case <-time.After(10 * time.Second):
			t.Fatalf("the follow did not take %q", line)
		}
	}
	send("⏳ 1/3", false)
	waitLast(t, cards, "⏳ 1/3")
	// A burst inside the edit interval: only its newest report is shown.
	send("⏳ 2/3", false)
	send("⏳ 3/3", false)
	waitLast(t, cards, "⏳ 3/3")
	// Chat fails twice; the final line is retried until it lands.
	cards.fail(2)
	send("✅ done", true)
	<-followed
	waitLast(t, cards, "✅ done")
	got := cards.landed()
	for _, l := range got {
		if l == "⏳ 2/3" {
			t.Errorf("a report overtaken inside the edit interval was shown: %q", got)
		}
	}
	a := r.approval(id)
	card := cards.Card(t, a.Card.RootID)
	if len(card.Buttons) != 0 || !strings.Contains(card.Title, "✅ Request") {
		t.Errorf("the followed card lost its result: %+v", card)
	}
}

// waitLast waits until the card's last edit ends with line.
func waitLast(t *testing.T, cards *flakyCards, line string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got := cards.landed(); len(got) > 0 && got[len(got)-1] == line {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the card never showed %q; edits: %q", line, cards.landed())
}
