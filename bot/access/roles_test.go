package access_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/policy"
)

// groupsFunc is a bot.GroupLookup.
type groupsFunc func(ctx context.Context, userID string) ([]string, error)

func (f groupsFunc) Groups(ctx context.Context, userID string) ([]string, error) {
	return f(ctx, userID)
}

// currentFunc is a bot.CurrentGroups.
type currentFunc func(ctx context.Context, userID, channel string) ([]string, error)

func (f currentFunc) CurrentGroups(ctx context.Context, userID, channel string) ([]string, error) {
	return f(ctx, userID, channel)
}

var mapping = policy.Access{
	Default: policy.Viewer,
	Users:   map[string]policy.Role{"slack:U0MEG": policy.Member, "discord:203": policy.Member},
	Groups:  map[string]policy.Role{"slack:S0SRE": policy.Admin, "discord:900": policy.Admin},
}

// A Slack group lookup that fails leaves the person with the role they
// hold without groups (by their id, or the default), never an error and
// never the group's role, and says so in the log.
func TestRoleOfLookupFailsFallsBackWithoutGroups(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	down := errors.New("slack user groups of U0MEG: the list is 5m0s old")
	roles := access.NewWith(access.Config{
		Access:  mapping,
		Lookups: map[string]bot.GroupLookup{"slack": groupsFunc(func(context.Context, string) ([]string, error) { return nil, down })},
		Log:     zap.New(core),
	})
	for _, tc := range []struct {
		who  string
		want policy.Role
	}{{"U0MEG", policy.Member}, {"U0ANY", policy.Viewer}} {
		got, err := roles.RoleOf(context.Background(), bot.Identity{Platform: "slack", UserID: tc.who}, "C0OPS")
		if err != nil || got != tc.want {
			t.Errorf("%s: role %s, err %v; want %s", tc.who, got, err, tc.want)
		}
	}
	if logs.FilterMessage("user groups unknown: the role is worked out without them").Len() != 2 {
		t.Errorf("fallbacks not logged: %v", logs.All())
	}
}

// CurrentRoleOf never trusts the groups a request reported: it asks the
// platform's current source; not a member is no role at all; a failure is
// ErrRolesUnconfirmed and never falls back to what was reported.
func TestCurrentRoleOf(t *testing.T) {
	now := map[string][]string{"201": {"900"}, "202": {"901"}, "203": {}}
	var asked []string
	src := currentFunc(func(_ context.Context, user, channel string) ([]string, error) {
		asked = append(asked, user+"@"+channel)
		if user == "209" {
			return nil, errors.New("HTTP 502")
		}
		g, ok := now[user]
		if !ok {
			return nil, bot.ErrNotMember
		}
		return g, nil
	})
	roles := access.NewWith(access.Config{Access: mapping, Current: map[string]bot.CurrentGroups{"discord": src}})
	reported := []string{"900"} // every one of them claims @sre
	for _, tc := range []struct {
		user string
		want policy.Role
	}{
		{"201", policy.Admin},    // still @sre
		{"202", policy.Viewer},   // @sre removed
		{"203", policy.Member},   // by user id, no role now
		{"208", policy.NoAccess}, // left the guild
	} {
		got, err := roles.CurrentRoleOf(context.Background(), bot.Identity{Platform: "discord", UserID: tc.user, Groups: reported}, "1100")
		if err != nil || got != tc.want {
			t.Errorf("%s: role %s, err %v; want %s", tc.user, got, err, tc.want)
		}
	}
	got, err := roles.CurrentRoleOf(context.Background(), bot.Identity{Platform: "discord", UserID: "209", Groups: reported}, "1100")
	if !errors.Is(err, bot.ErrRolesUnconfirmed) || got != policy.NoAccess {
		t.Errorf("lookup failed: role %s, err %v; want NoAccess and ErrRolesUnconfirmed", got, err)
	}
	if len(asked) != 5 || asked[0] != "201@1100" {
		t.Errorf("asked %q", asked)
	}
	// RoleOf keeps what the request reported: a command's own role comes
	// with the command.
	if got, _ := roles.RoleOf(context.Background(), bot.Identity{Platform: "discord", UserID: "202", Groups: reported}, "1100"); got != policy.Admin {
		t.Errorf("RoleOf with reported @sre: %s", got)
	}
}
