package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// convergence is how a wait for the final state ended: whether everything
// got there, when, and the outbox depth last seen.
type convergence struct {
	all   bool
	at    time.Time
	depth float64
}

// waitConverged polls until the outbox is empty and every platform the
// bot posts to shows wants (and also, when given, holds), or timeout after
// since passes. It returns when each platform (and "alertmanager", for
// also) first showed its final state. only, when set, names the one
// platform whose state counts (the other is down).
func (b *bench) waitConverged(ctx context.Context, wants map[int64]want, since time.Time, timeout time.Duration, phase, only string, also func() bool) (convergence, map[string]time.Time) {
	deadline := since.Add(timeout)
	when := map[string]time.Time{}
	lastLog := time.Now()
	var c convergence
	for {
		now := time.Now()
		depth, _, err := b.metrics(ctx)
		if err != nil {
			depth = -1
		}
		c.depth = depth
		states := b.checkAll(wants)
		for p, st := range states {
			if st.converged && when[p].IsZero() {
				when[p] = now
			}
		}
		alsoOK := also == nil || also()
		if also != nil && alsoOK && when["alertmanager"].IsZero() {
			when["alertmanager"] = now
		}
		ok := depth == 0 && alsoOK
		if only != "" {
			ok = states[only].converged // the outbox still holds the other platform's jobs
		} else {
			for _, st := range states {
				ok = ok && st.converged
			}
		}
		if ok {
			c.all, c.at = true, now
			return c, when
		}
		if b.botExited() {
			b.fail("%s: the bot exited while waiting for convergence: %v", phase, b.bot.Process.Err())
			c.at = now
			return c, when
		}
		if now.After(deadline) || ctx.Err() != nil {
			c.at = now
			return c, when
		}
		if time.Since(lastLog) >= 15*time.Second {
			var parts []string
			for _, p := range b.platforms {
				st := states[p]
				parts = append(parts, fmt.Sprintf("%s %d/%d final, %d/%d replied, %d roots %v",
					p, st.final, len(wants), st.replied, len(wants), st.roots, clipList(st.missing, 2)))
			}
			if also != nil {
				parts = append(parts, fmt.Sprintf("alertmanager's receiver final: %v", alsoOK))
			}
			logf("%s: waiting: outbox depth %v; %s", phase, depth, strings.Join(parts, "; "))
			lastLog = time.Now()
		}
		_ = harness.Sleep(ctx, pollEvery)
	}
}

// checkAll reads every platform the bot posts to against wants.
func (b *bench) checkAll(wants map[int64]want) map[string]platformState {
	out := map[string]platformState{}
	for _, p := range b.platforms {
		out[p] = b.check(p, wants)
	}
	return out
}

func (b *bench) check(platform string, wants map[int64]want) platformState {
	if platform == "discord" {
		return b.checkDiscord(wants)
	}
	return b.checkSlack(wants)
}

// notConverged is what each platform did not show yet, for the report.
func notConverged(states map[string]platformState) map[string][]string {
	m := map[string][]string{}
	for p, st := range states {
		if len(st.missing) > 0 {
			m[p] = clipList(st.missing, 10)
		}
	}
	return m
}

// duplicateFailures fails the run for roots posted twice or roots of no
// known incident: the integrity the whole tool exists to check.
func (b *bench) duplicateFailures(phase, platform string, st platformState) {
	if st.duplicates > 0 {
		b.fail("%s: %d duplicate root(s) on %s, incidents %v", phase, st.duplicates, platform, st.dupIncidents)
	}
	if st.unknown > 0 {
		b.fail("%s: %d root(s) on %s carry no marker of a known incident", phase, st.unknown, platform)
	}
}

// finalDuplicateCheck looks once more, at the end, for roots posted twice.
func (b *bench) finalDuplicateCheck() {
	if b.slack == nil || len(b.incidents) == 0 {
		return
	}
	wants := map[int64]want{}
	for g, id := range b.incidents {
		wants[id] = want{group: g}
	}
	for _, p := range b.platforms {
		st := b.check(p, wants)
		already := false
		for _, f := range b.res.Failures {
			already = already || strings.Contains(f, "duplicate root(s) on "+p)
		}
		if st.duplicates > 0 && !already {
			b.fail("end of run: %d duplicate root(s) on %s, incidents %v", st.duplicates, p, st.dupIncidents)
		}
		for id := range wants {
			if st.rootsOf[id] == 0 {
				b.fail("end of run: incident #%d has no root on %s", id, p)
			}
		}
		if p == "discord" {
			b.res.DiscordThreadlessAtEnd = st.threadless
		}
	}
}
