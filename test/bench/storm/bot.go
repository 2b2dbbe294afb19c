package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// setup builds the bot (unless -bin), starts both stand-ins with the
// platforms' limits and the bot on a fresh database, and renders the
// groups. Everything it starts, b.prog stops.
func (b *bench) setup(ctx context.Context) error {
	return b.prog.Run(func() error {
		cfg, err := b.prepare(ctx)
		if err != nil {
			return err
		}
		b.slack = slackstandin.New()
		b.prog.Cleanup(b.slack.Close)
		b.slack.SetRateLimit(slackPostPerChannel)
		b.discord = discordstandin.New()
		b.prog.Cleanup(b.discord.Close)
		b.discord.SetRouteLimit(discordRoutePerSec)
		cfg.Slack, cfg.Discord = b.slack, b.discord
		return b.launch(cfg, botConfigYAML(true))
	})
}

// prepare builds the bot (unless -bin) and makes its database: the bot's
// configuration but for the chat platforms.
func (b *bench) prepare(ctx context.Context) (*harness.BotConfig, error) {
	t := b.prog
	if b.cfg.bin == "" {
		logf("building the bot: go build -o %s ./cmd/chatops", filepath.Join(b.work, "chatops"))
	}
	bin, err := harness.Chatops(ctx, b.cfg.bin, b.work)
	if err != nil {
		return nil, err
	}
	db := harness.NewDatabase(t, b.cfg.pgURL, "chatops_storm_")
	return &harness.BotConfig{
		Binary:       bin,
		Store:        harness.PostgresStore(db),
		Addr:         harness.FreeAddr(t),
		WebhookToken: "storm-wh-" + harness.RandHex(12),
		APIToken:     "storm-api-" + harness.RandHex(12),
		LogPath:      filepath.Join(b.work, "bot.log"),
	}, nil
}

// launch checks that every stand-in is on loopback, starts the bot with
// cfg and the configuration yaml, and renders the groups.
func (b *bench) launch(cfg *harness.BotConfig, yaml string) error {
	t := b.prog
	urls := []string{}
	if b.slack != nil {
		urls = append(urls, b.slack.URL())
	}
	if b.discord != nil {
		urls = append(urls, b.discord.URL())
	}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || !harness.Loopback(pu.Hostname()) {
			return fmt.Errorf("stand-in at %s is not on loopback", u)
		}
	}
	cfg.WriteConfig(t, b.work, yaml)
	b.res.Bot.LogPath = cfg.LogPath
	b.bot = harness.StartBot(t, cfg)
	// The senders share one pool of connections to the bot.
	b.bot.Client = &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxIdleConns: b.cfg.senders + 8, MaxIdleConnsPerHost: b.cfg.senders + 8,
			IdleConnTimeout: time.Minute,
		},
	}
	logf("bot pid %d on %s (log %s)", b.bot.Process.Pid(), cfg.Addr, cfg.LogPath)
	time.Sleep(500 * time.Millisecond)
	b.res.Bot.IdleRSSMiB = b.bot.Process.RSSMiB()
	b.groups = makeGroups(b.cfg.alerts, b.cfg.groups, b.runID)
	b.incidents = map[int]int64{}
	b.splits = map[int][]int64{}
	return nil
}

// botConfigYAML is the bot's configuration: one Slack destination and,
// with discord, one Discord destination, and one catch-all route to them.
// Severities come from the alerts' severity label (critical → P1, warning
// → P2); P1 mentions the on-call group or role. The reopen window is long
// so that Discord's outage phase reopens the incidents however long
// Slack's outage took. The outage correlation is off: the storm's 100
// critical groups would also open one "complete outage" incident (tested
// in bot/storetest), and the storm counts chat calls per incident of its
// own.
func botConfigYAML(discord bool) string {
	dests := fmt.Sprintf(`  - name: %s
    platform: slack
    channel: %s
    mention: %s
`, slackDest, slackChannel, slackMention)
	route := slackDest
	if discord {
		dests += fmt.Sprintf(`  - name: %s
    platform: discord
    channel: "%s"
    mention: "%s"
`, discordDest, discordChannel, discordMention)
		route += ", " + discordDest
	}
	return fmt.Sprintf(`# written by test/bench/storm
log:
  format: json
  level: info
incidents:
  reopen_window: 24h
  correlation:
    enabled: false
destinations:
%sroutes:
  - destinations: [%s]
`, dests, route)
}

func (b *bench) botExited() bool {
	return b.bot == nil || b.bot.Process.Exited()
}

// teardown stops the bot (SIGTERM, expecting exit 0), then what setup
// started: the stand-ins and the database. It may be called more than
// once.
func (b *bench) teardown() {
	if b.bot != nil && !b.botStopped {
		b.res.Bot.PeakRSSMiB = b.bot.Process.PeakRSSMiB()
		e := b.bot.Process.Terminate(stopTimeout)
		b.res.Bot.ExitCode, b.res.Bot.Exit = e.Code, e.How
		if e.Err != nil {
			b.fail("%v", e.Err)
		}
		b.botStopped = true
	}
	b.prog.Close()
}

// metrics scrapes /metrics: the outbox depth, and the calls the bot's own
// limiters held back per platform.
func (b *bench) metrics(ctx context.Context) (depth float64, heldBack map[string]float64, err error) {
	m, err := b.bot.Metrics(ctx)
	if err != nil {
		return -1, nil, err
	}
	heldBack = map[string]float64{}
	for _, p := range []string{"slack", "discord"} {
		heldBack[p], _ = m.Sum("chatops_chat_rate_limited_total", `source="local"`, `platform="`+p+`"`)
	}
	depth, ok := m.Sum("chatops_outbox_depth")
	if !ok {
		return -1, heldBack, fmt.Errorf("chatops_outbox_depth not in /metrics")
	}
	return depth, heldBack, nil
}

// post sends one webhook and records the incident it answered with.
// It returns an error unless the answer is 200 {"incident_id": N}.
func (b *bench) post(ctx context.Context, group int, body []byte) (time.Duration, error) {
	start := time.Now()
	code, data, err := b.bot.Request(ctx, http.MethodPost, "/v1/alertmanager", b.bot.Config.WebhookToken, body)
	lat := time.Since(start)
	if err != nil {
		return lat, err
	}
	id, err := harness.WebhookAck(code, data)
	if err != nil {
		return lat, err
	}
	b.incMu.Lock()
	if prev, ok := b.incidents[group]; !ok {
		b.incidents[group] = id
	} else if prev != id && !slices.Contains(b.splits[group], id) {
		b.splits[group] = append(b.splits[group], id)
	}
	b.incMu.Unlock()
	return lat, nil
}
