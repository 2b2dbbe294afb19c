package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/bench/benchkit"
)

func (b *bench) setup(ctx context.Context) error {
	if b.cfg.bin != "" {
		abs, err := filepath.Abs(b.cfg.bin)
		if err != nil {
			return err
		}
		if st, err := os.Stat(abs); err != nil || st.IsDir() {
			return fmt.Errorf("-bin %s: not a file", b.cfg.bin)
		}
		b.botBin = abs
	} else {
		root, err := benchkit.RepoRoot()
		if err != nil {
			return fmt.Errorf("%w, or pass -bin", err)
		}
		b.botBin = filepath.Join(b.work, "chatops")
		logf("building the bot: go build -o %s ./cmd/chatops", b.botBin)
		if err := benchkit.GoBuild(ctx, root, b.botBin, "./cmd/chatops", 0); err != nil {
			return err
		}
	}

	b.dbName = "chatops_storm_" + b.runID
	dbURL, err := benchkit.CreateDB(ctx, b.cfg.pgURL, b.dbName)
	if err != nil {
		return err
	}
	b.dbURL = dbURL

	b.slack = slackstandin.New()
	b.slack.SetRateLimit(slackPostPerChannel)
	b.discord = discordstandin.New()
	b.discord.SetRouteLimit(discordRoutePerSec)
	for _, u := range []string{b.slack.URL(), b.discord.URL()} {
		pu, err := url.Parse(u)
		if err != nil || !benchkit.Loopback(pu.Hostname()) {
			return fmt.Errorf("stand-in at %s is not on loopback", u)
		}
	}

	if b.botAddr, err = benchkit.FreeAddr(); err != nil {
		return err
	}
	b.whToken = "storm-wh-" + benchkit.RandHex(12)
	b.apiToken = "storm-api-" + benchkit.RandHex(12)
	b.logPath = filepath.Join(b.work, "bot.log")
	b.res.Bot.LogPath = b.logPath
	bot, err := benchkit.StartBot(b.botBin, b.work, botConfigYAML(), append(cleanEnviron(),
		"CHATOPS_LISTEN_ADDR="+b.botAddr,
		"CHATOPS_DATABASE_URL="+b.dbURL,
		"CHATOPS_WEBHOOK_TOKEN="+b.whToken,
		"CHATOPS_API_TOKEN="+b.apiToken,
		"CHATOPS_SLACK_BOT_TOKEN=xoxb-storm-"+benchkit.RandHex(8),
		"CHATOPS_SLACK_API_URL="+b.slack.URL(),
		"CHATOPS_DISCORD_BOT_TOKEN=storm-"+benchkit.RandHex(12),
		"CHATOPS_DISCORD_API_URL="+b.discord.URL(),
		"CHATOPS_LOG_FORMAT=json",
	), false)
	if err != nil {
		return err
	}
	b.bot = bot
	b.client = &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxIdleConns: b.cfg.senders + 8, MaxIdleConnsPerHost: b.cfg.senders + 8,
			IdleConnTimeout: time.Minute,
		},
	}
	logf("bot pid %d on %s (log %s)", bot.Pid(), b.botAddr, b.logPath)
	if err := bot.WaitReady(ctx, readyTimeout, func() bool {
		code, _, err := b.get(ctx, "/readyz")
		return err == nil && code == http.StatusOK
	}); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	b.res.Bot.IdleRSSMiB = benchkit.ProcKiB(bot.Pid(), "VmRSS") / 1024
	b.groups = makeGroups(b.cfg.alerts, b.cfg.groups, b.runID)
	b.incidents = map[int]int64{}
	b.splits = map[int][]int64{}
	return nil
}

// botConfigYAML is the bot's configuration: one Slack and one Discord
// destination, one catch-all route to both. Severities come from the
// alerts' severity label (critical → P1, warning → P2); P1 mentions the
// on-call group or role. The reopen window is long so that Discord's
// outage phase reopens the incidents however long Slack's outage took.
// The outage correlation is off: the storm's 100 critical groups would also
// open one "complete outage" incident (tested in bot/storetest), and the
// storm counts chat calls per incident of its own.
func botConfigYAML() string {
	return fmt.Sprintf(`# written by test/bench/storm
log:
  format: json
  level: info
incidents:
  reopen_window: 24h
  correlation:
    enabled: false
destinations:
  - name: %s
    platform: slack
    channel: %s
    mention: %s
  - name: %s
    platform: discord
    channel: "%s"
    mention: "%s"
routes:
  - destinations: [%s, %s]
`, slackDest, slackChannel, slackMention, discordDest, discordChannel, discordMention, slackDest, discordDest)
}

func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATOPS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (b *bench) dropDB() {
	if b.dbName == "" {
		return
	}
	if err := benchkit.DropDB(b.cfg.pgURL, b.dbName); err != nil {
		logf("warning: drop database %s: %v", b.dbName, err)
	}
}

func (b *bench) botExited() bool {
	return b.bot == nil || b.bot.Exited()
}

// teardown stops the bot (SIGTERM, expecting exit 0), the stand-ins, and
// drops the database. It may be called more than once.
func (b *bench) teardown() {
	if b.bot != nil && !b.botStopped {
		if !b.botExited() {
			peak, code, exit, err := b.bot.Stop(stopTimeout)
			b.res.Bot.PeakRSSMiB, b.res.Bot.ExitCode, b.res.Bot.Exit = peak, code, exit
			if err != nil {
				b.fail("%v", err)
			}
		} else if b.res.Bot.Exit == "" {
			b.res.Bot.ExitCode = -1
			b.res.Bot.Exit = fmt.Sprintf("exited on its own during the run: %v", b.bot.Err())
			b.fail("bot exited during the run: %v", b.bot.Err())
		}
		b.botStopped = true
	}
	if b.slack != nil {
		b.slack.Close()
	}
	if b.discord != nil {
		b.discord.Close()
	}
	b.dropDB()
	b.dbName = ""
}

func (b *bench) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.botAddr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if strings.HasPrefix(path, "/v1/") {
		req.Header.Set("Authorization", "Bearer "+b.apiToken)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// metrics scrapes /metrics: the outbox depth, and the calls the bot's own
// limiters held back per platform.
func (b *bench) metrics(ctx context.Context) (depth float64, heldBack map[string]float64, err error) {
	code, body, err := b.get(ctx, "/metrics")
	if err != nil {
		return -1, nil, err
	}
	if code != http.StatusOK {
		return -1, nil, fmt.Errorf("GET /metrics: %d", code)
	}
	depth = -1
	heldBack = map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "chatops_outbox_depth "):
			depth, _ = strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "chatops_outbox_depth ")), 64)
		case strings.HasPrefix(line, "chatops_chat_rate_limited_total{"):
			labels, value, ok := strings.Cut(strings.TrimPrefix(line, "chatops_chat_rate_limited_total{"), "} ")
			if !ok || !strings.Contains(labels, `source="local"`) {
				continue
			}
			v, _ := strconv.ParseFloat(value, 64)
			for _, p := range []string{"slack", "discord"} {
				if strings.Contains(labels, `platform="`+p+`"`) {
					heldBack[p] += v
				}
			}
		}
	}
	if depth < 0 {
		return -1, heldBack, errors.New("chatops_outbox_depth not in /metrics")
	}
	return depth, heldBack, nil
}

type ack struct {
	IncidentID int64 `json:"incident_id"`
}

// post sends one webhook and records the incident it answered with.
// It returns an error unless the answer is 200 {"incident_id": N}.
func (b *bench) post(ctx context.Context, group int, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.botAddr+"/v1/alertmanager", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.whToken)
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(start)
	if err != nil {
		return lat, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return lat, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	var a ack
	if err := json.Unmarshal(data, &a); err != nil || a.IncidentID <= 0 {
		return lat, fmt.Errorf("200 without an incident id: %s", data)
	}
	b.incMu.Lock()
	if prev, ok := b.incidents[group]; !ok {
		b.incidents[group] = a.IncidentID
	} else if prev != a.IncidentID && !slices.Contains(b.splits[group], a.IncidentID) {
		b.splits[group] = append(b.splits[group], a.IncidentID)
	}
	b.incMu.Unlock()
	return lat, nil
}
