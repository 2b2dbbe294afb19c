package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/bakewise/chatops/test/harness"
)

// printReport writes the run as Markdown.
func (s *soak) printReport(w io.Writer) {
	r := s.res
	p := r.Params
	fmt.Fprintf(w, "## chatops soak: two replicas, SIGKILLs, failing chat platforms\n\n")
	fmt.Fprintf(w, "- %g s at %g webhooks/s over 2 replicas (round-robin, retried on the other one); %d groups at a time, each living %s s and growing to 1–%d alerts; P1 deadline %g s\n",
		p.DurationS, p.Rate, p.Groups, p.LifeS, p.MaxAlerts, p.DeadlineS)
	fmt.Fprintf(w, "- a SIGKILL every %s s; the stand-ins failed %g%% (429, Retry-After 1 s) + %g%% (500) of thread calls: %s\n",
		p.KillEveryS, 100*p.Fail429, 100*p.Fail5xx, injected(r.Injected))
	fmt.Fprintf(w, "- machine: %s; seed %d\n\n", r.Machine, r.Seed)

	verdict := func(n int) string {
		if n == 0 {
			return "0"
		}
		return fmt.Sprintf("**%d**", n)
	}
	snd := r.Sender
	fmt.Fprintf(w, "| figure | value |\n|---|---:|\n")
	fmt.Fprintf(w, "| acknowledged alerts lost (must be 0) | %s of %d |\n", verdict(r.Lost+r.Stale), r.AlertsAcked)
	fmt.Fprintf(w, "| duplicate roots per incident and destination (must be 0) | Slack %s, Discord %s |\n", verdict(r.DuplicateRoots["slack"]), verdict(r.DuplicateRoots["discord"]))
	fmt.Fprintf(w, "| duplicate reminders (must be 0): fired twice / shown twice | %s of %d fired / Slack %s, Discord %s (shown %d, %d) |\n",
		verdict(r.DuplicateReminders), r.RemindersFired, verdict(r.DupRemindersShown["slack"]), verdict(r.DupRemindersShown["discord"]), r.RemindersShown["slack"], r.RemindersShown["discord"])
	fmt.Fprintf(w, "| duplicate replies (the lost-answer case) | Slack %d of %d, Discord %d of %d |\n", r.DuplicateReplies["slack"], r.Replies["slack"], r.DuplicateReplies["discord"], r.Replies["discord"])
	fmt.Fprintf(w, "| incidents; groups split over two incidents | %d; %d |\n", r.Incidents, r.Splits)
	fmt.Fprintf(w, "| webhooks sent / acknowledged / given up / retried on the other replica | %d / %d / %d / %d (%.1f/s) |\n", snd.Webhooks, snd.Acked, snd.GivenUp, snd.Retried, snd.RatePerS)
	fmt.Fprintf(w, "| webhook acknowledgement p50 / p99 / max | %.1f / %.1f / %.1f ms (with retries: p99 %.1f, max %.1f ms) |\n", snd.AckP50MS, snd.AckP99MS, snd.AckMaxMS, snd.EndToEndP99, snd.EndToEndMax)
	fmt.Fprintf(w, "| errors seen by the sender | %s |\n", harness.Counts(snd.Errors))
	fmt.Fprintf(w, "| kills (replica: seconds into the run) | %d: %s |\n", len(r.Kills), kills(r.Kills))
	conv := "**never** (within the timeout)"
	if r.Converged {
		conv = fmt.Sprintf("%.1f s after the last kill (%.1f s after the sender stopped; outbox depth then %d)", r.ConvergeAfterKillS, r.ConvergeAfterStopS, r.DepthAtConvergence)
	}
	fmt.Fprintf(w, "| every root shows its incident as stored, both platforms | %s |\n\n", conv)

	for i, rr := range r.Replicas {
		fmt.Fprintf(w, "- replica %d: %d starts, %s, peak RSS of its last start %.1f MiB, log lines %s\n", i, rr.Starts, rr.Exit, rr.PeakRSSMiB, harness.Counts(rr.LogLevels))
		for _, l := range rr.LogSamples {
			fmt.Fprintf(w, "  - %s\n", l)
		}
	}
	for _, l := range r.DupReplySamples {
		fmt.Fprintf(w, "- duplicate reply: %s\n", l)
	}
	for _, l := range r.LostSamples {
		fmt.Fprintf(w, "- lost: %s\n", l)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- note: %s\n", n)
	}
	if len(r.Failures) == 0 {
		fmt.Fprintf(w, "\n**PASS**\n")
	} else {
		fmt.Fprintf(w, "\n**FAIL**\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
	fmt.Fprintf(w, "\nwork directory: %s\n", r.WorkDir)
}

func injected(m map[string]map[string]int) string {
	var parts []string
	for _, p := range []string{"slack", "discord"} {
		parts = append(parts, fmt.Sprintf("%s %s", p, harness.Counts(m[p])))
	}
	return strings.Join(parts, "; ")
}

func kills(ks []Kill) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%d@%.0f", k.Replica, k.AtS))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
