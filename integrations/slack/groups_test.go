package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/policy"
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
// a warning, until DefaultGroupsMaxStale (5 minutes, under 10×TTL here)
// after it was fetched; then the error comes back, with a warning. A later
// successful refresh serves fresh data again.
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
	f.clock.advance(DefaultGroupsMaxStale - testGroupsTTL - time.Second)
	if got := f.lookup(t, "U0ALICE"); !slices.Equal(got, []string{"S0ONCALL", "S0SRE"}) {
		t.Errorf("Slack down, list 4m59s old: groups %q, want the previous ones", got)
	}
	f.clock.advance(time.Second)
	got, err := f.g.Groups(context.Background(), "U0ALICE")
	if err == nil || got != nil || !strings.Contains(err.Error(), "more than the 5m0s") {
		t.Errorf("Slack down, list 5m old: groups %q, err %v; want an error", got, err)
	}
	if f.logs.FilterMessage("slack user groups could not be refreshed and the previous list is too old to use: groups grant no role until Slack answers").Len() != 1 {
		t.Error("the end of the stale list was not logged")
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

// TestGroupsStaleRoleBoundedWhateverTheTTL: with a long TTL (30 minutes,
// whose 10×TTL would be five hours) and Slack failing every refresh, a
// cached list older than MaxStale (2 minutes here, as
// access.group_max_stale sets it) grants no role: the person falls back to
// the role they hold without groups (a viewer, refused a destructive
// action), for RoleOf and CurrentRoleOf alike, with a warning each time.
// The lookups past the bound ask Slack again, so the role comes back when
// Slack does.
func TestGroupsStaleRoleBoundedWhateverTheTTL(t *testing.T) {
	f := newGroupsFixture(t, false)
	const ttl, maxStale = 30 * time.Minute, 2 * time.Minute
	g := NewGroups(f.c, GroupsConfig{TTL: ttl, MaxStale: maxStale}, f.g.log)
	g.now, g.limit = f.clock.now, f.g.limit
	core, logs := observer.New(zap.WarnLevel)
	roles := access.NewWith(access.Config{
		Access:  policy.Access{Default: policy.Viewer, Groups: map[string]policy.Role{"slack:S0SRE": policy.Admin}},
		Lookups: map[string]bot.GroupLookup{"slack": g},
		Log:     zap.New(core),
	})
	alice := bot.Identity{Platform: "slack", UserID: "U0ALICE"}
	roleAt := func(what string, want policy.Role) {
		t.Helper()
		for _, current := range []bool{false, true} {
			get := roles.RoleOf
			if current {
				get = roles.CurrentRoleOf
			}
			got, err := get(context.Background(), alice, "C0OPS")
			if err != nil || got != want {
				t.Errorf("%s (current %v): role %s, err %v; want %s", what, current, got, err, want)
			}
		}
	}
	roleAt("Slack up", policy.Admin)
	f.srv.SetDown(true)
	f.clock.advance(ttl - time.Second)
	roleAt("Slack down, list within its TTL (not refreshed)", policy.Admin)
	// The first refresh fails 30 minutes after the list was fetched: far
	// past the bound, so the list grants nothing, and keeps granting
	// nothing while Slack keeps failing.
	f.clock.advance(time.Second)
	for i := range 5 {
		roleAt("Slack down, list past the bound, failure "+strconv.Itoa(i+1), policy.Viewer)
		f.clock.advance(time.Minute)
	}
	if logs.FilterMessage("user groups unknown: the role is worked out without them").Len() != 10 {
		t.Errorf("the fallbacks were not logged: %d lines", logs.Len())
	}
	f.srv.SetDown(false)
	roleAt("Slack back", policy.Admin)
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
	if g.ttl != DefaultGroupsTTL || g.maxStale != DefaultGroupsMaxStale {
		t.Errorf("ttl %s, max stale %s", g.ttl, g.maxStale)
	}
	for _, tc := range []struct{ ttl, maxStale, want time.Duration }{
		{time.Hour, time.Hour, MaxGroupsMaxStale}, // never more than the most
		{time.Second, 0, 10 * time.Second},        // a short TTL keeps a short bound
		{time.Minute, -1, 0},                      // never stale
	} {
		if g := NewGroups(f.c, GroupsConfig{TTL: tc.ttl, MaxStale: tc.maxStale}, nil); g.maxStale != tc.want {
			t.Errorf("TTL %s, MaxStale %s: max stale %s, want %s", tc.ttl, tc.maxStale, g.maxStale, tc.want)
		}
	}
}
