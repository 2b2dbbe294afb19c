package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// store is the result for "empty" or "filled", nil if that part did not
// run.
func (r *Result) store(name string) *StoreResult {
	for _, s := range r.Stores {
		if s.Store == name {
			return s
		}
	}
	return nil
}

// verdicts holds the filled store against issue 16's targets.
func (b *bench) verdicts() {
	r := &b.res
	empty, filled := r.store("empty"), r.store("filled")
	var vs []harness.Verdict
	if filled != nil && filled.Idle != nil {
		d := fmt.Sprintf("%.2f %% with %d open and %d resolved incidents (PostgreSQL backends %.2f %%)", filled.Idle.BotCPUPct, b.cfg.open, b.cfg.resolved, filled.Idle.PGCPUPct)
		if empty != nil && empty.Idle != nil {
			d += fmt.Sprintf("; empty store %.2f %% (backends %.2f %%)", empty.Idle.BotCPUPct, empty.Idle.PGCPUPct)
		}
		vs = append(vs, harness.Verdict{Target: fmt.Sprintf("idle CPU under %g %% of a core with the store full", targetIdleCPUPct),
			Met: filled.Idle.BotCPUPct < targetIdleCPUPct, Detail: d})
	}
	if empty != nil && filled != nil {
		met := len(r.Params.Senders) > 0
		var parts []string
		for _, n := range r.Params.Senders {
			e, f := medianRate(empty, n), medianRate(filled, n)
			if e == 0 || f == 0 {
				met = false
				parts = append(parts, fmt.Sprintf("%d senders: not measured", n))
				continue
			}
			met = met && f/e >= targetIngestRatio
			parts = append(parts, fmt.Sprintf("%d senders: %.0f vs %.0f webhooks/s, ratio %.2f", n, f, e, f/e))
		}
		what := "webhooks/s"
		if r.Params.Rounds > 1 {
			what = fmt.Sprintf("median webhooks/s of %d rounds", r.Params.Rounds)
		}
		vs = append(vs, harness.Verdict{Target: fmt.Sprintf("ingest with the store full within %.0f %% of its rate on an empty store (%s)", 100*(1-targetIngestRatio), what),
			Met: met, Detail: strings.Join(parts, "; ")})
	}
	var idleParts, peakParts []string
	idleMet, peakMet := true, true
	for _, s := range r.Stores {
		if s.Idle != nil {
			idleMet = idleMet && s.Idle.RSSMiB > 0 && s.Idle.RSSMiB <= targetIdleRSSMiB
			idleParts = append(idleParts, fmt.Sprintf("%s store %.1f MiB", s.Store, s.Idle.RSSMiB))
		}
		peakMet = peakMet && s.PeakRSSMiB > 0 && s.PeakRSSMiB <= targetIngestRSSMiB
		peakParts = append(peakParts, fmt.Sprintf("%s store %.1f MiB (sampled during ingest: %.1f MiB)", s.Store, s.PeakRSSMiB, maxIngestRSS(s)))
	}
	if len(idleParts) > 0 {
		vs = append(vs, harness.Verdict{Target: fmt.Sprintf("RSS at most %g MiB idle", targetIdleRSSMiB), Met: idleMet, Detail: strings.Join(idleParts, ", ")})
		vs = append(vs, harness.Verdict{Target: fmt.Sprintf("RSS at most %g MiB at peak under the ingest benchmark (over the bot's life: VmHWM, or the samples during ingest when higher)", targetIngestRSSMiB),
			Met: peakMet, Detail: strings.Join(peakParts, ", ")})
	}
	if empty != nil && filled != nil && empty.Idle != nil && filled.Idle != nil {
		flat := filled.Idle.RSSMiB <= empty.Idle.RSSMiB*(1+flatRSS) && filled.PeakRSSMiB <= empty.PeakRSSMiB*(1+flatRSS)
		vs = append(vs, harness.Verdict{Target: fmt.Sprintf("RSS flat as the store grows (full store within %.0f %% of the empty one's, idle and at peak)", 100*flatRSS),
			Met: flat, Detail: fmt.Sprintf("idle %.1f → %.1f MiB, peak %.1f → %.1f MiB", empty.Idle.RSSMiB, filled.Idle.RSSMiB, empty.PeakRSSMiB, filled.PeakRSSMiB)})
	}
	r.Verdicts = vs
}

// ingestCase is the store's case with n senders in round, nil if it did
// not run.
func (s *StoreResult) ingestCase(n, round int) *IngestCase {
	if s == nil {
		return nil
	}
	for _, c := range s.Ingest {
		if c.Senders == n && c.Round == round {
			return c
		}
	}
	return nil
}

// medianRate is the median webhooks/s of the store's rounds with n
// senders (0 if none ran).
func medianRate(s *StoreResult, n int) float64 {
	if s == nil {
		return 0
	}
	var rates []float64
	for _, c := range s.Ingest {
		if c.Senders == n && c.PayloadsPerS > 0 {
			rates = append(rates, c.PayloadsPerS)
		}
	}
	if len(rates) == 0 {
		return 0
	}
	slices.Sort(rates)
	if len(rates)%2 == 1 {
		return rates[len(rates)/2]
	}
	return (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
}

func maxIngestRSS(s *StoreResult) float64 {
	m := 0.0
	for _, c := range s.Ingest {
		m = max(m, c.PeakRSSMiB)
	}
	return m
}

// printReport writes the run as Markdown.
func (b *bench) printReport(w io.Writer) {
	r := &b.res
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	empty, filled := r.store("empty"), r.store("filled")
	p("## chatops scale benchmark")
	p("")
	p("- date: %s; machine: %s", time.Now().UTC().Format(time.RFC3339), r.Machine)
	p("- parameters: filled store %d open + %d resolved incidents (about %d reminders due at start); settle %s, idle %s; background passes timed %d times; ingest %s per case with %v senders of 1-alert webhooks, each a new group, %d round(s)",
		r.Params.Open, r.Params.Resolved, r.Params.Due, seconds(r.Params.SettleS), seconds(r.Params.IdleS), r.Params.Passes, seconds(r.Params.IngestS), r.Params.Senders, r.Params.Rounds)
	p("- the bot: PostgreSQL, no chat destination (incidents stored, not posted), correlation and reminders at their defaults")
	if filled != nil && filled.Fill != nil {
		f := filled.Fill
		p("")
		p("### The filled store")
		p("")
		p("| | |")
		p("|---|---|")
		p("| incidents | %d open, %d resolved |", f.Open, f.Resolved)
		for _, k := range []string{"alerts", "timeline", "threads"} {
			p("| %s rows | %d |", k, f.Rows[k])
		}
		p("| open incidents with a reminder pending / due at the bot's start | %d / %d |", f.Pending, f.DueAtOpen)
		p("| database size after VACUUM (ANALYZE) | %.0f MiB |", f.SizeMiB)
		var took []string
		for _, st := range fillStatements {
			took = append(took, fmt.Sprintf("%s %.1f s", st.what, f.Seconds[st.what]))
		}
		p("| generated in | %.1f s (%s); vacuum and analyze %.1f s |", f.TotalS, strings.Join(took, ", "), f.VacuumS)
	}
	if empty != nil || filled != nil {
		col := func(f func(*StoreResult) string) string {
			cell := func(s *StoreResult) string {
				if s == nil || s.Idle == nil {
					return "—"
				}
				return f(s)
			}
			return cell(empty) + " | " + cell(filled)
		}
		bold := func(f func(*StoreResult) string) func(*StoreResult) string {
			return func(s *StoreResult) string { return "**" + f(s) + "**" }
		}
		p("")
		p("### Idle")
		p("")
		p("| figure | empty store | filled store |")
		p("|---|---:|---:|")
		p("| bot CPU over the idle window, %% of one core | %s |", col(bold(func(s *StoreResult) string { return fmt.Sprintf("%.2f %%", s.Idle.BotCPUPct) })))
		p("| CPU of the PostgreSQL backends serving it, %% of one core | %s |", col(func(s *StoreResult) string {
			return fmt.Sprintf("%.2f %% (%d backends, %d ended)", s.Idle.PGCPUPct, s.Idle.PGBackends, s.Idle.PGBackendsGone)
		}))
		p("| resident memory (VmRSS) at ready / after the idle window | %s |", col(bold(func(s *StoreResult) string { return fmt.Sprintf("%.1f / %.1f MiB", s.StartRSSMiB, s.Idle.RSSMiB) })))
		p("| one GET /metrics (its store counts included) | %s |", col(func(s *StoreResult) string { return fmt.Sprintf("%.1f ms", s.Idle.ScrapeMS) }))
		p("| `chatops serve` to /readyz | %s |", col(func(s *StoreResult) string { return fmt.Sprintf("%.1f s", s.ReadyS) }))
		p("| store operations while idle: count × mean | %s |", col(func(s *StoreResult) string { return opsString(s.Idle.Ops) }))
		passTable := func(title string, get func(*StoreResult) []PassTimes) {
			if len(get(empty))+len(get(filled)) == 0 {
				return
			}
			p("")
			p("%s", title)
			p("")
			p("| pass | empty store | filled store |")
			p("|---|---:|---:|")
			for i := range max(len(get(empty)), len(get(filled))) {
				var what string
				cells := []string{"—", "—"}
				for j, s := range []*StoreResult{empty, filled} {
					if ps := get(s); i < len(ps) {
						what = ps[i].What
						cells[j] = fmt.Sprintf("%.2f / %.2f ms", ps[i].P50, ps[i].Max)
					}
				}
				p("| %s | %s | %s |", what, cells[0], cells[1])
			}
		}
		passTable(fmt.Sprintf("Background passes, timed in this process against the same database before the ingest (no outage open), p50 / max over %d:", r.Params.Passes),
			func(s *StoreResult) []PassTimes {
				if s == nil {
					return nil
				}
				return s.Passes
			})
		after := func(s *StoreResult) string {
			if s == nil || s.AfterIngest == nil {
				return "—"
			}
			c := s.AfterIngest
			return fmt.Sprintf("%d incidents, %d open, %d open outage(s) with %d links", c.Incidents, c.Open, c.OpenOutages, c.OutageLinks)
		}
		passTable(fmt.Sprintf("The same passes after the ingest (empty store: %s; filled: %s):", after(empty), after(filled)),
			func(s *StoreResult) []PassTimes {
				if s == nil {
					return nil
				}
				return s.PassesAfterIngest
			})
		p("")
		p("### Ingest")
		p("")
		p("1-alert webhooks, each a new group (every one opens an incident), closed loop; latency to the 200 in ms:")
		p("")
		p("| senders | round | store | webhooks/s | p50 | p99 | max | lost | failed | bot RSS during (sampled) | filled ÷ empty |")
		p("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, n := range r.Params.Senders {
			for round := 1; round <= r.Params.Rounds; round++ {
				for _, s := range []*StoreResult{empty, filled} {
					c := s.ingestCase(n, round)
					if c == nil {
						continue
					}
					lost := "?"
					if c.Lost != nil {
						lost = fmt.Sprint(*c.Lost)
					}
					ratio := ""
					if e := empty.ingestCase(n, round); s == filled && e != nil && e.PayloadsPerS > 0 {
						ratio = fmt.Sprintf("%.2f", c.PayloadsPerS/e.PayloadsPerS)
					}
					p("| %d | %d | %s | %.0f | %.1f | %.1f | %.1f | %s | %d | %.1f MiB | %s |", n, round, s.Store, c.PayloadsPerS, c.P50, c.P99, c.Max, lost, c.Failed, c.PeakRSSMiB, ratio)
				}
			}
			if e, f := medianRate(empty, n), medianRate(filled, n); e > 0 && f > 0 {
				p("| %d | median | | %.0f → %.0f | | | | | | | **%.2f** |", n, e, f, f/e)
			}
		}
		p("")
		p("### Bot")
		p("")
		for _, s := range r.Stores {
			p("- %s store: peak resident memory %.1f MiB (VmHWM, or the ingest samples when higher); %s; log lines %s", s.Store, s.PeakRSSMiB, s.Exit, harness.Counts(s.LogLevels))
			for _, l := range s.LogSamples {
				p("  - %s", l)
			}
		}
	}
	p("")
	p("### Verdicts")
	p("")
	for _, v := range r.Verdicts {
		p("- %s", v)
	}
	if len(r.Failures) == 0 {
		p("- **OK** integrity: no acknowledged alert lost, no webhook failed, no bot error, clean exits")
	}
	for _, f := range r.Failures {
		p("- **FAILED** %s", f)
	}
	p("")
	p("Work directory (configs, bot and generator logs): %s", r.WorkDir)
}

func opsString(ops []OpStat) string {
	if len(ops) == 0 {
		return "none"
	}
	var parts []string
	for _, o := range ops {
		parts = append(parts, fmt.Sprintf("%s %.0f × %.2f ms", o.Op, o.Count, o.MeanMS))
	}
	return strings.Join(parts, ", ")
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
