package command

import (
	"context"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// syncRecorder collects answers from several goroutines.
type syncRecorder struct {
	mu      sync.Mutex
	answers []bot.Answer
}

func (r *syncRecorder) Respond(_ context.Context, a bot.Answer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, a)
	return nil
}

// TestPerUserLimit: a person with MaxPerUser commands running gets a
// private, audited "busy" for the next one, which does not run; other
// people, and the same id on another platform, are not held back; once
// one of theirs answers, they may run another.
func TestPerUserLimit(t *testing.T) {
	entered := make(chan struct{})
	unblock := make(chan struct{})
	var mu sync.Mutex
	var ran []string
	var audited []bot.AuditRecord
	specs := []bot.CommandSpec{
		{Name: "slow", Summary: "waits", Role: policy.Viewer, Run: func(ctx context.Context, _ bot.Invocation) (bot.Answer, error) {
			entered <- struct{}{}
			select {
			case <-unblock:
			case <-ctx.Done():
			}
			return bot.Answer{Title: "slow done"}, nil
		}},
		{Name: "quick", Summary: "answers at once", Role: policy.Viewer, Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
			mu.Lock()
			ran = append(ran, inv.Command.Platform+"/"+inv.Command.User.UserID)
			mu.Unlock()
			return bot.Answer{Title: "quick done"}, nil
		}},
	}
	r, err := NewRouter(specs, Config{Root: "ops", Channels: []string{"C-OPS"}, MaxPerUser: 2,
		Audit: auditFunc(func(_ context.Context, rec bot.AuditRecord) error {
			mu.Lock()
			audited = append(audited, rec)
			mu.Unlock()
			return nil
		})}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(platform, user, text string) bot.Command {
		return bot.Command{Platform: platform, User: bot.Identity{Platform: platform, UserID: user}, Channel: "C-OPS", Text: text}
	}
	slow := &syncRecorder{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { r.Handle(context.Background(), cmd("slack", "U1", "slow"), slow) })
		<-entered
	}

	busy := &recorder{}
	r.Handle(context.Background(), cmd("slack", "U1", "quick"), busy)
	if len(busy.answers) != 1 || !busy.answers[0].Private || !strings.Contains(busy.answers[0].Title, "You already have 2 commands running, so this one was not run. Try again in a moment") {
		t.Fatalf("third command of U1: %+v; want a private busy answer", busy.answers)
	}
	others := &recorder{}
	r.Handle(context.Background(), cmd("slack", "U2", "quick"), others)
	r.Handle(context.Background(), cmd("discord", "U1", "quick"), others)
	mu.Lock()
	if strings.Join(ran, ",") != "slack/U2,discord/U1" {
		t.Errorf("ran %q; want only slack/U2 and discord/U1", ran)
	}
	var busyRecs int
	for _, rec := range audited {
		if rec.Outcome == "busy" && rec.Action == "quick" && rec.Actor.UserID == "U1" {
			busyRecs++
		}
	}
	mu.Unlock()
	if busyRecs != 1 {
		t.Errorf("%d audit records of the busy refusal, want 1", busyRecs)
	}

	close(unblock)
	wg.Wait()
	again := &recorder{}
	r.Handle(context.Background(), cmd("slack", "U1", "quick"), again)
	if len(again.answers) != 1 || again.answers[0].Title != "quick done" {
		t.Errorf("after its commands answered, U1 got %+v", again.answers)
	}
	if len(r.running.n) != 0 {
		t.Errorf("people with nothing running are still counted: %v", r.running.n)
	}
}
