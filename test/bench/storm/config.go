package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// Hard caps: the tool never runs longer than these allow.
const (
	maxStorm    = 10 * time.Minute
	maxOutage   = 30 * time.Minute
	maxConverge = 60 * time.Minute
	maxAlerts   = 100_000
	maxGroups   = 1000
	// maxPerGroup keeps the largest whole-group webhook under the bot's
	// 1 MiB body limit (an alert is about 500 bytes of JSON).
	maxPerGroup  = 1500
	maxBodyBytes = 1 << 20

	requestTimeout = 30 * time.Second
	stopTimeout    = 30 * time.Second
	pollEvery      = 250 * time.Millisecond
	// settle is how long the tool watches a converged state for late
	// posts (a duplicate root arriving after the fact).
	settle = 3 * time.Second
)

// The platforms' limits as the stand-ins enforce them, and the bot's own
// limits the bounds account for.
const (
	slackPostPerChannel = 1.0       // chat.postMessage per second per channel
	slackUpdatePerMin   = 50.0      // chat.update per minute per workspace (Tier 3); the bot enforces it
	slackUpdateBurst    = 1         // the burst the bot's chat.update bucket allows (integrations/slack updateBurst)
	discordRoutePerSec  = 1.0       // requests per second per route and channel (SetRouteLimit(1))
	discordGlobalPerSec = 50.0      // requests per second, all routes (Discord's global limit)
	slackChannel        = "C0STORM" // a valid Slack channel id
	discordChannel      = "1300000000000000001"
	slackDest           = "storm-slack"
	discordDest         = "storm-discord"
	amChannel           = "C0AMSTORM" // Alertmanager's own slack_configs post here
	slackMention        = "S0ONCALL"
	discordMention      = "1300000000000000099"
	receiver            = "chatops"
)

// Alertmanager's timings in -via-alertmanager mode: issue 16's.
const (
	amGroupWait     = 2 * time.Second
	amGroupInterval = 10 * time.Second
	// amResolveTimeout outlasts any run (the budget in main is far
	// shorter), so an alert posted once stays firing until the tool
	// resolves it and never needs posting again.
	amResolveTimeout = 24 * time.Hour
	// amPostEvery is how often the poster sends the alerts that fell due:
	// one POST per tick, not one per alert.
	amPostEvery = 50 * time.Millisecond
	amReceiver  = "storm"
)

// config is the command line.
type config struct {
	bin             string
	pgURL           string
	alerts          int
	groups          int
	storm           time.Duration
	outage          time.Duration
	convergeTimeout time.Duration
	senders         int
	jsonOut         bool
	keep            bool
	// order: "interleaved" (alert i goes to group i mod groups, so every
	// group starts at once) or "sequential" (group after group, each
	// taking storm ÷ groups).
	order string
	// viaAM: drive a real Alertmanager instead of posting webhooks.
	viaAM        bool
	discord      bool // -via-alertmanager: mirror to Discord too
	changeAlerts int  // -via-alertmanager: new alerts per group in the change phase
}

func parseFlags() config {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "built chatops binary (default: go build ./cmd/chatops into a temp dir)")
	flag.StringVar(&cfg.pgURL, "pg-url", harness.DefaultPGAdminURL, "admin URL of the local PostgreSQL; a fresh database is created and dropped")
	flag.IntVar(&cfg.alerts, "alerts", 10000, "alerts in the storm (one webhook each)")
	flag.IntVar(&cfg.groups, "groups", 100, "alert groups (= incidents)")
	flag.DurationVar(&cfg.storm, "storm", 60*time.Second, "how long the storm's webhooks are spread over (cap 10m)")
	flag.DurationVar(&cfg.outage, "outage", 10*time.Minute, "length of each platform's outage; 0 skips the outage phases (cap 30m)")
	flag.DurationVar(&cfg.convergeTimeout, "converge-timeout", 20*time.Minute, "longest wait for any convergence (cap 60m)")
	flag.IntVar(&cfg.senders, "senders", 32, "concurrent webhook senders")
	flag.BoolVar(&cfg.jsonOut, "json", false, "also print the result as one JSON line (last line of stdout)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (config, bot log) even when all went well")
	flag.StringVar(&cfg.order, "order", "interleaved", "interleaved: alert i goes to group i mod -groups; sequential: one group after another")
	flag.BoolVar(&cfg.viaAM, "via-alertmanager", false, "post the alerts to a real Alertmanager that notifies chatops and its own slack_configs (no rate limit enforced; -outage and -senders unused)")
	flag.BoolVar(&cfg.discord, "discord", false, "with -via-alertmanager: mirror the incidents to Discord too")
	flag.IntVar(&cfg.changeAlerts, "change-alerts", 1, "with -via-alertmanager: new alerts per group in the change phase (0 skips it)")
	flag.Parse()
	return cfg
}

func (cfg *config) validate() error {
	switch {
	case cfg.alerts < 1 || cfg.alerts > maxAlerts:
		return fmt.Errorf("-alerts must be in 1..%d", maxAlerts)
	case cfg.groups < 1 || cfg.groups > maxGroups:
		return fmt.Errorf("-groups must be in 1..%d", maxGroups)
	case cfg.groups > cfg.alerts:
		return errors.New("-groups cannot exceed -alerts: every group needs an alert")
	case (cfg.alerts+cfg.groups-1)/cfg.groups > maxPerGroup:
		return fmt.Errorf("%d alerts per group: at most %d, so a whole-group webhook stays under the bot's 1 MiB body limit", (cfg.alerts+cfg.groups-1)/cfg.groups, maxPerGroup)
	case cfg.storm <= 0 || cfg.storm > maxStorm:
		return fmt.Errorf("-storm must be in (0, %s]", maxStorm)
	case cfg.outage < 0 || cfg.outage > maxOutage:
		return fmt.Errorf("-outage must be in [0, %s]", maxOutage)
	case cfg.convergeTimeout <= 0 || cfg.convergeTimeout > maxConverge:
		return fmt.Errorf("-converge-timeout must be in (0, %s]", maxConverge)
	case cfg.senders < 1 || cfg.senders > 256:
		return errors.New("-senders must be in 1..256")
	case cfg.order != "interleaved" && cfg.order != "sequential":
		return errors.New("-order must be interleaved or sequential")
	case cfg.changeAlerts < 0 || (cfg.alerts+cfg.groups-1)/cfg.groups+cfg.changeAlerts > maxPerGroup:
		return fmt.Errorf("-change-alerts must be in 0..%d less the alerts per group", maxPerGroup)
	case cfg.discord && !cfg.viaAM:
		return errors.New("-discord is for -via-alertmanager: the webhook storm always mirrors to both platforms")
	}
	if err := harness.CheckPGURL(cfg.pgURL); err != nil {
		return fmt.Errorf("-pg-url: %w", err)
	}
	return nil
}
