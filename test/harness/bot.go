package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

// BotConfig is everything a bot is started with. Starting a second bot with
// the same config restarts "the same bot": same store, address and tokens.
type BotConfig struct {
	// Binary is the chatops binary (see Chatops).
	Binary       string
	Store        *Store
	Addr         string // host:port it listens on
	WebhookToken string
	APIToken     string
	// The chat platforms the bot posts to: stand-ins of their APIs. A nil
	// one is a platform the bot is not given a token for.
	Slack   *slackstandin.Server
	Discord *discordstandin.Server
	// ConfigPath is the --config file.
	ConfigPath string
	// LogPath is where the bot's output goes; empty, a new file in
	// t.TempDir() for each start.
	LogPath string
	// Env is added to the environment after everything the harness sets,
	// so it can also override it.
	Env []string
}

// NewBotConfig is a bot of binary on a fresh store of kind, listening on a
// free loopback port, with new tokens, both stand-ins (closed when t ends)
// and the shipped example configuration, deploy/kubernetes/base/bakery-ia.yaml.
func NewBotConfig(t TB, binary string, kind StoreKind) *BotConfig {
	t.Helper()
	sl, dc := slackstandin.New(), discordstandin.New()
	t.Cleanup(sl.Close)
	t.Cleanup(dc.Close)
	return &BotConfig{
		Binary:       binary,
		Store:        NewStore(t, kind),
		Addr:         FreeAddr(t),
		WebhookToken: "wh-" + RandHex(16),
		APIToken:     "api-" + RandHex(16),
		Slack:        sl,
		Discord:      dc,
		ConfigPath:   RepoPath(t, "deploy", "kubernetes", "base", "bakery-ia.yaml"),
	}
}

// WriteConfig writes yaml to dir/chatops.yaml and makes it the --config.
func (c *BotConfig) WriteConfig(t TB, dir, yaml string) {
	t.Helper()
	c.ConfigPath = filepath.Join(dir, "chatops.yaml")
	if err := os.WriteFile(c.ConfigPath, []byte(yaml), 0o600); err != nil {
		t.Fatalf("write the bot's configuration: %v", err)
	}
}

// Environ is the environment a chatops process of c runs with: the bot's
// own, or a CLI command's (audit) against the same store.
func (c *BotConfig) Environ() []string {
	env := append(CleanEnviron(),
		"CHATOPS_LISTEN_ADDR="+c.Addr,
		"CHATOPS_WEBHOOK_TOKEN="+c.WebhookToken,
		"CHATOPS_API_TOKEN="+c.APIToken,
		"CHATOPS_LOG_FORMAT=json",
	)
	if c.Slack != nil {
		env = append(env, "CHATOPS_SLACK_BOT_TOKEN=xoxb-harness-"+RandHex(8), "CHATOPS_SLACK_API_URL="+c.Slack.URL())
	}
	if c.Discord != nil {
		env = append(env, "CHATOPS_DISCORD_BOT_TOKEN=harness-"+RandHex(8), "CHATOPS_DISCORD_API_URL="+c.Discord.URL())
	}
	env = append(env, c.Store.Env()...)
	return append(env, c.Env...)
}

// Bot is one running `chatops serve`.
type Bot struct {
	Config  *BotConfig
	BaseURL string
	Process *Process
	// Client sends the bot's requests; a tool with many senders gives it a
	// larger connection pool.
	Client *http.Client
}

// StartBot starts `chatops serve --config cfg.ConfigPath` with cfg and
// waits until GET /readyz answers 200.
func StartBot(t TB, cfg *BotConfig) *Bot {
	t.Helper()
	cmd := exec.Command(cfg.Binary, "serve", "--config", cfg.ConfigPath)
	cmd.Dir = t.TempDir() // anything relative (./data) lands in a throwaway dir
	cmd.Env = cfg.Environ()
	b := &Bot{Config: cfg, BaseURL: "http://" + cfg.Addr, Client: client,
		Process: Start(t, "chatops-"+string(cfg.Store.Kind), cfg.LogPath, cmd)}
	b.WaitReady(t)
	return b
}

// WebhookURL is where Alertmanager posts to the bot.
func (b *Bot) WebhookURL() string { return b.BaseURL + "/v1/alertmanager" }

// WaitReady waits until GET /readyz answers 200, failing t if the bot
// exits first.
func (b *Bot) WaitReady(t TB) {
	t.Helper()
	Eventually(t, b.Process.Name+" GET /readyz == 200", func() (bool, string) {
		if b.Process.Exited() {
			t.Fatalf("%s exited before it became ready: %v", b.Process.Name, b.Process.Err())
		}
		code, body, err := b.Get("/readyz", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("GET /readyz -> %d %s", code, body)
	})
}

// Stop sends SIGTERM and requires a graceful exit with code 0.
func (b *Bot) Stop(t TB) {
	t.Helper()
	if e := b.Process.Terminate(WaitTimeout); e.Err != nil {
		t.Fatalf("%v", e.Err)
	}
}

// Kill sends SIGKILL and waits for the bot to be gone; it fails t if the
// bot had exited already.
func (b *Bot) Kill(t TB) {
	t.Helper()
	if b.Process.Exited() {
		t.Fatalf("%s had already exited before SIGKILL: %v", b.Process.Name, b.Process.Err())
	}
	b.Process.Kill()
}

// Request sends one request to the bot, with token as its bearer token
// ("" sends no Authorization header), and reads the whole answer.
func (b *Bot) Request(ctx context.Context, method, path, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(b.Client, req)
}

// Get is GET path with token as the bearer token ("" sends none).
func (b *Bot) Get(path, token string) (int, []byte, error) {
	return b.Request(context.Background(), http.MethodGet, path, token, nil)
}

// PostWebhook posts body to POST /v1/alertmanager with the given bearer
// token ("" sends no Authorization header).
func (b *Bot) PostWebhook(body []byte, token string) (int, []byte, error) {
	return b.Request(context.Background(), http.MethodPost, "/v1/alertmanager", token, body)
}

// MustPostWebhook posts body with the right token, requires
// 200 {"incident_id": N} and returns N.
func (b *Bot) MustPostWebhook(t TB, body []byte) int64 {
	t.Helper()
	code, resp, err := b.PostWebhook(body, b.Config.WebhookToken)
	if err != nil {
		t.Fatalf("POST /v1/alertmanager: %v", err)
	}
	id, err := WebhookAck(code, resp)
	if err != nil {
		t.Fatalf("POST /v1/alertmanager: %v", err)
	}
	return id
}
