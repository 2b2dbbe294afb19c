package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bakewise/chatops/test/bench/benchkit"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	buildTimeout = 10 * time.Minute
)

// botProc is the chatops binary running as `chatops serve` on addr.
type botProc struct {
	*benchkit.Bot
	addr string
}

// botEnv is what the bot is started with.
type botEnv struct {
	bin, work, addr, dbURL, kubeconfig    string
	webhookToken, apiToken, signingSecret string
	slackAPI                              string
}

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

func startBot(ctx context.Context, e botEnv) (*botProc, error) {
	bot, err := benchkit.StartBot(e.bin, e.work, botConfigYAML(), append(cleanEnviron(),
		"CHATOPS_LISTEN_ADDR="+e.addr,
		"CHATOPS_DATA_DIR="+filepath.Join(e.work, "data"),
		"CHATOPS_DATABASE_URL="+e.dbURL,
		"CHATOPS_WEBHOOK_TOKEN="+e.webhookToken,
		"CHATOPS_API_TOKEN="+e.apiToken,
		"CHATOPS_SLACK_BOT_TOKEN=xoxb-bench-"+benchkit.RandHex(8),
		"CHATOPS_SLACK_SIGNING_SECRET="+e.signingSecret,
		"CHATOPS_SLACK_API_URL="+e.slackAPI,
		"CHATOPS_LOG_FORMAT=json",
		"KUBECONFIG="+e.kubeconfig,
	), true)
	if err != nil {
		return nil, err
	}
	b := &botProc{Bot: bot, addr: e.addr}
	logf("bot pid %d on %s (log %s)", b.Pid(), e.addr, b.LogPath)

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	return b, b.WaitReady(ctx, readyTimeout, func() bool {
		resp, err := client.Get("http://" + e.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop sends SIGTERM and waits; it returns the peak RSS and how the bot
// ended, and an error unless it exited 0.
func (b *botProc) stop() (peakMiB float64, exit string, err error) {
	peakMiB, _, exit, err = b.Stop(stopTimeout)
	return peakMiB, exit, err
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

// ---------------------------------------------------------------------------
// PostgreSQL

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

// cleanEnviron is this process's environment without what would change
// the bot's configuration or its cluster, or send its HTTP through a
// proxy.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch uk := strings.ToUpper(k); {
		case strings.HasPrefix(uk, "CHATOPS_"), uk == "KUBECONFIG", strings.HasSuffix(uk, "_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return env
}
