package main

import (
	"fmt"
	"strings"

	"github.com/bakewise/chatops/test/harness"
)

// verdicts compares the measures with the performance targets; a missed
// target is reported, not a failure of the run.
func (b *bench) verdicts() {
	var vs []harness.Verdict
	if s := b.res.Storm; s != nil && s.Calls != nil {
		// What a storm incident needs: its root, its runbook reply, one
		// edit and one reply (Slack: 4), and on Discord a thread start too
		// (5); "about that" is within one call more.
		least := map[string]float64{"slack": 4, "discord": 5}
		for _, p := range []string{"slack", "discord"} {
			c := s.Calls[p]
			vs = append(vs, harness.Verdict{
				Target: fmt.Sprintf("storm: at most %.0f chat calls per incident on %s (root, runbook, edit, reply%s: %.0f)", least[p]+1, p, map[string]string{"discord": ", thread"}[p], least[p]),
				Met:    c.PerInc <= least[p]+1,
				Detail: fmt.Sprintf("%.2f calls per incident (%d calls, %d incidents)", c.PerInc, c.Total, c.Incidents),
			})
		}
	}
	// Limits in steady state: every window in which the platform was up.
	type win struct {
		what string
		r    *Rates
		c    *Calls
	}
	for _, p := range []string{"slack", "discord"} {
		var ws []win
		if s := b.res.Storm; s != nil && s.Rates != nil {
			ws = append(ws, win{"storm", s.Rates[p], s.Calls[p]})
		}
		for _, o := range b.res.Outages {
			if o.Platform == p && o.RatesRecovery != nil {
				ws = append(ws, win{"after its outage", o.RatesRecovery, o.CallsRecovery})
			}
			if o.OtherPlatform == p && o.OtherRates != nil {
				ws = append(ws, win{o.Platform + "'s outage", o.OtherRates, o.OtherCalls})
			}
		}
		if len(ws) == 0 {
			continue
		}
		met := true
		var parts []string
		for _, w := range ws {
			over := w.r.PerChannel > w.r.PerChannelLimit
			if p == "discord" {
				over = over || w.r.Secondary > w.r.SecondaryLimit
			}
			if over {
				met = false
			}
			parts = append(parts, fmt.Sprintf("%s: %g/s per channel (limit %g), %d×429", w.what, w.r.PerChannel, w.r.PerChannelLimit, w.c.Rejected429))
		}
		vs = append(vs, harness.Verdict{
			Target: fmt.Sprintf("never over %s's per-channel limit while it is up", p),
			Met:    met,
			Detail: strings.Join(parts, "; "),
		})
		if p == "slack" {
			met, parts = true, nil
			for _, w := range ws {
				if w.r.Secondary > w.r.SecondaryLimit {
					met = false
				}
				parts = append(parts, fmt.Sprintf("%s: %g", w.what, w.r.Secondary))
			}
			vs = append(vs, harness.Verdict{
				Target: "Slack chat.update within 50 per minute (Tier 3; any 60 s window)",
				Met:    met,
				Detail: strings.Join(parts, "; "),
			})
		}
	}
	if b.res.Storm != nil && b.res.Storm.Calls != nil {
		vs = append(vs, harness.Verdict{
			Target: "every Discord root has its thread (storm convergence / end of run)",
			Met:    len(b.res.Storm.DiscordThreadless) == 0 && len(b.res.DiscordThreadlessAtEnd) == 0,
			Detail: fmt.Sprintf("without a thread: %d %v at storm convergence, %d %v at the end",
				len(b.res.Storm.DiscordThreadless), b.res.Storm.DiscordThreadless, len(b.res.DiscordThreadlessAtEnd), b.res.DiscordThreadlessAtEnd),
		})
	}
	for _, o := range b.res.Outages {
		vs = append(vs, harness.Verdict{
			Target: fmt.Sprintf("%s catch-up within 1.2× the lower bound", o.Platform),
			Met:    o.Converged && o.Ratio <= 1.2,
			Detail: fmt.Sprintf("%.1f s measured vs %.1f s bound: ratio %.2f", o.ConvergeS, o.BoundS, o.Ratio),
		})
	}
	b.res.Verdicts = append(vs, b.amVerdicts()...)
}

// amVerdicts are issue 16's targets for the storm through Alertmanager.
func (b *bench) amVerdicts() []harness.Verdict {
	a := b.res.AM
	if a == nil {
		return nil
	}
	var vs []harness.Verdict
	if c, m := a.RootSummary[byChatops], a.RootSummary[byAlertmanager]; c != nil && c.Incidents > 0 {
		vs = append(vs, harness.Verdict{
			Target: "storm via Alertmanager: chatops' last Slack root within 1.2× its rate-limit bound (the k-th incident's first notification + k × 1 s)",
			Met:    c.Missing == 0 && c.Ratio <= 1.2,
			Detail: fmt.Sprintf("every root by %.1f s against a bound of %.1f s: ratio %.2f; %d of %d roots after their own bound%s; %d without a root. Alertmanager's receiver: %.1f s, ratio %.2f",
				c.LastRootS, c.BoundS, c.Ratio, c.Late, c.Incidents, worst(c), c.Missing, m.LastRootS, m.Ratio),
		})
	}
	if c, m := a.Total[byChatops], a.Total[byAlertmanager]; c != nil && m != nil {
		vs = append(vs, harness.Verdict{
			Target: "via Alertmanager: chatops' Slack calls per incident at most Alertmanager's receiver's (whole run)",
			Met:    c.PerInc <= m.PerInc,
			Detail: fmt.Sprintf("chatops %.2f (%d calls), Alertmanager's receiver %.2f (%d calls), %d incidents", c.PerInc, c.Total, m.PerInc, m.Total, c.Incidents),
		})
	}
	met, upd := true, true
	var parts []string
	for _, ph := range a.Phases {
		if ph.Rates == nil {
			continue
		}
		met = met && ph.Rates.PerChannel <= ph.Rates.PerChannelLimit
		upd = upd && ph.Rates.Secondary <= ph.Rates.SecondaryLimit
		parts = append(parts, fmt.Sprintf("%s: %g/s, %g chat.update in 60 s", ph.Name, ph.Rates.PerChannel, ph.Rates.Secondary))
	}
	if len(parts) > 0 {
		vs = append(vs, harness.Verdict{
			Target: "via Alertmanager: chatops keeps to Slack's limits by itself (the stand-in enforced none): ≤ 1 chat.postMessage/s in its channel, ≤ 50 chat.update in any minute",
			Met:    met && upd,
			Detail: strings.Join(parts, "; "),
		})
	}
	return vs
}

func worst(s *RootSummary) string {
	if s.WorstK < 0 {
		return ""
	}
	return fmt.Sprintf(" (worst: k = %d, %.1f s late)", s.WorstK, s.WorstLateS)
}
