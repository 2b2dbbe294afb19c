package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// Hard caps: the tool never runs longer or heavier than these allow.
const (
	maxDuration = 2 * time.Hour
	maxConverge = 30 * time.Minute
	maxRate     = 2000
	maxGroups   = 1000
	maxAlerts   = 50

	// requestTimeout bounds one webhook attempt; retryFor is how long a
	// webhook is retried over both replicas before the sender gives it up
	// (Alertmanager retries for max(group_interval, 10 s)).
	requestTimeout = 10 * time.Second
	retryFor       = 10 * time.Second
	firstBackoff   = 100 * time.Millisecond
	maxBackoff     = time.Second
	stopTimeout    = 30 * time.Second
	pollEvery      = time.Second
	// settle is how long the tool watches a converged state for late
	// posts (a root or a reply arriving after the fact).
	settle = 5 * time.Second
)

// The bot's configuration: one Slack and one Discord destination, each
// paging an on-call group and escalating to a second level, and a
// catch-all route to both. The deadlines are short so that reminders fire
// during the soak; escalation_interval is the smallest the bot takes.
const (
	slackChannel   = "C0SOAK"
	discordChannel = "1300000000000000071"
	slackDest      = "soak-slack"
	discordDest    = "soak-discord"
	receiver       = "chatops"
	botYAML        = `# written by test/bench/soak
log:
  format: json
  level: info
incidents:
  correlation:
    enabled: false
  response_deadlines: {P0: 0s, P1: %s, P2: %s, P3: %s}
  escalation_interval: 1m
destinations:
  - name: ` + slackDest + `
    platform: slack
    channel: ` + slackChannel + `
    mention: S0ONCALL
    escalation: [S0ONCALL, S0LEADS]
  - name: ` + discordDest + `
    platform: discord
    channel: "` + discordChannel + `"
    mention: "1300000000000000098"
    escalation: ["1300000000000000098", "1300000000000000099"]
routes:
  - destinations: [` + slackDest + `, ` + discordDest + `]
`
)

type config struct {
	bin             string
	pgURL           string
	duration        time.Duration
	rate            float64
	groups          int
	maxAlerts       int
	lifeMin         time.Duration
	lifeMax         time.Duration
	deadline        time.Duration
	killMin         time.Duration
	killMax         time.Duration
	fail429         float64
	fail5xx         float64
	convergeTimeout time.Duration
	seed            int64
	jsonOut         bool
	keep            bool
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.bin, "bin", "", "built chatops binary (default: go build ./cmd/chatops into the work directory)")
	flag.StringVar(&c.pgURL, "pg-url", harness.DefaultPGAdminURL, "admin URL of the local PostgreSQL; a fresh database is created and dropped")
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long the sender posts webhooks and replicas are killed (cap 2h)")
	flag.Float64Var(&c.rate, "rate", 200, "webhooks per second, spread over both replicas")
	flag.IntVar(&c.groups, "groups", 50, "alert groups active at once; each one that resolves is replaced by a new one")
	flag.IntVar(&c.maxAlerts, "max-alerts", 6, "a group grows to 1..max-alerts alerts before it resolves")
	flag.DurationVar(&c.lifeMin, "life-min", 40*time.Second, "shortest life of a group, from its first alert to its resolution")
	flag.DurationVar(&c.lifeMax, "life-max", 2*time.Minute, "longest life of a group")
	flag.DurationVar(&c.deadline, "deadline", 10*time.Second, "P1 response deadline (P2 twice it, P3 three times): reminders fire during the soak")
	flag.DurationVar(&c.killMin, "kill-min", 20*time.Second, "shortest time between two SIGKILLs")
	flag.DurationVar(&c.killMax, "kill-max", 60*time.Second, "longest time between two SIGKILLs (0: no kills)")
	flag.Float64Var(&c.fail429, "fail-429", 0.05, "share of the stand-ins' thread calls answered 429 with Retry-After")
	flag.Float64Var(&c.fail5xx, "fail-5xx", 0.05, "share of the stand-ins' thread calls answered 500")
	flag.DurationVar(&c.convergeTimeout, "converge-timeout", 10*time.Minute, "longest wait, after the sender stops, for every thread to show its incident (cap 30m)")
	flag.Int64Var(&c.seed, "seed", 0, "random seed (0: from the clock); the report names it")
	flag.BoolVar(&c.jsonOut, "json", false, "also print the result as one JSON line, the last line of stdout")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (configuration, replica logs) even when all went well")
	flag.Parse()
	if c.seed == 0 {
		c.seed = time.Now().UnixNano()
	}
	return c
}

func (c *config) validate() error {
	switch {
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	case c.rate <= 0 || c.rate > maxRate:
		return fmt.Errorf("-rate must be in (0, %d]", maxRate)
	case c.groups < 1 || c.groups > maxGroups:
		return fmt.Errorf("-groups must be in 1..%d", maxGroups)
	case c.maxAlerts < 1 || c.maxAlerts > maxAlerts:
		return fmt.Errorf("-max-alerts must be in 1..%d", maxAlerts)
	case c.lifeMin <= 0 || c.lifeMax < c.lifeMin:
		return errors.New("-life-min must be positive and at most -life-max")
	case c.deadline < time.Second:
		return errors.New("-deadline must be at least 1s")
	case c.killMax != 0 && (c.killMin < 5*time.Second || c.killMax < c.killMin):
		return errors.New("-kill-min must be at least 5s and at most -kill-max (or -kill-max 0: no kills)")
	case c.fail429 < 0 || c.fail5xx < 0 || c.fail429+c.fail5xx > 0.5:
		return errors.New("-fail-429 and -fail-5xx must be shares ≥ 0 adding up to at most 0.5")
	case c.convergeTimeout <= 0 || c.convergeTimeout > maxConverge:
		return fmt.Errorf("-converge-timeout must be in (0, %s]", maxConverge)
	}
	if err := harness.CheckPGURL(c.pgURL); err != nil {
		return fmt.Errorf("-pg-url: %w", err)
	}
	return nil
}
