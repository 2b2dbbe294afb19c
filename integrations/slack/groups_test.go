package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type groupsFixture struct {
	*fixture
	g     *Groups
	clock *fakeClock
	logs  *observer.ObservedLogs
}

const testGroupsTTL = time.Minute

// newGroupsFixture is a Groups over a fresh stand-in whose workspace has
// two groups and a disabled one, on a clock the test moves, without the
// lookup's own rate limit unless limited.
func newGroupsFixture(t *testing.T, limited bool) *groupsFixture {
	t.Helper()
	f := newFixture(t, fast)
	f.srv.SetUserGroups(
		slackstandin.UserGroup{ID: "S0ONCALL", Handle: "oncall", Users: []string{"U0ALICE", "U0BOB"}},
		slackstandin.UserGroup{ID: "S0SRE", Handle: "sre", Users: []string{"U0ALICE"}},
		slackstandin.UserGroup{ID: "S0OLD", Handle: "old", Users: []string{"U0ALICE", "U0CAROL"}, Disabled: true},
	)
	core, logs := observer.New(zap.DebugLevel)
	g := NewGroups(f.c, GroupsConfig{TTL: testGroupsTTL}, zap.New(core))
	clock := &fakeClock{t: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)}
	g.now = clock.now
	if !limited {
		g.limit = newThrottle(rate.Inf, 1)
	}
	return &groupsFixture{fixture: f, g: g, clock: clock, logs: logs}
}

func (f *groupsFixture) lookup(t *testing.T, user string) []string {
	t.Helper()
	got, err := f.g.Groups(context.Background(), user)
	if err != nil {
		t.Fatalf("groups of %s: %v", user, err)
	}
	return got
}

func (f *groupsFixture) calls() int { return f.srv.Calls(slackstandin.MethodUserGroupsList) }

// TestGroupsOneCallWithinTTL: many lookups, at once and one after the
// other, within the TTL cost one usergroups.list; members, non-members
// and disabled groups come out right.
func TestGroupsOneCallWithinTTL(t *testing.T) {
	f := newGroupsFixture(t, true)
	want := map[string][]string{
		"U0ALICE": {"S0ONCALL", "S0SRE"},
		"U0BOB":   {"S0ONCALL"},
		"U0CAROL": nil, // only in the disabled group
		"U0DAVE":  nil,
	}
	users := []string{"U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"}
	// A slow answer keeps every lookup waiting on the same refresh.
	f.srv.FailNext(slackstandin.MethodUserGroupsList, 1, slackstandin.Slow{Delay: 200 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			u := users[i%len(users)]
			got, err := f.g.Groups(context.Background(), u)
			if err != nil {
				errs <- err
				return
			}
			if !slices.Equal(got, want[u]) {
				errs <- fmt.Errorf("%s: groups %q, want %q", u, got, want[u])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f.clock.advance(testGroupsTTL - time.Second)
	for _, u := range users {
		if got := f.lookup(t, u); !slices.Equal(got, want[u]) {
			t.Errorf("%s: groups %q, want %q", u, got, want[u])
		}
	}
	if n := f.calls(); n != 1 {
		t.Errorf("%d usergroups.list calls, want 1", n)
	}
}

// TestGroupsRefreshAfterTTL: once the TTL has passed the next lookup asks
// again and sees a change of membership.
func TestGroupsRefreshAfterTTL(t *testing.T) {
	f := newGroupsFixture(t, false)
	if got := f.lookup(t, "U0BOB"); !slices.Equal(got, []string{"S0ONCALL"}) {
		t.Fatalf("groups %q", got)
	}
	f.srv.SetUserGroups(slackstandin.UserGroup{ID: "S0SRE", Users: []string{"U0BOB"}})
	f.clock.advance(testGroupsTTL / 2)
	if got := f.lookup(t, "U0BOB"); !slices.Equal(got, []string{"S0ONCALL"}) {
		t.Errorf("within the TTL: groups %q, want the cached ones", got)
	}
	f.clock.advance(testGroupsTTL / 2)
	if got := f.lookup(t, "U0BOB"); !slices.Equal(got, []string{"S0SRE"}) {
		t.Errorf("after the TTL: groups %q, want the new ones", got)
	}
	if got := f.lookup(t, "U0ALICE"); len(got) != 0 {
		t.Errorf("alice left every group: groups %q", got)
	}
	if n := f.calls(); n != 2 {
		t.Errorf("%d usergroups.list calls, want 2", n)
	}
}

// TestGroupsStaleOnError: a failed refresh serves the previous list, with
// a warning, until 10×TTL after it was fetched; then the error comes back.
// A later successful refresh serves fresh data again.
func TestGroupsStaleOnError(t *testing.T) {
	f := newGroupsFixture(t, false)
	f.lookup(t, "U0ALICE")
	f.srv.SetDown(true)

	f.clock.advance(testGroupsTTL)
	if got := f.lookup(t, "U0ALICE"); !slices.Equal(got, []string{"S0ONCALL", "S0SRE"}) {
		t.Errorf("Slack down, list 1 TTL old: groups %q, want the previous ones", got)
	}
	if f.logs.FilterMessage("slack user groups could not be refreshed; using the previous list").Len() != 1 {
		t.Error("serving the previous list was not logged")
	}
	f.clock.advance(8 * testGroupsTTL)
	if got := f.lookup(t, "U0ALICE"); !slices.Equal(got, []string{"S0ONCALL", "S0SRE"}) {
		t.Errorf("Slack down, list 9 TTLs old: groups %q, want the previous ones", got)
	}
	f.clock.advance(testGroupsTTL)
	got, err := f.g.Groups(context.Background(), "U0ALICE")
	if err == nil || got != nil {
		t.Errorf("Slack down, list 10 TTLs old: groups %q, err %v; want an error", got, err)
	}
	if n := f.calls(); n != 4 {
		t.Errorf("%d usergroups.list calls, want one per lookup past the TTL (4)", n)
	}

	f.srv.SetDown(false)
	f.srv.SetUserGroups(slackstandin.UserGroup{ID: "S0SRE", Users: []string{"U0ALICE"}})
	if got := f.lookup(t, "U0ALICE"); !slices.Equal(got, []string{"S0SRE"}) {
		t.Errorf("Slack back: groups %q", got)
	}
}

// TestGroupsFirstRefreshFails: with no list yet, a failure is an error,
// and it names the user and the method, not the token.
func TestGroupsFirstRefreshFails(t *testing.T) {
	f := newGroupsFixture(t, false)
	f.srv.FailNext(slackstandin.MethodUserGroupsList, 1, slackstandin.SlackError{Code: "missing_scope"})
	_, err := f.g.Groups(context.Background(), "U0ALICE")
	if !errors.Is(err, bot.ErrPermanent) {
		t.Fatalf("err %v, want a permanent error (missing_scope)", err)
	}
	if err == nil {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"U0ALICE", "usergroups.list", "missing_scope"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("err %q shows the token", err)
	}
}

// TestGroupsCallerGivesUp: a caller whose context ends stops waiting; the
// refresh it started goes on and serves the next lookup.
func TestGroupsCallerGivesUp(t *testing.T) {
	f := newGroupsFixture(t, false)
	f.srv.FailNext(slackstandin.MethodUserGroupsList, 1, slackstandin.Slow{Delay: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := f.g.Groups(ctx, "U0BOB"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the caller's deadline", err)
	}
	eventually(t, "the refresh to land", func() bool {
		f.g.mu.Lock()
		defer f.g.mu.Unlock()
		return f.g.byUser != nil
	})
	if got := f.lookup(t, "U0BOB"); !slices.Equal(got, []string{"S0ONCALL"}) {
		t.Errorf("groups %q", got)
	}
	if n := f.calls(); n != 1 {
		t.Errorf("%d usergroups.list calls, want 1", n)
	}
}

// TestGroupsOwnRateLimit: while Slack keeps failing, lookups past the TTL
// do not hammer usergroups.list: beyond a burst of two, the lookup's own
// limit answers without a call.
func TestGroupsOwnRateLimit(t *testing.T) {
	f := newGroupsFixture(t, true)
	f.srv.SetDown(true)
	for range 5 {
		if _, err := f.g.Groups(context.Background(), "U0ALICE"); err == nil {
			t.Fatal("no error while Slack is down and nothing is cached")
		}
	}
	if n := f.calls(); n != groupsBurst {
		t.Errorf("%d usergroups.list calls, want %d", n, groupsBurst)
	}
}

func TestNewGroupsDefaults(t *testing.T) {
	f := newFixture(t, fast)
	g := NewGroups(f.c, GroupsConfig{}, nil)
	if g.ttl != DefaultGroupsTTL || g.maxStale != 10*DefaultGroupsTTL {
		t.Errorf("ttl %s, max stale %s", g.ttl, g.maxStale)
	}
}
