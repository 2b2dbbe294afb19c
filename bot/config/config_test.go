package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/policy"
)

const (
	webhookToken = "wh-token-9f8e7d"
	apiToken     = "api-token-1a2b3c"
)

// env is a fake getenv over a map.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// tokens is the least environment Load accepts.
func tokens(extra ...string) func(string) string {
	kv := map[string]string{EnvWebhookToken: webhookToken, EnvAPIToken: apiToken,
		EnvSlackBotToken: "xoxb-test", EnvDiscordBotToken: "discord-test"}
	for i := 0; i+1 < len(extra); i += 2 {
		kv[extra[i]] = extra[i+1]
	}
	return env(kv)
}

// writeFile writes content to a new file in a test temp dir.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// problems unwraps Load's error into Problems.
func problems(t *testing.T, err error) Problems {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load error %T %q is not Problems", err, err)
	}
	return ps
}

func findProblem(ps Problems, path string) (Problem, bool) {
	for _, p := range ps {
		if p.Path == path {
			return p, true
		}
	}
	return Problem{}, false
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load("", tokens())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"listen addr", cfg.ListenAddr, "127.0.0.1:8080"},
		{"data dir", cfg.DataDir, "./data"},
		{"sqlite path", filepath.Clean(cfg.SQLitePath()), filepath.Clean("./data/chatops.db")},
		{"uses postgres", cfg.UsesPostgres(), false},
		{"shutdown timeout", cfg.ShutdownTimeout, 20 * time.Second},
		{"log format", cfg.Log.Format, "auto"},
		{"log level", cfg.Log.Level, "info"},
		{"max conns", cfg.Database.MaxConns, DefaultMaxConns},
		{"max body bytes", cfg.Webhook.MaxBodyBytes, int64(DefaultMaxBodyBytes)},
		{"reopen window", cfg.Incidents.ReopenWindow, incident.DefaultReopenWindow},
		{"webhook token", cfg.Webhook.Token.Reveal(), webhookToken},
		{"api token", cfg.API.Token.Reveal(), apiToken},
		{"insecure no auth", cfg.Webhook.InsecureNoAuth, false},
		{"severity rules", len(cfg.Classifier().Rules), 0},
		{"routes", len(cfg.IncidentRoutes()), 0},
		{"commands in flight per platform", cfg.Commands.MaxInFlight, 64},
		{"commands in flight per person", cfg.Commands.MaxInFlightPerUser, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestLoadNoFileNeedsTokens(t *testing.T) {
	tests := []struct {
		name      string
		getenv    func(string) string
		wantPaths []string
	}{
		{"no tokens", env(nil), []string{"webhook", "api"}},
		{"only webhook token", env(map[string]string{EnvWebhookToken: webhookToken}), []string{"api"}},
		{"only api token", env(map[string]string{EnvAPIToken: apiToken}), []string{"webhook"}},
		{"whitespace tokens count as set", env(map[string]string{EnvWebhookToken: " x ", EnvAPIToken: "\ty\n"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.getenv)
			ps := problems(t, err)
			var got []string
			for _, p := range ps {
				got = append(got, p.Path)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantPaths) {
				t.Errorf("problem paths %q, want %q (%v)", got, tt.wantPaths, err)
			}
		})
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{"listen addr", []string{EnvListenAddr, "0.0.0.0:9999"}, func(t *testing.T, c Config) {
			if c.ListenAddr != "0.0.0.0:9999" {
				t.Errorf("ListenAddr = %q", c.ListenAddr)
			}
		}},
		{"data dir", []string{EnvDataDir, "/var/lib/chatops"}, func(t *testing.T, c Config) {
			if c.DataDir != "/var/lib/chatops" || c.SQLitePath() != "/var/lib/chatops/chatops.db" {
				t.Errorf("DataDir = %q, SQLitePath = %q", c.DataDir, c.SQLitePath())
			}
			if c.UsesPostgres() {
				t.Error("UsesPostgres with no URL")
			}
		}},
		{"database url", []string{EnvDatabaseURL, "postgres://chatops:pw@db:5432/chatops"}, func(t *testing.T, c Config) {
			if !c.UsesPostgres() {
				t.Error("UsesPostgres = false with CHATOPS_DATABASE_URL set")
			}
			if c.Database.URL.Reveal() != "postgres://chatops:pw@db:5432/chatops" {
				t.Errorf("URL = %q", c.Database.URL.Reveal())
			}
		}},
		{"database url with empty data dir", []string{EnvDatabaseURL, "postgres://db/chatops", EnvDataDir, ""}, func(t *testing.T, c Config) {
			if !c.UsesPostgres() {
				t.Error("UsesPostgres = false")
			}
		}},
		{"log format and level", []string{EnvLogFormat, "json", EnvLogLevel, "debug"}, func(t *testing.T, c Config) {
			if c.Log.Format != "json" || c.Log.Level != "debug" {
				t.Errorf("Log = %+v", c.Log)
			}
		}},
		{"webhook password", []string{EnvWebhookPassword, " pw \n"}, func(t *testing.T, c Config) {
			if c.Webhook.BasicAuth.Password.Reveal() != "pw" {
				t.Errorf("Password = %q, want trimmed", c.Webhook.BasicAuth.Password.Reveal())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", tokens(tt.env...))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	p := writeFile(t, "c.yaml", "listen_addr: 10.0.0.1:8000\ndata_dir: /from/file\nlog:\n  format: console\n")
	cfg, err := Load(p, tokens(EnvListenAddr, "127.0.0.1:7000", EnvDataDir, "/from/env"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.ListenAddr != "127.0.0.1:7000" || cfg.DataDir != "/from/env" || cfg.Log.Format != "console" {
		t.Errorf("got listen %q, data %q, format %q", cfg.ListenAddr, cfg.DataDir, cfg.Log.Format)
	}
}

func TestLoadEnvProblems(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		wantPath string
	}{
		{"listen addr without port", []string{EnvListenAddr, "localhost"}, "listen_addr"},
		{"bad log format", []string{EnvLogFormat, "xml"}, "log.format"},
		{"bad log level", []string{EnvLogLevel, "trace"}, "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tokens(tt.env...))
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Path != tt.wantPath {
				t.Errorf("problems %v, want one at %q", ps, tt.wantPath)
			}
		})
	}
}

func TestLoadSecretFiles(t *testing.T) {
	type secretKey struct {
		yamlPath string // path of the *_file key
		env      string
		get      func(Config) Secret
	}
	keys := []secretKey{
		{"webhook.token_file", EnvWebhookToken, func(c Config) Secret { return c.Webhook.Token }},
		{"api.token_file", EnvAPIToken, func(c Config) Secret { return c.API.Token }},
		{"database.url_file", EnvDatabaseURL, func(c Config) Secret { return c.Database.URL }},
		{"webhook.basic_auth.password_file", EnvWebhookPassword, func(c Config) Secret { return c.Webhook.BasicAuth.Password }},
	}
	// yamlFor is the YAML that sets the key at yamlPath to file.
	yamlFor := func(yamlPath, file string) string {
		switch yamlPath {
		case "webhook.token_file":
			return fmt.Sprintf("webhook:\n  token_file: %q\n", file)
		case "api.token_file":
			return fmt.Sprintf("api:\n  token_file: %q\n", file)
		case "database.url_file":
			return fmt.Sprintf("database:\n  url_file: %q\n", file)
		case "webhook.basic_auth.password_file":
			return fmt.Sprintf("webhook:\n  basic_auth:\n    username: am\n    password_file: %q\n", file)
		}
		panic(yamlPath)
	}
	const fileValue = "from-the-file-0042"
	tests := []struct {
		name      string
		content   *string // nil: the file does not exist
		envValue  string
		want      string
		wantProbl string // substring of the problem at the key's path; empty: none
	}{
		{"plain", ptr(fileValue), "", fileValue, ""},
		{"whitespace trimmed", ptr("  \n\t" + fileValue + "\r\n\n"), "", fileValue, ""},
		{"empty file", ptr(""), "", "", "is empty"},
		{"whitespace-only file", ptr(" \n\t\n"), "", "", "is empty"},
		{"missing file", nil, "", "", "no such file"},
		{"too large file", ptr(strings.Repeat("s", maxSecretFileBytes+1)), "", "", "larger than"},
		{"env wins over file", ptr(fileValue), "from-the-env", "from-the-env", ""},
		{"env wins over a missing file", nil, "from-the-env", "from-the-env", ""},
	}
	for _, k := range keys {
		for _, tt := range tests {
			t.Run(k.yamlPath+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "secret")
				if tt.content != nil {
					if err := os.WriteFile(file, []byte(*tt.content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				cfgPath := writeFile(t, "chatops.yaml", yamlFor(k.yamlPath, file))
				kv := map[string]string{EnvWebhookToken: webhookToken, EnvAPIToken: apiToken, EnvWebhookPassword: "pw"}
				delete(kv, k.env) // the file is the only source unless the case sets the env
				if tt.envValue != "" {
					kv[k.env] = tt.envValue
				}
				cfg, err := Load(cfgPath, env(kv))
				ps := problems(t, err)
				p, found := findProblem(ps, k.yamlPath)
				if tt.wantProbl == "" {
					if err != nil {
						t.Fatalf("Load: %v", err)
					}
					if got := k.get(cfg).Reveal(); got != tt.want {
						t.Errorf("secret = %q, want %q", got, tt.want)
					}
					return
				}
				if !found {
					t.Fatalf("no problem at %q; got %v", k.yamlPath, ps)
				}
				if !strings.Contains(p.Msg, tt.wantProbl) {
					t.Errorf("problem %q, want it to contain %q", p, tt.wantProbl)
				}
				if !strings.Contains(p.Msg, file) {
					t.Errorf("problem %q does not name the file %s", p, file)
				}
				if tt.content != nil && len(strings.TrimSpace(*tt.content)) > 0 && strings.Contains(err.Error(), strings.TrimSpace(*tt.content)[:16]) {
					t.Errorf("problem reveals the file's content: %q", p)
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestLoadManyMistakes loads a file with one mistake of each kind and
// expects every one reported, each at its exact path, in one error.
func TestLoadManyMistakes(t *testing.T) {
	const file = `
listen_adr: 0.0.0.0:80
shutdown_timeout: 20 parsecs
log:
  format: json
  colour: true
database:
  max_conns: many
  url: postgres://u:inline-db-password@db/chatops
webhook:
  token: inline-webhook-token
  insecure_no_auth: maybe
api:
  token: inline-api-token
incidents:
  reopen_window: soon
severity:
  rules:
    - name: ok-rule
      match: ['alertname="ServiceDown"']
      severity: P1
    - name: bad-severity
      match: ['alertname="HighMemoryUsage"']
      severity: P5
    - name: bad-regex
      match: ['alertname="X"', 'service=~"(unclosed"']
      severity: P2
destinations:
  - name: slack-incidents
    platform: slack
    channel: C0INCIDENTS
  - name: slack-incidents
    platform: slack
    channel: C0OTHER
  - name: teams-incidents
    platform: teams
    channel: T0
routes:
  - severities: [P0]
    destinations: [slack-incidents, pager]
`
	p := writeFile(t, "chatops.yaml", file)
	_, err := Load(p, tokens())
	ps := problems(t, err)

	want := []struct {
		path string
		msg  string // substring
	}{
		{"listen_adr", "unknown field"},
		{"shutdown_timeout", "want a duration like 10m or 90s"},
		{"log.colour", "unknown field"},
		{"database.max_conns", "want an integer"},
		{"database.url", "secrets are not read from the config file"},
		{"webhook.token", "secrets are not read from the config file"},
		{"webhook.insecure_no_auth", "want true or false"},
		{"api.token", "secrets are not read from the config file"},
		{"incidents.reopen_window", "want a duration"},
		{"severity.rules[1].severity", `severity "P5"`},
		{"severity.rules[2].match[1]", "error parsing regexp"},
		{"destinations[1].name", `"slack-incidents" is used twice`},
		{"destinations[2].platform", `"teams": want slack or discord`},
		{"routes[0].destinations[1]", `"pager" is not a destination`},
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for _, w := range want {
		t.Run(w.path, func(t *testing.T) {
			var at []Problem
			for _, p := range ps {
				if p.Path == w.path {
					at = append(at, p)
				}
			}
			if len(at) != 1 {
				t.Fatalf("%d problems at %q, want 1; all:\n%v", len(at), w.path, err)
			}
			if !strings.Contains(at[0].Msg, w.msg) {
				t.Errorf("problem %q, want it to contain %q", at[0], w.msg)
			}
			if !strings.HasPrefix(at[0].Error(), w.path+": ") {
				t.Errorf("Error() = %q, want it to start with the path", at[0].Error())
			}
		})
	}
	for _, leak := range []string{"inline-db-password", "inline-webhook-token", "inline-api-token"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("problems reveal the inline secret %q:\n%v", leak, err)
		}
	}
	if lines := strings.Count(err.Error(), "\n") + 1; lines != len(ps) {
		t.Errorf("Problems.Error() has %d lines for %d problems", lines, len(ps))
	}
}

func TestLoadFileProblems(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantPath string
		wantMsg  string
	}{
		{"not YAML", "listen_addr: [unclosed\n", "", "did not find expected"},
		{"top level is a list", "- a\n- b\n", "", "want a mapping"},
		{"section is a scalar", "log: loud\n", "log", "want a mapping, got \"loud\""},
		{"list is a scalar", "destinations: slack\n", "destinations", "want a list"},
		{"secret-like unknown key", "webhook:\n  password: x\n", "webhook.password", "secrets are not read"},
		{"inline basic auth password", "webhook:\n  basic_auth:\n    password: x\n", "webhook.basic_auth.password", "secrets are not read"},
		{"rule without matchers", "severity:\n  rules:\n    - severity: P1\n", "severity.rules[0].match", "no matchers"},
		{"bad matcher syntax", "severity:\n  rules:\n    - match: ['alert name is X']\n      severity: P1\n", "severity.rules[0].match[0]", "expected an operator"},
		{"bad destination name", "destinations:\n  - name: Slack Main\n    platform: slack\n    channel: C1\n", "destinations[0].name", "lower-case"},
		{"destination without channel", "destinations:\n  - name: s\n    platform: slack\n", "destinations[0].channel", "channel id"},
		{"route without destinations", "routes:\n  - severities: [P1]\n", "routes[0].destinations", "must send somewhere"},
		{"route bad severity", "destinations:\n  - {name: s, platform: slack, channel: C1}\nroutes:\n  - severities: [P9]\n    destinations: [s]\n", "routes[0].severities[0]", `severity "P9"`},
		{"route bad matcher", "destinations:\n  - {name: s, platform: slack, channel: C1}\nroutes:\n  - match: ['x=~\"[\"']\n    destinations: [s]\n", "routes[0].match[0]", "error parsing regexp"},
		{"body limit too small", "webhook:\n  max_body_bytes: 10\n", "webhook.max_body_bytes", "want 1024.."},
		{"reopen window too long", "incidents:\n  reopen_window: 200h\n", "incidents.reopen_window", "want 0..168h"},
		{"max conns zero", "database:\n  max_conns: 0\n", "database.max_conns", "want 1..500"},
		{"negative shutdown", "shutdown_timeout: -1s\n", "shutdown_timeout", "must be positive"},
		{"thread auto-archive not one of Discord's", "discord:\n  thread_auto_archive: 30\n", "discord.thread_auto_archive", "60, 1440"},
		{"slack api url not a URL", "slack:\n  api_url: slack.local\n", "slack.api_url", "not an http(s) URL"},
		{"slack channel by name", "destinations:\n  - {name: s, platform: slack, channel: '#incidents'}\n", "destinations[0].channel", "channel id"},
		{"slack mention not a group id", "destinations:\n  - {name: s, platform: slack, channel: C1X, mention: oncall}\n", "destinations[0].mention", "user group id"},
		{"discord channel not a snowflake", "destinations:\n  - {name: d, platform: discord, channel: general}\n", "destinations[0].channel", "is a number"},
		{"bad slack mode", "commands:\n  slack_mode: rtm\n", "commands.slack_mode", "want socket or http"},
		{"bad command root", "commands:\n  root: /ops\n", "commands.root", "lower-case"},
		{"no command in flight", "commands:\n  max_in_flight: 0\n", "commands.max_in_flight", "want 1..1024"},
		{"per person above the platform", "commands:\n  max_in_flight: 4\n  max_in_flight_per_user: 5\n", "commands.max_in_flight_per_user", "want 1..commands.max_in_flight (4)"},
		{"guild id not a number", "discord:\n  guild_ids: [bakery]\n", "discord.guild_ids[0]", "is a number"},
		{"stale Slack groups for too long", "access:\n  group_max_stale: 1h\n", "access.group_max_stale", "want 0s..15m0s"},
		{"namespace not a name", "kubernetes:\n  namespace: Bakery_IA\n", "kubernetes.namespace", "not a namespace name"},
		{"namespace outside its allow-list", "kubernetes:\n  namespace: bakery-ia\n  allowed_namespaces: [other]\n", "kubernetes.allowed_namespaces", "does not contain"},
		{"alertmanager url not a URL", "alertmanager:\n  url: alertmanager:9093\n", "alertmanager.url", "not an http(s) URL"},
		{"outbox workers zero", "outbox:\n  workers: 0\n", "outbox.workers", "want 1..64"},
		{"outbox lease too short", "outbox:\n  lease: 2s\n", "outbox.lease", "want 10s..30m0s"},
		{"rollout follow too long", "kubernetes:\n  rollout_follow: 2h\n", "kubernetes.rollout_follow", "want 10s..30m0s"},
		{"bad mention severity", "destinations:\n  - {name: s, platform: slack, channel: C1, mention: S1, mention_severities: [P5]}\n", "destinations[0].mention_severities[0]", `severity "P5"`},
		{"basic user without password", "webhook:\n  basic_auth:\n    username: am\n", "webhook.basic_auth.password_file", "no password"},
		{"default role above viewer", "access:\n  default_role: admin\n", "access.default_role", "strangers never get more"},
		{"slack user by name", "access:\n  slack_users: {ana: admin}\n", "access.slack_users.ana", "Slack user id"},
		{"unknown role", "access:\n  discord_roles: {'123': superuser}\n", "access.discord_roles.123", "want viewer, member"},
		{"slack group not an S id", "access:\n  slack_groups: {U1: owner}\n", "access.slack_groups.U1", "user group id"},
		{"channel cap by name", "access:\n  slack_channel_caps: {general: member}\n", "access.slack_channel_caps.general", "channel id"},
		{"quorum zero", "approvals:\n  quorum: 0\n", "approvals.quorum", "want 1..5"},
		{"expiry too long", "approvals:\n  expiry: 48h\n", "approvals.expiry", "want 1m.."},
		{"scale bounds inverted", "approvals:\n  scale_bounds:\n    - {service: orders-service, min: 5, max: 2}\n", "approvals.scale_bounds[0]", "min <= max"},
		{"scale bounds unknown field", "approvals:\n  scale_bounds:\n    - {service: orders-service, maximum: 2}\n", "approvals.scale_bounds[0].maximum", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "chatops.yaml", tt.yaml)
			_, err := Load(p, tokens())
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ps), err)
			}
			if ps[0].Path != tt.wantPath || !strings.Contains(ps[0].Msg, tt.wantMsg) {
				t.Errorf("problem %q, want path %q and a message containing %q", ps[0], tt.wantPath, tt.wantMsg)
			}
		})
	}
}

func TestLoadFileAccepted(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c Config)
	}{
		{"empty file", "", nil},
		{"comments only", "# nothing here\n", nil},
		{"null sections", "log:\ndestinations:\n", func(t *testing.T, c Config) {
			if c.Log.Format != "auto" {
				t.Errorf("Log.Format = %q, want the default", c.Log.Format)
			}
		}},
		{"insecure no auth without token", "webhook:\n  insecure_no_auth: true\n", func(t *testing.T, c Config) {
			if !c.Webhook.InsecureNoAuth {
				t.Error("InsecureNoAuth = false")
			}
		}},
		{"lower-case severity", "severity:\n  rules:\n    - match: ['a=\"b\"']\n      severity: p2\n", func(t *testing.T, c Config) {
			if r := c.Classifier().Rules; len(r) != 1 || r[0].Severity != bot.P2 {
				t.Errorf("rules %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "chatops.yaml", tt.yaml)
			cfg, err := Load(p, tokens())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestLoadMissingConfigFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), tokens())
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Path != "" || !strings.Contains(ps[0].Msg, "read config") {
		t.Errorf("problems %v, want one \"read config\" problem", ps)
	}
}

func TestBakeryIAConfig(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "kubernetes", "base", "bakery-ia.yaml") // tests run in their package folder
	cfg, err := Load(path, tokens())
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if cfg.UsesPostgres() {
		t.Error("UsesPostgres without a URL")
	}
	cl := cfg.Classifier()
	if len(cl.Rules) != 4 {
		t.Errorf("%d severity rules, want 4", len(cl.Rules))
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   bot.Severity
	}{
		{"ServiceDown on gateway", map[string]string{"alertname": "ServiceDown", "service": "gateway", "severity": "critical"}, bot.P0},
		{"ServiceDown on auth-service", map[string]string{"alertname": "ServiceDown", "service": "auth-service"}, bot.P0},
		{"ServiceDown on orders-service", map[string]string{"alertname": "ServiceDown", "service": "orders-service", "severity": "critical"}, bot.P1},
		{"ServiceDown on gateway-v2 (regex is anchored)", map[string]string{"alertname": "ServiceDown", "service": "gateway-v2"}, bot.P1},
		{"HighErrorRate on auth-service", map[string]string{"alertname": "HighErrorRate", "service": "auth-service", "severity": "critical"}, bot.P0},
		{"HighErrorRate on orders-service", map[string]string{"alertname": "HighErrorRate", "service": "orders-service"}, bot.P1},
		{"DatabaseDown without service", map[string]string{"alertname": "DatabaseDown"}, bot.P1},
		{"HighMemoryUsage", map[string]string{"alertname": "HighMemoryUsage", "service": "forecasting-service", "severity": "warning"}, bot.P2},
		{"HighMemoryUsage critical stays P2", map[string]string{"alertname": "HighMemoryUsage", "severity": "critical"}, bot.P2},
		{"DatabaseConnectionsHigh", map[string]string{"alertname": "DatabaseConnectionsHigh", "service": "orders-db", "severity": "warning"}, bot.P2},
		{"CertificateExpiringSoon", map[string]string{"alertname": "CertificateExpiringSoon", "severity": "warning"}, bot.P3},
		{"unknown alert, severity=critical", map[string]string{"alertname": "SomethingNew", "severity": "critical"}, bot.P1},
		{"unknown alert, severity=CRITICAL", map[string]string{"alertname": "SomethingNew", "severity": "CRITICAL"}, bot.P1},
		{"unknown alert, severity=warning", map[string]string{"alertname": "SomethingNew", "severity": "warning"}, bot.P2},
		{"unknown alert, priority=P0", map[string]string{"alertname": "SomethingNew", "priority": "P0", "severity": "info"}, bot.P0},
		{"unknown alert, priority=p2", map[string]string{"alertname": "SomethingNew", "priority": "p2"}, bot.P2},
		{"unknown alert, bad priority falls back to severity", map[string]string{"alertname": "SomethingNew", "priority": "urgent", "severity": "critical"}, bot.P1},
		{"unknown alert, severity=info", map[string]string{"alertname": "SomethingNew", "severity": "info"}, bot.P3},
		{"unknown alert, no severity", map[string]string{"alertname": "SomethingNew"}, bot.P3},
		{"rules beat priority", map[string]string{"alertname": "CertificateExpiringSoon", "priority": "P0"}, bot.P3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cl.Classify(tt.labels); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.labels, got, tt.want)
			}
		})
	}

	access := cfg.AccessPolicy()
	roles := []struct {
		p    policy.Person
		want policy.Role
	}{
		{policy.Person{Platform: "slack", UserID: "U1", Groups: []string{"S0SRE"}}, policy.Admin},
		{policy.Person{Platform: "slack", UserID: "U1", Groups: []string{"S0SRE"}, Channel: "C0ALERTS"}, policy.Member},
		{policy.Person{Platform: "discord", UserID: "1", Groups: []string{"100000000000000002"}}, policy.Member},
		{policy.Person{Platform: "slack", UserID: "U1"}, policy.Viewer},
	}
	for _, r := range roles {
		if got := access.RoleOf(r.p); got != r.want {
			t.Errorf("RoleOf(%+v) = %s, want %s", r.p, got, r.want)
		}
	}
	if rule := cfg.ApprovalRule(); rule.Quorum != 1 || rule.Expiry != 15*time.Minute || rule.BreakGlass {
		t.Errorf("approval rule %+v", rule)
	}

	routes := []struct {
		sev  bot.Severity
		want []string
	}{
		{bot.P0, []string{"slack-incidents", "discord-incidents"}},
		{bot.P1, []string{"slack-incidents", "discord-incidents"}},
		{bot.P2, []string{"slack-alerts"}},
		{bot.P3, []string{"slack-alerts"}},
	}
	for _, r := range routes {
		t.Run("route "+r.sev.String(), func(t *testing.T) {
			got := cfg.IncidentRoutes().Destinations(&bot.Incident{Severity: r.sev})
			if fmt.Sprint(got) != fmt.Sprint(r.want) {
				t.Errorf("destinations %v, want %v", got, r.want)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const v = "hunter2-very-secret"
	if got := Secret(v).String(); got != "<redacted>" {
		t.Errorf("Secret.String() = %q, want <redacted>", got)
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty Secret.String() = %q, want empty", got)
	}
	if got := Secret(v).Reveal(); got != v {
		t.Errorf("Reveal() = %q", got)
	}

	cfg, err := Load("", env(map[string]string{
		EnvWebhookToken:    v + "-webhook",
		EnvAPIToken:        v + "-api",
		EnvDatabaseURL:     "postgres://u:" + v + "-db@host/db",
		EnvWebhookPassword: v + "-basic",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name string
		s    string
	}{
		{"Secret %v", fmt.Sprintf("%v", Secret(v))},
		{"Secret %s", fmt.Sprintf("%s", Secret(v))},
		{"Secret %q", fmt.Sprintf("%q", Secret(v))},
		{"Secret Sprint", fmt.Sprint(Secret(v))},
		{"Config %v", fmt.Sprintf("%v", cfg)},
		{"*Config %v", fmt.Sprintf("%v", &cfg)},
		{"Config %+v", fmt.Sprintf("%+v", cfg)},
		{"Webhook %+v", fmt.Sprintf("%+v", cfg.Webhook)},
		{"Database %v", fmt.Sprintf("%v", cfg.Database)},
		{"API Sprintln", fmt.Sprintln(cfg.API)},
		{"Config %#v", fmt.Sprintf("%#v", cfg)},
		{"Config JSON", func() string {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(cfg)
			return b.String()
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.s, v) {
				t.Errorf("output reveals the secret: %s", tt.s)
			}
			if !strings.Contains(tt.s, "<redacted>") {
				t.Errorf("output has no <redacted> placeholder: %s", tt.s)
			}
		})
	}
}

func TestChatPlatforms(t *testing.T) {
	t.Run("a destination needs its platform's token", func(t *testing.T) {
		p := writeFile(t, "chatops.yaml", "destinations:\n  - {name: s, platform: slack, channel: C1}\n  - {name: d, platform: discord, channel: '1'}\n")
		_, err := Load(p, env(map[string]string{EnvWebhookToken: "w", EnvAPIToken: "a"}))
		ps := problems(t, err)
		if len(ps) != 2 || ps[0].Path != "destinations[0].platform" || ps[1].Path != "destinations[1].platform" ||
			!strings.Contains(ps[0].Msg, EnvSlackBotToken) || !strings.Contains(ps[1].Msg, EnvDiscordBotToken) {
			t.Fatalf("problems = %v", ps)
		}
	})
	t.Run("default destinations from the environment", func(t *testing.T) {
		cfg, err := Load("", tokens(EnvSlackChannel, "C0ALL", EnvDiscordChannel, "42"))
		if err != nil {
			t.Fatal(err)
		}
		ds := cfg.ChatDestinations()
		if len(ds) != 2 || ds[0].Platform != "slack" || ds[0].Channel != "C0ALL" || ds[1].Platform != "discord" || ds[1].Channel != "42" {
			t.Fatalf("destinations = %+v", ds)
		}
		got := cfg.IncidentRoutes().Destinations(&bot.Incident{Severity: bot.P3})
		if len(got) != 2 {
			t.Fatalf("a P3 incident routes to %v, want both default destinations", got)
		}
	})
	t.Run("no chat at all is fine", func(t *testing.T) {
		cfg, err := Load("", env(map[string]string{EnvWebhookToken: "w", EnvAPIToken: "a"}))
		if err != nil || cfg.SlackEnabled() || cfg.DiscordEnabled() || len(cfg.ChatDestinations()) != 0 {
			t.Fatalf("cfg = %+v, %v", cfg, err)
		}
	})
}

// TestLoadStore: the store-only commands need the database settings and
// nothing else, while the same file and environment still fail Load.
func TestLoadStore(t *testing.T) {
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "db-url")
	if err := os.WriteFile(urlFile, []byte("postgres://chatops@db/chatops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serveOnly, err := os.ReadFile(filepath.Join("testdata", "serve-only-problems.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		yaml      string // "": no file
		env       map[string]string
		wantPaths []string // problems LoadStore reports
		check     func(t *testing.T, c Config)
	}{
		{name: "no file, data dir only", env: map[string]string{EnvDataDir: dir}, check: func(t *testing.T, c Config) {
			if c.UsesPostgres() || c.SQLitePath() != filepath.Join(dir, "chatops.db") {
				t.Errorf("SQLitePath = %q, UsesPostgres = %v", c.SQLitePath(), c.UsesPostgres())
			}
		}},
		{name: "no file, database url only", env: map[string]string{EnvDatabaseURL: "postgres://db/chatops"}, check: func(t *testing.T, c Config) {
			if !c.UsesPostgres() {
				t.Error("UsesPostgres = false")
			}
		}},
		{name: "serve's settings are not its business", yaml: string(serveOnly) + fmt.Sprintf("database:\n  url_file: %q\n  max_conns: 4\n", urlFile),
			check: func(t *testing.T, c Config) {
				if c.Database.URL.Reveal() != "postgres://chatops@db/chatops" || c.Database.MaxConns != 4 {
					t.Errorf("Database = %+v (URL %q)", c.Database, c.Database.URL.Reveal())
				}
			}},
		{name: "database problems", yaml: fmt.Sprintf("data_dir: ''\ndatabase:\n  url_file: %q\n  max_conns: 0\n", filepath.Join(dir, "absent-url")),
			wantPaths: []string{"database.url_file", "data_dir", "database.max_conns"}},
		{name: "the file must still decode", yaml: "databse:\n  max_conns: 4\nwebhook:\n  token: inline\n",
			wantPaths: []string{"databse", "webhook.token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeFile(t, "chatops.yaml", tt.yaml)
			}
			cfg, err := LoadStore(path, env(tt.env))
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.Path)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantPaths) {
				t.Fatalf("LoadStore problem paths %q, want %q (%v)", got, tt.wantPaths, err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
			if _, err := Load(path, env(tt.env)); err == nil {
				t.Error("Load accepted what only LoadStore should")
			}
		})
	}
}

func TestUIConfig(t *testing.T) {
	ok := writeFile(t, "ok.yaml", "ui:\n  enabled: true\n  slack_workspace: https://bakewise.slack.com\n  discord_guild_id: \"42\"\n  page_size: 25\n  poll_interval: 2s\n"+
		"  public_url: https://chatops.example.com\n  proxy: {trusted_cidrs: [10.0.0.1], groups: {sre: viewer}}\n")
	cfg, err := Load(ok, tokens(EnvUISessionKey, strings.Repeat("k", 32)))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !cfg.UI.Enabled || cfg.UI.SlackWorkspace != "https://bakewise.slack.com" || cfg.UI.DiscordGuildID != "42" || cfg.UI.PageSize != 25 {
		t.Fatalf("ui: %+v", cfg.UI)
	}
	bad := writeFile(t, "bad.yaml", "ui:\n  slack_workspace: javascript:alert(1)\n  discord_guild_id: abc\n  page_size: 5000\n  poll_interval: 1ms\n  audit_verify_interval: 1s\n")
	_, err = Load(bad, tokens())
	for _, want := range []string{"ui.slack_workspace", "ui.discord_guild_id", "ui.page_size", "ui.poll_interval", "ui.audit_verify_interval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem with %s: %v", want, err)
		}
	}
}
