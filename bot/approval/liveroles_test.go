package approval_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/policy"
)

// liveGroups is a platform's source of current roles (bot.CurrentGroups):
// what it holds now, by user id, changed by the test mid-flight.
type liveGroups struct {
	mu     sync.Mutex
	groups map[string][]string
	fail   map[string]error // by user id; "*" for everyone
	asked  []string
}

func (l *liveGroups) CurrentGroups(_ context.Context, userID, _ string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, userID)
	if err := l.fail["*"]; err != nil {
		return nil, err
	}
	if err := l.fail[userID]; err != nil {
		return nil, err
	}
	g, ok := l.groups[userID]
	if !ok {
		return nil, bot.ErrNotMember
	}
	return slices.Clone(g), nil
}

func (l *liveGroups) set(user string, groups ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groups[user] = groups
}

func (l *liveGroups) failFor(user string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail[user] = err
}

func (l *liveGroups) wasAsked(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.asked, user)
}

const sreRole, otherRole = "900", "901"

// The Discord people of these tests; every one reports the @sre role (900,
// admin) with each interaction, whatever Discord holds now.
var (
	dAna = bot.Identity{Platform: "discord", UserID: "201", Name: "ana", Groups: []string{sreRole}}
	dBen = bot.Identity{Platform: "discord", UserID: "202", Name: "ben", Groups: []string{sreRole}}
	dCat = bot.Identity{Platform: "discord", UserID: "203", Name: "cat", Groups: []string{sreRole}}
	dDan = bot.Identity{Platform: "discord", UserID: "204", Name: "dan", Groups: []string{sreRole}}
)

// newLiveRig is a rig whose Discord roles come from live, logging to an
// observer.
func newLiveRig(t *testing.T, s bot.Store, quorum int) (*approvalRig, *liveGroups, *observer.ObservedLogs) {
	live := &liveGroups{groups: map[string][]string{}, fail: map[string]error{}}
	for _, p := range []bot.Identity{dAna, dBen, dCat, dDan} {
		live.set(p.UserID, sreRole)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	rule := policy.DefaultRule
	rule.Quorum = quorum
	roles := access.NewWith(access.Config{
		Access:  policy.Access{Default: policy.Viewer, Groups: map[string]policy.Role{"discord:" + sreRole: policy.Admin}},
		Current: map[string]bot.CurrentGroups{"discord": live},
	})
	return newApprovalRigRoles(t, s, rule, roles, zap.New(core)), live, logs
}

// requestAs makes who ask for a scale and returns the request's id.
func (r *approvalRig) requestAs(who bot.Identity) int64 {
	r.t.Helper()
	a := r.run(who, apChannel, "scale orders 4")
	id, ok := requestID(a.Title)
	if !ok {
		r.t.Fatalf("request by %s not taken: %q", who.Name, a.Title)
	}
	return id
}

func requestID(title string) (int64, bool) {
	var id int64
	m := regexp.MustCompile(`^Request #(\d+)`).FindStringSubmatch(title)
	if m == nil {
		return 0, false
	}
	for _, c := range m[1] {
		id = id*10 + int64(c-'0')
	}
	return id, true
}

// Roles taken away in Discord after a request count at once: a member
// whose role is gone cannot approve (the role reported with the click is
// not trusted), and an approval given before its approver lost the role
// does not carry the request at execution; neither does a requester who
// lost it. Each role is read from the platform, not from what was stored.
func testApprovalLiveRoles(t *testing.T, s bot.Store) {
	r, live, _ := newLiveRig(t, s, 2)
	id := r.requestAs(dAna)
	approve := r.buttons(id)["Approve"]

	r.click(dCat, apChannel, approve) // 1 of 2
	live.set(dBen.UserID, otherRole)  // ben's @sre role is removed in Discord
	ans := r.click(dBen, apChannel, approve)
	if !strings.Contains(ans.Title, "needs the admin role; you are viewer") {
		t.Fatalf("ben, whose role was removed, approving: %q", ans.Title)
	}
	if a := r.approval(id); a.Status != bot.ApprovalPending || len(a.Votes) != 1 {
		t.Fatalf("after the refused vote: %s with %d votes", a.Status, len(a.Votes))
	}

	live.set(dCat.UserID, otherRole) // cat approved, then lost the role
	r.click(dDan, apChannel, approve)
	r.wantRuns(0)
	a := r.approval(id)
	if a.Status != bot.ApprovalFailed || !strings.Contains(a.Result, "approver discord:203 no longer holds the admin role") {
		t.Fatalf("after the quorum, with an approver's role gone: %s %q", a.Status, a.Result)
	}
	if !live.wasAsked(dAna.UserID) {
		t.Error("the requester's role was not read at execution")
	}
	r.wantAudit("vote/insufficient_role", "result/insufficient_role")

	// The requester losing the role stops the next request the same way.
	id = r.requestAs(dAna)
	r.click(dBen, apChannel, r.buttons(id)["Approve"]) // ben is no admin now
	live.set(dBen.UserID, sreRole)
	r.click(dBen, apChannel, r.buttons(id)["Approve"])
	live.set(dAna.UserID) // ana left @sre
	r.click(dDan, apChannel, r.buttons(id)["Approve"])
	r.wantRuns(0)
	if a := r.approval(id); a.Status != bot.ApprovalFailed || !strings.Contains(a.Result, "requester no longer holds") {
		t.Fatalf("after the requester lost the role: %s %q", a.Status, a.Result)
	}
}

// A lookup that fails refuses: the vote is not counted and the request
// stays open ("could not confirm your roles with Discord; try again"), with
// a request id and no error text; at execution a requester whose role
// cannot be confirmed stops the run. Nothing falls back to the roles the
// interaction reported.
func testApprovalLiveRolesFail(t *testing.T, s bot.Store) {
	r, live, logs := newLiveRig(t, s, 1)
	id := r.requestAs(dAna)
	approve := r.buttons(id)["Approve"]

	live.failFor(dBen.UserID, errors.New("discord: read member 202: HTTP 502 from 10.1.2.3"))
	ans := r.click(dBen, apChannel, approve)
	rid := regexp.MustCompile(`request id ([0-9a-f]{12})`).FindStringSubmatch(ans.Title)
	if !strings.Contains(ans.Title, "Could not confirm your roles with Discord") || !strings.Contains(ans.Title, "Try again") || rid == nil {
		t.Fatalf("vote while Discord cannot be asked: %q", ans.Title)
	}
	if strings.Contains(ans.Title, "10.1.2.3") || strings.Contains(ans.Title, "502") {
		t.Fatalf("the answer shows the error: %q", ans.Title)
	}
	if logs.FilterField(zap.String("request_id", rid[1])).Len() != 1 {
		t.Errorf("no log line under request id %s", rid[1])
	}
	r.wantRuns(0)
	if a := r.approval(id); a.Status != bot.ApprovalPending || len(a.Votes) != 0 {
		t.Fatalf("after the refused vote: %s with %d votes", a.Status, len(a.Votes))
	}
	r.wantAudit("vote/roles_unconfirmed")

	// Discord answers again, but not for the requester: the approval
	// counts, the execution does not run.
	live.failFor(dBen.UserID, nil)
	live.failFor(dAna.UserID, errors.New("discord: read member 201: timeout"))
	r.click(dBen, apChannel, approve)
	r.wantRuns(0)
	a := r.approval(id)
	if a.Status != bot.ApprovalFailed || !strings.Contains(a.Result, "could not be confirmed with Discord") || strings.Contains(a.Result, "timeout") {
		t.Fatalf("execution with the requester's role unconfirmed: %s %q", a.Status, a.Result)
	}
	r.wantAudit("result/roles_unconfirmed")
}

// An execution that fails with an internal error (an API's, with an
// address in it) shows a request id on the card and in the answer, never
// the error's text; the log holds the text under the same id.
func testApprovalInternalError(t *testing.T, s bot.Store) {
	core, logs := observer.New(zapcore.DebugLevel)
	r := newApprovalRigRoles(t, s, policy.DefaultRule, access.New(policy.Access{Default: policy.Viewer,
		Users: map[string]policy.Role{"slack:UALICE": policy.Admin, "slack:UBOB": policy.Admin}}, nil), zap.New(core))
	id := r.request(5)
	const secret = `Put "https://10.0.0.1:6443/apis/apps/v1/namespaces/ns/deployments/orders/scale": dial tcp 10.0.0.1:6443: connect: connection refused`
	r.target.FailNext(errors.New(secret))
	ans := r.click(bob, apChannel, r.buttons(id)["Approve"])
	a := r.approval(id)
	card := r.cards.Card(t, a.Card.RootID)
	shown := ans.Title + "\n" + strings.Join(ans.Lines, "\n") + "\n" + a.Result + "\n" + card.Title + "\n" + strings.Join(card.Lines, "\n")
	if strings.Contains(shown, "10.0.0.1") || strings.Contains(shown, "connection refused") {
		t.Fatalf("chat shows the internal error:\n%s", shown)
	}
	m := regexp.MustCompile(`request id ([0-9a-f]{12})`).FindStringSubmatch(a.Result)
	if a.Status != bot.ApprovalFailed || m == nil || !strings.Contains(strings.Join(card.Lines, "\n"), m[0]) || !strings.Contains(ans.Title, m[0]) {
		t.Fatalf("failed request: %s %q; answer %q; card %q", a.Status, a.Result, ans.Title, card.Lines)
	}
	found := logs.FilterField(zap.String("request_id", m[1])).All()
	if len(found) != 1 || !strings.Contains(found[0].ContextMap()["error"].(string), "10.0.0.1") {
		t.Fatalf("log lines under request id %s: %+v", m[1], found)
	}
	r.wantAudit("result/failed")
}
