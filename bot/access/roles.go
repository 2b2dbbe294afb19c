// Package access tells a person's role in a channel: the configured mapping
// (policy.Access) applied to who they are and the groups they are in, as
// the platform reports them with each request (Discord roles), as a lookup
// tells (Slack user groups), or, for the two-person rule, as the platform
// says they are now (bot.CurrentGroups). It decides nothing itself: the
// rules live in policy.
package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// groupLookupTimeout bounds asking a platform which groups a person is in.
const groupLookupTimeout = 3 * time.Second

// Config is where Roles reads people's groups.
type Config struct {
	// Access is the configured mapping.
	Access policy.Access
	// Lookups, by platform, tell the groups of a person whose requests do
	// not carry them (Slack user groups). A lookup that fails leaves the
	// person with the role they hold without groups (never more), and a
	// warning in the log.
	Lookups map[string]bot.GroupLookup
	// Current, by platform, read a person's groups as the platform holds
	// them now (Discord: GET guild member), for CurrentRoleOf. A failure
	// there is an error wrapping bot.ErrRolesUnconfirmed.
	Current map[string]bot.CurrentGroups
	// Log is scoped with component already; nil: no logging.
	Log *zap.Logger
}

// Roles tells a person's role in a channel.
type Roles struct {
	cfg Config
}

// New builds the roles over the configured mapping. lookups, by platform,
// tell the groups of a person whose requests do not carry them (a
// platform without one relies on bot.Identity.Groups).
func New(access policy.Access, lookups map[string]bot.GroupLookup) *Roles {
	return NewWith(Config{Access: access, Lookups: lookups})
}

// NewWith builds the roles from cfg.
func NewWith(cfg Config) *Roles {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Roles{cfg: cfg}
}

// RoleOf is id's role in channel (on id's platform), from the groups its
// request reported or, when it reported none, from the platform's lookup.
func (r *Roles) RoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error) {
	groups := id.Groups
	if l := r.cfg.Lookups[id.Platform]; l != nil && len(groups) == 0 {
		groups = r.lookup(ctx, l, id)
	}
	return r.roleWith(id, groups, channel), nil
}

// CurrentRoleOf is id's role in channel as the platform holds it now: the
// groups id reported (with a request, or stored with a vote) are not
// trusted. A platform with a bot.CurrentGroups source is asked (through
// its cache of at most a minute); a failure is an error wrapping
// bot.ErrRolesUnconfirmed and never falls back to the reported groups, and
// a person who is not a member there holds no role. A platform with a
// lookup asks it, as RoleOf does. Any other platform has only what its
// requests report.
func (r *Roles) CurrentRoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error) {
	if src := r.cfg.Current[id.Platform]; src != nil {
		lctx, cancel := context.WithTimeout(ctx, groupLookupTimeout)
		defer cancel()
		groups, err := src.CurrentGroups(lctx, id.UserID, channel)
		switch {
		case errors.Is(err, bot.ErrNotMember):
			return policy.NoAccess, nil
		case err != nil:
			return policy.NoAccess, fmt.Errorf("%w: role of %s:%s: %w", bot.ErrRolesUnconfirmed, id.Platform, id.UserID, err)
		}
		return r.roleWith(id, groups, channel), nil
	}
	if l := r.cfg.Lookups[id.Platform]; l != nil {
		return r.roleWith(id, r.lookup(ctx, l, id), channel), nil
	}
	return r.roleWith(id, id.Groups, channel), nil
}

// lookup asks l for id's groups. When it cannot tell, id is left with no
// groups: the role they hold by their id or the default, never more than
// with their groups (the highest entry wins).
func (r *Roles) lookup(ctx context.Context, l bot.GroupLookup, id bot.Identity) []string {
	lctx, cancel := context.WithTimeout(ctx, groupLookupTimeout)
	defer cancel()
	groups, err := l.Groups(lctx, id.UserID)
	if err != nil {
		r.cfg.Log.Warn("user groups unknown: the role is worked out without them",
			zap.String("platform", id.Platform), zap.String("user", id.UserID), zap.Error(err))
		return nil
	}
	return groups
}

func (r *Roles) roleWith(id bot.Identity, groups []string, channel string) policy.Role {
	return r.cfg.Access.RoleOf(policy.Person{Platform: id.Platform, UserID: id.UserID, Groups: groups, Channel: channel})
}
