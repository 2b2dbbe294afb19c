package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/bakewise/chatops/bot"
)

// RolloutFollower follows a deployment's rollout after an action (the
// cluster): an optional capability of the Cluster.
type RolloutFollower interface {
	FollowRollout(ctx context.Context, service string, report func(bot.RolloutProgress)) bot.RolloutProgress
}

// followRollout is the Follow of scale, rollback and restart when op can
// follow rollouts (nil otherwise).
func followRollout(op any) func(context.Context, bot.Invocation, bot.Plan, func(bot.Progress)) {
	f, ok := op.(RolloutFollower)
	if !ok {
		return nil
	}
	return func(ctx context.Context, inv bot.Invocation, _ bot.Plan, report func(bot.Progress)) {
		f.FollowRollout(ctx, inv.String("service"), func(p bot.RolloutProgress) {
			report(bot.Progress{Line: RolloutLine(p), Final: p.State.Final()})
		})
	}
}

// RolloutLine is a followed rollout as the card's last line says it.
func RolloutLine(p bot.RolloutProgress) string {
	counts := fmt.Sprintf("%d/%d updated, %d available", p.Updated, p.Desired, p.Available)
	switch p.State {
	case bot.RolloutComplete:
		return fmt.Sprintf("✅ Rollout: %d/%d updated and available in %s", p.Desired, p.Desired, seconds(p.Elapsed))
	case bot.RolloutStopped:
		what := p.Reason
		if p.Pod != "" {
			what = "pod " + p.Pod + " " + p.Reason
		}
		return fmt.Sprintf("❌ Rollout stopped after %s: %s: %s (%s)", seconds(p.Elapsed), what, p.Message, counts)
	case bot.RolloutUnfollowed:
		return fmt.Sprintf("⌛ Rollout not finished after %s, no longer followed: %s", seconds(p.Elapsed), counts)
	case bot.RolloutLost:
		return "⚠️ Rollout not followed: " + p.Message
	}
	return "⏳ Rollout: " + counts + "…"
}

// seconds is a short duration as people read it: "under 1 s", "48 s",
// "2 min 5 s".
func seconds(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s == 0 {
		return "under 1 s"
	}
	if s < 60 {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d min %d s", s/60, s%60)
}
