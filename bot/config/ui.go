package config

import (
	"net/url"
	"time"
)

// UI is the web console (integrations/console): read-only pages under
// /ui/ on the main listener: whether it runs, how its pages link to chat,
// and the bounds on its live updates. Sign-in settings live beside these.
type UI struct {
	Enabled bool `yaml:"enabled"`
	// SlackWorkspace is the Slack workspace's address (https://team.slack.com):
	// thread links start with it. Without it threads are named, not linked.
	SlackWorkspace string `yaml:"slack_workspace"`
	// DiscordGuildID is the Discord server whose threads the pages link.
	DiscordGuildID string `yaml:"discord_guild_id"`
	// PageSize is how many rows a list shows.
	PageSize int `yaml:"page_size"`
	// MaxLiveClients bounds the pages kept live by Server-Sent Events at
	// once (the rest poll); LiveFor how long one stream lasts before the
	// browser reconnects; PollInterval how often the console checks the
	// store for changes while someone watches.
	MaxLiveClients int           `yaml:"max_live_clients"`
	LiveFor        time.Duration `yaml:"live_for"`
	PollInterval   time.Duration `yaml:"poll_interval"`
	// AuditVerifyInterval is how often the audit page's chain status is
	// recomputed by walking the whole log.
	AuditVerifyInterval time.Duration `yaml:"audit_verify_interval"`
}

// Bounds on the console's settings.
const (
	maxUIPageSize       = 200
	maxUILiveClients    = 10000
	minUIPollInterval   = 100 * time.Millisecond
	minUIVerifyInterval = time.Minute
)

func validateUI(c *Config, ps *Problems) {
	u := &c.UI
	if u.SlackWorkspace != "" {
		p, err := url.Parse(u.SlackWorkspace)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			ps.add("ui.slack_workspace", "%q: want the workspace's https address (https://team.slack.com)", u.SlackWorkspace)
		}
	}
	for _, c := range u.DiscordGuildID {
		if c < '0' || c > '9' {
			ps.add("ui.discord_guild_id", "%q: want the server's numeric id", u.DiscordGuildID)
			break
		}
	}
	if u.PageSize < 0 || u.PageSize > maxUIPageSize {
		ps.add("ui.page_size", "%d: want 0 (default) to %d", u.PageSize, maxUIPageSize)
	}
	if u.MaxLiveClients < 0 || u.MaxLiveClients > maxUILiveClients {
		ps.add("ui.max_live_clients", "%d: want 0 (default) to %d", u.MaxLiveClients, maxUILiveClients)
	}
	if u.LiveFor < 0 {
		ps.add("ui.live_for", "must not be negative")
	}
	if u.PollInterval != 0 && u.PollInterval < minUIPollInterval {
		ps.add("ui.poll_interval", "%s: want at least %s", u.PollInterval, minUIPollInterval)
	}
	if u.AuditVerifyInterval != 0 && u.AuditVerifyInterval < minUIVerifyInterval {
		ps.add("ui.audit_verify_interval", "%s: want at least %s", u.AuditVerifyInterval, minUIVerifyInterval)
	}
}
