// Command storm benchmarks chatops' incident → chat path: an alert storm,
// then an outage of each chat platform, against in-process stand-ins of
// the Slack and Discord APIs that enforce the platforms' rate limits.
//
// It starts both stand-ins on 127.0.0.1 (Slack: 1 chat.postMessage per
// second per channel; Discord: 1 request per second per route and
// channel, the stand-in's shape of Discord's 5 per 5 s), a fresh
// PostgreSQL database, and the bot binary with one Slack and one Discord
// destination and one catch-all route to both. Then:
//
//  1. Storm: -alerts alerts across -groups groups, one webhook per alert,
//     evenly spread over -storm. Webhooks have whole-group semantics, as
//     Alertmanager sends them: the webhook that brings a group's k-th alert
//     carries the group's k alerts so far (all firing). It measures the
//     time from the last webhook's 200 until both stand-ins show the final
//     state and the outbox is empty, the chat calls per incident per
//     platform, duplicate roots, the highest per-channel rate and the 429s.
//  2. Outage of Slack, then of Discord (-outage > 0): the platform's
//     stand-in answers 503 to everything; meanwhile every incident changes
//     (Slack's outage: one webhook per group resolves all its alerts;
//     Discord's: one webhook per group fires them all again, reopening the
//     incident). When the other platform has caught up and -outage has
//     passed, the platform comes back and the time it takes to converge is
//     compared with the lower bound its rate limits impose.
//
// With -via-alertmanager it drives a real Alertmanager instead (issue 16):
// the alerts go to its API v2, it groups them by alertname and service
// (group_wait 2 s, group_interval 10 s) and notifies one receiver with both
// a webhook to the bot and its own slack_configs, whose JSON posts reach the
// same Slack stand-in through a recording front. No rate limit is enforced,
// so the bot's own pacing is measured. Three phases: the storm, one new
// alert per group, every alert resolved; for each, the Slack calls of the
// bot and of Alertmanager's receiver by kind, and for the storm the time
// until every incident has its root against the bound the channel's 1
// post/s sets (-outage and -senders are not used).
//
// It prints a Markdown report (with -json, also one JSON line at the end).
// Exit status: 0 when every incident converged with exactly one root per
// platform and the bot behaved (a missed performance target is reported,
// not an error); 1 on lost or duplicate roots, an incident that never
// converged, a webhook that did not get 200, error lines in the bot's log
// or a bad bot exit; 2 on a usage or setup error.
//
//	go run ./test/bench/storm -alerts 2000 -groups 20 -storm 15s -outage 30s
//	go run ./test/bench/storm -via-alertmanager -alerts 1000 -groups 20 -storm 15s
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	cfg := parseFlags()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Everything the run does fits in this budget; a wait past it gives up.
	budget := cfg.storm + 3*cfg.convergeTimeout + 2*cfg.outage + 10*time.Minute
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	b := &bench{cfg: cfg}
	code := b.run(ctx)
	b.printReport(os.Stdout)
	if cfg.jsonOut {
		out, _ := json.Marshal(b.res)
		fmt.Println(string(out))
	}
	return code
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "storm %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
