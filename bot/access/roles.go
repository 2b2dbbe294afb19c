// Package access tells a person's role in a channel: the configured mapping
// (policy.Access) applied to who they are and the groups they are in, as
// the platform reports them with each request (Discord roles) or as a
// lookup tells (Slack user groups). It decides nothing itself: the rules
// live in policy.
package access

import (
	"context"
	"fmt"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// groupLookupTimeout bounds asking a platform which groups a person is in.
const groupLookupTimeout = 3 * time.Second

// Roles tells a person's role in a channel.
type Roles struct {
	access  policy.Access
	lookups map[string]bot.GroupLookup
}

// New builds the roles over the configured mapping. lookups, by platform,
// tell the groups of a person whose requests do not carry them (a
// platform without one relies on bot.Identity.Groups).
func New(access policy.Access, lookups map[string]bot.GroupLookup) *Roles {
	return &Roles{access: access, lookups: lookups}
}

// RoleOf is id's role in channel (on id's platform).
func (r *Roles) RoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error) {
	groups := id.Groups
	if l := r.lookups[id.Platform]; l != nil && len(groups) == 0 {
		lctx, cancel := context.WithTimeout(ctx, groupLookupTimeout)
		defer cancel()
		g, err := l.Groups(lctx, id.UserID)
		if err != nil {
			return policy.NoAccess, fmt.Errorf("role of %s: user groups: %w", id.UserID, err)
		}
		groups = g
	}
	return r.access.RoleOf(policy.Person{Platform: id.Platform, UserID: id.UserID, Groups: groups, Channel: channel}), nil
}
