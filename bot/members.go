package bot

import (
	"context"
	"errors"
	"strings"
)

// CurrentGroups is the optional capability of a platform to read a person's
// groups as the platform holds them now (Discord: their roles in the guild
// of channel), rather than as a request reported them. The two-person rule
// reads it at each approval and again at execution: roles reported with a
// request, or stored with its votes, may have been taken away since.
//
// Implementations may cache an answer for at most a minute and never answer
// from an older copy. An error means the groups are not confirmed; the
// decision that needed them is refused, never made on the reported roles.
// ErrNotMember says the person is not (or no longer) a member there.
type CurrentGroups interface {
	CurrentGroups(ctx context.Context, userID, channel string) ([]string, error)
}

// ErrNotMember is a person who is not a member of the place a channel
// belongs to (a Discord guild they left): they hold no role there.
var ErrNotMember = errors.New("not a member")

// ErrRolesUnconfirmed marks a role that could not be confirmed with its
// platform: whatever needed it is refused.
var ErrRolesUnconfirmed = errors.New("roles not confirmed with the platform")

// PlatformName is a platform as people write it ("discord" → "Discord").
func PlatformName(platform string) string {
	if platform == "" {
		return "the chat platform"
	}
	return strings.ToUpper(platform[:1]) + platform[1:]
}
