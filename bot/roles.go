package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/bakewise/chatops/policy"
)

// groupLookupTimeout bounds asking a platform which groups a person is in.
const groupLookupTimeout = 3 * time.Second

// Roles tells a person's role in a channel: the configured mapping, with
// group membership from the request (Discord roles) or, where the platform
// does not send it, from a GroupLookup (Slack user groups).
type Roles struct {
	Access policy.Access
	// Lookups by platform; a platform without one relies on
	// Identity.Groups.
	Lookups map[string]GroupLookup
}

// RoleOf is id's role in channel (on id's platform).
func (r *Roles) RoleOf(ctx context.Context, id Identity, channel string) (policy.Role, error) {
	groups := id.Groups
	if l := r.Lookups[id.Platform]; l != nil && len(groups) == 0 {
		lctx, cancel := context.WithTimeout(ctx, groupLookupTimeout)
		defer cancel()
		g, err := l.Groups(lctx, id.UserID)
		if err != nil {
			return policy.NoAccess, fmt.Errorf("role of %s: user groups: %w", id.UserID, err)
		}
		groups = g
	}
	return r.Access.RoleOf(policy.Person{Platform: id.Platform, UserID: id.UserID, Groups: groups, Channel: channel}), nil
}

// Authorize is the router's Authorize: the caller's role where they typed.
func (r *Roles) Authorize(ctx context.Context, cmd Command, _ *CommandSpec) (policy.Role, error) {
	return r.RoleOf(ctx, cmd.User, cmd.Channel)
}
