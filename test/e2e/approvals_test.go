package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// What testdata/approvals.yaml names besides what commands.yaml does.
const (
	slackOpsTwo       = "C0OPSTWO"           // the second allowed Slack channel
	discordOpsThread  = "100000000000000014" // a thread of discordOpsChannel
	discordOpsTwo     = "100000000000000015" // the second allowed Discord channel
	discordSRERole    = "100000000000000003" // @sre: admin
	revisionAnnotated = "deployment.kubernetes.io/revision"
	// cliTimeout bounds one run of the chatops CLI (audit export, verify).
	cliTimeout = time.Minute
)

// chatPerson is someone of approvals.yaml, as both platforms know them.
type chatPerson struct {
	name         string
	slackID      string
	discordID    string
	discordRoles []string
}

var (
	// ana is an admin on both platforms, named by user id.
	ana = chatPerson{name: "ana", slackID: "U0ANA", discordID: "200000000000000001"}
	// bob is an admin: on Slack by user id, on Discord only through @sre.
	bob = chatPerson{name: "bob", slackID: "U0BOB", discordID: "200000000000000002", discordRoles: []string{discordSRERole}}
	// meg is a member.
	meg = chatPerson{name: "meg", slackID: "U0MEG", discordID: "200000000000000003"}
	// liz is a member on Slack, where users.info knows her display name.
	liz = chatPerson{name: "liz", slackID: "U0LIZ"}
	// vic is named nowhere: a viewer.
	vic = chatPerson{name: "vic", slackID: "U0VIC", discordID: "200000000000000004"}
)

// TestApprovals: destructive commands typed on Slack and on Discord wait
// for a second, different admin: the bot posts a card with the plan (the
// Discord one in the thread the command was typed in), the second admin's
// signed click carries it out exactly once against a real kube-apiserver,
// as the ServiceAccount of deploy/kubernetes/base/rbac.yaml, and the card is
// edited to say who asked, who approved, when it ran and how it ended.
// Self-approval, a member's or viewer's approval, an approval from the
// other allowed channel and a button with a forged nonce are refused and
// audited; unsigned and replayed clicks get 401 before anything is read;
// a target changed after the request is not touched. Scale goes through
// the scale subresource; a narrow silence by a member lands in a real
// Alertmanager at once while a broad one waits for approval; an incident's
// Acknowledge button works for a member. Everything is in the audit log of
// the PostgreSQL store, which `chatops audit export` lists and `chatops
// audit verify` accepts.
//
// Expiry is not played here: the shortest expiry the configuration
// accepts is a minute, too slow for this test; bot/storetest and the
// policy tests pin it with a controllable clock.
func TestApprovals(t *testing.T) {
	started := time.Now()
	e := setupCommandsWith(t, harness.Postgres, harness.RepoPath(t, "test", "e2e", "testdata", "approvals.yaml"))
	t.Logf("cluster, workload and bot ready in %s", time.Since(started).Round(time.Millisecond))
	// Votes and executions read each person's roles from Discord (GET
	// /channels/{id} for the guild, GET /guilds/{id}/members/{id}), not
	// from the interaction: the stand-in holds the same as the
	// interactions report.
	e.cfg.Discord.SetChannelGuild(discordGuild, discordOpsChannel, discordOpsTwo)
	for _, p := range []chatPerson{ana, bob, meg, vic} {
		e.cfg.Discord.SetMember(discordGuild, p.discordID, p.discordRoles...)
	}
	// Cards and timelines name people as Slack shows them (users.info):
	// liz has a display name; for the others users.info answers
	// user_not_found and the name the request carried stands in.
	e.cfg.Slack.SetUsers(slackstandin.User{ID: liz.slackID, Name: "liz", RealName: "Elizabeth Ortiz", DisplayName: lizDisplayName})

	type record struct {
		side                     approvalSide
		done, refused, stale, sc int64
	}
	var records []*record
	for _, p := range []approvalSide{&slackApprovals{e: e}, &discordApprovals{e: e}} {
		r := &record{side: p}
		records = append(records, r)
		t.Run(p.name(), func(t *testing.T) {
			t.Run("rollback-approved", func(t *testing.T) { rollbackApproved(t, e, p, &r.done) })
			t.Run("refusals", func(t *testing.T) { approvalRefusals(t, e, p, &r.refused) })
			t.Run("stale-target", func(t *testing.T) { staleTarget(t, e, p, &r.stale) })
		})
	}
	// Scale on Slack as ana asks and bob approves; then on Discord as bob,
	// an admin through his guild role only, asks and ana approves.
	t.Run("slack/scale", func(t *testing.T) { scaleApproved(t, e, records[0].side, ana, bob, 3, &records[0].sc) })
	t.Run("discord/scale-requested-through-role", func(t *testing.T) {
		scaleApproved(t, e, records[1].side, bob, ana, 2, &records[1].sc)
	})
	var silenceCard int64
	t.Run("slack/silence", func(t *testing.T) { silences(t, e, records[0].side.(*slackApprovals), &silenceCard) })
	var incident int64
	t.Run("slack/incident-acknowledge", func(t *testing.T) { incidentAcknowledged(t, e, &incident) })
	var nickIncident int64
	t.Run("discord/incident-acknowledge-by-nick", func(t *testing.T) { incidentAcknowledgedByNick(t, e, &nickIncident) })

	t.Run("audit", func(t *testing.T) {
		rows := auditExport(t, e)
		for _, r := range records {
			t.Run(r.side.name(), func(t *testing.T) {
				checkDoneAudited(t, rows, r.done, ana, bob, "rollback")
				checkRefusalsAudited(t, rows, r.refused)
				checkStaleAudited(t, rows, r.stale)
			})
		}
		t.Run("slack/scale", func(t *testing.T) { checkDoneAudited(t, rows, records[0].sc, ana, bob, "scale") })
		t.Run("discord/scale", func(t *testing.T) { checkDoneAudited(t, rows, records[1].sc, bob, ana, "scale") })
		t.Run("silence", func(t *testing.T) { checkSilencesAudited(t, rows, silenceCard) })
		t.Run("incident", func(t *testing.T) {
			// The audit log keeps the platform and id, and the name as it
			// was seen.
			checkAckAudited(t, rows, incident, bot.Identity{Platform: "slack", UserID: liz.slackID, Name: lizDisplayName})
			checkAckAudited(t, rows, nickIncident, bot.Identity{Platform: "discord", UserID: meg.discordID, Name: megNick})
		})
		t.Run("verify", func(t *testing.T) {
			out, code := runChatops(t, e, "audit", "verify", "--config", e.cfg.ConfigPath)
			if code != 0 || !strings.Contains(out, "audit log verified") {
				t.Errorf("chatops audit verify: exit %d, want 0:\n%s", code, out)
			}
		})
	})

	// Every write the bot made was allowed by the shipped RBAC.
	t.Run("rbac-enough", func(t *testing.T) {
		for _, r := range e.tap.requests() {
			if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
				t.Errorf("the API server refused the bot: %s (check deploy/kubernetes/base/rbac.yaml)", r)
			}
		}
	})
	t.Logf("TestApprovals took %s", time.Since(started).Round(time.Millisecond))
}

// ---------------------------------------------------------------------------
// the scenarios

var requestWaiting = regexp.MustCompile(`Request #(\d+) is waiting for 0 of 1 approvals`)

// request types c as who where the platform's requests are made and
// returns the request's number from the private answer. The scenarios
// below also hand it to the audit checks through their out parameter as
// soon as it is known, so a scenario that fails midway is still checked
// there.
func request(t *testing.T, p approvalSide, who chatPerson, c opsCommand) int64 {
	t.Helper()
	a := p.command(t, who, c, false)
	m := requestWaiting.FindStringSubmatch(a.text)
	if m == nil {
		t.Fatalf("%s typed %q: the answer does not say a request is waiting:\n%s", who.name, c.text, a.text)
	}
	if !a.private {
		t.Errorf("%s typed %q: the \"request is waiting\" answer was public", who.name, c.text)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// rollbackApproved is the done-when: ana asks for a rollback, bob approves
// it on the card, and it runs once.
func rollbackApproved(t *testing.T, e *commandsEnv, p approvalSide, out *int64) {
	before := settledRollout(t, e)
	prev := before.previous(t)
	id := request(t, p, ana, opsCommand{"rollback orders-service", dcmd("rollback", str("service", "orders-service"))})
	*out = id

	card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })
	for _, want := range []string{
		fmt.Sprintf("Request #%d: rollback deployment bakery-ia/orders-service", id),
		fmt.Sprintf("revision %d → %d", before.revision, prev),
		fmt.Sprintf("image %s → %s", before.image, before.rs[prev]),
		"Requested by", "ana",
	} {
		if !strings.Contains(card.text, want) {
			t.Errorf("the card does not show %q:\n%s", want, card.text)
		}
	}
	p.checkCardPlace(t, card)
	if now := currentRollout(t, e); now.revision != before.revision {
		t.Fatalf("the deployment moved to revision %d before anyone approved", now.revision)
	}

	approve := p.clickRequest(t, bob, card, buttonOf(t, card, "approve"))
	if ans := deliverClick(t, e, approve); !regexp.MustCompile(fmt.Sprintf(`Request #%d: Ran at`, id)).MatchString(ans) {
		t.Errorf("bob's approval was answered %q, want that request #%d ran", ans, id)
	}

	after := settledRollout(t, e)
	checkRolledBack(t, before, after, prev)

	// The card follows the rollout to its end (rollout_test.go): wait for
	// it, so the edits counted below are all there will be.
	closed := waitCard(t, p, id, "edited to its result, without buttons, its rollout followed", func(c cardView) bool {
		return len(c.buttons) == 0 && strings.Contains(c.text, "Ran at") && strings.Contains(c.text, "✅ Rollout: ")
	})
	for _, want := range []string{
		`Requested by[\s\S]*ana`,
		`approved by bob \(admin\) at (` + slackDateRE + `|` + discordTimeRE + `)`,
		`Ran at (` + slackDateRE + `|` + discordTimeRE + `): orders-service rolled back: ` + regexp.QuoteMeta(fmt.Sprintf("revision %d → %d", before.revision, prev)),
		`✅ Request #` + strconv.FormatInt(id, 10),
	} {
		if !regexp.MustCompile(want).MatchString(closed.text) {
			t.Errorf("the closed card does not match %s:\n%s", want, closed.text)
		}
	}

	// The very same signed click again: the replay guard answers 401
	// before reading it, and nothing runs twice.
	t.Run("replayed-click", func(t *testing.T) {
		answers := len(approve.answers())
		if code := postClick(t, e, approve, approve.hdr); code != http.StatusUnauthorized {
			t.Errorf("the replayed approval: got %d, want 401", code)
		}
		time.Sleep(settle)
		if again := settledRollout(t, e); again.revision != after.revision || again.rsCount != after.rsCount || again.generation != after.generation {
			t.Errorf("the replay moved the deployment: %+v, was %+v", again, after)
		}
		if n := len(approve.answers()); n != answers {
			t.Errorf("the replayed click got %d more answers", n-answers)
		}
		if c, _ := p.card(id); c.edits != closed.edits {
			t.Errorf("the card was edited %d more times after the replay", c.edits-closed.edits)
		}
	})
}

// approvalRefusals: on one pending rollback, every way of approving it
// wrongly is refused (and audited, checked later), and spoiled clicks are
// refused before they are read. Nothing runs; ana finally cancels it.
func approvalRefusals(t *testing.T, e *commandsEnv, p approvalSide, out *int64) {
	before := settledRollout(t, e)
	id := request(t, p, ana, opsCommand{"rollback orders-service", dcmd("rollback", str("service", "orders-service"))})
	*out = id
	card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })
	approveID := buttonOf(t, card, "approve")

	refusedClick := func(t *testing.T, who chatPerson, button, want string) {
		t.Helper()
		if ans := deliverClick(t, e, p.clickRequest(t, who, card, button)); !strings.Contains(ans, want) {
			t.Errorf("%s's click was answered %q, want %q", who.name, ans, want)
		}
	}
	t.Run("self-approval", func(t *testing.T) {
		refusedClick(t, ana, approveID, "you cannot approve your own request")
	})
	t.Run("member", func(t *testing.T) {
		refusedClick(t, meg, approveID, "approving this needs the admin role; you are member")
	})
	t.Run("viewer", func(t *testing.T) {
		refusedClick(t, vic, approveID, "approving this needs the admin role; you are viewer")
	})
	t.Run("wrong-channel", func(t *testing.T) {
		a := p.command(t, bob, opsCommand{fmt.Sprintf("approve %d", id), dcmd("approve", num("id", int(id)))}, true)
		if want := fmt.Sprintf("Request #%d can only be decided in the channel where it was made.", id); !strings.Contains(a.text, want) {
			t.Errorf("bob's approval from the other channel was answered %q, want %q", a.text, want)
		}
	})
	t.Run("tampered-nonce", func(t *testing.T) {
		forged := approveID[:strings.LastIndex(approveID, ":")+1] + "0123456789abcdef"
		refusedClick(t, bob, forged, fmt.Sprintf("That button does not belong to request #%d.", id))
	})
	t.Run("unsigned", func(t *testing.T) {
		r := p.clickRequest(t, bob, card, approveID)
		if code := postClick(t, e, r, p.unsigned()); code != http.StatusUnauthorized {
			t.Errorf("an unsigned click: got %d, want 401", code)
		}
		time.Sleep(settle)
		if n := len(r.answers()); n != 0 {
			t.Errorf("the unsigned click got %d answers", n)
		}
	})

	time.Sleep(settle)
	if c, _ := p.card(id); len(c.buttons) != 3 || !strings.Contains(c.text, "pending") {
		t.Errorf("after the refusals the card is no longer pending:\n%s", c.text)
	}
	if now := settledRollout(t, e); now.revision != before.revision || now.rsCount != before.rsCount || now.generation != before.generation {
		t.Errorf("a refused approval moved the deployment: %+v, was %+v", now, before)
	}

	if ans := deliverClick(t, e, p.clickRequest(t, ana, card, buttonOf(t, card, "cancel"))); !strings.Contains(ans, "cancelled") {
		t.Errorf("ana's cancel was answered %q", ans)
	}
	waitCard(t, p, id, "closed as cancelled", func(c cardView) bool {
		return len(c.buttons) == 0 && strings.Contains(c.text, "Cancelled by the requester")
	})
}

// staleTarget: a restart is requested, then someone changes the
// deployment; the approval finds the target changed and does not touch it.
func staleTarget(t *testing.T, e *commandsEnv, p approvalSide, out *int64) {
	settledRollout(t, e)
	id := request(t, p, ana, opsCommand{"restart orders-service", dcmd("restart", str("service", "orders-service"))})
	*out = id
	card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })

	// An annotation on the Deployment itself bumps its generation (the API
	// server counts annotation changes of Deployments) without a new pod
	// template, so no ReplicaSet appears: any new one would be the bot's.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e.chatops/touched-by-hand":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := e.cluster.Clientset().AppsV1().Deployments(opsNamespace).Patch(t.Context(), "orders-service",
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch orders-service: %v", err)
	}
	before := settledRollout(t, e)

	ans := deliverClick(t, e, p.clickRequest(t, bob, card, buttonOf(t, card, "approve")))
	if want := fmt.Sprintf("Request #%d: Not run at", id); !strings.Contains(ans, want) || !strings.Contains(ans, "the target changed") {
		t.Errorf("bob's approval was answered %q, want %q ... the target changed", ans, want)
	}
	closed := waitCard(t, p, id, "closed as not run", func(c cardView) bool {
		return len(c.buttons) == 0 && strings.Contains(c.text, "the target changed")
	})
	if !strings.Contains(closed.text, "❌") {
		t.Errorf("the stale card is not marked as failed:\n%s", closed.text)
	}
	time.Sleep(settle)
	after := settledRollout(t, e)
	if after.rsCount != before.rsCount || after.revision != before.revision || after.generation != before.generation || after.restartedAt != before.restartedAt {
		t.Errorf("the stale restart changed the deployment: %+v, was %+v", after, before)
	}
}

// scaleApproved: who asks for a scale, approver approves, and the replicas
// change through the scale subresource.
func scaleApproved(t *testing.T, e *commandsEnv, p approvalSide, who, approver chatPerson, replicas int, out *int64) {
	before := settledRollout(t, e)
	if before.replicas == int32(replicas) {
		t.Fatalf("orders-service already has %d replicas", replicas)
	}
	id := request(t, p, who, opsCommand{fmt.Sprintf("scale orders-service %d", replicas),
		dcmd("scale", str("service", "orders-service"), num("replicas", replicas))})
	*out = id
	card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })
	if want := fmt.Sprintf("replicas %d → %d", before.replicas, replicas); !strings.Contains(card.text, want) {
		t.Errorf("the card does not show %q:\n%s", want, card.text)
	}
	tapBefore := e.tap.count()
	ans := deliverClick(t, e, p.clickRequest(t, approver, card, buttonOf(t, card, "approve")))
	if !strings.Contains(ans, fmt.Sprintf("Request #%d: Ran at", id)) {
		t.Errorf("%s's approval was answered %q, want that request #%d ran", approver.name, ans, id)
	}
	d, err := e.cluster.Clientset().AppsV1().Deployments(opsNamespace).Get(t.Context(), "orders-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptrValue(d.Spec.Replicas); got != int32(replicas) {
		t.Errorf("orders-service spec.replicas = %d, want %d", got, replicas)
	}
	if scaled := scaleWrites(e, tapBefore); len(scaled) != 1 {
		t.Errorf("the bot wrote the scale subresource %d times (%v), want once: %v", len(scaled), scaled, e.tap.requests()[tapBefore:])
	}
	closed := waitCard(t, p, id, "closed", func(c cardView) bool { return len(c.buttons) == 0 })
	if want := fmt.Sprintf("orders-service scaled: replicas %d → %d", before.replicas, replicas); !strings.Contains(closed.text, want) {
		t.Errorf("the closed card does not say %q:\n%s", want, closed.text)
	}
	if after := settledRollout(t, e); after.revision != before.revision || after.rsCount != before.rsCount {
		t.Errorf("scaling changed the rollout: %+v, was %+v", after, before)
	}
}

// scaleWrites are the successful writes of orders-service's scale
// subresource the API server got since the tap's request number from; a
// plan's dry run (dryRun=All) writes nothing and is not one.
func scaleWrites(e *commandsEnv, from int) []string {
	var scaled []string
	for _, r := range e.tap.requests()[from:] {
		if strings.Contains(r.Path, "dryRun=") {
			continue
		}
		if r.Method == http.MethodPut && strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "/deployments/orders-service/scale") && r.Status == http.StatusOK {
			scaled = append(scaled, r.String())
		}
	}
	return scaled
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// silences: meg, a member, silences one alert of one service at once, in
// the real Alertmanager; a broad silence waits for approval (out: its
// request number).
func silences(t *testing.T, e *commandsEnv, p *slackApprovals, out *int64) {
	const matchers = "alertname=ServiceDown,service=orders-service"
	before := listSilences(t, e.am)
	a := p.command(t, meg, opsCommand{text: "silence " + matchers + " 30m deploying a fix"}, false)
	if !regexp.MustCompile(`✅ silence [0-9a-f-]{36}: \{alertname="ServiceDown",service="orders-service"\}`).MatchString(a.text) {
		t.Errorf("meg's narrow silence was answered %q, want it created at once", a.text)
	}
	var made []amSilence
	for _, s := range listSilences(t, e.am) {
		if !slices.ContainsFunc(before, func(b amSilence) bool { return b.ID == s.ID }) {
			made = append(made, s)
		}
	}
	if len(made) != 1 {
		t.Fatalf("%d new silences in Alertmanager, want 1: %+v", len(made), made)
	}
	s := made[0]
	if got := matcherText(s.policyMatchers()); got != `alertname="ServiceDown",service="orders-service"` {
		t.Errorf("the silence matches %s", got)
	}
	if !strings.Contains(s.CreatedBy, "meg") || !strings.Contains(s.CreatedBy, meg.slackID) {
		t.Errorf("the silence was created by %q, want meg (%s) named", s.CreatedBy, meg.slackID)
	}
	if s.Comment != "deploying a fix" || s.Status.State != "active" {
		t.Errorf("the silence: comment %q, state %q; want \"deploying a fix\", active", s.Comment, s.Status.State)
	}
	if d := s.EndsAt.Sub(s.StartsAt); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("the silence lasts %s, want 30m", d)
	}

	// A matcher that also matches the empty string would silence alerts
	// without that label too (everything, here): Alertmanager refuses such
	// a silence, and the bot says so before asking anyone.
	a = p.command(t, meg, opsCommand{text: `silence alertname=~".*" 30m x`}, false)
	if !strings.Contains(a.text, "every matcher also matches alerts without that label") || !a.private {
		t.Errorf("meg's silence of everything was answered %q (private %v), want a private explanation", a.text, a.private)
	}
	id := request(t, p, meg, opsCommand{text: `silence alertname=~".+" 30m x`})
	*out = id
	card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })
	if !strings.Contains(card.text, "broad silence") {
		t.Errorf("the broad silence's card does not warn that it is broad:\n%s", card.text)
	}
	time.Sleep(settle)
	if n := len(listSilences(t, e.am)); n != len(before)+1 {
		t.Errorf("%d silences in Alertmanager, want %d: the broad one must wait", n, len(before)+1)
	}
}

// incidentAcknowledged: an incident's root in Slack carries an Acknowledge
// button; liz, a member, clicks it and the root names her by her Slack
// display name (out: the incident's number).
func incidentAcknowledged(t *testing.T, e *commandsEnv, out *int64) {
	id := e.bot.MustPostWebhook(t, harness.Fixture(t, "service-down-firing.json"))
	*out = id
	marker := fmt.Sprintf("chatops:incident:%d:", id)
	root := waitSlackRoot(t, e.cfg.Slack, slackIncidents, marker, "")
	ack, resolve := fmt.Sprintf("chatops:incident:ack:%d", id), fmt.Sprintf("chatops:incident:resolve:%d", id)
	// The root is a P1: it offers the three other severities.
	setP0 := fmt.Sprintf("chatops:incident:severity:%d:P0", id)
	severities := []string{setP0, fmt.Sprintf("chatops:incident:severity:%d:P2", id), fmt.Sprintf("chatops:incident:severity:%d:P3", id)}
	if got, want := root.ActionIDs(), append([]string{ack, resolve}, severities...); !slices.Equal(got, want) {
		// Not fatal: the click below names the button itself.
		t.Errorf("the incident's root has buttons %v, want %v; its attachments:\n%s", got, want, root.Attachments)
	}
	click := root.Click(liz.slackID, liz.name, ack)
	if code, err := e.cfg.Slack.SendBlockAction(t.Context(), e.bot.BaseURL+"/slack/interactions", e.secret, click); err != nil || code != http.StatusOK {
		t.Fatalf("liz's click on Acknowledge: %d %v, want 200", code, err)
	}
	harness.Eventually(t, "an answer to liz's click", func() (bool, string) {
		ans := e.cfg.Slack.Responses(click.ResponseURL)
		return len(ans) > 0, "no answer yet"
	})
	if ans := e.cfg.Slack.Responses(click.ResponseURL); len(ans) != 1 || !strings.Contains(ans[0].Text, "acknowledged by "+lizDisplayName) {
		t.Errorf("liz's click was answered %+v, want one answer saying she acknowledged it", ans)
	}

	var edited slackstandin.Message
	harness.Eventually(t, "the root edited to show the acknowledgement", func() (bool, string) {
		r := findSlack(e.cfg.Slack.Roots(slackIncidents), root.TS)
		if r == nil {
			return false, "the root is gone"
		}
		edited = *r
		text := slackText(*r)
		// Her display name from users.info, and the time as a Slack date
		// each reader sees in their own time zone.
		return regexp.MustCompile(`Acknowledged\*?\s+` + regexp.QuoteMeta(lizDisplayName) + ` at ` + slackDateRE).MatchString(text), text
	})
	// Resolve stays, so the buttons were read; Acknowledge is gone.
	if got, want := edited.ActionIDs(), append([]string{resolve}, severities...); !slices.Equal(got, want) {
		t.Errorf("the acknowledged root has buttons %v, want %v; its attachments:\n%s", got, want, edited.Attachments)
	}

	// Setting the severity needs an admin: meg's click is refused, ana's
	// makes it a P0.
	for _, who := range []chatPerson{meg, ana} {
		c := edited.Click(who.slackID, who.name, setP0)
		if code, err := e.cfg.Slack.SendBlockAction(t.Context(), e.bot.BaseURL+"/slack/interactions", e.secret, c); err != nil || code != http.StatusOK {
			t.Fatalf("%s's click on Set P0: %d %v, want 200", who.name, code, err)
		}
		harness.Eventually(t, "an answer to "+who.name+"'s click on Set P0", func() (bool, string) {
			return len(e.cfg.Slack.Responses(c.ResponseURL)) > 0, "no answer yet"
		})
		ans := e.cfg.Slack.Responses(c.ResponseURL)[0].Text
		if who.name == meg.name && !strings.Contains(ans, "needs the admin role") {
			t.Errorf("meg's Set P0 was answered %q, want a refusal", ans)
		}
		if who.name == ana.name && !strings.Contains(ans, "severity set by ana") {
			t.Errorf("ana's Set P0 was answered %q", ans)
		}
	}
	harness.Eventually(t, "the root edited to P0", func() (bool, string) {
		r := findSlack(e.cfg.Slack.Roots(slackIncidents), root.TS)
		return r != nil && strings.Contains(slackText(*r), "P0 ·"), fmt.Sprint(r != nil && true)
	})

	d := e.bot.GetIncident(t, id)
	if d.AckedBy != lizDisplayName || d.AckedAt == nil {
		t.Errorf("GET /v1/incidents/%d: acked_by %q, acked_at %v; want %q and a time", id, d.AckedBy, d.AckedAt, lizDisplayName)
	}
	if !slices.ContainsFunc(d.Timeline, func(ev harness.Event) bool {
		return ev.Kind == "acknowledged" && strings.Contains(string(ev.Detail), lizDisplayName)
	}) {
		t.Errorf("GET /v1/incidents/%d: the timeline has no acknowledged event naming %s: %+v", id, lizDisplayName, d.Timeline)
	}
}

// ---------------------------------------------------------------------------
// the deployment, as the admin sees it

// rolloutState is orders-service once its controllers are done with it.
type rolloutState struct {
	generation  int64
	revision    int64  // the deployment's revision annotation
	image       string // its pod template's image
	replicas    int32
	restartedAt string
	rsCount     int
	rs          map[int64]string // ReplicaSet revision → image
}

// previous is the revision a rollback without --to-revision goes back to.
func (s rolloutState) previous(t *testing.T) int64 {
	t.Helper()
	var prev int64
	for r := range s.rs {
		if r < s.revision && r > prev {
			prev = r
		}
	}
	if prev == 0 {
		t.Fatalf("orders-service has no revision before %d: %v", s.revision, s.rs)
	}
	return prev
}

func currentRollout(t *testing.T, e *commandsEnv) rolloutState {
	t.Helper()
	s, _, err := readRollout(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// settledRollout waits until the deployment controller has rolled out
// orders-service's current generation (its pods kept running by the
// harness) and returns its state.
func settledRollout(t *testing.T, e *commandsEnv) rolloutState {
	t.Helper()
	var s rolloutState
	harness.Eventually(t, "orders-service to settle", func() (bool, string) {
		var (
			settled bool
			err     error
		)
		s, settled, err = readRollout(t.Context(), e)
		if err != nil {
			return false, err.Error()
		}
		return settled, fmt.Sprintf("%+v", s)
	})
	return s
}

func readRollout(ctx context.Context, e *commandsEnv) (rolloutState, bool, error) {
	apps := e.cluster.Clientset().AppsV1()
	d, err := apps.Deployments(opsNamespace).Get(ctx, "orders-service", metav1.GetOptions{})
	if err != nil {
		return rolloutState{}, false, err
	}
	rsl, err := apps.ReplicaSets(opsNamespace).List(ctx, metav1.ListOptions{LabelSelector: selectorOf("orders-service")})
	if err != nil {
		return rolloutState{}, false, err
	}
	s := rolloutState{generation: d.Generation, image: d.Spec.Template.Spec.Containers[0].Image,
		restartedAt: d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"], rs: map[int64]string{}}
	if d.Spec.Replicas != nil {
		s.replicas = *d.Spec.Replicas
	}
	s.revision, _ = strconv.ParseInt(d.Annotations[revisionAnnotated], 10, 64)
	st := d.Status
	settled := st.ObservedGeneration >= d.Generation && progressed(*d) && st.Replicas == s.replicas &&
		st.UpdatedReplicas == s.replicas && st.AvailableReplicas == s.replicas
	for _, rs := range rsl.Items {
		if !ownedBy(rs.OwnerReferences, d) {
			continue
		}
		s.rsCount++
		rev, err := strconv.ParseInt(rs.Annotations[revisionAnnotated], 10, 64)
		if err != nil {
			settled = false
			continue
		}
		s.rs[rev] = rs.Spec.Template.Spec.Containers[0].Image
		if rev != s.revision && rs.Status.Replicas != 0 {
			settled = false // old pods still going
		}
	}
	return s, settled && s.rs[s.revision] == s.image, nil
}

func ownedBy(refs []metav1.OwnerReference, d *appsv1.Deployment) bool {
	for _, r := range refs {
		if r.UID == d.UID {
			return true
		}
	}
	return false
}

// checkRolledBack: the deployment went back to revision prev's template
// exactly once, as `kubectl rollout undo` does: its ReplicaSet is reused
// and numbered as the next revision, and no other ReplicaSet appears.
func checkRolledBack(t *testing.T, before, after rolloutState, prev int64) {
	t.Helper()
	if after.image != before.rs[prev] {
		t.Errorf("orders-service runs %s, want revision %d's %s", after.image, prev, before.rs[prev])
	}
	if want := maxRevision(before) + 1; after.revision != want {
		t.Errorf("orders-service is at revision %d, want %d (one new revision)", after.revision, want)
	}
	if after.rsCount != before.rsCount {
		t.Errorf("%d ReplicaSets, was %d: the rollback must reuse revision %d's", after.rsCount, before.rsCount, prev)
	}
	if _, ok := after.rs[prev]; ok {
		t.Errorf("revision %d is still listed (%v): its ReplicaSet should now be revision %d", prev, after.rs, after.revision)
	}
	if after.generation != before.generation+1 {
		t.Errorf("generation %d → %d: want exactly one write of the deployment's spec", before.generation, after.generation)
	}
}

func maxRevision(s rolloutState) int64 {
	var m int64
	for r := range s.rs {
		m = max(m, r)
	}
	return m
}

// ---------------------------------------------------------------------------
// the audit log

// auditExport runs `chatops audit export --since 1h` against the bot's
// database and returns its rows.
func auditExport(t *testing.T, e *commandsEnv) []bot.AuditRecord {
	t.Helper()
	out, code := runChatops(t, e, "audit", "export", "--config", e.cfg.ConfigPath, "--since", "1h")
	if code != 0 {
		t.Fatalf("chatops audit export: exit %d:\n%s", code, out)
	}
	var rows []bot.AuditRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // "exported N audit rows" on stderr
		}
		var r bot.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatalf("chatops audit export listed no rows:\n%s", out)
	}
	return rows
}

// runChatops runs the chatops CLI with the bot's configuration and
// environment (so, its database) and returns its output and exit code.
func runChatops(t *testing.T, e *commandsEnv, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.cfg.Binary, args...)
	cmd.Env = e.cfg.Environ()
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("chatops %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func rowsOf(rows []bot.AuditRecord, id int64) []bot.AuditRecord {
	var out []bot.AuditRecord
	for _, r := range rows {
		if r.ApprovalID == id {
			out = append(out, r)
		}
	}
	return out
}

func describeRows(rows []bot.AuditRecord) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  #%d %s %s %s:%s(%s) %s #%d %q\n", r.Seq, r.Kind, r.Action, r.Actor.Platform, r.Actor.UserID, r.Actor.Name, r.Outcome, r.ApprovalID, r.Detail)
	}
	return b.String()
}

// countRows counts rows of kind by actor (any actor when "") with outcome.
func countRows(rows []bot.AuditRecord, kind bot.AuditKind, actor, outcome string) int {
	n := 0
	for _, r := range rows {
		if r.Kind == kind && (actor == "" || r.Actor.Name == actor) && r.Outcome == outcome {
			n++
		}
	}
	return n
}

// checkDoneAudited: the request's command, the request, the vote, one
// execution and its result, naming the requester and the approver.
func checkDoneAudited(t *testing.T, all []bot.AuditRecord, id int64, requester, approver chatPerson, action string) {
	t.Helper()
	if id == 0 {
		t.Skip("the request was not made")
	}
	rows := rowsOf(all, id)
	for _, w := range []struct {
		kind           bot.AuditKind
		actor, outcome string
	}{
		{bot.AuditRequest, requester.name, "pending"},
		{bot.AuditVote, approver.name, "approved"},
		{bot.AuditExecute, requester.name, "started"},
		{bot.AuditResult, requester.name, "ok"},
	} {
		if n := countRows(rows, w.kind, w.actor, w.outcome); n != 1 {
			t.Errorf("%d %s rows by %s with outcome %s for request #%d, want 1", n, w.kind, w.actor, w.outcome, id)
		}
	}
	if n := countRows(rows, bot.AuditExecute, "", "started"); n != 1 {
		t.Errorf("request #%d was executed %d times, want once", id, n)
	}
	// The command as typed, allowed, just before the request (it carries
	// no request number yet).
	var req *bot.AuditRecord
	for i := range rows {
		if rows[i].Kind == bot.AuditRequest {
			req = &rows[i]
		}
	}
	if req != nil {
		found := false
		for _, r := range all {
			if r.Seq < req.Seq && r.Kind == bot.AuditCommand && r.Action == action && r.Actor.Name == requester.name && r.Outcome == "allowed" &&
				r.Actor.Platform == req.Actor.Platform {
				found = true
			}
		}
		if !found {
			t.Errorf("no allowed %s command row by %s before request #%d", action, requester.name, id)
		}
	}
	for _, r := range rows {
		if r.Action != action {
			t.Errorf("row #%d of request #%d is for action %q, want %q", r.Seq, id, r.Action, action)
		}
	}
	if t.Failed() {
		t.Logf("rows of request #%d:\n%s", id, describeRows(rows))
	}
}

// checkRefusalsAudited: every refused decision on the request is a row of
// its own with the refusal's code; the spoiled clicks left none.
func checkRefusalsAudited(t *testing.T, all []bot.AuditRecord, id int64) {
	t.Helper()
	if id == 0 {
		t.Skip("the request was not made")
	}
	rows := rowsOf(all, id)
	for _, w := range []struct {
		actor, outcome string
	}{
		{"ana", "self_approval"},
		{"meg", "insufficient_role"},
		{"vic", "insufficient_role"},
		{"bob", "wrong_channel"},
		{"bob", "tampered"},
	} {
		if n := countRows(rows, bot.AuditVote, w.actor, w.outcome); n != 1 {
			t.Errorf("%d vote rows by %s refused as %s on request #%d, want 1", n, w.actor, w.outcome, id)
		}
	}
	// Unsigned and replayed clicks never reached the approvals: besides the
	// five refusals above, no vote was recorded.
	if n := len(slices.DeleteFunc(slices.Clone(rows), func(r bot.AuditRecord) bool { return r.Kind != bot.AuditVote })); n != 5 {
		t.Errorf("%d vote rows on request #%d, want the 5 refusals", n, id)
	}
	if n := countRows(rows, bot.AuditCancel, "ana", "cancelled"); n != 1 {
		t.Errorf("%d cancel rows by ana on request #%d, want 1", n, id)
	}
	if n := countRows(rows, bot.AuditExecute, "", "started"); n != 0 {
		t.Errorf("refused request #%d was executed %d times", id, n)
	}
	if t.Failed() {
		t.Logf("rows of request #%d:\n%s", id, describeRows(rows))
	}
}

// checkStaleAudited: approved, then found stale, never executed.
func checkStaleAudited(t *testing.T, all []bot.AuditRecord, id int64) {
	t.Helper()
	if id == 0 {
		t.Skip("the request was not made")
	}
	rows := rowsOf(all, id)
	if n := countRows(rows, bot.AuditVote, "bob", "approved"); n != 1 {
		t.Errorf("%d approvals by bob on request #%d, want 1", n, id)
	}
	if n := countRows(rows, bot.AuditResult, "", "stale"); n != 1 {
		t.Errorf("%d stale results for request #%d, want 1", n, id)
	}
	if n := countRows(rows, bot.AuditExecute, "", "started"); n != 0 {
		t.Errorf("stale request #%d was executed %d times", id, n)
	}
	if t.Failed() {
		t.Logf("rows of request #%d:\n%s", id, describeRows(rows))
	}
}

// checkSilencesAudited: the narrow silence ran alone (execute and result
// rows without a request), the broad one is a pending request.
func checkSilencesAudited(t *testing.T, all []bot.AuditRecord, broad int64) {
	t.Helper()
	var narrow []bot.AuditRecord
	for _, r := range all {
		if r.Action == "silence" && r.ApprovalID == 0 && r.Actor.Name == "meg" {
			narrow = append(narrow, r)
		}
	}
	if countRows(narrow, bot.AuditExecute, "meg", "started") != 1 || countRows(narrow, bot.AuditResult, "meg", "ok") != 1 {
		t.Errorf("the narrow silence is not audited as one execution with its result:\n%s", describeRows(narrow))
	}
	if broad == 0 {
		return
	}
	if rows := rowsOf(all, broad); countRows(rows, bot.AuditRequest, "meg", "pending") != 1 {
		t.Errorf("the broad silence is not audited as a pending request:\n%s", describeRows(rows))
	}
}

// ---------------------------------------------------------------------------
// Alertmanager's silences, read with plain HTTP

func listSilences(t *testing.T, am *harness.Alertmanager) []amSilence {
	t.Helper()
	var out []amSilence
	am.GetJSON(t, "/api/v2/silences", &out)
	return out
}

// ---------------------------------------------------------------------------
// the platforms

// opsCommand is one command as typed on Slack (text) and on Discord.
type opsCommand struct {
	text    string
	discord discordCommand
}

// answer is what the bot answered a command or a click.
type answer struct {
	text    string
	private bool
}

// cardView is an approval card as the channel sees it.
type cardView struct {
	text    string
	buttons []string
	edits   int
	slack   slackstandin.Message
	discord discordstandin.Message
}

// clickReq is one signed click, ready to be sent (or spoiled, or sent
// again).
type clickReq struct {
	path string
	body []byte
	hdr  http.Header
	// accepted plays the platform's part once the bot answers 200 (Discord
	// takes the acknowledgement from the HTTP answer).
	accepted func(t *testing.T, ack []byte)
	// answers are the bot's answers to the clicker so far.
	answers func() []string
}

type approvalSide interface {
	name() string
	// userID is who's id on the platform.
	userID(who chatPerson) string
	// command types c as who where requests are made (elsewhere: in the
	// other allowed channel), requires the bot's acknowledgement, and
	// returns its answer once given.
	command(t *testing.T, who chatPerson, c opsCommand, elsewhere bool) answer
	// card finds request id's card.
	card(id int64) (cardView, bool)
	// checkCardPlace checks the card is where the request was made.
	checkCardPlace(t *testing.T, c cardView)
	// clickRequest is who clicking button on the card, signed now.
	clickRequest(t *testing.T, who chatPerson, c cardView, button string) clickReq
	// unsigned are the headers of a click without a signature.
	unsigned() http.Header
}

var cardTitle = regexp.MustCompile(`Request #(\d+):`)

// waitCard waits until request id's card satisfies ok.
func waitCard(t *testing.T, p approvalSide, id int64, what string, ok func(cardView) bool) cardView {
	t.Helper()
	var c cardView
	harness.Eventually(t, fmt.Sprintf("the card of request #%d to be %s", id, what), func() (bool, string) {
		var found bool
		c, found = p.card(id)
		if !found {
			return false, "no card"
		}
		return ok(c), fmt.Sprintf("buttons %v:\n%s", c.buttons, c.text)
	})
	return c
}

func cardID(text string) int64 { return firstNumber(cardTitle, text) }

// firstNumber is the number re's first group matches in text (0: none).
func firstNumber(re *regexp.Regexp, text string) int64 {
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// buttonOf is the card's button chatops:<verb>:<id>:<nonce>.
func buttonOf(t *testing.T, c cardView, verb string) string {
	t.Helper()
	for _, b := range c.buttons {
		if strings.HasPrefix(b, "chatops:"+verb+":") {
			return b
		}
	}
	t.Fatalf("the card has no %s button: %v", verb, c.buttons)
	return ""
}

// postClick posts r with hdr and, on 200, plays the platform's part.
func postClick(t *testing.T, e *commandsEnv, r clickReq, hdr http.Header) int {
	t.Helper()
	code, body := postSigned(t, e.bot, r.path, hdr, r.body)
	if code == http.StatusOK {
		r.accepted(t, body)
	}
	return code
}

// deliverClick sends r, requires 200, and returns the bot's answer to the
// clicker once there is one.
func deliverClick(t *testing.T, e *commandsEnv, r clickReq) string {
	t.Helper()
	if code := postClick(t, e, r, r.hdr); code != http.StatusOK {
		t.Fatalf("the click got %d, want 200", code)
	}
	var got []string
	harness.Eventually(t, "an answer to the click", func() (bool, string) {
		got = r.answers()
		return len(got) > 0, "no answer yet"
	})
	return strings.Join(got, "\n")
}

// Slack: slash commands and clicks over HTTP.
type slackApprovals struct{ e *commandsEnv }

func (s *slackApprovals) name() string                 { return "slack" }
func (s *slackApprovals) userID(who chatPerson) string { return who.slackID }
func (s *slackApprovals) unsigned() http.Header {
	return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
}

func (s *slackApprovals) command(t *testing.T, who chatPerson, c opsCommand, elsewhere bool) answer {
	t.Helper()
	channel := slackOpsChannel
	if elsewhere {
		channel = slackOpsTwo
	}
	form := s.e.cfg.Slack.SlashCommandForm(slack.SlashCommand{ChannelID: channel, ChannelName: "ops", UserID: who.slackID, UserName: who.name, Text: c.text})
	body := []byte(form.Encode())
	r := slackRequest{body: body, hdr: slackstandin.Sign(s.e.secret, time.Now(), body), responseURL: form.Get("response_url")}
	(&slackSide{e: s.e}).accept(t, r)
	resps := s.e.cfg.Slack.Responses(r.responseURL)
	if len(resps) != 1 {
		t.Fatalf("/ops %s by %s: %d answers, want 1", c.text, who.name, len(resps))
	}
	return answer{text: slackResponseText(t, resps[0]), private: resps[0].ResponseType == "ephemeral"}
}

func slackResponseText(t *testing.T, r slackstandin.Response) string {
	parts := []string{r.Text}
	if r.Blocks != nil {
		parts = append(parts, stringsOf(decodeJSON(t, r.Blocks))...)
	}
	if r.Attachments != nil {
		parts = append(parts, stringsOf(decodeJSON(t, r.Attachments))...)
	}
	return slackUnescape.Replace(strings.Join(parts, "\n"))
}

// slackText is everything a message shows, as people read it.
func slackText(m slackstandin.Message) string {
	parts := []string{m.Text}
	for _, raw := range []json.RawMessage{m.Blocks, m.Attachments} {
		var v any
		if raw != nil && json.Unmarshal(raw, &v) == nil {
			parts = append(parts, stringsOf(v)...)
		}
	}
	return slackUnescape.Replace(strings.Join(parts, "\n"))
}

func (s *slackApprovals) card(id int64) (cardView, bool) {
	for _, ch := range []string{slackOpsChannel, slackOpsTwo} {
		for _, m := range s.e.cfg.Slack.Messages(ch) {
			if text := slackText(m); m.User == "" && cardID(text) == id {
				return cardView{text: text, buttons: m.ActionIDs(), edits: m.Edits, slack: m}, true
			}
		}
	}
	return cardView{}, false
}

func (s *slackApprovals) checkCardPlace(t *testing.T, c cardView) {
	t.Helper()
	if c.slack.Channel != slackOpsChannel || !c.slack.IsRoot() {
		t.Errorf("the card is in %s (thread %q), want a message of its own in %s", c.slack.Channel, c.slack.ThreadTS, slackOpsChannel)
	}
}

func (s *slackApprovals) clickRequest(t *testing.T, who chatPerson, c cardView, button string) clickReq {
	a := c.slack.Click(who.slackID, who.name, button)
	body, hdr := s.e.cfg.Slack.SignedBlockAction(s.e.secret, time.Now(), a)
	return clickReq{
		path: "/slack/interactions", body: body, hdr: hdr,
		accepted: func(*testing.T, []byte) {},
		answers: func() []string {
			var out []string
			for _, r := range s.e.cfg.Slack.Responses(a.ResponseURL) {
				out = append(out, slackResponseText(t, r))
			}
			return out
		},
	}
}

// Discord: interactions over HTTP; requests are made in a thread of #ops.
type discordApprovals struct{ e *commandsEnv }

func (s *discordApprovals) name() string                 { return "discord" }
func (s *discordApprovals) userID(who chatPerson) string { return who.discordID }
func (s *discordApprovals) unsigned() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

func (s *discordApprovals) command(t *testing.T, who chatPerson, c opsCommand, elsewhere bool) answer {
	t.Helper()
	channel, parent := discordOpsThread, discordOpsChannel
	if elsewhere {
		channel, parent = discordOpsTwo, ""
	}
	id, token := s.e.cfg.Discord.NewInteraction(discordApp, channel)
	body := discordCommandBody(id, token, channel, parent, who, c.discord)
	r := discordRequest{id: id, token: token, body: body, hdr: discordstandin.SignInteraction(s.e.key, time.Now(), body)}
	(&discordSide{e: s.e}).accept(t, r)
	ix, _ := s.e.cfg.Discord.Interaction(id)
	var a answer
	switch {
	case ix.Original != nil && ix.Original.Edits > 0 && len(ix.Followups) == 0:
		a = answer{text: discordText(*ix.Original), private: ix.Original.Ephemeral()}
	case ix.OriginalDeleted && len(ix.Followups) == 1:
		a = answer{text: discordText(ix.Followups[0]), private: ix.Followups[0].Ephemeral()}
	default:
		t.Fatalf("%s by %s: original %+v (deleted %v) and %d follow-ups: want one answer", c.discord, who.name, ix.Original, ix.OriginalDeleted, len(ix.Followups))
	}
	return a
}

// discordCommandBody is who using /ops c in channel, a thread of parent
// when parent is not "".
func discordCommandBody(id, token, channel, parent string, who chatPerson, c discordCommand) []byte {
	opts := []map[string]any{}
	for _, o := range c.opts {
		opts = append(opts, map[string]any{"name": o.name, "type": o.typ, "value": o.value})
	}
	ch := map[string]any{"id": channel, "type": 0, "name": "ops", "parent_id": discordCategory}
	if parent != "" {
		ch = map[string]any{"id": channel, "type": 11, "name": "rollout of orders", "parent_id": parent}
	}
	roles := who.discordRoles
	if roles == nil {
		roles = []string{}
	}
	b, err := json.Marshal(map[string]any{
		"id": id, "application_id": discordApp, "type": 2, "token": token, "version": 1,
		"guild_id": discordGuild, "channel_id": channel, "channel": ch,
		"member": map[string]any{
			"user":  map[string]any{"id": who.discordID, "username": who.name, "global_name": who.name},
			"roles": roles,
		},
		"data": map[string]any{
			"id": discordCommandID, "name": "ops", "type": 1,
			"options": []map[string]any{{"type": 1, "name": c.sub, "options": opts}},
		},
		"locale": "en-US",
	})
	if err != nil {
		panic(err)
	}
	return b
}

// discordText is everything a message shows: its content and its embeds.
func discordText(m discordstandin.Message) string {
	parts := []string{m.Content}
	var v any
	if len(m.Embeds) > 0 && json.Unmarshal(m.Embeds, &v) == nil {
		parts = append(parts, stringsOf(v)...)
	}
	return strings.Join(parts, "\n")
}

func (s *discordApprovals) card(id int64) (cardView, bool) {
	for _, ch := range []string{discordOpsThread, discordOpsChannel, discordOpsTwo} {
		for _, m := range s.e.cfg.Discord.Messages(ch) {
			if text := discordText(m); m.Flags&discordstandin.FlagEphemeral == 0 && cardID(text) == id {
				return cardView{text: text, buttons: m.CustomIDs(), edits: m.Edits, discord: m}, true
			}
		}
	}
	return cardView{}, false
}

func (s *discordApprovals) checkCardPlace(t *testing.T, c cardView) {
	t.Helper()
	if c.discord.ChannelID != discordOpsThread {
		t.Errorf("the card is in channel %s, want the thread %s where the command was typed", c.discord.ChannelID, discordOpsThread)
	}
}

func (s *discordApprovals) clickRequest(t *testing.T, who chatPerson, c cardView, button string) clickReq {
	dc := s.e.cfg.Discord
	click := c.discord.Click(who.discordID, who.name, who.discordRoles, button)
	click.AppID, click.GuildID = discordApp, discordGuild
	if c.discord.ChannelID == discordOpsThread {
		click.Parent = discordOpsChannel
	}
	id, token, body := dc.ClickInteraction(click)
	return clickReq{
		path: "/discord/interactions", body: body, hdr: discordstandin.SignInteraction(s.e.key, time.Now(), body),
		accepted: func(t *testing.T, ack []byte) { forwardDiscordAck(t, dc, id, token, ack) },
		answers: func() []string {
			ix, _ := dc.Interaction(id)
			var out []string
			if o := ix.Original; o != nil && o.Edits > 0 && o.Flags&discordstandin.FlagLoading == 0 {
				out = append(out, discordText(*o))
			}
			for _, f := range ix.Followups {
				out = append(out, discordText(f))
			}
			return out
		},
	}
}

// How the bot writes a time on each platform: Slack's date markup with its
// UTC fallback, Discord's timestamp.
const (
	slackDateRE   = `<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>`
	discordTimeRE = `<t:\d+:f>`
)

// liz's Slack display name (users.info), and meg's nickname in the
// Discord guild.
const (
	lizDisplayName = "Liz Ortiz"
	megNick        = "Meg (on call)"
)

// incidentAcknowledgedByNick: meg acknowledges an incident with /ops
// incident ack on Discord, where the guild knows her by a nickname; its
// root (in Slack) names her by that nickname (out: the incident's number).
func incidentAcknowledgedByNick(t *testing.T, e *commandsEnv, out *int64) {
	id := e.bot.MustPostWebhook(t, harness.Fixture(t, "db-connections-high.json"))
	*out = id
	marker := fmt.Sprintf("chatops:incident:%d:", id)
	root := waitSlackRoot(t, e.cfg.Slack, slackIncidents, marker, "")

	ixID, token := e.cfg.Discord.NewInteraction(discordApp, discordOpsChannel)
	body, err := json.Marshal(map[string]any{
		"id": ixID, "application_id": discordApp, "type": 2, "token": token, "version": 1,
		"guild_id": discordGuild, "channel_id": discordOpsChannel,
		"channel": map[string]any{"id": discordOpsChannel, "type": 0, "name": "ops", "parent_id": discordCategory},
		"member": map[string]any{
			"user":  map[string]any{"id": meg.discordID, "username": "meg", "global_name": "Margaret"},
			"nick":  megNick,
			"roles": []string{},
		},
		"data": map[string]any{
			"id": discordCommandID, "name": "ops", "type": 1,
			"options": []map[string]any{{"type": 2, "name": "incident", "options": []map[string]any{
				{"type": 1, "name": "ack", "options": []map[string]any{{"name": "id", "type": 4, "value": id}}},
			}}},
		},
		"locale": "en-US",
	})
	if err != nil {
		t.Fatal(err)
	}
	(&discordSide{e: e}).accept(t, discordRequest{id: ixID, token: token, body: body, hdr: discordstandin.SignInteraction(e.key, time.Now(), body)})
	harness.Eventually(t, "the root edited to name meg by her nickname", func() (bool, string) {
		r := findSlack(e.cfg.Slack.Roots(slackIncidents), root.TS)
		if r == nil {
			return false, "the root is gone"
		}
		text := slackText(*r)
		return regexp.MustCompile(`Acknowledged\*?\s+` + regexp.QuoteMeta(megNick) + ` at ` + slackDateRE).MatchString(text), text
	})
}

// checkAckAudited: incident was acknowledged once, by who.
func checkAckAudited(t *testing.T, rows []bot.AuditRecord, incident int64, who bot.Identity) {
	t.Helper()
	n := 0
	for _, r := range rows {
		if r.Kind == bot.AuditIncident && r.Action == "incident ack" && r.IncidentID == incident && r.Outcome == "ok" &&
			r.Actor.Platform == who.Platform && r.Actor.UserID == who.UserID && r.Actor.Name == who.Name {
			n++
		}
	}
	if incident == 0 || n != 1 {
		t.Errorf("%d audit rows of %s %s (%q) acknowledging incident #%d, want 1", n, who.Platform, who.UserID, who.Name, incident)
	}
}
