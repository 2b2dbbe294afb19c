package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// bench is one run: the bot under test, the stand-ins it posts to, the
// alert groups it is sent, and what was measured.
type bench struct {
	cfg   config
	res   Result
	work  string
	runID string
	// prog is what the harness acts for: it holds the cleanups of the
	// database and the stand-ins until teardown.
	prog *harness.Program

	bot        *harness.Bot
	botStopped bool
	slack      *slackstandin.Server
	discord    *discordstandin.Server
	// platforms are those the bot posts to: both, or in -via-alertmanager
	// mode Slack and, with -discord, Discord.
	platforms []string
	groups    []*group

	// -via-alertmanager: the Alertmanager the alerts go to, and the front
	// through which chatops and Alertmanager's slack_configs reach the
	// Slack stand-in.
	am      *harness.Alertmanager
	front   *front
	amToken string
	seq     int // alerts made so far, for their fingerprints

	// incidents: group index → incident id (from the webhook answers).
	incMu     sync.Mutex
	incidents map[int]int64
	splits    map[int][]int64
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("FAILURE: %s", msg)
	b.res.Failures = append(b.res.Failures, msg)
}

func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("note: %s", msg)
	b.res.Notes = append(b.res.Notes, msg)
}

// run is the whole benchmark: setup, the storm, an outage of each
// platform, teardown; it returns the exit status.
func (b *bench) run(ctx context.Context) int {
	cfg := b.cfg
	b.runID = harness.RandHex(4)
	b.prog = harness.NewProgram("storm", logf)
	defer b.prog.Close() // teardown closes it; this is for a panic, which would leave the database behind
	b.res.Failures = []string{}
	b.res.Params = Params{
		Mode:   "webhooks",
		Alerts: cfg.alerts, Groups: cfg.groups, StormS: cfg.storm.Seconds(), OutageS: cfg.outage.Seconds(),
		Senders: cfg.senders, ConvergeTimeoutS: cfg.convergeTimeout.Seconds(),
		Semantics: "whole group: one webhook per new alert, carrying every alert of its group so far (all firing), as Alertmanager re-sends a group",
		SlackLimit: fmt.Sprintf("chat.postMessage %g/s per channel (stand-in SetRateLimit, 429 beyond); chat.update %g/min per workspace (enforced by the bot only)",
			slackPostPerChannel, slackUpdatePerMin),
		DiscordLimit: fmt.Sprintf("%g request/s per route and channel (stand-in SetRouteLimit(1): Discord's 5 per 5 s, without the burst; 429 beyond); %g/s global (not enforced, measured)",
			discordRoutePerSec, discordGlobalPerSec),
		Order: cfg.order,
	}
	b.platforms = []string{"slack", "discord"}
	if cfg.viaAM {
		b.platforms = []string{"slack"}
		if cfg.discord {
			b.platforms = append(b.platforms, "discord")
		}
		b.res.Params.Mode = "via-alertmanager"
		b.res.Params.Senders, b.res.Params.OutageS = 0, 0
		b.res.Params.Semantics = fmt.Sprintf("alerts posted to a real Alertmanager's API v2 (one POST per %s of due alerts); it groups by alertname and service (group_wait %s, group_interval %s) and notifies one receiver with a webhook to chatops and slack_configs to the Slack stand-in (send_resolved on both)",
			amPostEvery, amGroupWait, amGroupInterval)
		b.res.Params.SlackLimit = "none enforced: the stand-in answers every call, so chatops' own pacing is what is measured; Alertmanager's receiver posts to its own channel " + amChannel
		b.res.Params.DiscordLimit = "none enforced"
		b.res.Params.ChangeAlerts = cfg.changeAlerts
	}
	b.res.Machine = harness.Machine() + "; bot, PostgreSQL, stand-ins and this tool on the same machine, all traffic on 127.0.0.1"
	work, err := b.prog.WorkDir()
	if err != nil {
		logf("temp dir: %v", err)
		return 2
	}
	b.work = work
	b.res.WorkDir = work
	defer func() { b.res.WorkDir = b.prog.KeepOrRemove(work, len(b.res.Failures) == 0, cfg.keep) }()

	setup := b.setup
	if cfg.viaAM {
		setup = b.setupViaAM
	}
	if err := setup(ctx); err != nil {
		logf("setup: %v", err)
		b.teardown()
		b.res.Failures = append(b.res.Failures, "setup: "+err.Error())
		return 2
	}
	switch {
	case cfg.viaAM:
		b.viaAlertmanager(ctx)
	default:
		b.storm(ctx)
		if cfg.outage > 0 && b.res.Storm != nil && b.res.Storm.Converged {
			b.outage(ctx, "slack", "resolve")
			if last := b.res.Outages[len(b.res.Outages)-1]; last.Converged {
				b.outage(ctx, "discord", "refire")
			} else {
				b.note("Discord's outage phase skipped: Slack's did not converge")
			}
		} else if cfg.outage > 0 {
			b.note("outage phases skipped: the storm did not converge")
		}
	}
	b.finalDuplicateCheck()
	b.teardown()
	b.readBotLog()
	b.verdicts()
	if len(b.res.Failures) > 0 {
		return 1
	}
	return 0
}
