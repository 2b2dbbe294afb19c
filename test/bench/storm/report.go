package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// printReport writes the run as Markdown.
func (b *bench) printReport(w io.Writer) {
	r := &b.res
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## chatops storm benchmark")
	p("")
	p("- date: %s; machine: %s", time.Now().UTC().Format(time.RFC3339), r.Machine)
	p("- parameters: %d alerts in %d groups over %s; outage %s per platform; %d senders; convergence timeout %s",
		r.Params.Alerts, r.Params.Groups, time.Duration(r.Params.StormS*float64(time.Second)), time.Duration(r.Params.OutageS*float64(time.Second)), r.Params.Senders,
		time.Duration(r.Params.ConvergeTimeoutS*float64(time.Second)))
	p("- webhooks: %s", r.Params.Semantics)
	p("- Slack stand-in: %s", r.Params.SlackLimit)
	p("- Discord stand-in: %s", r.Params.DiscordLimit)
	p("- routing: one catch-all route to `%s` (Slack `%s`) and `%s` (Discord `%s`): every incident is mirrored on both", slackDest, slackChannel, discordDest, discordChannel)
	if s := r.Storm; s != nil {
		p("")
		p("### Storm")
		p("")
		p("| | |")
		p("|---|---|")
		p("| webhooks sent / 200 / failed | %d / %d / %d |", s.Webhooks, s.Webhooks200, s.WebhookFailures)
		p("| incidents (severity mix) | %d (%s) |", s.Incidents, mixString(s.SeverityMix))
		p("| sending took (max lateness vs plan) | %s s (%s s) |", f1(s.SendS), f2(s.MaxLatenessS))
		p("| webhook ack p50 / p99 / max | %s / %s / %s ms |", f1(s.AckP50MS), f1(s.AckP99MS), f1(s.AckMaxMS))
		p("| converged | %v |", s.Converged)
		p("| time from the last webhook to convergence | **%s s** (Slack final after %s s, Discord after %s s) |", f1(s.ConvergeS), secs(s.PlatformS, "slack"), secs(s.PlatformS, "discord"))
		p("| duplicate roots (Slack / Discord) | %d / %d |", s.Duplicates["slack"], s.Duplicates["discord"])
		p("| Discord roots without a thread at convergence | %d %v |", len(s.DiscordThreadless), s.DiscordThreadless)
		p("| bot's store agrees with what was sent | %v %s |", s.BotStoreAgrees, strings.Join(s.BotStoreProblems, "; "))
		p("| calls the bot's own limiters held back (Slack / Discord) | %.0f / %.0f |", s.HeldBack["slack"], s.HeldBack["discord"])
		for plat, ms := range s.Missing {
			p("| not converged on %s | %s |", plat, strings.Join(ms, "; "))
		}
		if s.Calls != nil {
			p("")
			p("Chat calls during the storm (from its first webhook to convergence), from the stand-ins' counters:")
			p("")
			callsTable(p, []string{"slack", "discord"}, []*Calls{s.Calls["slack"], s.Calls["discord"]})
			p("")
			ratesTable(p, []string{"slack", "discord"}, []*Rates{s.Rates["slack"], s.Rates["discord"]})
		}
	}
	for _, o := range r.Outages {
		p("")
		p("### Outage of %s", titleCase(o.Platform))
		p("")
		change := "one webhook per group resolves all its alerts"
		if o.Change == "refire" {
			change = "one webhook per group fires all its alerts again (a new occurrence), reopening the incident"
		}
		p("During the outage the stand-in answered 503 to every call; %s.", change)
		p("")
		p("| | |")
		p("|---|---|")
		ext := ""
		if o.Extended {
			ext = fmt.Sprintf(" (extended past -outage: %s caught up only then)", o.OtherPlatform)
		}
		p("| outage length | %s s%s |", f1(o.OutageS), ext)
		p("| change webhooks (failed) | %d (%d) |", o.Webhooks, o.WebhookFailures)
		p("| %s (up) showed the final state after | %s s (%v) |", titleCase(o.OtherPlatform), f1(o.OtherConvergedS), o.OtherConverged)
		p("| owed at recovery | %d edits + %d replies (+ %d roots) = %d messages |", o.OwedEdits, o.OwedReplies, o.OwedRoots, o.OwedEdits+o.OwedReplies+o.OwedRoots)
		p("| lower bound | **%s s** = %s |", f1(o.BoundS), o.BoundFormula)
		p("| measured convergence after recovery | **%s s** (converged: %v) |", f1(o.ConvergeS), o.Converged)
		p("| ratio measured ÷ bound (target ≤ 1.2) | **%s** |", f2(o.Ratio))
		p("| first call after recovery / first reply | +%s s / +%s s |", f1(o.FirstCallS), f1(o.FirstReplyS))
		p("| duplicate roots (Slack / Discord) | %d / %d |", o.Duplicates["slack"], o.Duplicates["discord"])
		for plat, ms := range o.Missing {
			p("| not converged on %s | %s |", plat, strings.Join(ms, "; "))
		}
		if o.CallsDown != nil {
			p("")
			callsTable(p, []string{o.Platform + " during the outage", o.Platform + " after recovery", o.OtherPlatform + " (up) from the outage to convergence"},
				[]*Calls{o.CallsDown, o.CallsRecovery, o.OtherCalls})
			p("")
			ratesTable(p, []string{o.Platform + " after recovery", o.OtherPlatform + " (up) during and after"}, []*Rates{o.RatesRecovery, o.OtherRates})
		}
	}
	p("")
	p("### Bot")
	p("")
	p("- resident memory: %s MiB idle after start; peak (VmHWM) %s MiB after the storm, %s MiB over the whole run",
		f1(r.Bot.IdleRSSMiB), f1(r.Bot.PeakRSSStormMiB), f1(r.Bot.PeakRSSMiB))
	p("- exit: %s", r.Bot.Exit)
	p("- log lines by level: %s (log: %s)", levelsString(r.Bot.LogLevels), r.Bot.LogPath)
	for _, l := range r.Bot.Recoveries {
		p("- recovery: %s", l)
	}
	for _, l := range r.Bot.LogSamples {
		p("- %s", l)
	}
	p("")
	p("### Verdicts")
	p("")
	for _, v := range r.Verdicts {
		mark := "MET"
		if !v.Met {
			mark = "MISSED"
		}
		p("- **%s** %s: %s", mark, v.Target, v.Detail)
	}
	if len(r.Failures) == 0 {
		p("- **OK** integrity: every incident converged on both platforms with exactly one root each; every webhook got 200; no bot error")
	}
	for _, f := range r.Failures {
		p("- **FAILED** %s", f)
	}
	for _, n := range r.Notes {
		p("- note: %s", n)
	}
	p("")
	p("Work directory (config, bot log): %s", r.WorkDir)
}

func callsTable(p func(string, ...any), names []string, cs []*Calls) {
	p("| platform | calls | per incident | roots posted | edits | replies posted | thread starts | lookups | posts refused | of all calls: 429s | refused (down) |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, c := range cs {
		if c == nil {
			continue
		}
		by := ""
		if len(c.RejectedBy) > 0 {
			by = " (" + mixString(c.RejectedBy) + ")"
		}
		p("| %s | %d | %s | %d | %d | %d | %d | %d | %d | %d%s | %d |", names[i], c.Total, f2(c.PerInc), c.Roots, c.Edits, c.Replies, c.ThreadStarts, c.Lookups, c.FailedPosts, c.Rejected429, by, c.Refused)
	}
}

func ratesTable(p func(string, ...any), names []string, rs []*Rates) {
	p("| platform | max per-channel rate | limit | measured as | secondary | limit | measured as |")
	p("|---|---:|---:|---|---:|---:|---|")
	for i, r := range rs {
		if r == nil {
			continue
		}
		extra := ""
		if r.ParentAllRoutes > 0 {
			extra = fmt.Sprintf("; all routes on the channel together: %g/s", r.ParentAllRoutes)
		}
		p("| %s | %g | %g | %s%s | %g | %g | %s |", names[i], r.PerChannel, r.PerChannelLimit, r.PerChannelWhat, extra, r.Secondary, r.SecondaryLimit, r.SecondaryWhat)
	}
}

func mixString(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func levelsString(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func clipList(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return append(slices.Clone(xs[:n]), fmt.Sprintf("... and %d more", len(xs)-n))
}

// secs prints m[k] in seconds, or "never" when it is absent.
func secs(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return f1(v)
	}
	return "never"
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
