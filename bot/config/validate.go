package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/bakewise/chatops/bot"
)

// Limits on the configuration itself.
const maxRules = 1000

var (
	destinationName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	snowflake       = regexp.MustCompile(`^[0-9]{1,20}$`)
	slackChannel    = regexp.MustCompile(`^[CGD][A-Z0-9]{1,30}$`)
	slackGroup      = regexp.MustCompile(`^S[A-Z0-9]{1,30}$`)
	commandRoot     = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
	dns1123Label    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// platforms are the chat platforms a destination may name.
var platforms = map[string]bool{"slack": true, "discord": true}

// validateStore checks where the database is; validate the rest.
func validateStore(c *Config, ps *Problems) {
	if !c.UsesPostgres() && c.DataDir == "" {
		ps.add("data_dir", "empty, and no PostgreSQL URL is configured")
	}
	if c.Database.MaxConns < 1 || c.Database.MaxConns > 500 {
		ps.add("database.max_conns", "%d: want 1..500", c.Database.MaxConns)
	}
}

func validate(c *Config, ps *Problems) {
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		ps.add("listen_addr", "%q is not host:port: %v", c.ListenAddr, err)
	}
	if c.ShutdownTimeout <= 0 {
		ps.add("shutdown_timeout", "must be positive")
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		ps.add("log.format", "%q: want auto, json or console", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.add("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}

	w := &c.Webhook
	if w.Token == "" && w.BasicAuth.Username == "" && !w.InsecureNoAuth {
		ps.add("webhook", "no credential: set %s (or webhook.token_file) or webhook.basic_auth; "+
			"to accept unauthenticated notifications say insecure_no_auth: true", EnvWebhookToken)
	}
	if w.BasicAuth.Username != "" && w.BasicAuth.Password == "" {
		ps.add("webhook.basic_auth.password_file", "username set but no password: set %s or password_file", EnvWebhookPassword)
	}
	if w.MaxBodyBytes < 1024 || w.MaxBodyBytes > maxBodyBytesCeiling {
		ps.add("webhook.max_body_bytes", "%d: want 1024..%d", w.MaxBodyBytes, maxBodyBytesCeiling)
	}
	if c.API.Token == "" {
		ps.add("api", "no token: set %s or api.token_file", EnvAPIToken)
	}
	validateMetrics(c, ps)
	if c.Incidents.ReopenWindow < 0 || c.Incidents.ReopenWindow > 7*24*time.Hour {
		ps.add("incidents.reopen_window", "%s: want 0..168h", c.Incidents.ReopenWindow)
	}

	c.classifier = bot.Classifier{}
	if len(c.Severity.Rules) > maxRules {
		ps.add("severity.rules", "%d rules: at most %d", len(c.Severity.Rules), maxRules)
	}
	for i, r := range c.Severity.Rules {
		path := fmt.Sprintf("severity.rules[%d]", i)
		sev, err := bot.ParseSeverity(r.Severity)
		if err != nil {
			ps.add(path+".severity", "%v", err)
		}
		if len(r.Match) == 0 {
			ps.add(path+".match", "no matchers: a rule must say which alerts it is for")
		}
		ms := matchers(r.Match, path+".match", ps)
		c.classifier.Rules = append(c.classifier.Rules, bot.SeverityRule{Name: r.Name, Matchers: ms, Severity: sev})
	}

	for _, u := range []struct{ path, v string }{{"slack.api_url", c.Slack.APIURL}, {"discord.api_url", c.Discord.APIURL}} {
		if pu, err := url.Parse(u.v); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			ps.add(u.path, "%q is not an http(s) URL", u.v)
		}
	}
	if c.Alertmanager.URL != "" {
		if pu, err := url.Parse(c.Alertmanager.URL); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			ps.add("alertmanager.url", "%q is not an http(s) URL", c.Alertmanager.URL)
		}
	}
	switch c.Discord.ThreadAutoArchive {
	case 60, 1440, 4320, 10080:
	default:
		ps.add("discord.thread_auto_archive", "%d: Discord accepts 60, 1440, 4320 or 10080 (minutes)", c.Discord.ThreadAutoArchive)
	}
	validateAccess(c, ps)
	validatePrometheus(c, ps)
	validateUI(c, ps)
	if !commandRoot.MatchString(c.Commands.Root) {
		ps.add("commands.root", "%q: 1-32 lower-case letters, digits, - or _", c.Commands.Root)
	}
	for i, ch := range c.Commands.Channels {
		if ch == "" || len(ch) > 128 {
			ps.add(fmt.Sprintf("commands.channels[%d]", i), "want a channel id")
		}
	}
	// A platform without the credential its mode needs still posts incident
	// threads; main says at start that its commands are off.
	if m := c.Commands.SlackMode; m != "socket" && m != "http" {
		ps.add("commands.slack_mode", "%q: want socket or http", m)
	}
	if m := c.Commands.DiscordMode; m != "gateway" && m != "http" {
		ps.add("commands.discord_mode", "%q: want gateway or http", m)
	}
	platformMax := c.Commands.MaxInFlight
	if platformMax < 1 || platformMax > 1024 {
		ps.add("commands.max_in_flight", "%d: want 1..1024", platformMax)
		platformMax = 1024 // the per-person bound is checked against the widest valid one
	}
	if n := c.Commands.MaxInFlightPerUser; n < 1 || n > platformMax {
		ps.add("commands.max_in_flight_per_user", "%d: want 1..commands.max_in_flight (%d)", n, platformMax)
	}
	for i, g := range c.Discord.GuildIDs {
		if !snowflake.MatchString(g) {
			ps.add(fmt.Sprintf("discord.guild_ids[%d]", i), "%q: a guild id is a number", g)
		}
	}
	for i, ns := range append([]string{c.Kubernetes.Namespace}, c.Kubernetes.AllowedNamespaces...) {
		path := "kubernetes.namespace"
		if i > 0 {
			path = fmt.Sprintf("kubernetes.allowed_namespaces[%d]", i-1)
		}
		if !dns1123Label.MatchString(ns) {
			ps.add(path, "%q is not a namespace name", ns)
		}
	}
	if f := c.Kubernetes.RolloutFollow; f != 0 && (f < MinRolloutFollow || f > MaxRolloutFollow) {
		ps.add("kubernetes.rollout_follow", "%s: want %s..%s (or 0 for the default)", f, MinRolloutFollow, MaxRolloutFollow)
	}
	if len(c.Kubernetes.AllowedNamespaces) > 0 && !slices.Contains(c.Kubernetes.AllowedNamespaces, c.Kubernetes.Namespace) {
		ps.add("kubernetes.allowed_namespaces", "does not contain kubernetes.namespace %q", c.Kubernetes.Namespace)
	}
	if c.Outbox.Workers < 1 || c.Outbox.Workers > 64 {
		ps.add("outbox.workers", "%d: want 1..64", c.Outbox.Workers)
	}
	if c.Outbox.Lease < MinOutboxLease || c.Outbox.Lease > MaxOutboxLease {
		ps.add("outbox.lease", "%s: want %s..%s", c.Outbox.Lease, MinOutboxLease, MaxOutboxLease)
	}

	names := map[string]bool{}
	c.destinations = nil
	for i, d := range c.Destinations {
		path := fmt.Sprintf("destinations[%d]", i)
		switch {
		case !destinationName.MatchString(d.Name):
			ps.add(path+".name", "%q: want lower-case letters, digits, - and _ (at most 63)", d.Name)
		case names[d.Name]:
			ps.add(path+".name", "%q is used twice", d.Name)
		}
		names[d.Name] = true
		if !platforms[d.Platform] {
			ps.add(path+".platform", "%q: want slack or discord", d.Platform)
		}
		if d.Channel == "" || len(d.Channel) > 128 {
			ps.add(path+".channel", "want a channel id of 1..128 characters")
		}
		switch {
		case d.Platform == "slack" && !c.SlackEnabled():
			ps.add(path+".platform", "slack, but no Slack bot token: set %s or slack.bot_token_file", EnvSlackBotToken)
		case d.Platform == "discord" && !c.DiscordEnabled():
			ps.add(path+".platform", "discord, but no Discord bot token: set %s or discord.bot_token_file", EnvDiscordBotToken)
		}
		if len(d.Mention) > 64 {
			ps.add(path+".mention", "longer than 64 characters")
		}
		if d.Platform == "slack" {
			// FindRoot reads history by channel id; a name cannot be searched.
			if d.Channel != "" && !slackChannel.MatchString(d.Channel) {
				ps.add(path+".channel", "%q: use the Slack channel id (C…, G… or D…, from the channel's About tab), not its name", d.Channel)
			}
			if d.Mention != "" && !slackGroup.MatchString(d.Mention) {
				ps.add(path+".mention", "%q: a Slack user group id looks like S0123ABCD", d.Mention)
			}
		}
		if d.Platform == "discord" {
			// Discord ids are snowflakes; anything else fails at the first post.
			if d.Channel != "" && !snowflake.MatchString(d.Channel) {
				ps.add(path+".channel", "%q: a Discord channel id is a number (Developer Mode → Copy Channel ID)", d.Channel)
			}
			if d.Mention != "" && !snowflake.MatchString(d.Mention) {
				ps.add(path+".mention", "%q: a Discord role id is a number (Copy Role ID)", d.Mention)
			}
		}
		dest := bot.Destination{Name: d.Name, Platform: d.Platform, Channel: d.Channel, Mention: d.Mention}
		for j, sv := range d.MentionSeverities {
			sev, err := bot.ParseSeverity(sv)
			if err != nil {
				ps.add(fmt.Sprintf("%s.mention_severities[%d]", path, j), "%v", err)
			}
			dest.MentionSeverities = append(dest.MentionSeverities, sev)
		}
		c.destinations = append(c.destinations, dest)
	}
	validateLifecycle(c, ps)
	validateRunbooks(c, ps)
	c.routes = nil
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		route := bot.Route{Continue: r.Continue}
		for j, s := range r.Severities {
			sev, err := bot.ParseSeverity(s)
			if err != nil {
				ps.add(fmt.Sprintf("%s.severities[%d]", path, j), "%v", err)
			}
			route.Severities = append(route.Severities, sev)
		}
		route.Matchers = matchers(r.Match, path+".match", ps)
		if len(r.Destinations) == 0 {
			ps.add(path+".destinations", "empty: a route must send somewhere")
		}
		for j, d := range r.Destinations {
			if !names[d] {
				ps.add(fmt.Sprintf("%s.destinations[%d]", path, j), "%q is not a destination", d)
			}
		}
		route.Destinations = r.Destinations
		c.routes = append(c.routes, route)
	}
}

// validateMetrics checks the metrics listener: a host:port with a numeric
// port, one that cannot collide with listen_addr, since serve would fail
// to bind it only after opening the store.
func validateMetrics(c *Config, ps *Problems) {
	addr := c.Metrics.ListenAddr
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.add("metrics.listen_addr", "%q is not host:port: %v", addr, err)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		ps.add("metrics.listen_addr", "%q: the port must be a number from 0 to 65535", addr)
		return
	}
	mainHost, mainPort, err := net.SplitHostPort(c.ListenAddr)
	if err != nil || port == "0" || port != mainPort {
		return // listen_addr's own problem is reported; port 0 picks a free one
	}
	if host == mainHost || anyHost(host) || anyHost(mainHost) {
		ps.add("metrics.listen_addr", "%q is listen_addr's address (%q): give /metrics a port of its own, or leave metrics.listen_addr empty to serve it on listen_addr", addr, c.ListenAddr)
	}
}

// anyHost reports whether host, in a listen address, means every
// interface.
func anyHost(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
