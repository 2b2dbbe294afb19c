package commands

import (
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func TestRolloutLine(t *testing.T) {
	for name, c := range map[string]struct {
		p    bot.RolloutProgress
		want string
	}{
		"progress": {bot.RolloutProgress{Desired: 3, Updated: 2, Available: 1, Elapsed: 9 * time.Second},
			"⏳ Rollout: 2/3 updated, 1 available…"},
		"complete": {bot.RolloutProgress{Desired: 3, Updated: 3, Available: 3, Elapsed: 48*time.Second + 400*time.Millisecond, State: bot.RolloutComplete},
			"✅ Rollout: 3/3 updated and available in 48 s"},
		"complete at once": {bot.RolloutProgress{Desired: 2, Updated: 2, Available: 2, Elapsed: 300 * time.Millisecond, State: bot.RolloutComplete},
			"✅ Rollout: 2/2 updated and available in under 1 s"},
		"deadline": {bot.RolloutProgress{Desired: 2, Updated: 1, Elapsed: 125 * time.Second, State: bot.RolloutStopped,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "orders-7d9" has timed out progressing.`},
			`❌ Rollout stopped after 2 min 5 s: ProgressDeadlineExceeded: ReplicaSet "orders-7d9" has timed out progressing. (1/2 updated, 0 available)`},
		"stuck pod": {bot.RolloutProgress{Desired: 2, Updated: 1, Available: 2, Elapsed: 7 * time.Second, State: bot.RolloutStopped,
			Pod: "orders-7d9-x2x", Reason: "ImagePullBackOff", Message: `Back-off pulling image "orders:9"`},
			`❌ Rollout stopped after 7 s: pod orders-7d9-x2x ImagePullBackOff: Back-off pulling image "orders:9" (1/2 updated, 2 available)`},
		"bound": {bot.RolloutProgress{Desired: 2, Updated: 1, Available: 1, Elapsed: 5 * time.Minute, State: bot.RolloutUnfollowed},
			"⌛ Rollout not finished after 5 min 0 s, no longer followed: 1/2 updated, 1 available"},
		"lost": {bot.RolloutProgress{State: bot.RolloutLost, Message: "deployment orders changed: it was deleted"},
			"⚠️ Rollout not followed: deployment orders changed: it was deleted"},
	} {
		if got := RolloutLine(c.p); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}
