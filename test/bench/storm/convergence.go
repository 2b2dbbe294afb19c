package main

import (
	"context"
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

// waitConverged polls until the outbox is empty and both stand-ins show
// wants, or timeout after since passes. It returns when each platform
// first showed its final state. only, when set, names the one platform
// whose state counts (the other is down).
func (b *bench) waitConverged(ctx context.Context, wants map[int64]want, since time.Time, timeout time.Duration, phase, only string) (convergence, map[string]time.Time) {
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
		sl, dc := b.checkSlack(wants), b.checkDiscord(wants)
		if sl.converged && when["slack"].IsZero() {
			when["slack"] = now
		}
		if dc.converged && when["discord"].IsZero() {
			when["discord"] = now
		}
		ok := depth == 0
		switch only {
		case "slack":
			ok = sl.converged // the outbox still holds Discord's jobs
		case "discord":
			ok = dc.converged
		default:
			ok = ok && sl.converged && dc.converged
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
			logf("%s: waiting: outbox depth %v; slack %d/%d final, %d/%d replied, %d roots %v; discord %d/%d final, %d/%d replied, %d roots %v",
				phase, depth, sl.final, len(wants), sl.replied, len(wants), sl.roots, clipList(sl.missing, 2),
				dc.final, len(wants), dc.replied, len(wants), dc.roots, clipList(dc.missing, 2))
			lastLog = time.Now()
		}
		_ = harness.Sleep(ctx, pollEvery)
	}
}

// notConverged is what each platform did not show yet, for the report.
func notConverged(sl, dc platformState) map[string][]string {
	m := map[string][]string{}
	for p, st := range map[string]platformState{"slack": sl, "discord": dc} {
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
	for _, p := range []string{"slack", "discord"} {
		var st platformState
		if p == "slack" {
			st = b.checkSlack(wants)
		} else {
			st = b.checkDiscord(wants)
		}
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
