package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// printReport writes the run as Markdown.
func (b *bench) printReport(w io.Writer) {
	r := &b.res
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## chatops storm benchmark")
	p("")
	p("- date: %s; machine: %s", time.Now().UTC().Format(time.RFC3339), r.Machine)
	if r.AM != nil || r.Params.Mode == "via-alertmanager" {
		p("- parameters: %d alerts in %d groups over %s, %s; then %d new alert(s) per group, then every alert resolved; convergence timeout %s per phase",
			r.Params.Alerts, r.Params.Groups, seconds(r.Params.StormS), r.Params.Order, r.Params.ChangeAlerts, seconds(r.Params.ConvergeTimeoutS))
		p("- alerts: %s", r.Params.Semantics)
		p("- Slack stand-in: %s", r.Params.SlackLimit)
		p("- routing: one catch-all route to `%s` (Slack `%s`)%s", slackDest, slackChannel, map[bool]string{true: fmt.Sprintf(" and `%s` (Discord `%s`)", discordDest, discordChannel)}[b.cfg.discord])
	} else {
		p("- parameters: %d alerts in %d groups over %s, %s; outage %s per platform; %d senders; convergence timeout %s",
			r.Params.Alerts, r.Params.Groups, seconds(r.Params.StormS), r.Params.Order, seconds(r.Params.OutageS), r.Params.Senders, seconds(r.Params.ConvergeTimeoutS))
		p("- webhooks: %s", r.Params.Semantics)
		p("- Slack stand-in: %s", r.Params.SlackLimit)
		p("- Discord stand-in: %s", r.Params.DiscordLimit)
		p("- routing: one catch-all route to `%s` (Slack `%s`) and `%s` (Discord `%s`): every incident is mirrored on both", slackDest, slackChannel, discordDest, discordChannel)
	}
	if r.AM != nil {
		printAM(p, r.AM)
	}
	if s := r.Storm; s != nil {
		p("")
		p("### Storm")
		p("")
		p("| | |")
		p("|---|---|")
		p("| webhooks sent / 200 / failed | %d / %d / %d |", s.Webhooks, s.Webhooks200, s.WebhookFailures)
		p("| incidents (severity mix) | %d (%s) |", s.Incidents, harness.Counts(s.SeverityMix))
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
	p("- log lines by level: %s (log: %s)", harness.Counts(r.Bot.LogLevels), r.Bot.LogPath)
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
		p("- %s", v)
	}
	if len(r.Failures) == 0 {
		if r.AM != nil {
			p("- **OK** integrity: every incident converged on every platform with exactly one root each, and Alertmanager's receiver showed each final state; Alertmanager took every alert and failed no notification; no bot error")
		} else {
			p("- **OK** integrity: every incident converged on both platforms with exactly one root each; every webhook got 200; no bot error")
		}
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
			by = " (" + harness.Counts(c.RejectedBy) + ")"
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

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

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

// printAM writes the -via-alertmanager run: phases, calls by caller,
// counters, and the storm's roots against their bound.
func printAM(p func(string, ...any), a *AMResult) {
	p("")
	p("### Storm through Alertmanager")
	p("")
	p("| phase | alerts posted (posts, failed) | sending took | converged | after the last post: chatops' Slack final / Alertmanager's receiver final / both and outbox empty | duplicate roots |")
	p("|---|---|---:|---|---|---:|")
	for _, ph := range a.Phases {
		slack := secs(ph.FinalS, "slack")
		if _, ok := ph.FinalS["discord"]; ok {
			slack += " (Discord " + secs(ph.FinalS, "discord") + ")"
		}
		p("| %s | %d (%d, %d) | %s s | %v | %s / %s / **%s** s | %d |", ph.Name, ph.AlertsPosted, ph.Posts, ph.PostFailures, f1(ph.SendS), ph.Converged,
			slack, secs(ph.FinalS, "alertmanager"), f1(ph.ConvergeS), ph.Duplicates)
	}
	for _, ph := range a.Phases {
		for who, ms := range ph.Missing {
			p("")
			p("%s: not converged on %s: %s", ph.Name, who, strings.Join(ms, "; "))
		}
		if ph.Name == "storm" && !ph.BotStoreAgrees {
			p("")
			p("storm: the bot's store disagrees with what was posted: %s", strings.Join(ph.BotStoreProblems, "; "))
		}
	}
	if len(a.RootSummary) > 0 {
		p("")
		p("Roots in the storm, seconds from its first alert. The incidents in the order of their first notification (chatops' opened_at: when Alertmanager's first webhook for the group arrived); the k-th is due by that notification + k × 1 s, Slack's 1 post/s per channel:")
		p("")
		p("| receiver | every incident has its root at | bound (last incident) | ratio (target ≤ 1.2) | roots after their own bound | without a root |")
		p("|---|---:|---:|---:|---:|---:|")
		for _, who := range []string{byChatops, byAlertmanager} {
			s := a.RootSummary[who]
			if s == nil {
				continue
			}
			p("| %s | %s s | %s s | **%s** | %d of %d%s | %d |", receiverName(who), f1(s.LastRootS), f1(s.BoundS), f2(s.Ratio), s.Late, s.Incidents, worst(s), s.Missing)
		}
		p("")
		p("| k | group | first notification | bound | chatops' root | Alertmanager's first message |")
		p("|---:|---|---:|---:|---:|---:|")
		n := len(a.Roots)
		shown := map[int]bool{}
		for _, i := range []int{0, n / 4, n / 2, 3 * n / 4, n - 1} {
			if i < 0 || i >= n || shown[i] {
				continue
			}
			shown[i] = true
			r := a.Roots[i]
			p("| %d | %s | %s | %s | %s | %s |", r.K, r.Group, f1(r.FirstNotificationS), f1(r.BoundS), f1(r.ChatopsRootS), f1(r.AMRootS))
		}
	}
	p("")
	p("Slack calls by caller (the front's record: chat.postMessage top-level or in a thread, chat.update, conversations.history, anything else; failed = not 200 or not ok), per phase and over the run:")
	p("")
	p("| phase | caller | calls | per incident | top-level posts | thread posts | chat.update | conversations.history | other | failed |")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	row := func(phase string, calls map[string]*CallerCalls) {
		for _, who := range []string{byChatops, byAlertmanager} {
			c := calls[who]
			if c == nil {
				continue
			}
			p("| %s | %s | %d | %s | %d | %d | %d | %d | %d | %d |", phase, receiverName(who), c.Total, f2(c.PerInc), c.TopLevelPosts, c.ThreadPosts, c.Updates, c.Lookups, c.Other, c.Failed)
		}
	}
	for _, ph := range a.Phases {
		row(ph.Name, ph.Calls)
	}
	row("**whole run**", a.Total)
	if len(a.Phases) > 0 && a.Phases[0].Discord != nil {
		p("")
		p("chatops' Discord calls (no limit enforced):")
		p("")
		var names []string
		var cs []*Calls
		for _, ph := range a.Phases {
			names, cs = append(names, ph.Name), append(cs, ph.Discord)
		}
		callsTable(p, names, cs)
	}
	p("")
	p("Counters over each phase (chatops' /metrics: outbox jobs claimed and by outcome, calls its limiter held back, 429s; Alertmanager's notifications by integration), and chatops' highest rates in its Slack channel:")
	p("")
	head, sep := "| counter |", "|---|"
	for _, ph := range a.Phases {
		head, sep = head+" "+ph.Name+" |", sep+"---:|"
	}
	p("%s", head)
	p("%s", sep)
	for _, n := range counterNames {
		line := "| " + n.key + " |"
		for _, ph := range a.Phases {
			line += " " + strconv.FormatFloat(ph.Counters[n.key], 'f', -1, 64) + " |"
		}
		p("%s", line)
	}
	for _, what := range []struct {
		name string
		v    func(*Rates) float64
	}{
		{"chatops chat.postMessage per second in its channel, highest (no limit enforced; Slack's is 1)", func(r *Rates) float64 { return r.PerChannel }},
		{"chatops chat.update in any 60 s, highest (Slack's Tier 3: 50)", func(r *Rates) float64 { return r.Secondary }},
	} {
		line := "| " + what.name + " |"
		for _, ph := range a.Phases {
			v := 0.0
			if ph.Rates != nil {
				v = what.v(ph.Rates)
			}
			line += " " + strconv.FormatFloat(v, 'f', -1, 64) + " |"
		}
		p("%s", line)
	}
}

func receiverName(who string) string {
	if who == byAlertmanager {
		return "Alertmanager's slack_configs"
	}
	return "chatops"
}
