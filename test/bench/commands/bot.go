package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bakewise/chatops/test/harness"
)

// stopTimeout is how long the bot gets to exit after SIGTERM.
const stopTimeout = 30 * time.Second

// botConfigYAML: Slack commands over HTTP, accepted in the bench channel,
// looking at the bakery-ia namespace. No destination: the ingest storm's
// incidents are stored, not posted, so the stand-in only sees commands.
func botConfigYAML() string {
	return fmt.Sprintf(`# written by test/bench/commands
log:
  format: json
  level: info
commands:
  slack_mode: http
  channels: [%s]
kubernetes:
  namespace: %s
`, channelID, namespace)
}

// startBot starts the bot on db with the Slack stand-in (no Discord), its
// log in work/bot.log, reading the cluster through kubeconfig.
func (b *bench) startBot(bin, kubeconfig, alertmanagerURL string) {
	t := b.prog
	cfg := &harness.BotConfig{
		Binary:       bin,
		Store:        harness.PostgresStore(b.db),
		Addr:         harness.FreeAddr(t),
		WebhookToken: "bench-wh-" + harness.RandHex(12),
		APIToken:     "bench-api-" + harness.RandHex(12),
		Slack:        b.slack,
		LogPath:      filepath.Join(b.work, "bot.log"),
		Env: []string{
			"CHATOPS_SLACK_SIGNING_SECRET=" + b.signingSecret(),
			"KUBECONFIG=" + kubeconfig,
		},
	}
	if alertmanagerURL != "" {
		cfg.Env = append(cfg.Env, "CHATOPS_ALERTMANAGER_URL="+alertmanagerURL)
	}
	cfg.WriteConfig(t, b.work, botConfigYAML())
	b.bot = harness.StartBot(t, cfg)
	logf("bot pid %d on %s (log %s)", b.bot.Process.Pid(), cfg.Addr, cfg.LogPath)
}

// logSummary counts the bot's log lines by level and collects the
// distinct warn and error messages.
type logSummary struct {
	Levels  map[string]int `json:"levels"`
	Samples []string       `json:"warn_error_samples,omitempty"`
	Path    string         `json:"path"`
	// Throttled: client-go's "Waited before sending request … client-side
	// throttling" lines (klog, not JSON; client-go prints them for waits
	// over 1 s). LimiterErrors: log lines of commands that failed waiting
	// for that limiter.
	Throttled     int `json:"client_side_throttling_lines"`
	LimiterErrors int `json:"client_rate_limiter_errors"`
}

func readBotLog(path string) logSummary {
	s := logSummary{Levels: map[string]int{}, Path: path}
	f, err := os.Open(path)
	if err != nil {
		return s
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Level, Msg, Error string
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			s.Levels["unparsed"]++
			if bytes.Contains(sc.Bytes(), []byte("client-side throttling")) {
				s.Throttled++
			}
			continue
		}
		if strings.Contains(l.Error, "client rate limiter Wait") {
			s.LimiterErrors++
		}
		s.Levels[l.Level]++
		if l.Level == "warn" || l.Level == "error" {
			key := l.Level + ": " + l.Msg
			if l.Error != "" {
				key += ": " + firstN(l.Error, 160)
			}
			counts[key]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.Samples = append(s.Samples, fmt.Sprintf("%d× %s", counts[k], k))
	}
	if len(s.Samples) > 10 {
		s.Samples = append(s.Samples[:10], fmt.Sprintf("… and %d more distinct messages", len(s.Samples)-10))
	}
	return s
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// pgSettings describes the server: version and durability settings.
func pgSettings(ctx context.Context, adminURL string) string {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "?"
	}
	defer conn.Close(context.Background())
	var v, sc, fs string
	if conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('synchronous_commit'), current_setting('fsync')").Scan(&v, &sc, &fs) != nil {
		return "?"
	}
	return fmt.Sprintf("%s (synchronous_commit=%s, fsync=%s)", v, sc, fs)
}
