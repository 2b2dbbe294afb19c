package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bakewise/chatops/test/harness"
)

// TestRolloutFollowAndDryRun: through the real binary, on Slack and on
// Discord, an approved restart's card follows the rollout the real
// deployment controller makes (the harness playing the kubelet) and ends
// "2/2 updated and available in N s", after the line that says it ran; and
// a scale that a real ValidatingAdmissionPolicy forbids is refused when
// planned, by the server-side dry run, with the policy's message, so no
// card is posted, nothing can be approved and the Deployment is not
// written (same generation and resourceVersion).
func TestRolloutFollowAndDryRun(t *testing.T) {
	e := setupCommandsWith(t, harness.SQLite, harness.RepoPath(t, "test", "e2e", "testdata", "approvals.yaml"))
	e.cfg.Discord.SetChannelGuild(discordGuild, discordOpsChannel, discordOpsTwo)
	for _, p := range []chatPerson{ana, bob} {
		e.cfg.Discord.SetMember(discordGuild, p.discordID, p.discordRoles...)
	}
	e.cluster.ApplyYAML(t, filepath.Join("testdata", "scale-policy.yaml"))

	for _, p := range []approvalSide{&slackApprovals{e: e}, &discordApprovals{e: e}} {
		t.Run(p.name()+"/restart-followed", func(t *testing.T) {
			before := settledRollout(t, e)
			id := request(t, p, ana, opsCommand{"restart orders-service", dcmd("restart", str("service", "orders-service"))})
			card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })
			// The preview is the server's dry run of the exact write.
			if want := "pod annotations changed: kubectl.kubernetes.io/restartedAt"; !strings.Contains(card.text, want) {
				t.Errorf("the card does not show the dry run's %q:\n%s", want, card.text)
			}
			if ans := deliverClick(t, e, p.clickRequest(t, bob, card, buttonOf(t, card, "approve"))); !strings.Contains(ans, fmt.Sprintf("Request #%d: Ran at", id)) {
				t.Errorf("bob's approval was answered %q", ans)
			}
			done := waitCard(t, p, id, "following the rollout to its end", func(c cardView) bool {
				return strings.Contains(c.text, "✅ Rollout: ")
			})
			// The rollout line is the card's last, right under the result.
			final := regexp.MustCompile(`\n• Ran at (<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>|<t:\d+:f>): orders-service restarted: 2 pods replaced by a rolling restart\n` +
				`• ✅ Rollout: 2/2 updated and available in (under 1 s|\d+ s)\n`)
			if !final.MatchString(done.text) {
				t.Errorf("the followed card does not end as %s:\n%s", final, done.text)
			}
			if done.edits < 2 {
				t.Errorf("the card was edited %d times, want the result and the rollout", done.edits)
			}
			if after := settledRollout(t, e); after.revision != before.revision+1 {
				t.Errorf("revision %d → %d, want one new revision", before.revision, after.revision)
			}
		})

		t.Run(p.name()+"/scale-refused-by-dry-run", func(t *testing.T) {
			before, err := e.cluster.Clientset().AppsV1().Deployments(opsNamespace).Get(t.Context(), "orders-service", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a := p.command(t, ana, opsCommand{"scale orders-service 5", dcmd("scale", str("service", "orders-service"), num("replicas", 5))}, false)
			want := "the API server refuses to scale deployment bakery-ia/orders-service (server-side dry run, nothing was changed): "
			if !strings.Contains(a.text, want) || !strings.Contains(a.text, "orders-service may not run more than 4 replicas") {
				t.Errorf("the scale was answered %q, want %q and the policy's message", a.text, want)
			}
			if strings.Contains(a.text, "is waiting for") || cardTitle.MatchString(a.text) {
				t.Errorf("a refused plan became a request:\n%s", a.text)
			}
			after, err := e.cluster.Clientset().AppsV1().Deployments(opsNamespace).Get(t.Context(), "orders-service", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if after.Generation != before.Generation || ptrValue(after.Spec.Replicas) != ptrValue(before.Spec.Replicas) {
				t.Errorf("the dry run wrote: generation %d → %d, replicas %d → %d", before.Generation, after.Generation,
					ptrValue(before.Spec.Replicas), ptrValue(after.Spec.Replicas))
			}
			if scaled := scaleWrites(e, 0); len(scaled) != 0 {
				t.Errorf("the scale subresource was written: %v", scaled)
			}
			t.Logf("refusal as %s shows it: %s (generation %s)", p.name(), a.text, strconv.FormatInt(after.Generation, 10))
		})
	}
}
