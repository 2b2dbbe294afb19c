package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// otlpDiscard is an in-process OTLP/HTTP endpoint that reads and drops
// what the bot exports, counting it: the cost of tracing measured is the
// bot's (spans, batching, encoding, the POST), not a collector's.
type otlpDiscard struct {
	srv             *httptest.Server
	requests, bytes atomic.Int64
}

func newOTLPDiscard() *otlpDiscard {
	d := &otlpDiscard{}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
		d.requests.Add(1)
		d.bytes.Add(n)
		// An empty ExportTraceServiceResponse is a zero-length message.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	return d
}

// tracingRun is one configuration's figures.
type tracingRun struct {
	Tracing    bool      `json:"tracing"`
	Round      int       `json:"round"`
	AlertsPerS float64   `json:"alerts_per_s"`
	LatencyMS  latencyMS `json:"ack_latency_ms"`
	Non2xx     int64     `json:"non2xx"`
	Errors     int64     `json:"errors"`
	PeakRSSMiB float64   `json:"bot_peak_rss_mib"`
	// CPUMsPer1k is the bot's CPU time (user + system) per 1,000
	// acknowledged alerts: unlike throughput, it does not move with what
	// the neighbours on a shared machine do.
	CPUMsPer1k  float64 `json:"bot_cpu_ms_per_1k_alerts"`
	OTLPPosts   int64   `json:"otlp_posts"`
	OTLPBytes   int64   `json:"otlp_bytes"`
	BotExitCode int     `json:"bot_exit"`
}

// compareTracing runs the load against a bot without tracing and one that
// exports every span (the default sampler and batch processor) to an
// in-process OTLP endpoint, back to back, rounds times, each on a fresh
// PostgreSQL database with the shipped example configuration and the chat
// stand-ins, and reports throughput and latency with tracing on ÷ off.
func compareTracing(cfg config, bin string, rounds int) int {
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "ingest: "+format+"\n", args...)
	}
	prog := harness.NewProgram("ingest", logf)
	defer prog.Close()
	work, err := prog.WorkDir()
	if err != nil {
		logf("%v", err)
		return 2
	}
	ctx := context.Background()
	if bin == "" {
		logf("building the bot: go build ./cmd/chatops")
	}
	bin, err = harness.Chatops(ctx, bin, work)
	if err != nil {
		logf("%v", err)
		return 2
	}
	sink := newOTLPDiscard()
	defer sink.srv.Close()

	var runs []tracingRun
	failed := false
	for round := range rounds {
		for _, on := range []bool{false, true} {
			run := tracingRun{Tracing: on, Round: round}
			err := prog.Run(func() error {
				bc := harness.NewBotConfig(prog, bin, harness.Postgres)
				bc.LogPath = filepath.Join(work, fmt.Sprintf("bot-%d-tracing-%v.log", round, on))
				posts, sent := sink.requests.Load(), sink.bytes.Load()
				if on {
					bc.Env = append(bc.Env, "OTEL_EXPORTER_OTLP_ENDPOINT="+sink.srv.URL)
				}
				bot := harness.StartBot(prog, bc)
				cpu0, cpuErr := cpuTime(bot.Process.Pid())
				c := cfg
				c.url, c.token = bot.BaseURL, bc.WebhookToken
				res, err := loadRun(c)
				if err != nil {
					return err
				}
				run.PeakRSSMiB = bot.Process.PeakRSSMiB()
				if cpu1, err := cpuTime(bot.Process.Pid()); err == nil && cpuErr == nil && res.AlertsAcked > 0 {
					run.CPUMsPer1k = float64((cpu1 - cpu0).Milliseconds()) / float64(res.AlertsAcked) * 1000
				}
				// The flush at shutdown counts: its spans are the run's.
				e := bot.Process.Terminate(30 * time.Second)
				run.BotExitCode = e.Code
				run.AlertsPerS, run.LatencyMS, run.Non2xx, run.Errors = res.AlertsPerS, res.LatencyMS, res.PayloadsNon2xx, res.Errors
				run.OTLPPosts, run.OTLPBytes = sink.requests.Load()-posts, sink.bytes.Load()-sent
				return e.Err
			})
			if err != nil {
				logf("round %d, tracing %v: %v", round, on, err)
				failed = true
			}
			logf("round %d, tracing %-5v: %8.0f alerts/s, p50 %.1f ms, p99 %.1f ms, bot CPU %.0f ms per 1,000 alerts, %d non-2xx, %d OTLP posts (%d bytes)",
				round, on, run.AlertsPerS, run.LatencyMS.P50, run.LatencyMS.P99, run.CPUMsPer1k, run.Non2xx, run.OTLPPosts, run.OTLPBytes)
			runs = append(runs, run)
		}
	}
	prog.KeepOrRemove(work, !failed, false)

	var off, on tracingRun
	for _, r := range runs {
		p := &off
		if r.Tracing {
			p = &on
		}
		p.AlertsPerS += r.AlertsPerS / float64(rounds)
		p.LatencyMS.P50 += r.LatencyMS.P50 / float64(rounds)
		p.LatencyMS.P99 += r.LatencyMS.P99 / float64(rounds)
		p.CPUMsPer1k += r.CPUMsPer1k / float64(rounds)
		p.OTLPPosts += r.OTLPPosts
	}
	fmt.Printf("tracing off: %.0f alerts/s, p50 %.1f ms, p99 %.1f ms, bot CPU %.0f ms per 1,000 alerts (mean of %d)\n",
		off.AlertsPerS, off.LatencyMS.P50, off.LatencyMS.P99, off.CPUMsPer1k, rounds)
	fmt.Printf("tracing on:  %.0f alerts/s, p50 %.1f ms, p99 %.1f ms, bot CPU %.0f ms per 1,000 alerts, %d OTLP posts\n",
		on.AlertsPerS, on.LatencyMS.P50, on.LatencyMS.P99, on.CPUMsPer1k, on.OTLPPosts)
	if off.AlertsPerS > 0 && off.LatencyMS.P99 > 0 && off.CPUMsPer1k > 0 {
		fmt.Printf("on ÷ off: throughput %.3f, p99 latency %.3f, bot CPU per alert %.3f\n",
			on.AlertsPerS/off.AlertsPerS, on.LatencyMS.P99/off.LatencyMS.P99, on.CPUMsPer1k/off.CPUMsPer1k)
	}
	switch {
	case failed:
		return 2
	case on.OTLPPosts == 0:
		logf("tracing on exported nothing: the comparison measured nothing")
		return 1
	}
	return 0
}

// cpuTime is process pid's user + system CPU time so far, from
// /proc/<pid>/stat (Linux only).
func cpuTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// Fields 14 and 15 (utime, stime) are the 12th and 13th after it, in
	// clock ticks of 1/100 s (USER_HZ on Linux).
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
