package main

import (
	"context"
	"errors"
	"net/url"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/integrations/discord"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/kubernetes"
	"github.com/bakewise/chatops/integrations/slack"
	"github.com/bakewise/chatops/policy"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// chatSide is every configured chat platform, both ways: the outbound
// clients the dispatcher posts with, and the inbound side that turns
// commands into router calls (HTTP mounts and long-running connections).
type chatSide struct {
	chats map[string]bot.Chat
	// cards post approval cards; groups tell Slack user groups.
	cards    map[string]bot.CardPoster
	groups   map[string]bot.GroupLookup
	mounts   []httpapi.Mount
	run      []func(ctx context.Context) error
	shutdown []func(ctx context.Context) error
}

func newChatSide(cfg config.Config, router *bot.Router, clicks bot.ClickHandler, cluster bot.Cluster, guard bot.ReplayGuard, metrics *bot.ChatMetrics, log *zap.Logger) (*chatSide, error) {
	side := &chatSide{chats: map[string]bot.Chat{}, cards: map[string]bot.CardPoster{}, groups: map[string]bot.GroupLookup{}}
	if cfg.SlackEnabled() {
		slog := log.With(zap.String("component", "slack"))
		client, err := slack.New(slack.Config{Token: cfg.Slack.BotToken.Reveal(), APIURL: cfg.Slack.APIURL}, metrics, slog)
		if err != nil {
			return nil, err
		}
		side.chats["slack"] = client
		side.cards["slack"] = client
		if len(cfg.Access.SlackGroups) > 0 {
			// Only asked when a group grants a role: it needs usergroups:read.
			side.groups["slack"] = slack.NewGroups(client, slack.GroupsConfig{TTL: cfg.Access.GroupCacheTTL}, slog)
		}
		if cfg.SlackCommands() {
			in := slack.NewInbound(slack.InboundConfig{SigningSecret: cfg.Slack.SigningSecret.Reveal(),
				ResponseURLPrefixes: responseURLPrefixes(cfg.Slack.APIURL), Clicks: clicks}, router, guard, client, slog)
			side.shutdown = append(side.shutdown, in.Shutdown)
			if cfg.Commands.SlackMode == "http" {
				side.mounts = append(side.mounts,
					httpapi.Mount{Pattern: "POST /slack/commands", Handler: in.Commands()},
					httpapi.Mount{Pattern: "POST /slack/interactions", Handler: in.Interactions()},
					httpapi.Mount{Pattern: "POST /slack/events", Handler: in.Events()})
			} else {
				appToken := cfg.Slack.AppToken.Reveal()
				side.run = append(side.run, func(ctx context.Context) error { return in.RunSocketMode(ctx, appToken) })
			}
		} else {
			slog.Info("Slack commands are off: " + cfg.Commands.SlackMode + " mode needs " + slackNeeds(cfg.Commands.SlackMode))
		}
	}
	if cfg.DiscordEnabled() {
		dlog := log.With(zap.String("component", "discord"))
		client, err := discord.New(discord.Config{Token: cfg.Discord.BotToken.Reveal(), APIURL: cfg.Discord.APIURL,
			AutoArchive: cfg.Discord.ThreadAutoArchive}, metrics, dlog)
		if err != nil {
			return nil, err
		}
		side.chats["discord"] = client
		side.cards["discord"] = client
		if cfg.DiscordCommands() {
			if err := side.discordCommands(cfg, client, router, clicks, guard, cluster, dlog); err != nil {
				return nil, err
			}
		} else {
			dlog.Info("Discord commands are off: they need discord.app_id and, in http mode, discord.public_key")
		}
	}
	return side, nil
}

// discordCommands registers /ops in the configured guilds at start and
// receives interactions over the gateway or the HTTP endpoint.
func (side *chatSide) discordCommands(cfg config.Config, client *discord.Client, router *bot.Router, clicks bot.ClickHandler,
	guard bot.ReplayGuard, cluster bot.Cluster, log *zap.Logger) error {
	icfg := discord.InboundConfig{AppID: cfg.Discord.AppID, Clicks: clicks}
	if cluster != nil {
		icfg.Completer = discord.CompleterFunc(func(ctx context.Context, source, prefix string) ([]string, error) {
			if source != "service" {
				return nil, nil
			}
			return cluster.Services(ctx, prefix)
		})
	}
	if cfg.Commands.DiscordMode == "http" {
		key, err := discord.ParsePublicKey(cfg.Discord.PublicKey)
		if err != nil {
			return err
		}
		icfg.PublicKey = key
	}
	in := discord.NewInbound(icfg, router, guard, client, log)
	side.shutdown = append(side.shutdown, in.Shutdown)
	cmds := discord.Commands(router.Root(), router.Specs())
	appID, guilds := cfg.Discord.AppID, cfg.Discord.GuildIDs
	if len(guilds) == 0 {
		log.Warn("discord.guild_ids is empty: /" + router.Root() + " is not registered")
	}
	side.run = append(side.run, func(ctx context.Context) error {
		if err := client.RegisterCommands(ctx, appID, guilds, cmds); err != nil {
			// Not fatal: alerts keep flowing, and the previous registration stays.
			log.Error("commands not registered", zap.Error(err))
		}
		return nil
	})
	if cfg.Commands.DiscordMode == "http" {
		side.mounts = append(side.mounts, httpapi.Mount{Pattern: "POST /discord/interactions", Handler: in.Handler()})
	} else {
		side.run = append(side.run, func(ctx context.Context) error { return in.RunGateway(ctx, nil) })
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

// commandSide is what commands act through besides the router: the
// cluster (nil without one), the roles and the approvals.
type commandSide struct {
	router    *bot.Router
	cluster   bot.Cluster
	roles     *bot.Roles
	approvals *bot.Approvals
}

// newCommandSide builds the command table over the store, the incident
// engine and, when configured, the Kubernetes cluster and Alertmanager; the
// roles and the approval service that guard it; and the router. Chat
// clients add their card posters and group lookups to cards and groups
// before anything is served.
func newCommandSide(cfg config.Config, store bot.Store, engine *bot.Engine, cards map[string]bot.CardPoster,
	groups map[string]bot.GroupLookup, log *zap.Logger, reg prometheus.Registerer) (*commandSide, error) {
	roles := &bot.Roles{Access: cfg.AccessPolicy(), Lookups: groups}
	// What people do from an incident's thread goes on its timeline.
	timeline := bot.NewTimeline(engine, store, log.With(zap.String("component", "timeline")))
	approvals := bot.NewApprovals(store, roles, bot.ApprovalsConfig{
		Rule: cfg.ApprovalRule(), Root: cfg.Commands.Root, Cards: cards, Timeline: timeline,
		BreakGlassChannels: map[string]string{"slack": cfg.Approvals.BreakGlassSlack, "discord": cfg.Approvals.BreakGlassDiscord},
	}, log.With(zap.String("component", "approvals")), reg)
	deps := commands.Deps{Incidents: store, Approvals: approvals, Changer: engine, ScaleBounds: map[string]commands.ScaleBounds{}}
	for _, b := range cfg.Approvals.ScaleBounds {
		deps.ScaleBounds[b.Service] = commands.ScaleBounds{Min: int32(b.Min), Max: int32(b.Max)}
	}
	commands.DefaultScaleBounds.Max = int32(cfg.Approvals.DefaultScaleMax)
	if cfg.Alertmanager.URL != "" {
		api, err := alertmanager.NewAPI(cfg.Alertmanager.URL)
		if err != nil {
			return nil, err
		}
		deps.Alerts = api
		deps.Silences = silences{api}
	}
	klog := log.With(zap.String("component", "kubernetes"))
	if rc, err := kubernetes.RESTConfig(cfg.Kubernetes.Kubeconfig); err != nil {
		klog.Info("cluster commands are off", zap.Error(err))
	} else {
		cluster, err := kubernetes.New(rc, kubernetes.Config{Namespace: cfg.Kubernetes.Namespace,
			AllowedNamespaces: cfg.Kubernetes.AllowedNamespaces}, klog)
		if err != nil {
			return nil, err
		}
		deps.Cluster, deps.Operator = cluster, cluster
	}
	router, err := bot.NewRouter(commands.Table(deps), bot.RouterConfig{
		Root: cfg.Commands.Root, Channels: cfg.Commands.Channels, Authorize: roles.Authorize,
		Audit: func(ctx context.Context, rec bot.AuditRecord) error {
			return store.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, rec) })
		},
		Timeline: timeline,
	}, log.With(zap.String("component", "commands")), reg)
	if err != nil {
		return nil, err
	}
	approvals.Attach(router)
	return &commandSide{router: router, cluster: deps.Cluster, roles: roles, approvals: approvals}, nil
}

// silences is Alertmanager as the silence command uses it.
type silences struct{ *alertmanager.API }

func (silences) ParseMatchers(s string) ([]policy.SilenceMatcher, error) {
	return alertmanager.ParseMatchers(s)
}

// runUntilCanceled treats the end of ctx as a clean stop.
func runUntilCanceled(ctx context.Context, fn func(context.Context) error) error {
	if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
