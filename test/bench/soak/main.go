// Command soak runs chatops as it is deployed, under chaos, for minutes:
// two replicas of `chatops serve` (the real binary, built once) on one
// fresh PostgreSQL database, both posting to Slack and Discord stand-ins
// that fail a share of the thread calls with 429 (Retry-After) and 5xx.
// A sender posts Alertmanager webhooks at a steady rate, round-robin over
// the replicas as a Service would, across many alert groups that open,
// grow and resolve incidents; a webhook that meets a connection error or
// a 5xx is sent again to the other replica, as Alertmanager retries. A
// short response deadline makes reminders fire during the run. Every
// -kill-min to -kill-max one replica, chosen at random, is SIGKILLed and
// restarted at once on the same database.
//
// When the sender stops it waits (at most -converge-timeout) until every
// thread's root shows its incident as the store holds it, on both
// platforms, with the outbox empty, and reports: acknowledged alerts
// lost, duplicate roots, duplicate replies (the documented lost-answer
// case, counted), duplicate reminders, webhook acknowledgement p50/p99 and
// the sender's errors by kind, the kills, and how long after the last kill
// every thread converged.
//
// Exit status: 0 clean; 1 on a lost alert, a duplicate root, a duplicate
// reminder, a group split over two incidents or threads that never
// converged; 2 on a usage or setup error. The tool stops itself (its whole
// run is bounded), and on its way out, Ctrl-C included, kills its
// replicas and drops its database.
//
//	go run ./test/bench/soak -duration 1m
//	go run ./test/bench/soak -json
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
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The whole run fits in this budget: the build, the soak, the wait for
	// convergence and the checks.
	ctx, cancel := context.WithTimeout(ctx, cfg.duration+cfg.convergeTimeout+15*time.Minute)
	defer cancel()

	s := &soak{cfg: cfg}
	code := s.run(ctx)
	s.printReport(os.Stdout)
	if cfg.jsonOut {
		out, _ := json.Marshal(s.res)
		fmt.Println(string(out))
	}
	return code
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
