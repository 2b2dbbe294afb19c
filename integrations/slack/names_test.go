package slack

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

// newNamesFixture is a Names over a fresh stand-in that knows three
// people, on a clock the test moves, without the lookup's own rate limit.
func newNamesFixture(t *testing.T) (*fixture, *Names, *fakeClock) {
	t.Helper()
	f := newFixture(t, fast)
	f.srv.SetUsers(
		slackstandin.User{ID: "U0ANA", Name: "ana.ruiz", RealName: "Ana María Ruiz", DisplayName: "Ana Ruiz"},
		slackstandin.User{ID: "U0BOB", Name: "bob", RealName: "Bob Lee"},
		slackstandin.User{ID: "U0CAT", Name: "cat", DisplayName: "\u202e\u200b"},
	)
	n := NewNames(f.c, NamesConfig{TTL: time.Hour, NegativeTTL: 5 * time.Minute}, zap.NewNop())
	clock := &fakeClock{t: time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)}
	n.now = clock.now
	n.limit = newThrottle(rate.Inf, 1)
	return f, n, clock
}

func TestNamesPrecedence(t *testing.T) {
	_, n, _ := newNamesFixture(t)
	for id, want := range map[string]string{
		"U0ANA": "Ana Ruiz", // display name
		"U0BOB": "Bob Lee",  // no display name: the real name
		"U0CAT": "cat",      // a display name of invisible characters: the handle
	} {
		if got, ok := n.Name(context.Background(), id); !ok || got != want {
			t.Errorf("Name(%s) = %q, %t; want %q", id, got, ok, want)
		}
	}
	if got, ok := n.Name(context.Background(), "not an id"); ok || got != "" {
		t.Errorf("Name of a malformed id = %q, %t; want nothing, and no call", got, ok)
	}
}

func TestNamesCache(t *testing.T) {
	f, n, clock := newNamesFixture(t)
	ctx := context.Background()
	calls := func() int { return f.srv.Calls(slackstandin.MethodUsersInfo) }

	n.Name(ctx, "U0ANA")
	n.Name(ctx, "U0ANA")
	if c := calls(); c != 1 {
		t.Fatalf("users.info called %d times for two lookups inside the TTL, want 1", c)
	}
	f.srv.SetUsers(slackstandin.User{ID: "U0ANA", Name: "ana.ruiz", DisplayName: "Ana R."})
	clock.advance(59 * time.Minute)
	if got, _ := n.Name(ctx, "U0ANA"); got != "Ana Ruiz" {
		t.Errorf("inside the TTL: %q, want the cached name", got)
	}
	clock.advance(2 * time.Minute)
	if got, _ := n.Name(ctx, "U0ANA"); got != "Ana R." || calls() != 2 {
		t.Errorf("after the TTL: %q after %d calls, want the new name after a second call", got, calls())
	}

	// An unknown person: no name, and the failure is remembered.
	if got, ok := n.Name(ctx, "U0NOBODY"); ok || got != "" {
		t.Errorf("unknown person = %q, %t", got, ok)
	}
	n.Name(ctx, "U0NOBODY")
	if c := calls(); c != 3 {
		t.Errorf("users.info called %d times, want 3: a failure is cached too", c)
	}
	f.srv.SetUsers(slackstandin.User{ID: "U0NOBODY", Name: "newcomer"})
	clock.advance(6 * time.Minute)
	if got, _ := n.Name(ctx, "U0NOBODY"); got != "newcomer" {
		t.Errorf("after the negative TTL: %q, want the name", got)
	}
}

func TestNamesOneCallForAStorm(t *testing.T) {
	f, n, _ := newNamesFixture(t)
	f.srv.FailNext(slackstandin.MethodUsersInfo, 1, slackstandin.Slow{Delay: 300 * time.Millisecond})
	var wg sync.WaitGroup
	got := make([]string, 50)
	for i := range got {
		wg.Go(func() { got[i], _ = n.Name(context.Background(), "U0ANA") })
	}
	wg.Wait()
	for i, g := range got {
		if g != "Ana Ruiz" {
			t.Fatalf("lookup %d = %q", i, g)
		}
	}
	if c := f.srv.Calls(slackstandin.MethodUsersInfo); c != 1 {
		t.Errorf("50 concurrent lookups made %d users.info calls, want 1", c)
	}
}

// TestNamedNeverBlocks: a users.info that fails or hangs leaves the
// command with the name the request carried (or its id), within nameWait.
func TestNamedNeverBlocks(t *testing.T) {
	f, n, _ := newNamesFixture(t)
	in := &Inbound{cfg: InboundConfig{Names: n}}
	ctx := context.Background()

	f.srv.FailNext(slackstandin.MethodUsersInfo, 1, slackstandin.ServerError{})
	id := in.named(ctx, bot.Identity{Platform: platform, UserID: "U0ANA", Name: "ana.ruiz"})
	if id.Name != "ana.ruiz" || id.Display() != "ana.ruiz" {
		t.Errorf("after a failed users.info: %+v, want the request's name", id)
	}
	id = in.named(ctx, bot.Identity{Platform: platform, UserID: "U0BOB"})
	if id.Display() != "Bob Lee" {
		t.Errorf("named = %q, want Bob Lee", id.Display())
	}

	f.srv.FailNext(slackstandin.MethodUsersInfo, 1, slackstandin.Slow{Delay: 5 * time.Second})
	start := time.Now()
	id = in.named(ctx, bot.Identity{Platform: platform, UserID: "U0CAT"})
	if took := time.Since(start); took > nameWait+time.Second {
		t.Errorf("a hanging users.info held the command %s, want at most %s", took, nameWait)
	}
	if id.Display() != "U0CAT" {
		t.Errorf("while users.info hangs: %q, want the id", id.Display())
	}
}
