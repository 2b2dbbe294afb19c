package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// What testdata/defaultmodes.yaml names.
const (
	dmSlackChannel   = "C0INCIDENTS"
	dmSlackUser      = "U0MEG"              // a member: may acknowledge
	dmDiscordChannel = "100000000000000001" // the incidents channel
	dmDiscordUser    = "200000000000000003" // a member
	// gatewayHeartbeat is the stand-in gateway's heartbeat interval: short,
	// so that discordgo (which gives up after five intervals without an
	// ACK) notices a silent gateway within seconds.
	gatewayHeartbeat = 300 * time.Millisecond
)

// defaultModesEnv is a bot (or two) on its default connection modes.
type defaultModesEnv struct {
	cfg     *harness.BotConfig
	bots    []*harness.Bot
	slack   *slackstandin.Server
	discord *discordstandin.Server
}

// newDefaultModesConfig is a bot on kind configured by defaultmodes.yaml,
// with an app-level token for Socket Mode and a bot token the gateway
// stand-in checks.
func newDefaultModesConfig(t *testing.T, kind harness.StoreKind) *harness.BotConfig {
	t.Helper()
	cfg := newBotConfig(t, kind)
	cfg.ConfigPath = harness.RepoPath(t, "test", "e2e", "testdata", "defaultmodes.yaml")
	token := "gateway-" + harness.RandHex(12)
	cfg.Discord.SetGatewayToken(token)
	cfg.Discord.SetHeartbeatInterval(gatewayHeartbeat)
	cfg.Env = []string{
		"CHATOPS_SLACK_APP_TOKEN=xapp-1-harness-" + harness.RandHex(8),
		"CHATOPS_DISCORD_APP_ID=" + discordstandin.DefaultAppID,
		"CHATOPS_DISCORD_BOT_TOKEN=" + token,
	}
	return cfg
}

// sessions waits until the gateway has n connected sessions.
func (e *defaultModesEnv) sessions(t *testing.T, n int) {
	t.Helper()
	harness.Eventually(t, fmt.Sprintf("%d connected gateway sessions", n), func() (bool, string) {
		got := e.discord.ConnectedSessions()
		return got == n, fmt.Sprintf("%d connected; identifies %+v; resumes %+v", got, e.discord.Identifies(), e.discord.Resumes())
	})
}

// answered sums the `/ops health` commands the bots answered
// (chatops_commands_total{command="health"}).
func (e *defaultModesEnv) answered(t *testing.T) int {
	t.Helper()
	n := 0
	for _, b := range e.bots {
		m, err := b.Metrics(t.Context())
		if err != nil {
			t.Fatalf("%v", err)
		}
		v, _ := m.Sum("chatops_commands_total", `command="health"`)
		n += int(v)
	}
	return n
}

// waitHealth waits until the bots answered n health commands in all.
func (e *defaultModesEnv) waitHealth(t *testing.T, n int) {
	t.Helper()
	harness.Eventually(t, fmt.Sprintf("%d health commands answered", n), func() (bool, string) {
		got := e.answered(t)
		return got >= n, fmt.Sprint(got)
	})
}

// slackHealth pushes `/ops health` over Socket Mode and waits for its ack
// and its answer on the response_url.
func (e *defaultModesEnv) slackHealth(t *testing.T) string {
	t.Helper()
	var (
		env string
		cmd slack.SlashCommand
	)
	// The push may race a reconnect: try again on the new connection.
	harness.Eventually(t, "a Socket Mode connection taking /ops health", func() (bool, string) {
		var err error
		env, cmd, err = e.slack.PushSlashCommand(slack.SlashCommand{Command: "/ops", ChannelID: dmSlackChannel, ChannelName: "incidents",
			UserID: dmSlackUser, UserName: "meg", Text: "health"})
		return err == nil, fmt.Sprint(err)
	})
	harness.Eventually(t, "the ack of envelope "+env, func() (bool, string) {
		_, ok := e.slack.AckOf(env)
		return ok, "not acknowledged"
	})
	harness.Eventually(t, "the answer to /ops health on Slack", func() (bool, string) {
		rs := e.slack.Responses(cmd.ResponseURL)
		return len(rs) > 0, "no answer yet"
	})
	return cmd.ResponseURL
}

// discordHealth delivers `/ops health` over the gateway to every session
// and returns the interaction's id.
func (e *defaultModesEnv) discordHealth(t *testing.T, sessions int) string {
	t.Helper()
	id, token := e.discord.NewInteraction(discordstandin.DefaultAppID, dmDiscordChannel)
	body := discordBody(id, token, dmDiscordChannel, dcmd("health"))
	body = []byte(strings.ReplaceAll(string(body), discordApp, discordstandin.DefaultAppID))
	if n := e.discord.DeliverInteraction(body); n != sessions {
		t.Fatalf("the interaction went to %d gateway sessions, want %d", n, sessions)
	}
	return id
}

// discordAnswered waits until interaction id was acknowledged and its
// deferral edited into an answer containing want, and requires that
// exactly one acknowledgement was accepted.
func (e *defaultModesEnv) discordAnswered(t *testing.T, id, want string) discordstandin.Interaction {
	t.Helper()
	var ix discordstandin.Interaction
	harness.Eventually(t, "the answer to interaction "+id, func() (bool, string) {
		ix, _ = e.discord.Interaction(id)
		text := ""
		if ix.Original != nil {
			text = ix.Original.Content + string(ix.Original.Embeds)
		}
		for _, f := range ix.Followups {
			text += f.Content + string(f.Embeds)
		}
		return ix.Acknowledged() && strings.Contains(text, want), fmt.Sprintf("callbacks %+v, answer %q", ix.Callbacks, text)
	})
	accepted := 0
	for _, c := range ix.Callbacks {
		if c.Accepted {
			accepted++
		}
	}
	if accepted != 1 {
		t.Errorf("interaction %s: %d acknowledgements accepted, want 1: %+v", id, accepted, ix.Callbacks)
	}
	return ix
}

// discordAcknowledge clicks incident's Acknowledge on its Discord root,
// delivers the click to as many gateway sessions, and waits for its
// answer.
func (e *defaultModesEnv) discordAcknowledge(t *testing.T, incident int64, sessions int) discordstandin.Interaction {
	t.Helper()
	root, _ := waitDiscordRoot(t, e.discord, dmDiscordChannel, fmt.Sprintf("chatops:incident:%d:", incident), "")
	click := root.Click(dmDiscordUser, "meg", nil, fmt.Sprintf("chatops:incident:ack:%d", incident))
	id, _, body := e.discord.ClickInteraction(click)
	if n := e.discord.DeliverInteraction(body); n != sessions {
		t.Fatalf("the click went to %d gateway sessions, want %d", n, sessions)
	}
	return e.discordAnswered(t, id, "acknowledged by meg")
}

// healthAnswer is what `/ops health` says without a cluster.
const healthAnswer = "no Kubernetes cluster is configured"

// TestDefaultModes: the binary on its default connection modes, Slack
// Socket Mode and the Discord gateway (no HTTP endpoint for either),
// answers `/ops health` and an incident's Acknowledge button on both
// platforms; when the connections drop, it reconnects (resuming the
// Discord session, whose missed interaction is replayed) and no command is
// lost or run twice; when the gateway stops acknowledging heartbeats, or
// Slack stops pinging, it notices and reconnects; after INVALID_SESSION it
// identifies anew.
func TestDefaultModes(t *testing.T) {
	cfg := newDefaultModesConfig(t, harness.SQLite)
	e := &defaultModesEnv{cfg: cfg, slack: cfg.Slack, discord: cfg.Discord}
	e.bots = []*harness.Bot{harness.StartBot(t, cfg)}
	harness.Eventually(t, "a Socket Mode connection", func() (bool, string) {
		return e.slack.SocketConnected(), "not connected"
	})
	e.sessions(t, 1)
	if ids := e.discord.Identifies(); len(ids) != 1 || ids[0].Intents != discordstandin.IntentGuilds || !ids[0].Accepted {
		t.Fatalf("IDENTIFYs %+v, want one, accepted, with the Guilds intent only", ids)
	}
	for _, p := range []string{"/slack/commands", "/slack/interactions", "/discord/interactions"} {
		if code, _, err := e.bots[0].Request(t.Context(), "POST", p, "", []byte("{}")); err != nil || code != 404 && code != 405 {
			t.Errorf("POST %s: %d %v, want no such endpoint in the default modes", p, code, err)
		}
	}
	commands := 0 // commands sent so far, each to be answered once

	t.Run("health", func(t *testing.T) {
		url := e.slackHealth(t)
		commands++
		if rs := e.slack.Responses(url); !strings.Contains(rs[0].Text+string(rs[0].Blocks), healthAnswer) {
			t.Errorf("Slack's answer %+v does not say the cluster is %s", rs[0], healthAnswer)
		}
		e.discordAnswered(t, e.discordHealth(t, 1), healthAnswer)
		commands++
		e.waitHealth(t, commands)
	})

	t.Run("acknowledge", func(t *testing.T) {
		id := e.bots[0].MustPostWebhook(t, harness.Fixture(t, "service-down-firing.json"))
		marker := fmt.Sprintf("chatops:incident:%d:", id)
		root := waitSlackRoot(t, e.slack, dmSlackChannel, marker, "")
		click := root.Click(dmSlackUser, "meg", fmt.Sprintf("chatops:incident:ack:%d", id))
		env, err := e.slack.PushBlockAction(click)
		if err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, "the click acknowledged and answered", func() (bool, string) {
			_, acked := e.slack.AckOf(env)
			return acked && len(e.slack.Responses(click.ResponseURL)) > 0, fmt.Sprint("acked ", acked)
		})
		if rs := e.slack.Responses(click.ResponseURL); len(rs) != 1 || !strings.Contains(rs[0].Text, "acknowledged by meg") {
			t.Errorf("the Slack click was answered %+v, want one answer saying meg acknowledged it", rs)
		}

		// The second incident's Acknowledge, on Discord.
		e.discordAcknowledge(t, e.bots[0].MustPostWebhook(t, harness.Fixture(t, "gateway-error-rate.json")), 1)
	})

	t.Run("dropped connections", func(t *testing.T) {
		slackConns := e.slack.SocketConnections()
		e.slack.DropSocket()
		e.discord.DropGateway()
		// Delivered while the bot is away: Discord keeps it for the RESUME.
		missed := e.discordHealth(t, 1)
		commands++
		e.discordAnswered(t, missed, healthAnswer)
		rs := e.discord.Resumes()
		if len(rs) != 1 || !rs[0].Accepted || rs[0].Replayed < 1 {
			t.Errorf("RESUMEs %+v, want one accepted, replaying the missed interaction", rs)
		}
		if n := len(e.discord.Identifies()); n != 1 {
			t.Errorf("%d IDENTIFYs, want 1: the bot must resume its session, not start a new one", n)
		}
		harness.Eventually(t, "a new Socket Mode connection", func() (bool, string) {
			return e.slack.SocketConnections() > slackConns && e.slack.SocketConnected(), "not yet"
		})
		e.slackHealth(t)
		commands++
		e.waitHealth(t, commands)
	})

	t.Run("heartbeat ACKs stop", func(t *testing.T) {
		// Slack's side of a silent connection: no websocket pings. slack-go
		// gives up after 30 s without one; meanwhile the gateway's turn.
		slackConns := e.slack.SocketConnections()
		e.slack.SetSocketPings(false)
		conns, resumes := e.discord.GatewayConnections(), len(e.discord.Resumes())
		e.discord.SetHeartbeatAcks(false)
		harness.Eventually(t, "the bot to give up on the silent connection", func() (bool, string) {
			return e.discord.GatewayConnections() > conns, fmt.Sprintf("%d connections", e.discord.GatewayConnections())
		})
		e.discord.SetHeartbeatAcks(true)
		harness.Eventually(t, "the session resumed", func() (bool, string) {
			rs := e.discord.Resumes()
			return len(rs) > resumes && rs[len(rs)-1].Accepted && e.discord.ConnectedSessions() == 1, fmt.Sprintf("%+v", rs)
		})
		e.discordAnswered(t, e.discordHealth(t, 1), healthAnswer)
		commands++

		harness.EventuallyWithin(t, 2*time.Minute, "the bot to give up on the silent Socket Mode connection", func() (bool, string) {
			return e.slack.SocketConnections() > slackConns, fmt.Sprintf("%d connections", e.slack.SocketConnections())
		})
		e.slack.SetSocketPings(true)
		e.slackHealth(t)
		commands++
	})

	t.Run("invalid session", func(t *testing.T) {
		e.discord.InvalidateSessions()
		harness.Eventually(t, "a new IDENTIFY", func() (bool, string) {
			ids := e.discord.Identifies()
			return len(ids) == 2 && ids[1].Accepted && e.discord.ConnectedSessions() == 1, fmt.Sprintf("%+v", ids)
		})
		e.discordAnswered(t, e.discordHealth(t, 1), healthAnswer)
		commands++
	})

	// The bot's log stays JSON, the client libraries' complaints (a missed
	// heartbeat ACK) included.
	for _, line := range strings.Split(e.bots[0].Process.Tail(4<<20), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "{") {
			t.Errorf("a log line that is not JSON: %q", line)
		}
	}

	// Every command answered once, none twice.
	e.waitHealth(t, commands)
	time.Sleep(settle)
	if got := e.answered(t); got != commands {
		t.Errorf("%d health commands answered, want %d: a command was lost or run twice", got, commands)
	}
}

// TestGatewayTwoReplicas: two `chatops serve` on one PostgreSQL database,
// each with its own gateway session and Socket Mode connection; an
// interaction delivered to both sessions (Discord delivers to one, but the
// design must survive both) is acknowledged once and answered once, a
// command and a click alike; a Slack envelope on both connections is run
// once.
func TestGatewayTwoReplicas(t *testing.T) {
	cfg := newDefaultModesConfig(t, harness.Postgres)
	cfg2 := *cfg
	cfg2.Addr = harness.FreeAddr(t)
	e := &defaultModesEnv{cfg: cfg, slack: cfg.Slack, discord: cfg.Discord}
	e.bots = []*harness.Bot{harness.StartBot(t, cfg), harness.StartBot(t, &cfg2)}
	e.sessions(t, 2)

	ix := e.discordAnswered(t, e.discordHealth(t, 2), healthAnswer)
	e.waitHealth(t, 1)
	id := e.bots[0].MustPostWebhook(t, harness.Fixture(t, "service-down-firing.json"))
	cix := e.discordAcknowledge(t, id, 2)
	refused := len(ix.Callbacks) + len(cix.Callbacks) - 2 // discordAnswered checked one accepted each

	time.Sleep(settle)
	if got := e.answered(t); got != 1 {
		t.Errorf("%d health commands answered over both replicas, want 1", got)
	}
	inc := e.bots[1].GetIncident(t, id)
	acks := 0
	for _, ev := range inc.Timeline {
		if ev.Kind == "acknowledged" {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("incident #%d's timeline has %d acknowledgements, want 1", id, acks)
	}
	t.Logf("acknowledgements refused as already made by the other replica: %d", refused)

	// Slack: one envelope on both replicas' Socket Mode connections. Both
	// acknowledge it; the envelope id, remembered in the shared database,
	// lets only one run it.
	harness.Eventually(t, "both replicas on Socket Mode", func() (bool, string) {
		return e.slack.LiveSockets() == 2, fmt.Sprint(e.slack.LiveSockets())
	})
	env, cmd, n := e.slack.PushSlashCommandEverywhere(slack.SlashCommand{Command: "/ops", ChannelID: dmSlackChannel,
		ChannelName: "incidents", UserID: dmSlackUser, UserName: "meg", Text: "health"})
	if n != 2 {
		t.Fatalf("the envelope went to %d connections, want 2", n)
	}
	harness.Eventually(t, "both acknowledgements and an answer", func() (bool, string) {
		acks := 0
		for _, a := range e.slack.Acks() {
			if a.EnvelopeID == env {
				acks++
			}
		}
		return acks == 2 && len(e.slack.Responses(cmd.ResponseURL)) > 0, fmt.Sprintf("%d acks", acks)
	})
	e.waitHealth(t, 2)
	time.Sleep(settle)
	if rs := e.slack.Responses(cmd.ResponseURL); len(rs) != 1 {
		t.Errorf("the Slack command was answered %d times, want once: %+v", len(rs), rs)
	}
	if got := e.answered(t); got != 2 {
		t.Errorf("%d health commands answered over both replicas, want 2 (one per platform)", got)
	}
}
