package slack

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
)

// User group lookup.
const (
	// DefaultGroupsTTL is how long one usergroups.list answer is used
	// before it is asked again: a person added to or removed from a group
	// gains or loses the role within it.
	DefaultGroupsTTL = 60 * time.Second
	// DefaultGroupsMaxStale bounds serving an old answer while Slack
	// cannot be asked, whatever the TTL: past it the lookup fails, and the
	// person is left with the role they hold without groups (a refusal
	// for a destructive action) rather than one granted by membership
	// that old. MaxGroupsMaxStale is the most it may be configured to.
	DefaultGroupsMaxStale = 5 * time.Minute
	MaxGroupsMaxStale     = 15 * time.Minute
	// groupsStaleFactor also bounds it to this many TTLs, so a short TTL
	// keeps a short bound.
	groupsStaleFactor = 10
	// usergroups.list is a Tier 2 method (20+ calls a minute): the lookup
	// keeps well under it even when every refresh fails.
	groupsRate  = rate.Limit(10.0 / 60.0)
	groupsBurst = 2
	// maxGroupUsers bounds the members read from one group, and maxGroups
	// the groups read from one answer, so a huge workspace cannot make the
	// cache grow without bound.
	maxGroupUsers = 10_000
	maxGroups     = 2_000
)

const methodUserGroups = "usergroups.list"

var _ bot.GroupLookup = (*Groups)(nil)

// GroupsConfig configures Groups.
type GroupsConfig struct {
	// TTL is how long one answer of usergroups.list is used (default
	// DefaultGroupsTTL).
	TTL time.Duration
	// MaxStale is how long after it was fetched the previous answer is
	// still used when refreshing fails (default DefaultGroupsMaxStale, at
	// most MaxGroupsMaxStale, and never more than 10×TTL); negative: never.
	MaxStale time.Duration
}

// Groups tells which Slack user groups a person is in (bot.GroupLookup),
// for the role mapping: Slack sends no groups with a command or a click.
// It reads every group with its members in one usergroups.list call
// (include_users) and keeps the whole user → groups map for TTL; one
// refresh runs at a time however many lookups wait for it. Disabled groups
// are not listed by Slack, so they grant nothing.
type Groups struct {
	c        *Client
	ttl      time.Duration
	maxStale time.Duration
	log      *zap.Logger
	limit    *throttle
	now      func() time.Time
	flight   singleflight.Group

	mu        sync.Mutex
	byUser    map[string][]string
	fetchedAt time.Time
}

// NewGroups returns the user group lookup over c.
func NewGroups(c *Client, cfg GroupsConfig, log *zap.Logger) *Groups {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultGroupsTTL
	}
	switch {
	case cfg.MaxStale == 0:
		cfg.MaxStale = DefaultGroupsMaxStale
	case cfg.MaxStale < 0:
		cfg.MaxStale = 0
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Groups{
		c:        c,
		ttl:      cfg.TTL,
		maxStale: min(cfg.MaxStale, MaxGroupsMaxStale, groupsStaleFactor*cfg.TTL),
		log:      log,
		limit:    newThrottle(groupsRate, groupsBurst),
		now:      time.Now,
	}
}

// Groups returns the ids (S…) of the user groups userID is in (none for
// a person in no group, which is not an error), from the
// cached map while it is fresh, refreshing it otherwise. When the refresh
// fails, a map fetched less than MaxStale ago is still used (and the
// failure logged); past that the error is returned, however long Slack
// keeps failing, and the map grants no role any more. The caller's ctx
// bounds its own wait only: a refresh it started goes on for the others.
func (g *Groups) Groups(ctx context.Context, userID string) ([]string, error) {
	g.mu.Lock()
	fresh := g.byUser != nil && g.now().Sub(g.fetchedAt) < g.ttl
	groups := slices.Clone(g.byUser[userID])
	g.mu.Unlock()
	if fresh {
		return groups, nil
	}

	ch := g.flight.DoChan("usergroups", func() (any, error) { return nil, g.refresh() })
	var err error
	select {
	case r := <-ch:
		err = r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("slack user groups of %s: %w", userID, ctx.Err())
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	groups = slices.Clone(g.byUser[userID])
	if err == nil {
		return groups, nil
	}
	age := g.now().Sub(g.fetchedAt)
	if g.byUser != nil && age < g.maxStale {
		g.log.Warn("slack user groups could not be refreshed; using the previous list",
			zap.Duration("age", age), zap.Duration("max_age", g.maxStale), zap.Error(err))
		return groups, nil
	}
	if g.byUser != nil {
		g.log.Warn("slack user groups could not be refreshed and the previous list is too old to use: groups grant no role until Slack answers",
			zap.Duration("age", age), zap.Duration("max_age", g.maxStale), zap.Error(err))
		return nil, fmt.Errorf("slack user groups of %s: the list is %s old, more than the %s it may be used for while refreshing fails: %w",
			userID, age.Round(time.Second), g.maxStale, err)
	}
	return nil, fmt.Errorf("slack user groups of %s: %w", userID, err)
}

// refresh reads every group with its members and replaces the map. It
// runs detached from the caller that started it (others may be waiting on
// it), bounded by the client's call timeout.
func (g *Groups) refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), g.c.cfg.CallTimeout)
	defer cancel()
	// A refresh that just succeeded for someone else is not repeated: a
	// lookup may have read the map as stale before that refresh ended.
	g.mu.Lock()
	fresh := g.byUser != nil && g.now().Sub(g.fetchedAt) < g.ttl
	g.mu.Unlock()
	if fresh {
		return nil
	}
	if err := g.c.hold(ctx, g.limit); err != nil {
		return err
	}
	var list []slackapi.UserGroup
	err := g.c.call(ctx, methodUserGroups, "workspace", g.limit, func(ctx context.Context) (err error) {
		list, err = g.c.api.GetUserGroupsContext(ctx, slackapi.GetUserGroupsOptionIncludeUsers(true))
		return err
	})
	if err != nil {
		return err
	}
	if len(list) > maxGroups {
		g.log.Warn("more user groups than are read; the rest grant no role", zap.Int("groups", len(list)), zap.Int("read", maxGroups))
		list = list[:maxGroups]
	}
	byUser := map[string][]string{}
	for _, ug := range list {
		if ug.ID == "" || ug.DateDelete != 0 {
			continue
		}
		users := ug.Users
		if len(users) > maxGroupUsers {
			g.log.Warn("user group too large; its last members are not read", zap.String("group", ug.ID), zap.Int("members", len(users)), zap.Int("read", maxGroupUsers))
			users = users[:maxGroupUsers]
		}
		for _, u := range users {
			if !slices.Contains(byUser[u], ug.ID) {
				byUser[u] = append(byUser[u], ug.ID)
			}
		}
	}
	for _, gs := range byUser {
		slices.Sort(gs)
	}
	g.mu.Lock()
	g.byUser, g.fetchedAt = byUser, g.now()
	g.mu.Unlock()
	g.log.Debug("slack user groups refreshed", zap.Int("groups", len(list)), zap.Int("members", len(byUser)))
	return nil
}
