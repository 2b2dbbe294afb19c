package discord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/bot/approval"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
	"github.com/bakewise/chatops/policy"
)

const (
	sreRole   = "1500000000000000005" // the guild's @sre role: admin
	otherRole = "1500000000000000006"
)

// newMembers is a Members over a fresh stand-in serving testGuild, on
// clock.
func newMembers(t *testing.T, clock *bottest.Clock) (*Members, *discordstandin.Server) {
	t.Helper()
	sd := newStandin(t)
	return NewMembers(newClient(t, sd, nil), MembersConfig{Guilds: []string{testGuild}, Now: clock.Now}, zap.NewNop()), sd
}

func currentGroups(t *testing.T, m *Members, user string) []string {
	t.Helper()
	got, err := m.CurrentGroups(context.Background(), user, testChannel)
	if err != nil {
		t.Fatalf("roles of %s: %v", user, err)
	}
	return got
}

// A member's roles are read from Discord once and used for at most a
// minute: a role removed in Discord is seen on the first lookup a minute
// after the last read, on the clock the test moves. The channel's guild
// is read once.
func TestMembersCacheAtMostAMinute(t *testing.T) {
	clock := bottest.NewClock(bottest.T0)
	m, sd := newMembers(t, clock)
	sd.SetMember(testGuild, testUser, sreRole, otherRole)
	if got := currentGroups(t, m, testUser); !slices.Equal(got, []string{sreRole, otherRole}) {
		t.Fatalf("roles %q", got)
	}
	sd.SetMember(testGuild, testUser, otherRole) // @sre removed
	clock.Advance(MaxMemberCacheTTL - time.Millisecond)
	if got := currentGroups(t, m, testUser); !slices.Equal(got, []string{sreRole, otherRole}) {
		t.Errorf("within the minute: roles %q, want the ones read", got)
	}
	clock.Advance(time.Millisecond)
	if got := currentGroups(t, m, testUser); !slices.Equal(got, []string{otherRole}) {
		t.Errorf("a minute after the read: roles %q, want Discord's now", got)
	}
	if n := sd.Calls(discordstandin.RouteGetMember); n != 2 {
		t.Errorf("%d member reads, want 2", n)
	}
	if n := sd.Calls(discordstandin.RouteGetChannel); n != 1 {
		t.Errorf("%d channel reads, want 1", n)
	}
	if got := NewMembers(m.c, MembersConfig{TTL: time.Hour}, nil).ttl; got != MaxMemberCacheTTL {
		t.Errorf("a TTL of an hour became %s, want at most %s", got, MaxMemberCacheTTL)
	}
}

// Whatever keeps Discord from answering is an error, never cached and never
// an empty role list; a person who left the guild is ErrNotMember; a
// channel of a guild not served, or ids that are not ids, are refused.
func TestMembersFailures(t *testing.T) {
	clock := bottest.NewClock(bottest.T0)
	m, sd := newMembers(t, clock)
	sd.SetMember(testGuild, testUser, sreRole)
	ctx := context.Background()
	for _, f := range []discordstandin.Fault{
		discordstandin.ServerError{},
		discordstandin.RateLimit{RetryAfter: 10 * time.Millisecond},
		discordstandin.Status{Code: 403, APICode: 50001, Message: "Missing Access"},
	} {
		sd.FailNext(discordstandin.RouteGetMember, 1, f)
		if got, err := m.CurrentGroups(ctx, testUser, testChannel); err == nil || errors.Is(err, bot.ErrNotMember) {
			t.Errorf("%T: roles %q, err %v; want an error", f, got, err)
		}
	}
	if got := currentGroups(t, m, testUser); !slices.Equal(got, []string{sreRole}) {
		t.Errorf("after the failures: roles %q", got)
	}

	sd.RemoveMember(testGuild, testUser)
	clock.Advance(MaxMemberCacheTTL)
	if _, err := m.CurrentGroups(ctx, testUser, testChannel); !errors.Is(err, bot.ErrNotMember) {
		t.Errorf("a member who left: err %v, want ErrNotMember", err)
	}

	const elsewhere = "1100000000000000777"
	sd.SetChannelGuild("1400000000000000099", elsewhere)
	if _, err := m.CurrentGroups(ctx, testUser, elsewhere); err == nil || !strings.Contains(err.Error(), "not in discord.guild_ids") {
		t.Errorf("a channel of another guild: err %v", err)
	}
	before := sd.Calls(discordstandin.RouteGetMember) + sd.Calls(discordstandin.RouteGetChannel)
	for _, ids := range [][2]string{{"../../users/@me", testChannel}, {testUser, "1/../2"}, {"", testChannel}} {
		if _, err := m.CurrentGroups(ctx, ids[0], ids[1]); err == nil {
			t.Errorf("user %q channel %q: no error", ids[0], ids[1])
		}
	}
	if after := sd.Calls(discordstandin.RouteGetMember) + sd.Calls(discordstandin.RouteGetChannel); after != before {
		t.Errorf("bad ids made %d calls", after-before)
	}
}

// discordPerson is someone of the guild, as an interaction reports them:
// always with @sre, whatever Discord holds now.
func discordPerson(id, name string) bot.Identity {
	return bot.Identity{Platform: Platform, UserID: id, Name: name, Groups: []string{sreRole}}
}

// TestApprovalsReadDiscordRolesLive: the approval service, its roles and
// the Discord client over the stand-in and a real store. A member whose
// @sre role was removed in Discord after the request cannot approve it,
// though the click still reports the role; an approval given before its
// approver lost the role does not carry the request at execution (once
// the minute of the cached read is over); and a lookup Discord does not
// answer refuses the vote, which counts when Discord answers again.
func TestApprovalsReadDiscordRolesLive(t *testing.T) {
	clock := bottest.NewClock(bottest.T0)
	m, sd := newMembers(t, clock)
	ana, ben, cat, dan := discordPerson("2000000000000000001", "ana"), discordPerson("2000000000000000002", "ben"),
		discordPerson("2000000000000000003", "cat"), discordPerson("2000000000000000004", "dan")
	for _, p := range []bot.Identity{ana, ben, cat, dan} {
		sd.SetMember(testGuild, p.UserID, sreRole)
	}
	store := sqlstoretest.Open(t)
	target := bottest.NewTarget(3, 2)
	roles := access.NewWith(access.Config{
		Access:  policy.Access{Default: policy.Viewer, Groups: map[string]policy.Role{policy.Key(Platform, sreRole): policy.Admin}},
		Current: map[string]bot.CurrentGroups{Platform: m},
	})
	planner, err := command.NewTable("ops", []bot.CommandSpec{bottest.ScaleSpec(target)})
	if err != nil {
		t.Fatal(err)
	}
	rule := policy.DefaultRule
	rule.Quorum = 2
	cards := &bottest.Cards{}
	ap := approval.New(store, roles, planner, approval.Config{Rule: rule, Root: "ops", Cards: map[string]bot.CardPoster{Platform: cards}, Now: clock.Now}, zap.NewNop(), nil)
	router, err := command.NewRouter([]bot.CommandSpec{bottest.ScaleSpec(target)}, command.Config{
		Root: "ops", Channels: []string{testChannel}, Roles: roles, Audit: store, Actions: ap,
	}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var answers bottest.Answers
	router.Handle(context.Background(), bot.Command{Platform: Platform, User: ana, Channel: testChannel, Text: "scale orders 4", ReceivedAt: clock.Now()}, &answers)
	var id int64
	if _, err := fmt.Sscanf(answers.Last(t).Title, "Request #%d", &id); err != nil {
		t.Fatalf("request: %q", answers.Last(t).Title)
	}
	approve := func(who bot.Identity) bot.Answer {
		return ap.Approve(context.Background(), bot.Ballot{Who: who, Channel: testChannel, ID: id, Via: "button", At: clock.Now()})
	}
	status := func() (bot.ApprovalStatus, int, string) {
		a, err := store.GetApproval(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Status, len(a.Votes), a.Result
	}

	approve(cat) // 1 of 2, cat's roles read now
	sd.SetMember(testGuild, ben.UserID, otherRole)
	if ans := approve(ben); !strings.Contains(ans.Title, "needs the admin role; you are viewer") {
		t.Fatalf("ben, whose @sre was removed in Discord: %q", ans.Title)
	}

	sd.FailNext(discordstandin.RouteGetMember, 1, discordstandin.ServerError{})
	ans := approve(dan)
	if !strings.Contains(ans.Title, "Could not confirm your roles with Discord") || !strings.Contains(ans.Title, "request id") ||
		strings.Contains(ans.Title, "500") {
		t.Fatalf("dan's vote while Discord fails: %q", ans.Title)
	}
	if st, votes, _ := status(); st != bot.ApprovalPending || votes != 1 || target.Runs() != 0 {
		t.Fatalf("after two refused votes: %s, %d votes, %d runs", st, votes, target.Runs())
	}

	sd.SetMember(testGuild, cat.UserID) // cat approved, then lost @sre
	clock.Advance(MaxMemberCacheTTL)
	approve(dan) // the quorum
	st, _, result := status()
	if st != bot.ApprovalFailed || target.Runs() != 0 || !strings.Contains(result, "approver discord:"+cat.UserID+" no longer holds the admin role") {
		t.Fatalf("execution after cat lost @sre: %s, %d runs, %q", st, target.Runs(), result)
	}
}
