// Package config is chatops' configuration: one YAML file, defaults for
// everything that has a sane one, environment overrides, and secrets only from
// the environment or from files. Load reports every problem it finds, each
// with its path in the YAML (severity.rules[2].match[0]), so `chatops config
// check` can list them all at once.
//
// A secret's value never appears in an error, a log line or String().
package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/policy"
)

// Defaults.
const (
	DefaultListenAddr   = "127.0.0.1:8080"
	DefaultDataDir      = "./data"
	DefaultMaxBodyBytes = 1 << 20
	maxBodyBytesCeiling = 64 << 20
	DefaultMaxConns     = 16
	DefaultShutdown     = 20 * time.Second
)

// Config is the whole file.
type Config struct {
	ListenAddr      string        `yaml:"listen_addr"`
	DataDir         string        `yaml:"data_dir"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Log             Log           `yaml:"log"`
	Database        Database      `yaml:"database"`
	Webhook         Webhook       `yaml:"webhook"`
	API             API           `yaml:"api"`
	Metrics         Metrics       `yaml:"metrics"`
	Incidents       Incidents     `yaml:"incidents"`
	Severity        Severity      `yaml:"severity"`
	Slack           Slack         `yaml:"slack"`
	Discord         Discord       `yaml:"discord"`
	Outbox          Outbox        `yaml:"outbox"`
	Commands        Commands      `yaml:"commands"`
	Kubernetes      Kubernetes    `yaml:"kubernetes"`
	Alertmanager    Alertmanager  `yaml:"alertmanager"`
	Prometheus      Prometheus    `yaml:"prometheus"`
	Access          Access        `yaml:"access"`
	Approvals       Approvals     `yaml:"approvals"`
	Destinations    []Destination `yaml:"destinations"`
	Routes          []Route       `yaml:"routes"`
	// Runbooks by alert name: each incident thread's first reply.
	Runbooks map[string]Runbook `yaml:"runbooks"`
	// UI is the web console.
	UI UI `yaml:"ui"`

	// AuditKey keys the audit chain (HMAC-SHA-256). It comes only from
	// CHATOPS_AUDIT_KEY or the file CHATOPS_AUDIT_KEY_FILE names: never the
	// YAML, which the bot's operators and the database may share.
	AuditKey Secret `yaml:"-"`

	// Built by validation from the fields above.
	classifier   bot.Classifier
	routes       bot.Routes
	destinations []bot.Destination
}

// ChatDestinations is the destinations, parsed.
func (c *Config) ChatDestinations() []bot.Destination { return c.destinations }

// Classifier is the severity rules, parsed.
func (c *Config) Classifier() bot.Classifier { return c.classifier }

// IncidentRoutes is the routing table, parsed.
func (c *Config) IncidentRoutes() bot.Routes { return c.routes }

// Log chooses the log encoding: json, console, or auto (console on a
// terminal, JSON otherwise).
type Log struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// Database selects PostgreSQL when a URL is given (CHATOPS_DATABASE_URL or
// url_file), the embedded SQLite file in data_dir otherwise.
type Database struct {
	URLFile  string `yaml:"url_file"`
	MaxConns int    `yaml:"max_conns"`
	URL      Secret `yaml:"-"`
}

// Webhook is the Alertmanager receiver's security and limits.
type Webhook struct {
	TokenFile      string    `yaml:"token_file"`
	BasicAuth      BasicAuth `yaml:"basic_auth"`
	InsecureNoAuth bool      `yaml:"insecure_no_auth"`
	MaxBodyBytes   int64     `yaml:"max_body_bytes"`
	Token          Secret    `yaml:"-"`
}

// BasicAuth is an optional second way for Alertmanager to authenticate.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	Password     Secret `yaml:"-"`
}

// API guards the read API (/v1/incidents).
type API struct {
	TokenFile string `yaml:"token_file"`
	Token     Secret `yaml:"-"`
}

// Metrics is where GET /metrics is served and who may read it.
type Metrics struct {
	// ListenAddr (host:port) serves /metrics on a listener of its own,
	// and then not on listen_addr, so a network policy can open it to the
	// monitoring alone; empty: on listen_addr with everything else.
	ListenAddr string `yaml:"listen_addr"`
	// TokenFile holds the bearer token /metrics then needs (or
	// CHATOPS_METRICS_TOKEN); none: /metrics is open to whoever reaches it.
	TokenFile string `yaml:"token_file"`
	Token     Secret `yaml:"-"`
}

// Incidents tunes the engine.
type Incidents struct {
	ReopenWindow time.Duration `yaml:"reopen_window"`
	// ResponseDeadlines and EscalationInterval: an incident not
	// acknowledged by its severity's deadline is reminded, and paged at
	// the next escalation level, every EscalationInterval until someone
	// acknowledges or resolves it.
	ResponseDeadlines  ResponseDeadlines `yaml:"response_deadlines"`
	EscalationInterval time.Duration     `yaml:"escalation_interval"`
	// Correlation makes one P0 outage of critical alerts on several
	// services at once.
	Correlation Correlation `yaml:"correlation"`
}

// Severity holds the ordered severity rules.
type Severity struct {
	Rules []SeverityRule `yaml:"rules"`
}

// SeverityRule: alerts matching every matcher get the severity.
type SeverityRule struct {
	Name     string   `yaml:"name"`
	Match    []string `yaml:"match"`
	Severity string   `yaml:"severity"`
}

// Slack is the Slack workspace connection. Tokens come from the
// environment or files only.
type Slack struct {
	APIURL            string `yaml:"api_url"`
	BotTokenFile      string `yaml:"bot_token_file"`
	AppTokenFile      string `yaml:"app_token_file"`
	SigningSecretFile string `yaml:"signing_secret_file"`
	BotToken          Secret `yaml:"-"`
	AppToken          Secret `yaml:"-"`
	SigningSecret     Secret `yaml:"-"`
}

// Discord is the Discord application connection.
type Discord struct {
	APIURL            string `yaml:"api_url"`
	BotTokenFile      string `yaml:"bot_token_file"`
	AppID             string `yaml:"app_id"`
	PublicKey         string `yaml:"public_key"`
	ThreadAutoArchive int    `yaml:"thread_auto_archive"`
	// GuildIDs are the servers whose /ops commands are registered at start
	// (bulk overwrite per guild, which takes effect at once).
	GuildIDs []string `yaml:"guild_ids"`
	BotToken Secret   `yaml:"-"`
}

// Commands configures the chat commands.
type Commands struct {
	// Root is the slash command people type, without the slash.
	Root string `yaml:"root"`
	// Channels are the channel ids (Slack or Discord) where commands are
	// accepted; threads inside them count.
	Channels []string `yaml:"channels"`
	// SlackMode is how Slack delivers commands: socket (Socket Mode, no
	// public endpoint; needs the app token) or http (/slack/* endpoints;
	// needs the signing secret).
	SlackMode string `yaml:"slack_mode"`
	// DiscordMode is gateway (a websocket the bot opens) or http (the
	// /discord/interactions endpoint; needs the public key).
	DiscordMode string `yaml:"discord_mode"`
	// MaxInFlight bounds the commands and clicks each platform runs at
	// once; one more is answered, privately, that the bot is busy.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightPerUser bounds the commands one person runs at once.
	MaxInFlightPerUser int `yaml:"max_in_flight_per_user"`
}

// Kubernetes is the cluster the commands look at. Without a kubeconfig (or
// KUBECONFIG, or running in a pod) the cluster commands are off.
type Kubernetes struct {
	Kubeconfig string `yaml:"kubeconfig"`
	Namespace  string `yaml:"namespace"`
	// AllowedNamespaces bounds what the bot may touch (default: Namespace).
	AllowedNamespaces []string `yaml:"allowed_namespaces"`
	// RolloutFollow caps how long an approval card follows the rollout of
	// an executed scale, rollback or restart (0: 5 minutes); the
	// Deployment's progressDeadlineSeconds bounds it sooner.
	RolloutFollow time.Duration `yaml:"rollout_follow"`
}

// Alertmanager is the Alertmanager the bot reads (API v2): firing alerts
// for the health command. Empty URL: not read.
type Alertmanager struct {
	URL string `yaml:"url"`
}

// Access maps chat identities to roles (viewer, member, admin, owner).
// Keys are platform ids: Slack user ids (U…) and user group ids (S…),
// Discord user ids and guild role ids, and channel ids for the caps.
type Access struct {
	// DefaultRole is the role of people no entry names: viewer (default)
	// or none.
	DefaultRole  string            `yaml:"default_role"`
	SlackUsers   map[string]string `yaml:"slack_users"`
	SlackGroups  map[string]string `yaml:"slack_groups"`
	DiscordUsers map[string]string `yaml:"discord_users"`
	DiscordRoles map[string]string `yaml:"discord_roles"`
	// Channel caps: everyone in the channel holds at most that role.
	SlackChannelCaps   map[string]string `yaml:"slack_channel_caps"`
	DiscordChannelCaps map[string]string `yaml:"discord_channel_caps"`
	// GroupCacheTTL is how long Slack user group membership is cached.
	GroupCacheTTL time.Duration `yaml:"group_cache_ttl"`
	// GroupMaxStale is how long a cached membership list is still used
	// while Slack cannot be asked; past it groups grant no role.
	GroupMaxStale time.Duration `yaml:"group_max_stale"`
}

// Approvals is the two-person rule for destructive commands.
type Approvals struct {
	// Quorum is how many people besides the requester approve (default 1).
	Quorum int           `yaml:"quorum"`
	Expiry time.Duration `yaml:"expiry"`
	// BreakGlass lets an Owner run their own request alone with a reason
	// (off by default); it is announced in the break-glass channels.
	BreakGlass         bool   `yaml:"break_glass"`
	BreakGlassSlack    string `yaml:"break_glass_slack_channel"`
	BreakGlassDiscord  string `yaml:"break_glass_discord_channel"`
	MaxRequestsPerHour int    `yaml:"max_requests_per_hour"`
	// ScaleBounds limit `scale` per service; DefaultScaleMax the others.
	ScaleBounds     []ScaleBound `yaml:"scale_bounds"`
	DefaultScaleMax int          `yaml:"default_scale_max"`
}

// ScaleBound is the replicas a person may ask for one service.
type ScaleBound struct {
	Service string `yaml:"service"`
	Min     int    `yaml:"min"`
	Max     int    `yaml:"max"`
}

// Outbox tunes the chat dispatcher.
type Outbox struct {
	Workers int `yaml:"workers"`
	// Lease is how long a claimed job stays claimed: a replica that dies
	// holding jobs hands them over after it. A job's chat calls get half of
	// it, so the claim outlives them.
	Lease time.Duration `yaml:"lease"`
}

// Destination is a chat channel incidents are mirrored to.
type Destination struct {
	Name     string `yaml:"name"`
	Platform string `yaml:"platform"`
	Channel  string `yaml:"channel"`
	// Mention is a Slack user group id (S...) or a Discord role id to notify
	// for open incidents of MentionSeverities (default P0 and P1).
	Mention           string   `yaml:"mention"`
	MentionSeverities []string `yaml:"mention_severities"`
	// Escalation are the groups (ids, like Mention) paged level by level
	// when an incident that mentions here is not acknowledged in time;
	// empty: level 1 is Mention.
	Escalation []string `yaml:"escalation"`
}

// Route sends matching incidents to destinations.
type Route struct {
	Severities   []string `yaml:"severities"`
	Match        []string `yaml:"match"`
	Destinations []string `yaml:"destinations"`
	Continue     bool     `yaml:"continue"`
}

// Secret is a credential: it prints as a placeholder.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText keeps JSON and YAML encoders (and so zap.Any) from printing
// the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the value, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

// Environment variables read on top of the file.
const (
	EnvListenAddr      = "CHATOPS_LISTEN_ADDR"
	EnvDataDir         = "CHATOPS_DATA_DIR"
	EnvDatabaseURL     = "CHATOPS_DATABASE_URL"
	EnvWebhookToken    = "CHATOPS_WEBHOOK_TOKEN"
	EnvWebhookPassword = "CHATOPS_WEBHOOK_PASSWORD"
	EnvAPIToken        = "CHATOPS_API_TOKEN"
	EnvMetricsAddr     = "CHATOPS_METRICS_LISTEN_ADDR"
	EnvMetricsToken    = "CHATOPS_METRICS_TOKEN"
	EnvLogFormat       = "CHATOPS_LOG_FORMAT"
	EnvLogLevel        = "CHATOPS_LOG_LEVEL"

	EnvSlackBotToken      = "CHATOPS_SLACK_BOT_TOKEN"
	EnvSlackAppToken      = "CHATOPS_SLACK_APP_TOKEN"
	EnvSlackSigningSecret = "CHATOPS_SLACK_SIGNING_SECRET"
	EnvSlackAPIURL        = "CHATOPS_SLACK_API_URL"
	EnvSlackChannel       = "CHATOPS_SLACK_CHANNEL"
	EnvDiscordBotToken    = "CHATOPS_DISCORD_BOT_TOKEN"
	EnvDiscordAppID       = "CHATOPS_DISCORD_APP_ID"
	EnvDiscordPublicKey   = "CHATOPS_DISCORD_PUBLIC_KEY"
	EnvDiscordAPIURL      = "CHATOPS_DISCORD_API_URL"
	EnvDiscordChannel     = "CHATOPS_DISCORD_CHANNEL"
	EnvAlertmanagerURL    = "CHATOPS_ALERTMANAGER_URL"
	EnvAuditKey           = "CHATOPS_AUDIT_KEY"
	EnvAuditKeyFile       = "CHATOPS_AUDIT_KEY_FILE"
)

// Chat platform defaults.
const (
	DefaultSlackAPIURL       = "https://slack.com/api/"
	DefaultDiscordAPIURL     = "https://discord.com/api/v10/"
	DefaultThreadAutoArchive = 1440
	DefaultOutboxWorkers     = 4
	DefaultOutboxLease       = 2 * time.Minute
	// MinRolloutFollow and MaxRolloutFollow bound kubernetes.rollout_follow.
	MinRolloutFollow = 10 * time.Second
	MaxRolloutFollow = 30 * time.Minute
	// MinOutboxLease and MaxOutboxLease bound outbox.lease: a job's chat
	// calls get half the lease, and a dead replica's jobs wait all of it.
	MinOutboxLease       = 10 * time.Second
	MaxOutboxLease       = 30 * time.Minute
	DefaultGroupCacheTTL = time.Minute
	DefaultGroupMaxStale = 5 * time.Minute
	DefaultScaleMax      = 20
	// DefaultMaxInFlight and DefaultMaxInFlightPerUser bound the commands
	// running at once, per platform and per person.
	DefaultMaxInFlight        = 64
	DefaultMaxInFlightPerUser = 3
)

// Default is the configuration with no file at all.
func Default() Config {
	return Config{
		ListenAddr:      DefaultListenAddr,
		DataDir:         DefaultDataDir,
		ShutdownTimeout: DefaultShutdown,
		Log:             Log{Format: "auto", Level: "info"},
		Database:        Database{MaxConns: DefaultMaxConns},
		Webhook:         Webhook{MaxBodyBytes: DefaultMaxBodyBytes},
		Incidents:       Incidents{ReopenWindow: incident.DefaultReopenWindow, ResponseDeadlines: defaultResponseDeadlines(), EscalationInterval: bot.DefaultEscalationInterval, Correlation: DefaultCorrelation()},
		Slack:           Slack{APIURL: DefaultSlackAPIURL},
		Discord:         Discord{APIURL: DefaultDiscordAPIURL, ThreadAutoArchive: DefaultThreadAutoArchive},
		Outbox:          Outbox{Workers: DefaultOutboxWorkers, Lease: DefaultOutboxLease},
		Commands:        Commands{Root: "ops", SlackMode: "socket", DiscordMode: "gateway", MaxInFlight: DefaultMaxInFlight, MaxInFlightPerUser: DefaultMaxInFlightPerUser},
		Kubernetes:      Kubernetes{Namespace: "bakery-ia"},
		Access:          Access{DefaultRole: "viewer", GroupCacheTTL: DefaultGroupCacheTTL, GroupMaxStale: DefaultGroupMaxStale},
		UI:              defaultUI(),
		Approvals: Approvals{
			Quorum: policy.DefaultRule.Quorum, Expiry: policy.DefaultRule.Expiry,
			MaxRequestsPerHour: policy.DefaultRule.MaxRequestsPerHour, DefaultScaleMax: DefaultScaleMax,
		},
	}
}

// SQLitePath is where the embedded database lives.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "chatops.db") }

// UsesPostgres reports whether a PostgreSQL URL is configured.
func (c *Config) UsesPostgres() bool { return c.Database.URL != "" }

// Problem is one configuration error at a YAML path.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) Error() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Problems is every error found; it is an error itself.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

func (ps *Problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Load reads the file at path (none: defaults), applies the environment
// (getenv, normally os.Getenv), reads secret files and validates everything
// serve uses. On error it returns Problems.
func Load(path string, getenv func(string) string) (Config, error) {
	return load(path, getenv, true)
}

// LoadStore is Load for the commands that only open the database (migrate,
// audit verify and export, incident export): an operator or a cron job runs
// them where the bot's webhook, API and chat tokens need not be, so of the
// settings only data_dir and database are applied and checked, and
// database.url_file is the only secret read. The file must still decode
// whole: an unknown key may be a misspelt database key, and a secret written
// inline is an error wherever it is. Only the database settings of the
// result are meaningful.
func LoadStore(path string, getenv func(string) string) (Config, error) {
	return load(path, getenv, false)
}

func load(path string, getenv func(string) string, all bool) (Config, error) {
	cfg := Default()
	var ps Problems
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, Problems{{Msg: fmt.Sprintf("read config: %v", err)}}
		}
		ps = append(ps, decodeYAML(data, &cfg)...)
	}
	applyStoreEnv(&cfg, getenv, &ps)
	validateStore(&cfg, &ps)
	if all {
		applyEnv(&cfg, getenv, &ps)
		validate(&cfg, &ps)
	}
	if len(ps) > 0 {
		return cfg, ps
	}
	return cfg, nil
}

// applyStoreEnv applies the environment that says where the database is.
func applyStoreEnv(c *Config, getenv func(string) string, ps *Problems) {
	if v := getenv(EnvDataDir); v != "" {
		c.DataDir = v
	}
	c.Database.URL = secret(getenv(EnvDatabaseURL), c.Database.URLFile, "database.url_file", ps)
	c.AuditKey = auditKey(getenv, ps)
}

func applyEnv(c *Config, getenv func(string) string, ps *Problems) {
	if v := getenv(EnvListenAddr); v != "" {
		c.ListenAddr = v
	}
	if v := getenv(EnvLogFormat); v != "" {
		c.Log.Format = v
	}
	if v := getenv(EnvLogLevel); v != "" {
		c.Log.Level = v
	}
	c.Webhook.Token = secret(getenv(EnvWebhookToken), c.Webhook.TokenFile, "webhook.token_file", ps)
	c.Webhook.BasicAuth.Password = secret(getenv(EnvWebhookPassword), c.Webhook.BasicAuth.PasswordFile, "webhook.basic_auth.password_file", ps)
	c.API.Token = secret(getenv(EnvAPIToken), c.API.TokenFile, "api.token_file", ps)
	if v := getenv(EnvMetricsAddr); v != "" {
		c.Metrics.ListenAddr = v
	}
	c.Metrics.Token = secret(getenv(EnvMetricsToken), c.Metrics.TokenFile, "metrics.token_file", ps)

	c.Slack.BotToken = secret(getenv(EnvSlackBotToken), c.Slack.BotTokenFile, "slack.bot_token_file", ps)
	c.Slack.AppToken = secret(getenv(EnvSlackAppToken), c.Slack.AppTokenFile, "slack.app_token_file", ps)
	c.Slack.SigningSecret = secret(getenv(EnvSlackSigningSecret), c.Slack.SigningSecretFile, "slack.signing_secret_file", ps)
	c.Discord.BotToken = secret(getenv(EnvDiscordBotToken), c.Discord.BotTokenFile, "discord.bot_token_file", ps)
	if v := getenv(EnvSlackAPIURL); v != "" {
		c.Slack.APIURL = v
	}
	if v := getenv(EnvDiscordAPIURL); v != "" {
		c.Discord.APIURL = v
	}
	if v := getenv(EnvAlertmanagerURL); v != "" {
		c.Alertmanager.URL = v
	}
	applyUIEnv(c, getenv, ps)
	applyPrometheusEnv(c, getenv, ps)
	if v := getenv(EnvDiscordAppID); v != "" {
		c.Discord.AppID = v
	}
	if v := getenv(EnvDiscordPublicKey); v != "" {
		c.Discord.PublicKey = v
	}
	// A single default destination per platform, for a setup without a
	// file: every incident goes there.
	for _, d := range []struct{ env, platform string }{{EnvSlackChannel, "slack"}, {EnvDiscordChannel, "discord"}} {
		if ch := strings.TrimSpace(getenv(d.env)); ch != "" {
			c.Destinations = append(c.Destinations, Destination{Name: d.platform, Platform: d.platform, Channel: ch})
			c.Routes = append(c.Routes, Route{Destinations: []string{d.platform}, Continue: true})
		}
	}
}

// SlackCommands reports whether Slack commands can be received: a bot token
// and what the mode needs (Socket Mode: the app token; HTTP: the signing
// secret).
func (c *Config) SlackCommands() bool {
	if !c.SlackEnabled() {
		return false
	}
	if c.Commands.SlackMode == "http" {
		return c.Slack.SigningSecret != ""
	}
	return c.Slack.AppToken != ""
}

// DiscordCommands reports whether Discord commands can be received: a bot
// token, an application id, and for HTTP interactions the public key.
func (c *Config) DiscordCommands() bool {
	if !c.DiscordEnabled() || c.Discord.AppID == "" {
		return false
	}
	return c.Commands.DiscordMode != "http" || c.Discord.PublicKey != ""
}

// SlackEnabled reports whether Slack is configured (a bot token).
func (c *Config) SlackEnabled() bool { return c.Slack.BotToken != "" }

// DiscordEnabled reports whether Discord is configured (a bot token).
func (c *Config) DiscordEnabled() bool { return c.Discord.BotToken != "" }

// maxSecretFileBytes keeps a mistaken path (a log file, a binary) from
// being read whole.
const maxSecretFileBytes = 64 << 10

// secret takes the environment's value when set, else the file's. Errors
// name the file, never its content.
func secret(env, file, path string, ps *Problems) Secret {
	if v := strings.TrimSpace(env); v != "" {
		return Secret(v)
	}
	if file == "" {
		return ""
	}
	f, err := os.Open(file)
	if err != nil {
		ps.add(path, "%v", err)
		return ""
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		ps.add(path, "read %s: %v", file, err)
		return ""
	}
	if len(buf) > maxSecretFileBytes {
		ps.add(path, "%s is larger than %d bytes; is it the right file?", file, maxSecretFileBytes)
		return ""
	}
	v := strings.TrimSpace(string(buf))
	if v == "" {
		ps.add(path, "%s is empty", file)
	}
	return Secret(v)
}

// auditKey reads the audit key from CHATOPS_AUDIT_KEY or the file
// CHATOPS_AUDIT_KEY_FILE names (one of them: two sources of one key are a
// mistake waiting to happen) and checks its length. Problems name the
// variable, never the value.
func auditKey(getenv func(string) string, ps *Problems) Secret {
	key, path := envSecret(getenv, EnvAuditKey, EnvAuditKeyFile, ps)
	if key == "" {
		return ""
	}
	if _, err := bot.NewAuditKey([]byte(key)); err != nil {
		ps.add(path, "%v", err)
		return ""
	}
	return key
}

// envSecret reads a secret that only the environment may give: from the
// variable envName, or from the file the variable fileEnv names, never
// both. It returns the value and the variable it came from, for problems
// about it.
func envSecret(getenv func(string) string, envName, fileEnv string, ps *Problems) (Secret, string) {
	env, file := strings.TrimSpace(getenv(envName)), strings.TrimSpace(getenv(fileEnv))
	if env != "" && file != "" {
		ps.add(envName, "set %s or %s, not both", envName, fileEnv)
		return "", envName
	}
	path := envName
	if file != "" {
		path = fileEnv
	}
	return secret(env, file, path, ps), path
}
