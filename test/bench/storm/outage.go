package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sync"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// setDown makes platform's stand-in answer 503 to everything, or stop.
func (b *bench) setDown(platform string, down bool) {
	if platform == "slack" {
		b.slack.SetDown(down)
	} else {
		b.discord.SetDown(down)
	}
}

// other is the platform that stays up while platform is down.
func other(platform string) string {
	if platform == "slack" {
		return "discord"
	}
	return "slack"
}

// outage takes platform down, changes every incident (change: "resolve"
// or "refire") while the other platform catches up, brings platform back
// and measures its catch-up against the bound its limits impose.
func (b *bench) outage(ctx context.Context, platform, change string) {
	cfg := b.cfg
	o := &OutageResult{Platform: platform, Change: change, OtherPlatform: other(platform), Duplicates: map[string]int{}, Missing: map[string][]string{}}
	b.res.Outages = append(b.res.Outages, o)
	logf("outage of %s for %s: every incident changes (%s)", platform, cfg.outage, change)

	beforeDown := b.snap()
	b.setDown(platform, true)
	downAt := time.Now()

	// The change: one webhook per group, all at once.
	wants := map[int64]want{}
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, min(cfg.senders, 8))
	now := time.Now()
	b.incMu.Lock()
	incidents := maps.Clone(b.incidents)
	b.incMu.Unlock()
	for g, id := range incidents {
		grp := b.groups[g]
		var body []byte
		w := want{group: g}
		if change == "resolve" {
			body = grp.resolveBody(now)
			w.status, w.resol, w.reply = "Resolved", len(grp.alerts), "Resolved after"
		} else {
			body = grp.refireBody(now)
			w.status, w.firing, w.reply = "Firing", len(grp.alerts), "Reopened"
		}
		wants[id] = w
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := b.post(ctx, g, body); err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("group %s: %v", grp.name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	o.Webhooks = len(wants)
	o.WebhookFailures = len(failures)
	if len(failures) > 0 {
		b.fail("%s outage: %d of %d change webhooks did not get 200; first: %s", platform, len(failures), len(wants), failures[0])
	}
	for g, ids := range b.splits {
		b.fail("group %s was answered with more than one incident: %d and %v", b.groups[g].name, b.incidents[g], ids)
		delete(b.splits, g)
	}

	// The other platform catches up while this one is down; the outage
	// lasts -outage, and longer if the other platform still catches up
	// then, so that the recovery is measured alone.
	oc, _ := b.waitConverged(ctx, wants, downAt, cfg.convergeTimeout, platform+" outage: "+o.OtherPlatform+" catching up", o.OtherPlatform, nil)
	o.OtherConverged = oc.all
	o.OtherConvergedS = oc.at.Sub(downAt).Seconds()
	if !oc.all {
		b.fail("%s outage: %s (up) did not reach the final state within %s", platform, o.OtherPlatform, cfg.convergeTimeout)
	}
	if d := time.Until(downAt.Add(cfg.outage)); d > 0 {
		_ = harness.Sleep(ctx, d)
	} else if oc.all {
		o.Extended = true
		b.note("%s outage extended to %.0f s: %s needed that long to catch up", platform, time.Since(downAt).Seconds(), o.OtherPlatform)
	}

	// Owed at recovery, read from the stand-in.
	st := b.check(platform, wants)
	for id := range wants {
		switch {
		case st.rootsOf[id] == 0:
			o.OwedRoots++
			o.OwedReplies++ // a new root shows everything; counted as its post
		case !st.showsFinal[id]:
			o.OwedEdits++
			o.OwedReplies++
		case !st.repliedOK[id]:
			o.OwedReplies++
		}
	}
	o.BoundS, o.BoundFormula = lowerBound(platform, o.OwedEdits, o.OwedReplies, o.OwedRoots)

	downSnap := b.snap()
	b.setDown(platform, false)
	upAt := time.Now()
	o.OutageS = upAt.Sub(downAt).Seconds()
	logf("%s back after %.1f s; owed: %d edits, %d replies, %d roots; lower bound %.1f s", platform, o.OutageS, o.OwedEdits, o.OwedReplies, o.OwedRoots, o.BoundS)

	// Watch for the first call after recovery while waiting.
	firstCall := make(chan time.Time, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() {
		base := b.platformCalls(platform)
		for watchCtx.Err() == nil {
			if b.platformCalls(platform) > base {
				firstCall <- time.Now()
				return
			}
			_ = harness.Sleep(watchCtx, 50*time.Millisecond)
		}
	}()
	conv, _ := b.waitConverged(ctx, wants, upAt, cfg.convergeTimeout, platform+" recovery", "", nil)
	stopWatch()
	select {
	case t := <-firstCall:
		o.FirstCallS = t.Sub(upAt).Seconds()
	default:
		o.FirstCallS = -1
	}
	o.Converged = conv.all
	o.ConvergeS = conv.at.Sub(upAt).Seconds()
	if o.BoundS > 0 {
		o.Ratio = o.ConvergeS / o.BoundS
	}
	o.FirstReplyS = b.firstReplyAfter(platform, upAt)
	end := time.Now()
	if conv.all {
		_ = harness.Sleep(ctx, settle)
	}
	after := b.snap()
	o.CallsDown = calls(platform, beforeDown, downSnap, len(wants), true)
	o.CallsRecovery = calls(platform, downSnap, after, len(wants), false)
	o.OtherCalls = calls(o.OtherPlatform, beforeDown, after, len(wants), false)
	var threads []string
	if platform == "discord" || o.OtherPlatform == "discord" {
		threads = b.threadIDs()
	}
	o.RatesRecovery = b.rates(platform, upAt, end, threads)
	o.OtherRates = b.rates(o.OtherPlatform, downAt, end, threads)

	sl, dc := b.checkSlack(wants), b.checkDiscord(wants)
	o.Duplicates["slack"], o.Duplicates["discord"] = sl.duplicates, dc.duplicates
	b.duplicateFailures(platform+" outage", "slack", sl)
	b.duplicateFailures(platform+" outage", "discord", dc)
	if !conv.all {
		o.Missing = notConverged(map[string]platformState{"slack": sl, "discord": dc})
		b.fail("%s outage: not converged %s after recovery: outbox depth %v; slack %d/%d final (%d replied), discord %d/%d final (%d replied); first problems: slack %v; discord %v",
			platform, cfg.convergeTimeout, conv.depth, sl.final, len(wants), sl.replied, dc.final, len(wants), dc.replied, clipList(sl.missing, 3), clipList(dc.missing, 3))
	}
	logf("%s recovery: converged=%v in %.1f s (bound %.1f s, ratio %.2f); first call +%.1f s, first reply +%.1f s",
		platform, conv.all, o.ConvergeS, o.BoundS, o.Ratio, o.FirstCallS, o.FirstReplyS)
}

// lowerBound is the least time the platform's limits (and the bot's own
// enforcement of Slack's chat.update limit) allow for delivering what is
// owed, counting from the first call, which can go at once:
//
//   - Slack: posts (replies, and roots if any) share the channel's 1/s, so
//     n posts need (n-1) s; edits draw on chat.update's 50/min
//     workspace budget, which the bot enforces as a token bucket with a
//     burst of 1, so m edits need (m-1) × 1.2 s. Both budgets run in
//     parallel: the bound is the larger.
//   - Discord: every edit goes to the channel's edit_message route at
//     1/s, so m edits need (m-1) s; each reply goes to its own thread's
//     route (one each, no wait); everything shares 50/s globally.
func lowerBound(platform string, edits, replies, roots int) (float64, string) {
	pos := func(v float64) float64 { return math.Max(v, 0) }
	if platform == "slack" {
		posts := replies + roots
		p := pos(float64(posts-1)) / slackPostPerChannel
		e := pos(float64(edits-slackUpdateBurst)) / (slackUpdatePerMin / 60)
		return math.Max(p, e), fmt.Sprintf("max((posts − 1) ÷ %g/s per channel, (edits − %d burst) ÷ %g/min) = max((%d − 1) ÷ 1, (%d − %d) × 1.2) s",
			slackPostPerChannel, slackUpdateBurst, slackUpdatePerMin, posts, edits, slackUpdateBurst)
	}
	e := pos(float64(edits+roots-1)) / discordRoutePerSec
	total := float64(edits + replies + 2*roots)
	g := pos(total-1) / discordGlobalPerSec
	return math.Max(e, g), fmt.Sprintf("max((edits − 1) ÷ %g/s on the channel's edit route, one reply per thread at once, (calls − 1) ÷ %g/s global) = max((%d − 1) ÷ 1, (%d − 1) ÷ 50) s",
		discordRoutePerSec, discordGlobalPerSec, edits+roots, int(total))
}

// firstReplyAfter is the time from t to the first reply posted after t
// (-1 if none).
func (b *bench) firstReplyAfter(platform string, t time.Time) float64 {
	var first time.Time
	consider := func(at time.Time) {
		if !at.Before(t) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if platform == "slack" {
		for _, m := range b.slack.Messages(slackChannel) {
			if !m.IsRoot() {
				consider(m.PostedAt)
			}
		}
	} else {
		for _, th := range b.threadIDs() {
			for _, m := range b.discord.Messages(th) {
				consider(m.Created)
			}
		}
	}
	if first.IsZero() {
		return -1
	}
	return first.Sub(t).Seconds()
}
