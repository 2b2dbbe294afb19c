package main

import (
	"context"
	"net/url"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/discord"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/slack"
)

// chatClients are the configured chat platforms' outbound clients, and
// what they offer besides posting threads: approval cards, on Slack user
// groups, and on Discord members' roles as they are now.
type chatClients struct {
	slack   *slack.Client   // nil: Slack is off
	discord *discord.Client // nil: Discord is off
	chats   map[string]bot.Chat
	cards   map[string]bot.CardPoster
	groups  map[string]bot.GroupLookup
	current map[string]bot.CurrentGroups
}

// platforms names the chat platforms the bot talks to.
func (c *chatClients) platforms() []string {
	var out []string
	if c.slack != nil {
		out = append(out, "slack")
	}
	if c.discord != nil {
		out = append(out, "discord")
	}
	return out
}

func newChatClients(cfg config.Config, metrics *bot.ChatMetrics, log *zap.Logger) (*chatClients, error) {
	c := &chatClients{chats: map[string]bot.Chat{}, cards: map[string]bot.CardPoster{}, groups: map[string]bot.GroupLookup{},
		current: map[string]bot.CurrentGroups{}}
	if cfg.SlackEnabled() {
		slog := log.With(zap.String("component", "slack"))
		client, err := slack.New(slack.Config{Token: cfg.Slack.BotToken.Reveal(), APIURL: cfg.Slack.APIURL}, metrics, slog)
		if err != nil {
			return nil, err
		}
		c.slack, c.chats["slack"], c.cards["slack"] = client, client, client
		if len(cfg.Access.SlackGroups) > 0 {
			// Only asked when a group grants a role: it needs usergroups:read.
			maxStale := cfg.Access.GroupMaxStale
			if maxStale == 0 {
				maxStale = -1 // 0 in the file: never use a list Slack could not refresh
			}
			c.groups["slack"] = slack.NewGroups(client, slack.GroupsConfig{TTL: cfg.Access.GroupCacheTTL, MaxStale: maxStale}, slog)
		}
	}
	if cfg.DiscordEnabled() {
		dlog := log.With(zap.String("component", "discord"))
		client, err := discord.New(discord.Config{Token: cfg.Discord.BotToken.Reveal(), APIURL: cfg.Discord.APIURL,
			AutoArchive: cfg.Discord.ThreadAutoArchive}, metrics, dlog)
		if err != nil {
			return nil, err
		}
		c.discord, c.chats["discord"], c.cards["discord"] = client, client, client
		// Approvals read members' roles as Discord holds them now, not as
		// an interaction reported them.
		c.current["discord"] = discord.NewMembers(client, discord.MembersConfig{Guilds: cfg.Discord.GuildIDs}, dlog)
	}
	return c, nil
}

// commandRouter is the command router as the inbound adapters and the
// Discord registration use it.
type commandRouter interface {
	slack.Router
	discord.Router
	Specs() []bot.CommandSpec
}

// serviceLister completes service names (the cluster).
type serviceLister interface {
	Services(ctx context.Context, prefix string) ([]string, error)
}

// inbound is every configured chat platform's inbound side: HTTP mounts,
// long-running connections, and what to stop on shutdown.
type inbound struct {
	mounts   []httpapi.Mount
	run      []func(ctx context.Context) error
	shutdown []func(ctx context.Context) error
}

// newInbound turns the platforms' commands into router calls and their
// clicks into calls of clicks. services completes service names on
// Discord (nil: no cluster, no completion).
func newInbound(cfg config.Config, clients *chatClients, router commandRouter, clicks bot.ClickHandler,
	guard bot.ReplayGuard, services serviceLister, log *zap.Logger) (*inbound, error) {
	in := &inbound{}
	if clients.slack != nil {
		slog := log.With(zap.String("component", "slack"))
		if cfg.SlackCommands() {
			in.slack(cfg, clients.slack, router, clicks, guard, slog)
		} else {
			slog.Info("Slack commands are off: " + cfg.Commands.SlackMode + " mode needs " + slackNeeds(cfg.Commands.SlackMode))
		}
	}
	if clients.discord != nil {
		dlog := log.With(zap.String("component", "discord"))
		if !cfg.DiscordCommands() {
			dlog.Info("Discord commands are off: they need discord.app_id and, in http mode, discord.public_key")
			return in, nil
		}
		if err := in.discord(cfg, clients.discord, router, clicks, guard, services, dlog); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// slack receives commands and clicks over Socket Mode or HTTP.
func (in *inbound) slack(cfg config.Config, client *slack.Client, router commandRouter, clicks bot.ClickHandler,
	guard bot.ReplayGuard, log *zap.Logger) {
	s := slack.NewInbound(slack.InboundConfig{SigningSecret: cfg.Slack.SigningSecret.Reveal(),
		ResponseURLPrefixes: responseURLPrefixes(cfg.Slack.APIURL), Clicks: clicks, MaxInFlight: cfg.Commands.MaxInFlight,
		// users.info (users:read): the names people chose, on cards and timelines.
		Names: slack.NewNames(client, slack.NamesConfig{}, log)}, router, guard, client, log)
	in.shutdown = append(in.shutdown, s.Shutdown)
	if cfg.Commands.SlackMode == "http" {
		in.mounts = append(in.mounts,
			httpapi.Mount{Pattern: "POST /slack/commands", Handler: s.Commands()},
			httpapi.Mount{Pattern: "POST /slack/interactions", Handler: s.Interactions()},
			httpapi.Mount{Pattern: "POST /slack/events", Handler: s.Events()})
		return
	}
	appToken := cfg.Slack.AppToken.Reveal()
	in.run = append(in.run, func(ctx context.Context) error { return s.RunSocketMode(ctx, appToken) })
}

// discord registers /ops in the configured guilds at start and receives
// interactions over the gateway or the HTTP endpoint.
func (in *inbound) discord(cfg config.Config, client *discord.Client, router commandRouter, clicks bot.ClickHandler,
	guard bot.ReplayGuard, services serviceLister, log *zap.Logger) error {
	icfg := discord.InboundConfig{AppID: cfg.Discord.AppID, GuildIDs: cfg.Discord.GuildIDs, Clicks: clicks, MaxInFlight: cfg.Commands.MaxInFlight}
	if services != nil {
		icfg.Completer = discord.CompleterFunc(func(ctx context.Context, source, prefix string) ([]string, error) {
			if source != "service" {
				return nil, nil
			}
			return services.Services(ctx, prefix)
		})
	}
	if cfg.Commands.DiscordMode == "http" {
		key, err := discord.ParsePublicKey(cfg.Discord.PublicKey)
		if err != nil {
			return err
		}
		icfg.PublicKey = key
	}
	d := discord.NewInbound(icfg, router, guard, client, log)
	in.shutdown = append(in.shutdown, d.Shutdown)
	cmds := discord.Commands(router.Root(), router.Specs())
	appID, guilds := cfg.Discord.AppID, cfg.Discord.GuildIDs
	if len(guilds) == 0 {
		log.Warn("discord.guild_ids is empty: /" + router.Root() + " is not registered and every interaction is refused")
	}
	in.run = append(in.run, func(ctx context.Context) error {
		if err := client.RegisterCommands(ctx, appID, guilds, cmds); err != nil {
			// Not fatal: alerts keep flowing, and the previous registration stays.
			log.Error("commands not registered", zap.Error(err))
		}
		return nil
	})
	if cfg.Commands.DiscordMode == "http" {
		in.mounts = append(in.mounts, httpapi.Mount{Pattern: "POST /discord/interactions", Handler: d.Handler()})
	} else {
		in.run = append(in.run, func(ctx context.Context) error { return d.RunGateway(ctx, nil) })
	}
	return nil
}

// responseURLPrefixes are where a slash command's response_url may point:
// Slack's hooks, and the host of a non-default slack.api_url (a proxy, or
// the stand-in in tests). Anything else is refused, so a forged command
// cannot make the bot post to an arbitrary address.
func responseURLPrefixes(apiURL string) []string {
	prefixes := []string{slack.DefaultResponseURLPrefix}
	if u, err := url.Parse(apiURL); err == nil && apiURL != config.DefaultSlackAPIURL && u.Host != "" {
		prefixes = append(prefixes, u.Scheme+"://"+u.Host+"/")
	}
	return prefixes
}

func slackNeeds(mode string) string {
	if mode == "http" {
		return config.EnvSlackSigningSecret
	}
	return config.EnvSlackAppToken + " (an app-level xapp- token)"
}
