package approval_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot/access"

	"github.com/bakewise/chatops/bot/approval"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// The approval service over a real store: every rule of the two-person
// rule, each one a case that fails if the rule is removed.

const (
	apChannel = "COPS"
	apOther   = "COTHER"
)

var (
	t0                      = bottest.T0
	alice, bob, carol, olga = bottest.Alice, bottest.Bob, bottest.Carol, bottest.Olga // admin, admin, member, owner
)

type approvalRig struct {
	t      *testing.T
	s      bot.Store
	clock  *bottest.Clock
	target *bottest.Target
	cards  *bottest.Cards
	router *command.Router
	ap     *approval.Service
}

func newApprovalRig(t *testing.T, s bot.Store, rule policy.Rule) *approvalRig {
	return newApprovalRigWith(t, s, rule, map[string]policy.Role{
		"slack:UALICE": policy.Admin, "slack:UBOB": policy.Admin, "slack:UCAROL": policy.Member, "slack:UOLGA": policy.Owner,
	})
}

// newApprovalRigWith builds the rig over users (the map stays live: a test
// may change someone's role mid-flight).
func newApprovalRigWith(t *testing.T, s bot.Store, rule policy.Rule, users map[string]policy.Role) *approvalRig {
	return newApprovalRigAccess(t, s, rule, policy.Access{Default: policy.Viewer, Users: users})
}

func newApprovalRigAccess(t *testing.T, s bot.Store, rule policy.Rule, policyAccess policy.Access) *approvalRig {
	return newApprovalRigRoles(t, s, rule, access.New(policyAccess, nil), zap.NewNop())
}

// newApprovalRigRoles builds the rig over roles, logging to log.
func newApprovalRigRoles(t *testing.T, s bot.Store, rule policy.Rule, roles *access.Roles, log *zap.Logger) *approvalRig {
	return newApprovalRigWithSpec(t, s, rule, roles, log, nil, nil)
}

// newApprovalRigWithSpec is newApprovalRigRoles whose scale command is
// edit's edit of bottest.ScaleSpec (nil: as is), and whose cards are
// posted through poster (nil: the rig's own).
func newApprovalRigWithSpec(t *testing.T, s bot.Store, rule policy.Rule, roles *access.Roles, log *zap.Logger,
	edit func(*bot.CommandSpec), poster bot.CardPoster) *approvalRig {
	clock := bottest.NewClock(t0)
	r := &approvalRig{t: t, s: s, clock: clock, target: bottest.NewTarget(7, 2), cards: &bottest.Cards{}}
	scale := bottest.ScaleSpec(r.target)
	if edit != nil {
		edit(&scale)
	}
	if poster == nil {
		poster = r.cards
	}
	planner, err := command.NewTable("ops", []bot.CommandSpec{scale})
	if err != nil {
		t.Fatal(err)
	}
	r.ap = approval.New(s, roles, planner, approval.Config{
		Rule: rule, Root: "ops", Cards: map[string]bot.CardPoster{"slack": poster, "discord": poster}, Now: clock.Now,
	}, log, nil)
	specs := []bot.CommandSpec{scale, {
		Name: "approve", Summary: "approve", Role: policy.Viewer,
		Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 40}},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			return r.ap.Approve(ctx, bot.Ballot{Who: inv.Command.User, Channel: inv.Command.Channel, ID: int64(inv.Int("id", 0)), Via: "command"}), nil
		},
	}}
	router, err := command.NewRouter(specs, command.Config{
		Root: "ops", Channels: []string{apChannel, apOther}, Roles: roles, Audit: s, Actions: r.ap,
	}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.router = router
	return r
}

// run types a command as who in channel and returns the answer.
func (r *approvalRig) run(who bot.Identity, channel, text string) bot.Answer {
	var a bottest.Answers
	r.router.Handle(context.Background(), bot.Command{Platform: who.Platform, User: who, Channel: channel, Text: text, ReceivedAt: r.clock.Now()}, &a)
	return a.Last(r.t)
}

// request makes alice ask for a scale and returns the request's id.
func (r *approvalRig) request(replicas int) int64 {
	r.t.Helper()
	a := r.run(alice, apChannel, fmt.Sprintf("scale orders %d", replicas))
	var id int64
	if _, err := fmt.Sscanf(a.Title, "Request #%d", &id); err != nil {
		r.t.Fatalf("request not taken: %q", a.Title)
	}
	return id
}

func (r *approvalRig) click(who bot.Identity, channel, button string) bot.Answer {
	var a bottest.Answers
	command.NewButtons(r.ap, r.router, nil).HandleClick(context.Background(),
		bot.Click{User: who, Platform: who.Platform, Channel: channel, ButtonID: button, ReceivedAt: r.clock.Now()}, &a)
	return a.Last(r.t)
}

func (r *approvalRig) approval(id int64) bot.Approval {
	r.t.Helper()
	a, err := r.s.GetApproval(context.Background(), id)
	if err != nil {
		r.t.Fatalf("approval %d: %v", id, err)
	}
	return a
}

// buttons returns the card's button ids by label.
func (r *approvalRig) buttons(id int64) map[string]string {
	r.t.Helper()
	a := r.approval(id)
	out := map[string]string{}
	for _, b := range r.cards.Card(r.t, a.Card.RootID).Buttons {
		out[b.Label] = b.ID
	}
	return out
}

// audit returns the log, verified, as "kind/outcome" strings.
func (r *approvalRig) audit() []string {
	r.t.Helper()
	var (
		v   bot.ChainVerifier
		out []string
	)
	err := r.s.AuditRecords(context.Background(), time.Time{}, func(rec bot.AuditRecord) error {
		if err := v.Next(rec); err != nil {
			return err
		}
		out = append(out, string(rec.Kind)+"/"+rec.Outcome)
		return nil
	})
	if err != nil {
		r.t.Fatalf("audit log: %v", err)
	}
	return out
}

func (r *approvalRig) wantAudit(contains ...string) {
	r.t.Helper()
	got := strings.Join(r.audit(), " ")
	for _, c := range contains {
		if !strings.Contains(got, c) {
			r.t.Fatalf("audit log %q lacks %q", got, c)
		}
	}
}

func (r *approvalRig) wantRuns(n int32) {
	r.t.Helper()
	if got := r.target.Runs(); got != n {
		r.t.Fatalf("the action ran %d times, want %d", got, n)
	}
}

func TestService(t *testing.T) { sqlstoretest.RunCases(t, approvalServiceTests()) }

func approvalServiceTests() []sqlstoretest.Case {
	return []sqlstoretest.Case{
		{Name: "ApprovalRunsOnceAfterSecondAdmin", Run: testApprovalHappyPath},
		{Name: "ApprovalRefusals", Run: testApprovalRefusals},
		{Name: "ApprovalExpires", Run: testApprovalExpires},
		{Name: "ApprovalStaleTarget", Run: testApprovalStale},
		{Name: "ApprovalFiftyConcurrentApprovers", Run: testApprovalConcurrent},
		{Name: "ApprovalDenyAndCancel", Run: testApprovalDenyCancel},
		{Name: "ApprovalBreakGlass", Run: testApprovalBreakGlass},
		{Name: "ApprovalRoleLostBeforeExecution", Run: testApprovalRoleLost},
		{Name: "ApprovalHourlyLimit", Run: testApprovalHourlyLimit},
		{Name: "ApprovalRolesFromPlatformGroups", Run: testApprovalRolesFromGroups},
		{Name: "ApprovalLiveRolesAtVoteAndExecution", Run: testApprovalLiveRoles},
		{Name: "ApprovalLiveRolesLookupFails", Run: testApprovalLiveRolesFail},
		{Name: "ApprovalInternalErrorNotInChat", Run: testApprovalInternalError},
		{Name: "ApprovalFollowsOnTheCard", Run: testApprovalFollows},
	}
}

func testApprovalHappyPath(t *testing.T, s bot.Store) {
	r := newApprovalRig(t, s, policy.DefaultRule)
	id := r.request(5)
	a := r.approval(id)
	if a.Status != bot.ApprovalPending || a.Plan.TargetVersion != "7" || a.Hash != a.Plan.Hash() || a.Card.RootID == "" {
		t.Fatalf("request stored as %+v", a)
	}
	card := r.cards.Card(t, a.Card.RootID)
	if !strings.Contains(card.Title, "scale deployment ns/orders") || len(card.Buttons) != 3 || !strings.Contains(strings.Join(card.Lines, "\n"), "replicas 2 → 5") {
		t.Fatalf("card: %+v", card)
	}
	r.wantRuns(0)
	ans := r.click(bob, apChannel, r.buttons(id)["Approve"])
	if !strings.Contains(ans.Title, "Ran") {
		t.Fatalf("approval answer: %q", ans.Title)
	}
	r.wantRuns(1)
	a = r.approval(id)
	if a.Status != bot.ApprovalDone || a.Result != "scaled" || a.ExecutedAt == nil || len(a.Votes) != 1 || a.Votes[0].Voter.UserID != "UBOB" {
		t.Fatalf("after approval: %+v", a)
	}
	card = r.cards.Card(t, a.Card.RootID)
	// As people read it where no markup shows: times in UTC.
	text := bot.PlainTimes(card.Title + "\n" + strings.Join(card.Lines, "\n"))
	for _, want := range []string{"✅", "approved by bob (admin) at 2026-11-20 ", "Ran at 2026-11-20 ", "scaled"} {
		if !strings.Contains(text, want) {
			t.Fatalf("final card lacks %q:\n%s", want, text)
		}
	}
	if len(card.Buttons) != 0 {
		t.Fatalf("a closed card keeps buttons: %+v", card.Buttons)
	}
	// The same click again (a replay that got past the platform, or a
	// double click) changes nothing.
	r.click(bob, apChannel, "chatops:approve:"+strconv.FormatInt(id, 10)+":"+a.Nonce)
	r.wantRuns(1)
	r.wantAudit("command/allowed", "request/pending", "vote/approved", "execute/started", "result/ok", "vote/closed")
}

func testApprovalRefusals(t *testing.T, s bot.Store) {
	r := newApprovalRig(t, s, policy.DefaultRule)
	id := r.request(5)
	other := r.request(6)
	btn := r.buttons(id)["Approve"]
	nonce := btn[strings.LastIndexByte(btn, ':')+1:]
	otherNonce := r.approval(other).Nonce
	idText := strconv.FormatInt(id, 10)
	cases := []struct {
		name   string
		do     func() bot.Answer
		code   string
		answer string
	}{
		{"self-approval by button", func() bot.Answer { return r.click(alice, apChannel, btn) }, "vote/self_approval", "own request"},
		{"self-approval by command", func() bot.Answer { return r.run(alice, apChannel, "approve "+idText) }, "vote/self_approval", "own request"},
		{"insufficient role", func() bot.Answer { return r.click(carol, apChannel, btn) }, "vote/insufficient_role", "admin role"},
		{"viewer", func() bot.Answer {
			return r.click(bot.Identity{Platform: "slack", UserID: "USTRANGER"}, apChannel, btn)
		}, "vote/insufficient_role", "admin role"},
		{"wrong channel", func() bot.Answer { return r.click(bob, apOther, btn) }, "vote/wrong_channel", "channel where it was made"},
		{"tampered nonce", func() bot.Answer {
			return r.click(bob, apChannel, "chatops:approve:"+idText+":"+strings.Repeat("0", len(nonce)))
		}, "vote/tampered", "does not belong"},
		{"another request's id on this card's button", func() bot.Answer {
			return r.click(bob, apChannel, "chatops:approve:"+strconv.FormatInt(other, 10)+":"+nonce)
		}, "vote/tampered", "does not belong"},
		{"this request's id with another card's nonce", func() bot.Answer {
			return r.click(bob, apChannel, "chatops:approve:"+idText+":"+otherNonce)
		}, "vote/tampered", "does not belong"},
		{"unknown request", func() bot.Answer { return r.run(bob, apChannel, "approve 999") }, "vote/unknown_request", "no request #999"},
		{"forged button id", func() bot.Answer { return r.click(bob, apChannel, "chatops:launch:1:x") }, "command/refused", "not one chatops knows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.t = t
			before := len(r.audit())
			ans := c.do()
			if !strings.Contains(ans.Title, c.answer) || !ans.Private {
				t.Fatalf("answer %q (private %v), want one saying %q", ans.Title, ans.Private, c.answer)
			}
			log := r.audit()
			rows := 1
			if strings.Contains(c.name, "by command") || c.code == "vote/unknown_request" {
				rows = 2 // the router audits the command, then the approvals the vote
			}
			if len(log) != before+rows {
				t.Fatalf("audit rows %d → %d", before, len(log))
			}
			if got := log[len(log)-1]; got != c.code {
				t.Fatalf("audited as %q, want %q", got, c.code)
			}
			r.wantRuns(0)
			if st := r.approval(id).Status; st != bot.ApprovalPending {
				t.Fatalf("request is %s after a refused vote", st)
			}
		})
	}
	r.t = t
	// A Member cannot even ask.
	if ans := r.run(carol, apChannel, "scale orders 3"); !strings.Contains(ans.Title, "needs the admin role") {
		t.Fatalf("member's request: %q", ans.Title)
	}
	// Scaling to zero needs an owner, to ask and to approve.
	if ans := r.run(alice, apChannel, "scale orders 0"); !strings.Contains(ans.Title, "needs the owner role") {
		t.Fatalf("admin asking for zero: %q", ans.Title)
	}
	r.wantAudit("command/refused", "request/insufficient_role")
}

func testApprovalExpires(t *testing.T, s bot.Store) {
	r := newApprovalRig(t, s, policy.DefaultRule)
	id := r.request(5)
	btn := r.buttons(id)["Approve"]
	r.clock.Advance(15 * time.Minute)
	if ans := r.click(bob, apChannel, btn); !strings.Contains(ans.Title, "expired") {
		t.Fatalf("late approval: %q", ans.Title)
	}
	r.wantRuns(0)
	n, err := r.ap.ExpireDue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	if n, _ := r.ap.ExpireDue(context.Background()); n != 0 {
		t.Fatalf("expired twice: %d", n)
	}
	a := r.approval(id)
	card := r.cards.Card(t, a.Card.RootID)
	if a.Status != bot.ApprovalExpired || !strings.Contains(strings.Join(card.Lines, "\n"), "Expired") || len(card.Buttons) != 0 {
		t.Fatalf("expired request: %s, card %+v", a.Status, card)
	}
	r.wantAudit("vote/expired", "expire/expired")
}

func testApprovalStale(t *testing.T, s bot.Store) {
	r := newApprovalRig(t, s, policy.DefaultRule)
	id := r.request(5)
	r.target.Bump() // someone changed the deployment meanwhile
	ans := r.click(bob, apChannel, r.buttons(id)["Approve"])
	r.wantRuns(0)
	a := r.approval(id)
	if a.Status != bot.ApprovalStale || !strings.Contains(a.Result, "target changed") {
		t.Fatalf("stale request: %s %q (answer %q)", a.Status, a.Result, ans.Title)
	}
	r.wantAudit("vote/approved", "result/stale")
}

func testApprovalConcurrent(t *testing.T, s bot.Store) {
	users := map[string]policy.Role{"slack:UALICE": policy.Admin}
	for i := range 50 {
		users[fmt.Sprintf("slack:UADMIN%02d", i)] = policy.Admin
	}
	r := newApprovalRigWith(t, s, policy.DefaultRule, users)
	id := r.request(5)
	btn := r.buttons(id)["Approve"]
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := bot.Identity{Platform: "slack", UserID: fmt.Sprintf("UADMIN%02d", i)}
			var a bottest.Answers
			command.NewButtons(r.ap, r.router, nil).HandleClick(context.Background(),
				bot.Click{User: who, Platform: "slack", Channel: apChannel, ButtonID: btn}, &a)
		}()
	}
	wg.Wait()
	r.wantRuns(1)
	a := r.approval(id)
	if a.Status != bot.ApprovalDone || len(a.Votes) != 1 {
		t.Fatalf("after 50 approvals: %s with %d votes", a.Status, len(a.Votes))
	}
	log := r.audit()
	executes := 0
	for _, l := range log {
		if l == "execute/started" {
			executes++
		}
	}
	if executes != 1 {
		t.Fatalf("%d executions audited", executes)
	}
}

func testApprovalDenyCancel(t *testing.T, s bot.Store) {
	r := newApprovalRig(t, s, policy.DefaultRule)
	id := r.request(5)
	b := r.buttons(id)
	if ans := r.click(bob, apChannel, b["Cancel (requester)"]); !strings.Contains(ans.Title, "only the requester") {
		t.Fatalf("bob cancelling alice's request: %q", ans.Title)
	}
	if ans := r.click(alice, apChannel, b["Deny"]); !strings.Contains(ans.Title, "cancel it instead") {
		t.Fatalf("alice denying her own request: %q", ans.Title)
	}
	if ans := r.click(carol, apChannel, b["Deny"]); !strings.Contains(ans.Title, "admin role") {
		t.Fatalf("a member denying: %q", ans.Title)
	}
	r.click(bob, apChannel, b["Deny"])
	if st := r.approval(id).Status; st != bot.ApprovalDenied {
		t.Fatalf("denied request is %s", st)
	}
	if ans := r.run(olga, apChannel, "approve "+strconv.FormatInt(id, 10)); !strings.Contains(ans.Title, "closed") {
		t.Fatalf("approving a denied request: %q", ans.Title)
	}
	id2 := r.request(4)
	r.click(alice, apChannel, r.buttons(id2)["Cancel (requester)"])
	if st := r.approval(id2).Status; st != bot.ApprovalCancelled {
		t.Fatalf("cancelled request is %s", st)
	}
	r.wantRuns(0)
	r.wantAudit("cancel/not_requester", "deny/self_approval", "deny/insufficient_role", "deny/denied", "vote/closed", "cancel/cancelled")
}

func testApprovalBreakGlass(t *testing.T, s bot.Store) {
	off := newApprovalRig(t, s, policy.DefaultRule)
	id := func(r *approvalRig, who bot.Identity) int64 {
		a := r.run(who, apChannel, "scale orders 9")
		var n int64
		fmt.Sscanf(a.Title, "Request #%d", &n)
		return n
	}
	n := id(off, olga)
	if ans := off.ap.BreakGlass(context.Background(), bot.Ballot{Who: olga, Channel: apChannel, ID: n, Reason: "payments are down for everyone", Via: "command"}); !strings.Contains(ans.Title, "break-glass is off") {
		t.Fatalf("break-glass while off: %q", ans.Title)
	}
	off.wantRuns(0)

	rule := policy.DefaultRule
	rule.BreakGlass = true
	r := newApprovalRig(t, s, rule)
	n = id(r, olga)
	if ans := r.ap.BreakGlass(context.Background(), bot.Ballot{Who: olga, Channel: apChannel, ID: n, Reason: "now", Via: "command"}); !strings.Contains(ans.Title, "written reason") {
		t.Fatalf("break-glass without a reason: %q", ans.Title)
	}
	a := r.id(alice)
	if ans := r.ap.BreakGlass(context.Background(), bot.Ballot{Who: alice, Channel: apChannel, ID: a, Reason: "payments are down for everyone", Via: "command"}); !strings.Contains(ans.Title, "owner role") {
		t.Fatalf("an admin's break-glass: %q", ans.Title)
	}
	r.wantRuns(0)
	ans := r.ap.BreakGlass(context.Background(), bot.Ballot{Who: olga, Channel: apChannel, ID: n, Reason: "payments are down for everyone", Via: "command"})
	r.wantRuns(1)
	if st := r.approval(n).Status; st != bot.ApprovalDone {
		t.Fatalf("break-glass request is %s (%q)", st, ans.Title)
	}
	flagged := false
	err := s.AuditRecords(context.Background(), time.Time{}, func(rec bot.AuditRecord) error {
		flagged = flagged || rec.Flagged && rec.Kind == bot.AuditBreakGlass && strings.Contains(rec.Detail, "payments are down")
		return nil
	})
	if err != nil || !flagged {
		t.Fatalf("break-glass not flagged in the audit log (%v)", err)
	}
	announced := false
	for _, m := range r.cards.Posts() {
		announced = announced || strings.Contains(m.Title, "Break-glass")
	}
	if !announced {
		t.Fatal("break-glass not announced")
	}
}

// id makes who request a scale to 8.
func (r *approvalRig) id(who bot.Identity) int64 {
	a := r.run(who, apChannel, "scale orders 8")
	var n int64
	fmt.Sscanf(a.Title, "Request #%d", &n)
	return n
}

func testApprovalRoleLost(t *testing.T, s bot.Store) {
	rule := policy.DefaultRule
	rule.Quorum = 2
	users := map[string]policy.Role{"slack:UALICE": policy.Admin, "slack:UBOB": policy.Admin, "slack:UOLGA": policy.Owner}
	r := newApprovalRigWith(t, s, rule, users)
	id := r.request(5)
	btn := r.buttons(id)["Approve"]
	r.click(bob, apChannel, btn)
	users["slack:UBOB"] = policy.Member // bob leaves the admins
	r.click(olga, apChannel, btn)
	r.wantRuns(0)
	a := r.approval(id)
	if a.Status != bot.ApprovalFailed || !strings.Contains(a.Result, "no longer holds") {
		t.Fatalf("request after an approver lost the role: %s %q", a.Status, a.Result)
	}
	r.wantAudit("result/insufficient_role")
}

func testApprovalHourlyLimit(t *testing.T, s bot.Store) {
	rule := policy.DefaultRule
	rule.MaxRequestsPerHour = 2
	r := newApprovalRig(t, s, rule)
	r.request(3)
	r.request(4)
	if ans := r.run(alice, apChannel, "scale orders 5"); !strings.Contains(ans.Title, "limit 2") {
		t.Fatalf("third request in an hour: %q", ans.Title)
	}
	r.clock.Advance(61 * time.Minute)
	r.request(5)
	r.wantAudit("request/rate_limited")
}

// A platform that sends a member's roles with each interaction and has no
// source of current roles: the roles reported with the request and the
// votes are kept, so the check at execution sees the same admins. (Discord
// has such a source in production: see testApprovalLiveRoles.)
func testApprovalRolesFromGroups(t *testing.T, s bot.Store) {
	r := newApprovalRigAccess(t, s, policy.DefaultRule, policy.Access{
		Default: policy.Viewer, Groups: map[string]policy.Role{"discord:900": policy.Admin},
	})
	ana := bot.Identity{Platform: "discord", UserID: "201", Name: "ana", Groups: []string{"900"}}
	ben := bot.Identity{Platform: "discord", UserID: "202", Name: "ben", Groups: []string{"900", "901"}}
	a := r.run(ana, apChannel, "scale orders 4")
	var id int64
	if _, err := fmt.Sscanf(a.Title, "Request #%d", &id); err != nil {
		t.Fatalf("request: %q", a.Title)
	}
	if got := r.approval(id).Requester.Groups; strings.Join(got, ",") != "900" {
		t.Fatalf("requester groups stored as %q", got)
	}
	nobody := bot.Identity{Platform: "discord", UserID: "203", Groups: []string{"901"}}
	if ans := r.click(nobody, apChannel, r.buttons(id)["Approve"]); !strings.Contains(ans.Title, "admin role") {
		t.Fatalf("a member without the admin role approving: %q", ans.Title)
	}
	r.click(ben, apChannel, r.buttons(id)["Approve"])
	r.wantRuns(1)
	if ap := r.approval(id); ap.Status != bot.ApprovalDone || strings.Join(ap.Votes[0].Voter.Groups, ",") != "900,901" {
		t.Fatalf("after approval: %s, voter groups %q", ap.Status, ap.Votes[0].Voter.Groups)
	}
}
