package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// Result is one run, as the report prints it and -json writes it.
type Result struct {
	Machine  string `json:"machine"`
	Alerts   int    `json:"alerts"`
	Batch    int    `json:"batch"`
	Calls    int    `json:"calls"`
	Incident int64  `json:"incident"`

	Webhooks []Webhook `json:"webhooks"`
	// ThreadS is how long after the last webhook the Slack thread showed
	// every alert and the outbox was empty; ThreadReplies the replies then.
	ThreadS       float64 `json:"thread_s"`
	ThreadReplies int     `json:"thread_replies"`

	Detail       Latency `json:"detail"`
	DetailBytes  int     `json:"detail_bytes"`
	DetailAlerts int     `json:"detail_alerts"`
	DetailEvents int     `json:"detail_events"`
	EventsTotal  int     `json:"events_total"`

	AlertPages int     `json:"alert_pages"`
	AlertWalkS float64 `json:"alert_walk_s"`
	EventPages int     `json:"event_pages"`
	EventWalkS float64 `json:"event_walk_s"`

	ReadyRSSMiB float64 `json:"ready_rss_mib"`
	EndRSSMiB   float64 `json:"end_rss_mib"`
	// PeakRSSMiB is the bot's VmHWM just before SIGTERM: its resident high
	// water mark over the whole run.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	BotExit    int     `json:"bot_exit"`
	BotLog     string  `json:"bot_log"`
	WorkDir    string  `json:"work_dir"`

	Verdicts []harness.Verdict `json:"verdicts"`
	Failures []string          `json:"failures"`
}

// Webhook is one batch of the storm.
type Webhook struct {
	Alerts  int     `json:"alerts"`
	BodyMiB float64 `json:"body_mib"`
	AckMs   float64 `json:"ack_ms"`
}

// Latency sums up timed calls.
type Latency struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// summarize is the nearest-rank percentiles of lat.
func summarize(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s)) + 0.999999)
		return s[min(max(i-1, 0), len(s)-1)]
	}
	return Latency{N: len(s), P50Ms: ms(rank(0.50)), P99Ms: ms(rank(0.99)), MaxMs: ms(s[len(s)-1])}
}

// verdicts holds the run against the targets.
func (r *Result) verdicts() {
	if r.PeakRSSMiB > 0 {
		r.Verdicts = append(r.Verdicts, harness.Verdict{Target: fmt.Sprintf("peak RSS under %.0f MiB", targetRSSMiB),
			Met: r.PeakRSSMiB < targetRSSMiB, Detail: fmt.Sprintf("VmHWM %.1f MiB", r.PeakRSSMiB)})
	}
	if r.Detail.N > 0 {
		r.Verdicts = append(r.Verdicts, harness.Verdict{Target: fmt.Sprintf("GET /v1/incidents/{id} under %.0f ms", targetDetailMs),
			Met: r.Detail.P99Ms < targetDetailMs, Detail: fmt.Sprintf("p99 %.1f ms over %d calls", r.Detail.P99Ms, r.Detail.N)})
	}
}

// print writes the report as Markdown.
func (r *Result) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Big incident: %d alerts in one group, webhooks of %d\n\n", r.Alerts, r.Batch)
	p("%s\n\n", r.Machine)
	p("| figure | value |\n|---|---:|\n")
	for i, wh := range r.Webhooks {
		p("| webhook %d: alerts, body, acknowledged in | %d, %.1f MiB, %.0f ms |\n", i+1, wh.Alerts, wh.BodyMiB, wh.AckMs)
	}
	p("| thread caught up after the last webhook | %.1f s (%d replies) |\n", r.ThreadS, r.ThreadReplies)
	p("| `GET /v1/incidents/%d` p50 / p99 / max (%d calls) | %.1f / %.1f / %.1f ms |\n", r.Incident, r.Detail.N, r.Detail.P50Ms, r.Detail.P99Ms, r.Detail.MaxMs)
	p("| its answer | %d bytes: %d alerts, %d events (of %d and %d) |\n", r.DetailBytes, r.DetailAlerts, r.DetailEvents, r.Alerts, r.EventsTotal)
	p("| `/alerts` walked, pages of 1,000 | %d pages, %.1f s |\n", r.AlertPages, r.AlertWalkS)
	p("| `/timeline` walked, pages of 1,000 | %d pages, %.1f s |\n", r.EventPages, r.EventWalkS)
	p("| bot RSS at ready / at the end | %.1f / %.1f MiB |\n", r.ReadyRSSMiB, r.EndRSSMiB)
	p("| bot peak RSS (VmHWM) | %.1f MiB |\n", r.PeakRSSMiB)
	p("| bot exit on SIGTERM | %d |\n\n", r.BotExit)
	for _, v := range r.Verdicts {
		p("- %s\n", v)
	}
	for _, f := range r.Failures {
		p("- FAILURE: %s\n", f)
	}
	p("\nbot log: %s; work directory: %s\n", r.BotLog, r.WorkDir)
}
