// Command storm benchmarks chatops' incident → chat path: an alert storm,
// then an outage of each chat platform, against in-process stand-ins of
// the Slack and Discord APIs that enforce the platforms' rate limits.
//
// It starts both stand-ins on 127.0.0.1 (Slack: 1 chat.postMessage per
// second per channel; Discord: 1 request per second per route and
// channel, the stand-in's shape of Discord's 5 per 5 s), a fresh
// PostgreSQL database, and the bot binary with one Slack and one Discord
// destination and one catch-all route to both. Then:
//
//  1. Storm: -alerts alerts across -groups groups, one webhook per alert,
//     evenly spread over -storm. Webhooks have whole-group semantics, as
//     Alertmanager sends them: the webhook that brings a group's k-th alert
//     carries the group's k alerts so far (all firing). It measures the
//     time from the last webhook's 200 until both stand-ins show the final
//     state and the outbox is empty, the chat calls per incident per
//     platform, duplicate roots, the highest per-channel rate and the 429s.
//  2. Outage of Slack, then of Discord (-outage > 0): the platform's
//     stand-in answers 503 to everything; meanwhile every incident changes
//     (Slack's outage: one webhook per group resolves all its alerts;
//     Discord's: one webhook per group fires them all again, reopening the
//     incident). When the other platform has caught up and -outage has
//     passed, the platform comes back and the time it takes to converge is
//     compared with the lower bound its rate limits impose.
//
// It prints a Markdown report (with -json, also one JSON line at the end).
// Exit status: 0 when every incident converged with exactly one root per
// platform and the bot behaved (a missed performance target is reported,
// not an error); 1 on lost or duplicate roots, an incident that never
// converged, a webhook that did not get 200, error lines in the bot's log
// or a bad bot exit; 2 on a usage or setup error.
//
//	go run ./test/bench/storm -alerts 2000 -groups 20 -storm 15s -outage 30s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/bench/benchkit"
)

// Hard caps: the tool never runs longer than these allow.
const (
	maxStorm    = 10 * time.Minute
	maxOutage   = 30 * time.Minute
	maxConverge = 60 * time.Minute
	maxAlerts   = 100_000
	maxGroups   = 1000
	// maxPerGroup keeps the largest whole-group webhook under the bot's
	// 1 MiB body limit (an alert is about 500 bytes of JSON).
	maxPerGroup  = 1500
	maxBodyBytes = 1 << 20

	readyTimeout   = 30 * time.Second
	requestTimeout = 30 * time.Second
	stopTimeout    = 30 * time.Second
	pollEvery      = 250 * time.Millisecond
	// settle is how long the tool watches a converged state for late
	// posts (a duplicate root arriving after the fact).
	settle = 3 * time.Second
)

// The platforms' limits as the stand-ins enforce them, and the bot's own
// limits the bounds account for.
const (
	slackPostPerChannel = 1.0       // chat.postMessage per second per channel
	slackUpdatePerMin   = 50.0      // chat.update per minute per workspace (Tier 3); the bot enforces it
	slackUpdateBurst    = 1         // the burst the bot's chat.update bucket allows (integrations/slack updateBurst)
	discordRoutePerSec  = 1.0       // requests per second per route and channel (SetRouteLimit(1))
	discordGlobalPerSec = 50.0      // requests per second, all routes (Discord's global limit)
	slackChannel        = "C0STORM" // a valid Slack channel id
	discordChannel      = "1300000000000000001"
	slackDest           = "storm-slack"
	discordDest         = "storm-discord"
	slackMention        = "S0ONCALL"
	discordMention      = "1300000000000000099"
	receiver            = "chatops"
	externalURL         = "http://127.0.0.1:9093"
)

const defaultPGURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

type config struct {
	bin             string
	pgURL           string
	alerts          int
	groups          int
	storm           time.Duration
	outage          time.Duration
	convergeTimeout time.Duration
	senders         int
	jsonOut         bool
	keep            bool
}

func main() { os.Exit(run()) }

func run() int {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "built chatops binary (default: go build ./cmd/chatops into a temp dir)")
	flag.StringVar(&cfg.pgURL, "pg-url", defaultPGURL, "admin URL of the local PostgreSQL; a fresh database is created and dropped")
	flag.IntVar(&cfg.alerts, "alerts", 10000, "alerts in the storm (one webhook each)")
	flag.IntVar(&cfg.groups, "groups", 100, "alert groups (= incidents)")
	flag.DurationVar(&cfg.storm, "storm", 60*time.Second, "how long the storm's webhooks are spread over (cap 10m)")
	flag.DurationVar(&cfg.outage, "outage", 10*time.Minute, "length of each platform's outage; 0 skips the outage phases (cap 30m)")
	flag.DurationVar(&cfg.convergeTimeout, "converge-timeout", 20*time.Minute, "longest wait for any convergence (cap 60m)")
	flag.IntVar(&cfg.senders, "senders", 32, "concurrent webhook senders")
	flag.BoolVar(&cfg.jsonOut, "json", false, "also print the result as one JSON line (last line of stdout)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (config, bot log) even when all went well")
	flag.Parse()
	if err := validate(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Everything the run does fits in this budget; a wait past it gives up.
	budget := cfg.storm + 3*cfg.convergeTimeout + 2*cfg.outage + 10*time.Minute
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	b := &bench{cfg: cfg}
	code := b.run(ctx)
	b.printReport(os.Stdout)
	if cfg.jsonOut {
		out, _ := json.Marshal(b.res)
		fmt.Println(string(out))
	}
	return code
}

func validate(cfg *config) error {
	switch {
	case cfg.alerts < 1 || cfg.alerts > maxAlerts:
		return fmt.Errorf("-alerts must be in 1..%d", maxAlerts)
	case cfg.groups < 1 || cfg.groups > maxGroups:
		return fmt.Errorf("-groups must be in 1..%d", maxGroups)
	case cfg.groups > cfg.alerts:
		return errors.New("-groups cannot exceed -alerts: every group needs an alert")
	case (cfg.alerts+cfg.groups-1)/cfg.groups > maxPerGroup:
		return fmt.Errorf("%d alerts per group: at most %d, so a whole-group webhook stays under the bot's 1 MiB body limit", (cfg.alerts+cfg.groups-1)/cfg.groups, maxPerGroup)
	case cfg.storm <= 0 || cfg.storm > maxStorm:
		return fmt.Errorf("-storm must be in (0, %s]", maxStorm)
	case cfg.outage < 0 || cfg.outage > maxOutage:
		return fmt.Errorf("-outage must be in [0, %s]", maxOutage)
	case cfg.convergeTimeout <= 0 || cfg.convergeTimeout > maxConverge:
		return fmt.Errorf("-converge-timeout must be in (0, %s]", maxConverge)
	case cfg.senders < 1 || cfg.senders > 256:
		return errors.New("-senders must be in 1..256")
	}
	return benchkit.CheckPGURL(cfg.pgURL)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "storm %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------------------
// results

// Result is everything the run measured; it is also the JSON line.
type Result struct {
	Params   Params          `json:"params"`
	Machine  string          `json:"machine"`
	Storm    *StormResult    `json:"storm,omitempty"`
	Outages  []*OutageResult `json:"outages,omitempty"`
	Bot      BotResult       `json:"bot"`
	Verdicts []Verdict       `json:"verdicts"`
	// Failures are integrity failures and bot errors: any makes the exit
	// status 1.
	Failures []string `json:"failures"`
	// DiscordThreadlessAtEnd: incidents whose Discord root has no thread
	// at the end of the run.
	DiscordThreadlessAtEnd []int64 `json:"discord_roots_without_thread_at_end"`
	// Notes are facts worth knowing that are no failure.
	Notes   []string `json:"notes,omitempty"`
	WorkDir string   `json:"work_dir"`
}

type Params struct {
	Alerts           int     `json:"alerts"`
	Groups           int     `json:"groups"`
	StormS           float64 `json:"storm_s"`
	OutageS          float64 `json:"outage_s"`
	Senders          int     `json:"senders"`
	Semantics        string  `json:"webhook_semantics"`
	SlackLimit       string  `json:"slack_limit"`
	DiscordLimit     string  `json:"discord_limit"`
	ConvergeTimeoutS float64 `json:"converge_timeout_s"`
}

type StormResult struct {
	Webhooks        int     `json:"webhooks"`
	Webhooks200     int     `json:"webhooks_200"`
	WebhookFailures int     `json:"webhook_failures"`
	Incidents       int     `json:"incidents"`
	SendS           float64 `json:"send_s"`
	MaxLatenessS    float64 `json:"max_send_lateness_s"`
	AckP50MS        float64 `json:"ack_p50_ms"`
	AckP99MS        float64 `json:"ack_p99_ms"`
	AckMaxMS        float64 `json:"ack_max_ms"`
	Converged       bool    `json:"converged"`
	// Seconds from the last webhook's 200 to convergence (both platforms
	// final and the outbox empty), and to each platform's final state.
	ConvergeS        float64             `json:"converge_s"`
	PlatformS        map[string]float64  `json:"platform_converge_s"`
	Calls            map[string]*Calls   `json:"calls"`
	Rates            map[string]*Rates   `json:"rates"`
	Duplicates       map[string]int      `json:"duplicate_roots"`
	Missing          map[string][]string `json:"not_converged,omitempty"`
	BotStoreAgrees   bool                `json:"bot_store_agrees"`
	BotStoreProblems []string            `json:"bot_store_problems,omitempty"`
	HeldBack         map[string]float64  `json:"bot_held_back_locally"`
	// DiscordThreadless: incidents whose Discord root had no thread once
	// the storm converged.
	DiscordThreadless []int64        `json:"discord_roots_without_thread"`
	SeverityMix       map[string]int `json:"incidents_by_severity"`
}

// Calls is one platform's chat calls in a phase, from the stand-in's
// counters. Roots and Replies are messages actually posted; Edits,
// ThreadStarts and Lookups are calls, whatever their answer. Total is
// every call: Roots + Replies + FailedPosts + Edits + ThreadStarts +
// Lookups (+ Slack auth.test).
type Calls struct {
	Total   int `json:"total"`
	Roots   int `json:"roots"`
	Edits   int `json:"edits"`
	Replies int `json:"replies"`
	// ThreadStarts: Discord's start_thread calls.
	ThreadStarts int `json:"thread_starts"`
	// Lookups: Slack conversations.history, Discord list/get messages.
	Lookups int `json:"lookups"`
	// FailedPosts: post calls (chat.postMessage, create_message) that
	// posted nothing: answered 429 or an error.
	FailedPosts int `json:"failed_posts"`
	// Rejected429: calls the stand-in answered 429, any method or route.
	Rejected429 int            `json:"rejected_429"`
	RejectedBy  map[string]int `json:"rejected_429_by"`
	// Refused: calls answered 503 because the platform was down.
	Refused   int     `json:"refused_down"`
	Incidents int     `json:"incidents"`
	PerInc    float64 `json:"per_incident"`
}

// Rates are the highest request rates a stand-in saw in a window of time.
type Rates struct {
	// PerChannel is the highest per-channel rate that the platform limits
	// (Slack: chat.postMessage per channel per second; Discord: requests
	// per route and channel per second, threads included).
	PerChannel      float64 `json:"max_per_channel"`
	PerChannelLimit float64 `json:"limit_per_channel"`
	PerChannelWhat  string  `json:"per_channel_what"`
	// Slack: chat.update in any 60 s window; Discord: all routes together
	// per second (Discord's global limit).
	Secondary      float64 `json:"max_secondary"`
	SecondaryLimit float64 `json:"limit_secondary"`
	SecondaryWhat  string  `json:"secondary_what"`
	// Discord only, for reading: all routes of the parent channel per second.
	ParentAllRoutes float64 `json:"parent_all_routes,omitempty"`
	WindowS         float64 `json:"window_s"`
}

type OutageResult struct {
	Platform        string  `json:"platform"`
	Change          string  `json:"change"`
	OutageS         float64 `json:"outage_s"`
	Extended        bool    `json:"outage_extended"`
	OtherPlatform   string  `json:"other_platform"`
	OtherConvergedS float64 `json:"other_converged_after_s"`
	OtherConverged  bool    `json:"other_converged"`
	Webhooks        int     `json:"webhooks"`
	WebhookFailures int     `json:"webhook_failures"`
	// Owed at recovery, from the stand-in: roots not showing the final
	// state (edits owed) and threads without the final reply (replies owed).
	OwedEdits    int     `json:"owed_edits"`
	OwedReplies  int     `json:"owed_replies"`
	OwedRoots    int     `json:"owed_roots"`
	BoundS       float64 `json:"lower_bound_s"`
	BoundFormula string  `json:"lower_bound_formula"`
	Converged    bool    `json:"converged"`
	ConvergeS    float64 `json:"converge_s"`
	Ratio        float64 `json:"ratio"`
	// FirstCallS: from recovery to the first call the stand-in received.
	FirstCallS float64 `json:"first_call_after_recovery_s"`
	// FirstReplyS: from recovery to the first reply posted.
	FirstReplyS   float64             `json:"first_reply_after_recovery_s"`
	CallsDown     *Calls              `json:"calls_during_outage"`
	CallsRecovery *Calls              `json:"calls_after_recovery"`
	RatesRecovery *Rates              `json:"rates_after_recovery"`
	OtherCalls    *Calls              `json:"other_platform_calls"`
	OtherRates    *Rates              `json:"other_platform_rates"`
	Duplicates    map[string]int      `json:"duplicate_roots"`
	Missing       map[string][]string `json:"not_converged,omitempty"`
}

type BotResult struct {
	IdleRSSMiB      float64        `json:"idle_rss_mib"`
	PeakRSSStormMiB float64        `json:"peak_rss_after_storm_mib"`
	PeakRSSMiB      float64        `json:"peak_rss_mib"`
	ExitCode        int            `json:"exit_code"`
	Exit            string         `json:"exit"`
	LogLevels       map[string]int `json:"log_levels"`
	// LogSamples are distinct warn/error messages with their counts.
	LogSamples []string `json:"log_samples,omitempty"`
	LogPath    string   `json:"log_path"`
	Recoveries []string `json:"recovery_log_lines,omitempty"`
}

type Verdict struct {
	Target string `json:"target"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// ---------------------------------------------------------------------------
// the run

type bench struct {
	cfg   config
	res   Result
	work  string
	runID string

	dbName, dbURL string
	botBin        string
	botAddr       string
	whToken       string
	apiToken      string
	bot           *benchkit.Bot
	botStopped    bool
	logPath       string

	slack   *slackstandin.Server
	discord *discordstandin.Server
	groups  []*group
	client  *http.Client

	// incidents: group index → incident id (from the webhook answers).
	incMu     sync.Mutex
	incidents map[int]int64
	splits    map[int][]int64
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("FAILURE: %s", msg)
	b.res.Failures = append(b.res.Failures, msg)
}

func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("note: %s", msg)
	b.res.Notes = append(b.res.Notes, msg)
}

func (b *bench) run(ctx context.Context) int {
	cfg := b.cfg
	b.runID = benchkit.RandHex(4)
	b.res.Failures = []string{}
	b.res.Params = Params{
		Alerts: cfg.alerts, Groups: cfg.groups, StormS: cfg.storm.Seconds(), OutageS: cfg.outage.Seconds(),
		Senders: cfg.senders, ConvergeTimeoutS: cfg.convergeTimeout.Seconds(),
		Semantics: "whole group: one webhook per new alert, carrying every alert of its group so far (all firing), as Alertmanager re-sends a group",
		SlackLimit: fmt.Sprintf("chat.postMessage %g/s per channel (stand-in SetRateLimit, 429 beyond); chat.update %g/min per workspace (enforced by the bot only)",
			slackPostPerChannel, slackUpdatePerMin),
		DiscordLimit: fmt.Sprintf("%g request/s per route and channel (stand-in SetRouteLimit(1): Discord's 5 per 5 s, without the burst; 429 beyond); %g/s global (not enforced, measured)",
			discordRoutePerSec, discordGlobalPerSec),
	}
	b.res.Machine = machine()
	work, err := os.MkdirTemp("", "chatops-storm-")
	if err != nil {
		logf("temp dir: %v", err)
		return 2
	}
	b.work = work
	b.res.WorkDir = work
	defer func() {
		if len(b.res.Failures) == 0 && !cfg.keep {
			os.RemoveAll(work)
			b.res.WorkDir += " (removed)"
		} else {
			logf("work directory kept: %s", work)
		}
	}()

	if err := b.setup(ctx); err != nil {
		logf("setup: %v", err)
		b.teardown()
		b.res.Failures = append(b.res.Failures, "setup: "+err.Error())
		return 2
	}
	b.storm(ctx)
	if cfg.outage > 0 && b.res.Storm != nil && b.res.Storm.Converged {
		b.outage(ctx, "slack", "resolve")
		if last := b.res.Outages[len(b.res.Outages)-1]; last.Converged {
			b.outage(ctx, "discord", "refire")
		} else {
			b.note("Discord's outage phase skipped: Slack's did not converge")
		}
	} else if cfg.outage > 0 {
		b.note("outage phases skipped: the storm did not converge")
	}
	b.finalDuplicateCheck()
	b.teardown()
	b.readBotLog()
	b.verdicts()
	if len(b.res.Failures) > 0 {
		return 1
	}
	return 0
}

func machine() string {
	mem := ""
	if f, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(f), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				fs := strings.Fields(l)
				if len(fs) >= 2 {
					kb, _ := strconv.ParseFloat(fs[1], 64)
					mem = fmt.Sprintf(", %.1f GiB", kb/1048576)
				}
			}
		}
	}
	return fmt.Sprintf("%d CPUs%s; bot, PostgreSQL, stand-ins and this tool on the same machine, all traffic on 127.0.0.1", numCPU(), mem)
}

func numCPU() int {
	n := 0
	if f, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(f), "\nprocessor") + boolInt(strings.HasPrefix(string(f), "processor"))
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// setup and teardown

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

// ---------------------------------------------------------------------------
// the bot's HTTP side

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

// ---------------------------------------------------------------------------
// payloads

var (
	alertKinds = []struct{ name, summary string }{
		{"HighErrorRate", "5xx ratio above 5%"},
		{"HighLatency", "p95 latency above 1s"},
		{"HighMemoryUsage", "working set above 80% of the limit"},
		{"DatabaseConnectionsHigh", "connection pool above 80%"},
		{"ServiceDown", "not answering health checks"},
	}
	services = []string{
		"gateway", "auth-service", "orders-service", "forecasting-service", "inventory-service",
		"tenant-service", "notification-service", "production-service", "sales-service", "suppliers-service",
	}
)

// group is one alert group: its constant labels and its alerts so far.
type group struct {
	index       int
	name        string
	alertname   string
	service     string
	mode        string // critical, warning, mixed
	n           int    // alerts in the storm
	groupKey    string
	groupLabels map[string]string
	alerts      []*alert
	// common is the labels all alerts so far share (Alertmanager's
	// commonLabels), kept as alerts are added.
	common, commonAnn map[string]string
	runID             string
	firstAlert        int // global index of its first alert, for fingerprints
}

type alert struct {
	labels      map[string]string
	annotations map[string]string
	fingerprint string
	startsAt    time.Time
	firingJSON  []byte // rendered once, firing, with startsAt
}

func makeGroups(alerts, n int, runID string) []*group {
	gs := make([]*group, n)
	for i := range n {
		k := alertKinds[i%len(alertKinds)]
		g := &group{
			index: i, name: fmt.Sprintf("s%04d", i), alertname: k.name,
			service: services[(i/len(alertKinds))%len(services)], runID: runID,
			n: alerts / n,
		}
		if i < alerts%n {
			g.n++
		}
		switch i % 3 {
		case 0:
			g.mode = "critical"
		case 1:
			g.mode = "warning"
		default:
			g.mode = "mixed" // warning first, then critical: P2 becomes P1
		}
		g.groupLabels = map[string]string{"alertname": g.alertname, "storm_group": g.name, "storm_run": runID}
		g.groupKey = fmt.Sprintf(`{}/{storm_run=%q}:{alertname=%q, storm_group=%q}`, runID, g.alertname, g.name)
		gs[i] = g
	}
	return gs
}

func (g *group) severityOf(k int) string {
	switch g.mode {
	case "critical":
		return "critical"
	case "warning":
		return "warning"
	}
	if k%2 == 0 {
		return "warning"
	}
	return "critical"
}

// expectedSeverity is the incident's severity once the storm is over:
// the worst firing alert (critical → P1, warning → P2).
func (g *group) expectedSeverity() string {
	if g.mode == "warning" || (g.mode == "mixed" && g.n == 1) {
		return "P2"
	}
	return "P1"
}

// addAlert introduces the group's next alert, firing since now.
func (g *group) addAlert(seq int, now time.Time) {
	k := len(g.alerts)
	kind := alertKinds[g.index%len(alertKinds)]
	a := &alert{
		labels: map[string]string{
			"alertname": g.alertname, "service": g.service, "namespace": "bakery-ia",
			"severity": g.severityOf(k), "pod": fmt.Sprintf("%s-%05d", g.service, k),
			"storm_group": g.name, "storm_run": g.runID,
		},
		annotations: map[string]string{
			"summary":     fmt.Sprintf("%s: %s", g.service, kind.summary),
			"description": fmt.Sprintf("%s on pod %s-%05d", kind.summary, g.service, k),
			"runbook_url": "https://runbooks.example/" + strings.ToLower(g.alertname),
		},
		fingerprint: fmt.Sprintf("%s%08x", g.runID, seq),
		startsAt:    now.UTC(),
	}
	a.firingJSON = alertJSON(a, "firing", a.startsAt, time.Time{})
	g.alerts = append(g.alerts, a)
	if g.common == nil {
		g.common, g.commonAnn = maps.Clone(a.labels), maps.Clone(a.annotations)
		return
	}
	for key, v := range g.common {
		if a.labels[key] != v {
			delete(g.common, key)
		}
	}
	for key, v := range g.commonAnn {
		if a.annotations[key] != v {
			delete(g.commonAnn, key)
		}
	}
}

type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

func alertJSON(a *alert, status string, startsAt, endsAt time.Time) []byte {
	ends := "0001-01-01T00:00:00Z"
	if !endsAt.IsZero() {
		ends = endsAt.UTC().Format(time.RFC3339Nano)
	}
	out, _ := json.Marshal(wireAlert{
		Status: status, Labels: a.labels, Annotations: a.annotations,
		StartsAt: startsAt.UTC().Format(time.RFC3339Nano), EndsAt: ends,
		GeneratorURL: externalURL + "/graph?g0.expr=" + url.QueryEscape(a.labels["alertname"]),
		Fingerprint:  a.fingerprint,
	})
	return out
}

type envelope struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// body is an Alertmanager v4 webhook for the group with the given
// rendered alerts; the alerts are spliced in, not re-encoded.
func (g *group) body(status string, alerts [][]byte) []byte {
	head, _ := json.Marshal(envelope{
		Version: "4", GroupKey: g.groupKey, Status: status, Receiver: receiver,
		GroupLabels: g.groupLabels, CommonLabels: g.common, CommonAnnotations: g.commonAnn,
		ExternalURL: externalURL,
	})
	var buf bytes.Buffer
	buf.Grow(len(head) + 16 + len(alerts)*600)
	buf.Write(head[:len(head)-1])
	buf.WriteString(`,"alerts":[`)
	for i, a := range alerts {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(a)
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// stormBody is the webhook that brings the group's latest alert: every
// alert so far, firing.
func (g *group) stormBody() []byte {
	alerts := make([][]byte, len(g.alerts))
	for i, a := range g.alerts {
		alerts[i] = a.firingJSON
	}
	return g.body("firing", alerts)
}

// resolveBody resolves every alert of the group at now.
func (g *group) resolveBody(now time.Time) []byte {
	alerts := make([][]byte, len(g.alerts))
	for i, a := range g.alerts {
		alerts[i] = alertJSON(a, "resolved", a.startsAt, now)
	}
	return g.body("resolved", alerts)
}

// refireBody fires every alert of the group again, as a new occurrence
// (a later startsAt), which reopens the resolved incident.
func (g *group) refireBody(now time.Time) []byte {
	alerts := make([][]byte, len(g.alerts))
	for i, a := range g.alerts {
		a.startsAt = now.UTC()
		a.firingJSON = alertJSON(a, "firing", a.startsAt, time.Time{})
		alerts[i] = a.firingJSON
	}
	return g.body("firing", alerts)
}

// ---------------------------------------------------------------------------
// expected chat state and the check against the stand-ins

// want is the final state of one incident's thread on both platforms.
type want struct {
	group  int
	status string // "Firing" or "Resolved": the root's Status field
	firing int
	resol  int
	// reply, when set, must be in the thread's last reply (the reply that
	// reports the phase's change).
	reply string
}

func (w want) statusText() string {
	return fmt.Sprintf("%s: %d firing, %d resolved", w.status, w.firing, w.resol)
}

// platformState is what one stand-in shows against the wanted state.
type platformState struct {
	converged bool
	// final: incidents whose root shows the final state; replied: those
	// whose thread ends with the wanted reply (or need none).
	final, replied int
	roots          int
	duplicates     int      // roots beyond one per incident
	dupIncidents   []int64  // incidents with more than one root
	unknown        int      // roots with no marker of a known incident
	missing        []string // incidents not (yet) final, with what they show
	// threadless: Discord roots with no thread started from them. Not a
	// condition of convergence (the bot starts a missing thread with the
	// next reply), but reported.
	threadless []int64
	rootsOf    map[int64]int  // incident → roots
	showsFinal map[int64]bool // incident → a root shows the final status
	repliedOK  map[int64]bool
}

func markerIncident(marker, dest string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(marker), "chatops:incident:")
	if !ok {
		return 0, false
	}
	idText, d, ok := strings.Cut(rest, ":")
	if !ok || d != dest {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	return id, err == nil
}

// texts collects every "text" string in a Block Kit JSON value.
func texts(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "text" {
				*out = append(*out, s)
				continue
			}
			texts(e, out)
		}
	case []any:
		for _, e := range x {
			texts(e, out)
		}
	}
}

// slackStatus is the Status field of a Slack root ("Firing: 3 firing, 0
// resolved"), from its facts block.
func slackStatus(m slackstandin.Message) string {
	var all []string
	for _, raw := range []json.RawMessage{m.Blocks, m.Attachments} {
		var v any
		if len(raw) > 0 && json.Unmarshal(raw, &v) == nil {
			texts(v, &all)
		}
	}
	for _, t := range all {
		if rest, ok := strings.CutPrefix(t, "*Status*\n"); ok {
			return rest
		}
	}
	return "(no Status field)"
}

func slackMarker(m slackstandin.Message) string {
	if s, ok := m.Metadata.EventPayload["marker"].(string); ok {
		return s
	}
	if i := strings.Index(m.Text, "chatops:incident:"); i >= 0 {
		return strings.Fields(m.Text[i:])[0]
	}
	return ""
}

func (b *bench) checkSlack(wants map[int64]want) platformState {
	st := platformState{rootsOf: map[int64]int{}, showsFinal: map[int64]bool{}, repliedOK: map[int64]bool{}}
	msgs := b.slack.Messages(slackChannel)
	lastReply := map[string]string{} // root ts → last reply text
	for _, m := range msgs {
		if !m.IsRoot() {
			lastReply[m.ThreadTS] = m.Text
		}
	}
	status := map[int64]string{}
	for _, m := range msgs {
		if !m.IsRoot() {
			continue
		}
		st.roots++
		id, ok := markerIncident(slackMarker(m), slackDest)
		w, known := wants[id]
		if !ok || !known {
			st.unknown++
			continue
		}
		st.rootsOf[id]++
		s := slackStatus(m)
		if s == w.statusText() {
			st.showsFinal[id] = true
			if w.reply == "" || strings.Contains(lastReply[m.TS], w.reply) {
				st.repliedOK[id] = true
			}
		} else if !st.showsFinal[id] {
			status[id] = s
		}
	}
	st.finish(wants, status)
	return st
}

type discordEmbed struct {
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Fields []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
}

func (b *bench) checkDiscord(wants map[int64]want) platformState {
	st := platformState{rootsOf: map[int64]int{}, showsFinal: map[int64]bool{}, repliedOK: map[int64]bool{}}
	status := map[int64]string{}
	for _, m := range b.discord.Messages(discordChannel) {
		st.roots++
		var embeds []discordEmbed
		_ = json.Unmarshal(m.Embeds, &embeds)
		var id int64
		found := false
		s := "(no Status field)"
		for _, e := range embeds {
			if e.Footer != nil {
				for _, line := range strings.Split(e.Footer.Text, "\n") {
					if v, ok := markerIncident(line, discordDest); ok {
						id, found = v, true
					}
				}
			}
			for _, f := range e.Fields {
				if f.Name == "Status" {
					s = f.Value
				}
			}
		}
		w, known := wants[id]
		if !found || !known {
			st.unknown++
			continue
		}
		st.rootsOf[id]++
		if _, ok := b.discord.Thread(m.ID); !ok {
			st.threadless = append(st.threadless, id)
		}
		if s == w.statusText() {
			st.showsFinal[id] = true
			ok := w.reply == ""
			if !ok {
				replies := b.discord.Messages(m.ID)
				ok = len(replies) > 0 && strings.Contains(replies[len(replies)-1].Content, w.reply)
			}
			if ok {
				st.repliedOK[id] = true
			}
		} else if !st.showsFinal[id] {
			status[id] = s
		}
	}
	st.finish(wants, status)
	return st
}

func (st *platformState) finish(wants map[int64]want, status map[int64]string) {
	slices.Sort(st.threadless)
	ids := slices.Sorted(maps.Keys(wants))
	for _, id := range ids {
		w := wants[id]
		n := st.rootsOf[id]
		if n > 1 {
			st.duplicates += n - 1
			st.dupIncidents = append(st.dupIncidents, id)
		}
		if st.showsFinal[id] {
			st.final++
		}
		if st.repliedOK[id] {
			st.replied++
		}
		switch {
		case n == 0:
			st.missing = append(st.missing, fmt.Sprintf("#%d: no root", id))
		case !st.showsFinal[id]:
			st.missing = append(st.missing, fmt.Sprintf("#%d: root shows %q, want %q", id, status[id], w.statusText()))
		case !st.repliedOK[id]:
			st.missing = append(st.missing, fmt.Sprintf("#%d: last reply does not say %q", id, w.reply))
		}
	}
	st.converged = len(st.missing) == 0
}

// ---------------------------------------------------------------------------
// call counters

type snapshot struct {
	at time.Time
	// Slack
	slCalls   map[string]int
	slRoots   int
	slReplies int
	sl429     map[string]int
	// Discord
	dcCalls   map[string]int
	dcRoots   int
	dcReplies int
	dc429     map[string]int
}

func (b *bench) snap() snapshot {
	s := snapshot{at: time.Now(), slCalls: map[string]int{}, sl429: map[string]int{}, dc429: map[string]int{}}
	for _, m := range []string{slackstandin.MethodPostMessage, slackstandin.MethodUpdate, slackstandin.MethodHistory, slackstandin.MethodAuthTest} {
		s.slCalls[m] = b.slack.Calls(m)
		s.sl429[m] = b.slack.RateLimited(m)
	}
	for _, m := range b.slack.Messages(slackChannel) {
		if m.IsRoot() {
			s.slRoots++
		} else {
			s.slReplies++
		}
	}
	s.dcCalls = b.discord.AllCalls()
	for _, r := range discordRoutes {
		s.dc429[r] = b.discord.RateLimited(r)
	}
	for _, m := range b.discord.Messages(discordChannel) {
		s.dcRoots++
		s.dcReplies += len(b.discord.Messages(m.ID))
	}
	return s
}

var discordRoutes = []string{discordstandin.RouteCreateMessage, discordstandin.RouteEditMessage,
	discordstandin.RouteStartThread, discordstandin.RouteListMessages, discordstandin.RouteGetMessage}

// diff429 is the 429s per method or route between two snapshots, and
// their sum.
func diff429(a, z map[string]int) (map[string]int, int) {
	out, n := map[string]int{}, 0
	for k, v := range z {
		if d := v - a[k]; d > 0 {
			out[k] = d
			n += d
		}
	}
	return out, n
}

func sumCalls(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// calls is what platform received between two snapshots; down says the
// platform answered 503 to everything meanwhile.
func calls(platform string, a, z snapshot, incidents int, down bool) *Calls {
	c := &Calls{Incidents: incidents}
	if platform == "slack" {
		post := z.slCalls[slackstandin.MethodPostMessage] - a.slCalls[slackstandin.MethodPostMessage]
		c.Roots = z.slRoots - a.slRoots
		c.Replies = z.slReplies - a.slReplies
		c.Edits = z.slCalls[slackstandin.MethodUpdate] - a.slCalls[slackstandin.MethodUpdate]
		c.Lookups = z.slCalls[slackstandin.MethodHistory] - a.slCalls[slackstandin.MethodHistory]
		c.RejectedBy, c.Rejected429 = diff429(a.sl429, z.sl429)
		c.Total = sumCalls(z.slCalls) - sumCalls(a.slCalls)
		if down {
			c.Refused = c.Total
			c.Roots, c.Replies, c.Edits, c.Lookups = 0, 0, 0, 0
		} else {
			c.FailedPosts = post - c.Roots - c.Replies
		}
	} else {
		d := func(r string) int { return z.dcCalls[r] - a.dcCalls[r] }
		c.Roots = z.dcRoots - a.dcRoots
		c.Replies = z.dcReplies - a.dcReplies
		c.Edits = d(discordstandin.RouteEditMessage)
		c.ThreadStarts = d(discordstandin.RouteStartThread)
		c.Lookups = d(discordstandin.RouteListMessages) + d(discordstandin.RouteGetMessage)
		c.RejectedBy, c.Rejected429 = diff429(a.dc429, z.dc429)
		c.Total = sumCalls(z.dcCalls) - sumCalls(a.dcCalls)
		if down {
			c.Refused = c.Total
			c.Roots, c.Replies, c.Edits, c.Lookups, c.ThreadStarts = 0, 0, 0, 0, 0
		} else {
			c.FailedPosts = d(discordstandin.RouteCreateMessage) - c.Roots - c.Replies
		}
	}
	if incidents > 0 {
		c.PerInc = float64(c.Total) / float64(incidents)
	}
	return c
}

// rates reads the stand-ins' highest rates for platform in [from, to).
func (b *bench) rates(platform string, from, to time.Time, threads []string) *Rates {
	r := &Rates{WindowS: to.Sub(from).Seconds()}
	if platform == "slack" {
		r.PerChannel = b.slack.MaxRate(slackstandin.MethodPostMessage, slackChannel, time.Second, from, to)
		r.PerChannelLimit = slackPostPerChannel
		r.PerChannelWhat = "chat.postMessage per second in " + slackChannel
		r.Secondary = b.slack.MaxRate(slackstandin.MethodUpdate, "", time.Minute, from, to)
		r.SecondaryLimit = slackUpdatePerMin
		r.SecondaryWhat = "chat.update in any 60 s window (workspace)"
		return r
	}
	best, what := 0.0, ""
	for _, route := range discordRoutes {
		if v := b.discord.MaxRouteRate(route, discordChannel, from, to); v > best {
			best, what = v, route+" on the channel"
		}
		for _, th := range threads {
			if v := b.discord.MaxRouteRate(route, th, from, to); v > best {
				best, what = v, route+" in a thread"
			}
		}
	}
	r.PerChannel = best
	r.PerChannelLimit = discordRoutePerSec
	r.PerChannelWhat = "requests per second per route and channel (worst: " + orDash(what) + ")"
	r.Secondary = b.discord.MaxRouteRate("", "", from, to)
	r.SecondaryLimit = discordGlobalPerSec
	r.SecondaryWhat = "requests per second, all routes and channels (global)"
	r.ParentAllRoutes = b.discord.MaxRouteRate("", discordChannel, from, to)
	return r
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (b *bench) threadIDs() []string {
	var out []string
	for id, parent := range b.discord.Threads() {
		if parent == discordChannel {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// storm

func (b *bench) storm(ctx context.Context) {
	cfg := b.cfg
	res := &StormResult{
		Webhooks: cfg.alerts, PlatformS: map[string]float64{}, Duplicates: map[string]int{},
		Missing: map[string][]string{}, SeverityMix: map[string]int{},
	}
	b.res.Storm = res
	logf("storm: %d alerts in %d groups over %s, %d senders", cfg.alerts, cfg.groups, cfg.storm, cfg.senders)
	before := b.snap()

	type job struct {
		group int
		body  []byte
	}
	jobs := make(chan job, cfg.senders)
	var (
		mu       sync.Mutex
		lats     []time.Duration
		failures []string
		lastAck  time.Time
		wg       sync.WaitGroup
	)
	for range cfg.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				lat, err := b.post(ctx, j.group, j.body)
				now := time.Now()
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("group %s: %v", b.groups[j.group].name, err))
				} else {
					lats = append(lats, lat)
					if now.After(lastAck) {
						lastAck = now
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	var maxLate time.Duration
	seq := 0
	for i := 0; i < cfg.alerts && ctx.Err() == nil; i++ {
		target := start.Add(time.Duration(float64(cfg.storm) * float64(i) / float64(cfg.alerts)))
		if d := time.Until(target); d > 0 {
			_ = benchkit.Sleep(ctx, d)
		}
		g := b.groups[i%cfg.groups]
		g.addAlert(seq, time.Now())
		seq++
		body := g.stormBody()
		if len(body) > maxBodyBytes {
			b.fail("webhook body of %d bytes for group %s exceeds the bot's limit", len(body), g.name)
			break
		}
		if late := time.Since(target); late > maxLate {
			maxLate = late
		}
		jobs <- job{group: g.index, body: body}
	}
	close(jobs)
	wg.Wait()
	sent := time.Since(start)
	res.SendS = sent.Seconds()
	res.MaxLatenessS = maxLate.Seconds()
	res.Webhooks200 = len(lats)
	res.WebhookFailures = len(failures)
	slices.Sort(lats)
	if n := len(lats); n > 0 {
		res.AckP50MS = ms(lats[n/2])
		res.AckP99MS = ms(lats[min(n-1, int(math.Ceil(float64(n)*0.99))-1)])
		res.AckMaxMS = ms(lats[n-1])
	}
	if len(failures) > 0 {
		b.fail("storm: %d of %d webhooks did not get 200; first: %s", len(failures), cfg.alerts, strings.Join(failures[:min(3, len(failures))], "; "))
	}
	for g, ids := range b.splits {
		b.fail("group %s was answered with more than one incident: %d and %v", b.groups[g].name, b.incidents[g], ids)
	}
	res.Incidents = len(b.incidents)
	if res.Incidents != cfg.groups {
		b.fail("storm: %d incidents answered for %d groups", res.Incidents, cfg.groups)
	}
	logf("storm: %d/%d webhooks got 200 in %s (max lateness %s), ack p50 %.1f ms p99 %.1f ms; %d incidents",
		res.Webhooks200, cfg.alerts, sent.Round(time.Millisecond), maxLate.Round(time.Millisecond), res.AckP50MS, res.AckP99MS, res.Incidents)
	if lastAck.IsZero() {
		return
	}

	wants := map[int64]want{}
	for g, id := range b.incidents {
		wants[id] = want{group: g, status: "Firing", firing: len(b.groups[g].alerts)}
		res.SeverityMix[b.groups[g].expectedSeverity()]++
	}
	conv, when := b.waitConverged(ctx, wants, lastAck, cfg.convergeTimeout, "storm", "")
	res.Converged = conv.all
	res.ConvergeS = conv.at.Sub(lastAck).Seconds()
	for p, t := range when {
		res.PlatformS[p] = t.Sub(lastAck).Seconds()
	}
	end := time.Now()
	if conv.all {
		_ = benchkit.Sleep(ctx, settle)
	}
	after := b.snap()
	sl, dc := b.checkSlack(wants), b.checkDiscord(wants)
	res.Duplicates["slack"], res.Duplicates["discord"] = sl.duplicates, dc.duplicates
	res.DiscordThreadless = dc.threadless
	if len(dc.threadless) > 0 {
		b.note("storm: %d Discord root(s) have no thread once the storm converged (incidents %v); see the bot's warnings", len(dc.threadless), dc.threadless)
	}
	b.duplicateFailures("storm", "slack", sl)
	b.duplicateFailures("storm", "discord", dc)
	if !conv.all {
		if len(sl.missing) > 0 {
			res.Missing["slack"] = clipList(sl.missing, 10)
		}
		if len(dc.missing) > 0 {
			res.Missing["discord"] = clipList(dc.missing, 10)
		}
		b.fail("storm: not converged %s after the last webhook: outbox depth %v; Slack %d/%d roots final, Discord %d/%d (first problems: slack %v; discord %v)",
			cfg.convergeTimeout, conv.depth, sl.final, len(wants), dc.final, len(wants), clipList(sl.missing, 3), clipList(dc.missing, 3))
	}
	res.Calls = map[string]*Calls{
		"slack":   calls("slack", before, after, len(wants), false),
		"discord": calls("discord", before, after, len(wants), false),
	}
	res.Rates = map[string]*Rates{
		"slack":   b.rates("slack", start, end, nil),
		"discord": b.rates("discord", start, end, b.threadIDs()),
	}
	_, held, _ := b.metrics(ctx)
	res.HeldBack = held
	res.BotStoreAgrees, res.BotStoreProblems = b.checkBotStore(ctx, wants)
	b.res.Bot.PeakRSSStormMiB = benchkit.ProcKiB(b.bot.Pid(), "VmHWM") / 1024
	logf("storm: converged=%v in %.1f s after the last webhook (slack %.1f s, discord %.1f s); calls/incident slack %.2f discord %.2f; duplicates slack %d discord %d",
		conv.all, res.ConvergeS, res.PlatformS["slack"], res.PlatformS["discord"], res.Calls["slack"].PerInc, res.Calls["discord"].PerInc, sl.duplicates, dc.duplicates)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func clipList(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return append(slices.Clone(xs[:n]), fmt.Sprintf("... and %d more", len(xs)-n))
}

func (b *bench) duplicateFailures(phase, platform string, st platformState) {
	if st.duplicates > 0 {
		b.fail("%s: %d duplicate root(s) on %s, incidents %v", phase, st.duplicates, platform, st.dupIncidents)
	}
	if st.unknown > 0 {
		b.fail("%s: %d root(s) on %s carry no marker of a known incident", phase, st.unknown, platform)
	}
}

// checkBotStore asks the bot's API whether each incident holds the alerts
// the storm sent: it tells an ingest problem from a chat problem.
func (b *bench) checkBotStore(ctx context.Context, wants map[int64]want) (bool, []string) {
	var problems []string
	for id, w := range wants {
		code, body, err := b.get(ctx, fmt.Sprintf("/v1/incidents/%d", id))
		if err != nil || code != http.StatusOK {
			problems = append(problems, fmt.Sprintf("#%d: GET answered %d %v", id, code, err))
			continue
		}
		var inc struct {
			Status   string `json:"status"`
			Severity string `json:"severity"`
			Firing   int    `json:"firing"`
			Resolved int    `json:"resolved"`
		}
		if err := json.Unmarshal(body, &inc); err != nil {
			problems = append(problems, fmt.Sprintf("#%d: %v", id, err))
			continue
		}
		g := b.groups[w.group]
		if inc.Firing != w.firing || inc.Resolved != w.resol || inc.Severity != g.expectedSeverity() {
			problems = append(problems, fmt.Sprintf("#%d (%s): bot stores %s %s firing %d resolved %d, sent %d firing (%s)",
				id, g.name, inc.Status, inc.Severity, inc.Firing, inc.Resolved, w.firing, g.expectedSeverity()))
		}
	}
	sort.Strings(problems)
	return len(problems) == 0, clipList(problems, 10)
}

type convergence struct {
	all   bool
	at    time.Time
	depth float64
}

// waitConverged polls until the outbox is empty and both stand-ins show
// wants, or timeout after since passes. It returns when each platform
// first showed its final state. only, when set, names the one platform
// whose state counts (the other is down).
func (b *bench) waitConverged(ctx context.Context, wants map[int64]want, since time.Time, timeout time.Duration, phase, only string) (convergence, map[string]time.Time) {
	deadline := since.Add(timeout)
	when := map[string]time.Time{}
	lastLog := time.Now()
	var c convergence
	for {
		now := time.Now()
		depth, _, err := b.metrics(ctx)
		if err != nil {
			depth = -1
		}
		c.depth = depth
		sl, dc := b.checkSlack(wants), b.checkDiscord(wants)
		if sl.converged && when["slack"].IsZero() {
			when["slack"] = now
		}
		if dc.converged && when["discord"].IsZero() {
			when["discord"] = now
		}
		ok := depth == 0
		switch only {
		case "slack":
			ok = sl.converged // the outbox still holds Discord's jobs
		case "discord":
			ok = dc.converged
		default:
			ok = ok && sl.converged && dc.converged
		}
		if ok {
			c.all, c.at = true, now
			return c, when
		}
		if b.botExited() {
			b.fail("%s: the bot exited while waiting for convergence: %v", phase, b.bot.Err())
			c.at = now
			return c, when
		}
		if now.After(deadline) || ctx.Err() != nil {
			c.at = now
			return c, when
		}
		if time.Since(lastLog) >= 15*time.Second {
			logf("%s: waiting: outbox depth %v; slack %d/%d final, %d/%d replied, %d roots %v; discord %d/%d final, %d/%d replied, %d roots %v",
				phase, depth, sl.final, len(wants), sl.replied, len(wants), sl.roots, clipList(sl.missing, 2),
				dc.final, len(wants), dc.replied, len(wants), dc.roots, clipList(dc.missing, 2))
			lastLog = time.Now()
		}
		_ = benchkit.Sleep(ctx, pollEvery)
	}
}

// ---------------------------------------------------------------------------
// outage

func (b *bench) setDown(platform string, down bool) {
	if platform == "slack" {
		b.slack.SetDown(down)
	} else {
		b.discord.SetDown(down)
	}
}

func other(platform string) string {
	if platform == "slack" {
		return "discord"
	}
	return "slack"
}

func (b *bench) outage(ctx context.Context, platform, change string) {
	cfg := b.cfg
	o := &OutageResult{Platform: platform, Change: change, OtherPlatform: other(platform), Duplicates: map[string]int{}, Missing: map[string][]string{}}
	b.res.Outages = append(b.res.Outages, o)
	logf("outage of %s for %s: every incident changes (%s)", platform, cfg.outage, change)

	beforeDown := b.snap()
	b.setDown(platform, true)
	downAt := time.Now()

	// The change: one webhook per group, all at once.
	wants := map[int64]want{}
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, min(cfg.senders, 8))
	now := time.Now()
	b.incMu.Lock()
	incidents := maps.Clone(b.incidents)
	b.incMu.Unlock()
	for g, id := range incidents {
		grp := b.groups[g]
		var body []byte
		w := want{group: g}
		if change == "resolve" {
			body = grp.resolveBody(now)
			w.status, w.resol, w.reply = "Resolved", len(grp.alerts), "Resolved after"
		} else {
			body = grp.refireBody(now)
			w.status, w.firing, w.reply = "Firing", len(grp.alerts), "Reopened"
		}
		wants[id] = w
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := b.post(ctx, g, body); err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("group %s: %v", grp.name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	o.Webhooks = len(wants)
	o.WebhookFailures = len(failures)
	if len(failures) > 0 {
		b.fail("%s outage: %d of %d change webhooks did not get 200; first: %s", platform, len(failures), len(wants), failures[0])
	}
	for g, ids := range b.splits {
		b.fail("group %s was answered with more than one incident: %d and %v", b.groups[g].name, b.incidents[g], ids)
		delete(b.splits, g)
	}

	// The other platform catches up while this one is down; the outage
	// lasts -outage, and longer if the other platform still catches up
	// then, so that the recovery is measured alone.
	oc, _ := b.waitConverged(ctx, wants, downAt, cfg.convergeTimeout, platform+" outage: "+o.OtherPlatform+" catching up", o.OtherPlatform)
	o.OtherConverged = oc.all
	o.OtherConvergedS = oc.at.Sub(downAt).Seconds()
	if !oc.all {
		b.fail("%s outage: %s (up) did not reach the final state within %s", platform, o.OtherPlatform, cfg.convergeTimeout)
	}
	if d := time.Until(downAt.Add(cfg.outage)); d > 0 {
		_ = benchkit.Sleep(ctx, d)
	} else if oc.all {
		o.Extended = true
		b.note("%s outage extended to %.0f s: %s needed that long to catch up", platform, time.Since(downAt).Seconds(), o.OtherPlatform)
	}

	// Owed at recovery, read from the stand-in.
	var st platformState
	if platform == "slack" {
		st = b.checkSlack(wants)
	} else {
		st = b.checkDiscord(wants)
	}
	for id := range wants {
		switch {
		case st.rootsOf[id] == 0:
			o.OwedRoots++
			o.OwedReplies++ // a new root shows everything; counted as its post
		case !st.showsFinal[id]:
			o.OwedEdits++
			o.OwedReplies++
		case !st.repliedOK[id]:
			o.OwedReplies++
		}
	}
	o.BoundS, o.BoundFormula = lowerBound(platform, o.OwedEdits, o.OwedReplies, o.OwedRoots)

	downSnap := b.snap()
	b.setDown(platform, false)
	upAt := time.Now()
	o.OutageS = upAt.Sub(downAt).Seconds()
	logf("%s back after %.1f s; owed: %d edits, %d replies, %d roots; lower bound %.1f s", platform, o.OutageS, o.OwedEdits, o.OwedReplies, o.OwedRoots, o.BoundS)

	// Watch for the first call after recovery while waiting.
	firstCall := make(chan time.Time, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() {
		base := b.platformCalls(platform)
		for watchCtx.Err() == nil {
			if b.platformCalls(platform) > base {
				firstCall <- time.Now()
				return
			}
			_ = benchkit.Sleep(watchCtx, 50*time.Millisecond)
		}
	}()
	conv, _ := b.waitConverged(ctx, wants, upAt, cfg.convergeTimeout, platform+" recovery", "")
	stopWatch()
	select {
	case t := <-firstCall:
		o.FirstCallS = t.Sub(upAt).Seconds()
	default:
		o.FirstCallS = -1
	}
	o.Converged = conv.all
	o.ConvergeS = conv.at.Sub(upAt).Seconds()
	if o.BoundS > 0 {
		o.Ratio = o.ConvergeS / o.BoundS
	}
	o.FirstReplyS = b.firstReplyAfter(platform, upAt)
	end := time.Now()
	if conv.all {
		_ = benchkit.Sleep(ctx, settle)
	}
	after := b.snap()
	o.CallsDown = calls(platform, beforeDown, downSnap, len(wants), true)
	o.CallsRecovery = calls(platform, downSnap, after, len(wants), false)
	o.OtherCalls = calls(o.OtherPlatform, beforeDown, after, len(wants), false)
	var threads []string
	if platform == "discord" || o.OtherPlatform == "discord" {
		threads = b.threadIDs()
	}
	o.RatesRecovery = b.rates(platform, upAt, end, threads)
	o.OtherRates = b.rates(o.OtherPlatform, downAt, end, threads)

	sl, dc := b.checkSlack(wants), b.checkDiscord(wants)
	o.Duplicates["slack"], o.Duplicates["discord"] = sl.duplicates, dc.duplicates
	b.duplicateFailures(platform+" outage", "slack", sl)
	b.duplicateFailures(platform+" outage", "discord", dc)
	if !conv.all {
		if len(sl.missing) > 0 {
			o.Missing["slack"] = clipList(sl.missing, 10)
		}
		if len(dc.missing) > 0 {
			o.Missing["discord"] = clipList(dc.missing, 10)
		}
		b.fail("%s outage: not converged %s after recovery: outbox depth %v; slack %d/%d final (%d replied), discord %d/%d final (%d replied); first problems: slack %v; discord %v",
			platform, cfg.convergeTimeout, conv.depth, sl.final, len(wants), sl.replied, dc.final, len(wants), dc.replied, clipList(sl.missing, 3), clipList(dc.missing, 3))
	}
	logf("%s recovery: converged=%v in %.1f s (bound %.1f s, ratio %.2f); first call +%.1f s, first reply +%.1f s",
		platform, conv.all, o.ConvergeS, o.BoundS, o.Ratio, o.FirstCallS, o.FirstReplyS)
}

// lowerBound is the least time the platform's limits (and the bot's own
// enforcement of Slack's chat.update limit) allow for delivering what is
// owed, counting from the first call, which can go at once:
//
//   - Slack: posts (replies, and roots if any) share the channel's 1/s, so
//     n posts need (n-1) s; edits draw on chat.update's 50/min
//     workspace budget, which the bot enforces as a token bucket with a
//     burst of 1, so m edits need (m-1) × 1.2 s. Both budgets run in
//     parallel: the bound is the larger.
//   - Discord: every edit goes to the channel's edit_message route at
//     1/s, so m edits need (m-1) s; each reply goes to its own thread's
//     route (one each, no wait); everything shares 50/s globally.
func lowerBound(platform string, edits, replies, roots int) (float64, string) {
	pos := func(v float64) float64 { return math.Max(v, 0) }
	if platform == "slack" {
		posts := replies + roots
		p := pos(float64(posts-1)) / slackPostPerChannel
		e := pos(float64(edits-slackUpdateBurst)) / (slackUpdatePerMin / 60)
		return math.Max(p, e), fmt.Sprintf("max((posts − 1) ÷ %g/s per channel, (edits − %d burst) ÷ %g/min) = max((%d − 1) ÷ 1, (%d − %d) × 1.2) s",
			slackPostPerChannel, slackUpdateBurst, slackUpdatePerMin, posts, edits, slackUpdateBurst)
	}
	e := pos(float64(edits+roots-1)) / discordRoutePerSec
	total := float64(edits + replies + 2*roots)
	g := pos(total-1) / discordGlobalPerSec
	return math.Max(e, g), fmt.Sprintf("max((edits − 1) ÷ %g/s on the channel's edit route, one reply per thread at once, (calls − 1) ÷ %g/s global) = max((%d − 1) ÷ 1, (%d − 1) ÷ 50) s",
		discordRoutePerSec, discordGlobalPerSec, edits+roots, int(total))
}

func (b *bench) platformCalls(platform string) int {
	if platform == "discord" {
		return sumCalls(b.discord.AllCalls())
	}
	n := 0
	for _, m := range []string{slackstandin.MethodPostMessage, slackstandin.MethodUpdate, slackstandin.MethodHistory} {
		n += b.slack.Calls(m)
	}
	return n
}

// firstReplyAfter is the time from t to the first reply posted after t
// (-1 if none).
func (b *bench) firstReplyAfter(platform string, t time.Time) float64 {
	var first time.Time
	consider := func(at time.Time) {
		if !at.Before(t) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if platform == "slack" {
		for _, m := range b.slack.Messages(slackChannel) {
			if !m.IsRoot() {
				consider(m.PostedAt)
			}
		}
	} else {
		for _, th := range b.threadIDs() {
			for _, m := range b.discord.Messages(th) {
				consider(m.Created)
			}
		}
	}
	if first.IsZero() {
		return -1
	}
	return first.Sub(t).Seconds()
}

// finalDuplicateCheck looks once more, at the end, for roots posted twice.
func (b *bench) finalDuplicateCheck() {
	if b.slack == nil || len(b.incidents) == 0 {
		return
	}
	wants := map[int64]want{}
	for g, id := range b.incidents {
		wants[id] = want{group: g}
	}
	for _, p := range []string{"slack", "discord"} {
		var st platformState
		if p == "slack" {
			st = b.checkSlack(wants)
		} else {
			st = b.checkDiscord(wants)
		}
		already := false
		for _, f := range b.res.Failures {
			already = already || strings.Contains(f, "duplicate root(s) on "+p)
		}
		if st.duplicates > 0 && !already {
			b.fail("end of run: %d duplicate root(s) on %s, incidents %v", st.duplicates, p, st.dupIncidents)
		}
		for id := range wants {
			if st.rootsOf[id] == 0 {
				b.fail("end of run: incident #%d has no root on %s", id, p)
			}
		}
		if p == "discord" {
			b.res.DiscordThreadlessAtEnd = st.threadless
		}
	}
}

// ---------------------------------------------------------------------------
// the bot's log

func (b *bench) readBotLog() {
	b.res.Bot.LogLevels = map[string]int{}
	f, err := os.Open(b.logPath)
	if err != nil {
		return
	}
	defer f.Close()
	type key struct{ level, msg string }
	counts := map[key]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), 4<<20)
	for sc.Scan() {
		var l struct {
			Level    string `json:"level"`
			TS       string `json:"ts"`
			Msg      string `json:"msg"`
			Platform string `json:"platform"`
			Jobs     *int   `json:"jobs"`
			Error    string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			b.res.Bot.LogLevels["unparsed"]++
			continue
		}
		b.res.Bot.LogLevels[l.Level]++
		if l.Level == "warn" || l.Level == "error" || l.Level == "fatal" || l.Level == "panic" {
			msg := l.Msg
			if l.Error != "" {
				msg += ": " + firstWords(l.Error, 14)
			}
			msg = digits.ReplaceAllString(msg, "N") // ids and durations vary; the kind of message does not
			counts[key{l.Level, msg}]++
		}
		if strings.HasPrefix(l.Msg, "outbox: platform answers again") && l.Jobs != nil {
			b.res.Bot.Recoveries = append(b.res.Bot.Recoveries, fmt.Sprintf("%s %s: %d jobs expedited", l.TS, l.Platform, *l.Jobs))
		}
	}
	keys := slices.Collect(maps.Keys(counts))
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	for _, k := range keys[:min(len(keys), 12)] {
		b.res.Bot.LogSamples = append(b.res.Bot.LogSamples, fmt.Sprintf("%d× %s %q", counts[k], k.level, k.msg))
	}
	if n := b.res.Bot.LogLevels["error"] + b.res.Bot.LogLevels["fatal"] + b.res.Bot.LogLevels["panic"]; n > 0 {
		b.fail("the bot logged %d error line(s); see the log samples", n)
	}
}

var digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// firstWords shortens an error message to its first n words, so that
// messages differing only in ids group together.
func firstWords(s string, n int) string {
	fs := strings.Fields(s)
	if len(fs) > n {
		fs = append(fs[:n], "…")
	}
	return strings.Join(fs, " ")
}

// ---------------------------------------------------------------------------
// verdicts and the report

func (b *bench) verdicts() {
	var vs []Verdict
	if s := b.res.Storm; s != nil && s.Calls != nil {
		// What a storm incident needs: its root, its runbook reply, one
		// edit and one reply (Slack: 4), and on Discord a thread start too
		// (5); "about that" is within one call more.
		least := map[string]float64{"slack": 4, "discord": 5}
		for _, p := range []string{"slack", "discord"} {
			c := s.Calls[p]
			vs = append(vs, Verdict{
				Target: fmt.Sprintf("storm: at most %.0f chat calls per incident on %s (root, runbook, edit, reply%s: %.0f)", least[p]+1, p, map[string]string{"discord": ", thread"}[p], least[p]),
				Met:    c.PerInc <= least[p]+1,
				Detail: fmt.Sprintf("%.2f calls per incident (%d calls, %d incidents)", c.PerInc, c.Total, c.Incidents),
			})
		}
	}
	// Limits in steady state: every window in which the platform was up.
	type win struct {
		what string
		r    *Rates
		c    *Calls
	}
	for _, p := range []string{"slack", "discord"} {
		var ws []win
		if s := b.res.Storm; s != nil && s.Rates != nil {
			ws = append(ws, win{"storm", s.Rates[p], s.Calls[p]})
		}
		for _, o := range b.res.Outages {
			if o.Platform == p && o.RatesRecovery != nil {
				ws = append(ws, win{"after its outage", o.RatesRecovery, o.CallsRecovery})
			}
			if o.OtherPlatform == p && o.OtherRates != nil {
				ws = append(ws, win{o.Platform + "'s outage", o.OtherRates, o.OtherCalls})
			}
		}
		if len(ws) == 0 {
			continue
		}
		met := true
		var parts []string
		for _, w := range ws {
			over := w.r.PerChannel > w.r.PerChannelLimit
			if p == "discord" {
				over = over || w.r.Secondary > w.r.SecondaryLimit
			}
			if over {
				met = false
			}
			parts = append(parts, fmt.Sprintf("%s: %g/s per channel (limit %g), %d×429", w.what, w.r.PerChannel, w.r.PerChannelLimit, w.c.Rejected429))
		}
		vs = append(vs, Verdict{
			Target: fmt.Sprintf("never over %s's per-channel limit while it is up", p),
			Met:    met,
			Detail: strings.Join(parts, "; "),
		})
		if p == "slack" {
			met, parts = true, nil
			for _, w := range ws {
				if w.r.Secondary > w.r.SecondaryLimit {
					met = false
				}
				parts = append(parts, fmt.Sprintf("%s: %g", w.what, w.r.Secondary))
			}
			vs = append(vs, Verdict{
				Target: "Slack chat.update within 50 per minute (Tier 3; any 60 s window)",
				Met:    met,
				Detail: strings.Join(parts, "; "),
			})
		}
	}
	if b.res.Storm != nil && b.res.Storm.Calls != nil {
		vs = append(vs, Verdict{
			Target: "every Discord root has its thread (storm convergence / end of run)",
			Met:    len(b.res.Storm.DiscordThreadless) == 0 && len(b.res.DiscordThreadlessAtEnd) == 0,
			Detail: fmt.Sprintf("without a thread: %d %v at storm convergence, %d %v at the end",
				len(b.res.Storm.DiscordThreadless), b.res.Storm.DiscordThreadless, len(b.res.DiscordThreadlessAtEnd), b.res.DiscordThreadlessAtEnd),
		})
	}
	for _, o := range b.res.Outages {
		vs = append(vs, Verdict{
			Target: fmt.Sprintf("%s catch-up within 1.2× the lower bound", o.Platform),
			Met:    o.Converged && o.Ratio <= 1.2,
			Detail: fmt.Sprintf("%.1f s measured vs %.1f s bound: ratio %.2f", o.ConvergeS, o.BoundS, o.Ratio),
		})
	}
	b.res.Verdicts = vs
}

// secs prints m[k] in seconds, or "never" when it is absent.
func secs(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return f1(v)
	}
	return "never"
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func (b *bench) printReport(w io.Writer) {
	r := &b.res
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## chatops storm benchmark")
	p("")
	p("- date: %s; machine: %s", time.Now().UTC().Format(time.RFC3339), r.Machine)
	p("- parameters: %d alerts in %d groups over %s; outage %s per platform; %d senders; convergence timeout %s",
		r.Params.Alerts, r.Params.Groups, time.Duration(r.Params.StormS*float64(time.Second)), time.Duration(r.Params.OutageS*float64(time.Second)), r.Params.Senders,
		time.Duration(r.Params.ConvergeTimeoutS*float64(time.Second)))
	p("- webhooks: %s", r.Params.Semantics)
	p("- Slack stand-in: %s", r.Params.SlackLimit)
	p("- Discord stand-in: %s", r.Params.DiscordLimit)
	p("- routing: one catch-all route to `%s` (Slack `%s`) and `%s` (Discord `%s`): every incident is mirrored on both", slackDest, slackChannel, discordDest, discordChannel)
	if s := r.Storm; s != nil {
		p("")
		p("### Storm")
		p("")
		p("| | |")
		p("|---|---|")
		p("| webhooks sent / 200 / failed | %d / %d / %d |", s.Webhooks, s.Webhooks200, s.WebhookFailures)
		p("| incidents (severity mix) | %d (%s) |", s.Incidents, mixString(s.SeverityMix))
		p("| sending took (max lateness vs plan) | %s s (%s s) |", f1(s.SendS), f2(s.MaxLatenessS))
		p("| webhook ack p50 / p99 / max | %s / %s / %s ms |", f1(s.AckP50MS), f1(s.AckP99MS), f1(s.AckMaxMS))
		p("| converged | %v |", s.Converged)
		p("| time from the last webhook to convergence | **%s s** (Slack final after %s s, Discord after %s s) |", f1(s.ConvergeS), secs(s.PlatformS, "slack"), secs(s.PlatformS, "discord"))
		p("| duplicate roots (Slack / Discord) | %d / %d |", s.Duplicates["slack"], s.Duplicates["discord"])
		p("| Discord roots without a thread at convergence | %d %v |", len(s.DiscordThreadless), s.DiscordThreadless)
		p("| bot's store agrees with what was sent | %v %s |", s.BotStoreAgrees, strings.Join(s.BotStoreProblems, "; "))
		p("| calls the bot's own limiters held back (Slack / Discord) | %.0f / %.0f |", s.HeldBack["slack"], s.HeldBack["discord"])
		for plat, ms := range s.Missing {
			p("| not converged on %s | %s |", plat, strings.Join(ms, "; "))
		}
		if s.Calls != nil {
			p("")
			p("Chat calls during the storm (from its first webhook to convergence), from the stand-ins' counters:")
			p("")
			callsTable(p, []string{"slack", "discord"}, []*Calls{s.Calls["slack"], s.Calls["discord"]})
			p("")
			ratesTable(p, []string{"slack", "discord"}, []*Rates{s.Rates["slack"], s.Rates["discord"]})
		}
	}
	for _, o := range r.Outages {
		p("")
		p("### Outage of %s", titleCase(o.Platform))
		p("")
		change := "one webhook per group resolves all its alerts"
		if o.Change == "refire" {
			change = "one webhook per group fires all its alerts again (a new occurrence), reopening the incident"
		}
		p("During the outage the stand-in answered 503 to every call; %s.", change)
		p("")
		p("| | |")
		p("|---|---|")
		ext := ""
		if o.Extended {
			ext = fmt.Sprintf(" (extended past -outage: %s caught up only then)", o.OtherPlatform)
		}
		p("| outage length | %s s%s |", f1(o.OutageS), ext)
		p("| change webhooks (failed) | %d (%d) |", o.Webhooks, o.WebhookFailures)
		p("| %s (up) showed the final state after | %s s (%v) |", titleCase(o.OtherPlatform), f1(o.OtherConvergedS), o.OtherConverged)
		p("| owed at recovery | %d edits + %d replies (+ %d roots) = %d messages |", o.OwedEdits, o.OwedReplies, o.OwedRoots, o.OwedEdits+o.OwedReplies+o.OwedRoots)
		p("| lower bound | **%s s** = %s |", f1(o.BoundS), o.BoundFormula)
		p("| measured convergence after recovery | **%s s** (converged: %v) |", f1(o.ConvergeS), o.Converged)
		p("| ratio measured ÷ bound (target ≤ 1.2) | **%s** |", f2(o.Ratio))
		p("| first call after recovery / first reply | +%s s / +%s s |", f1(o.FirstCallS), f1(o.FirstReplyS))
		p("| duplicate roots (Slack / Discord) | %d / %d |", o.Duplicates["slack"], o.Duplicates["discord"])
		for plat, ms := range o.Missing {
			p("| not converged on %s | %s |", plat, strings.Join(ms, "; "))
		}
		if o.CallsDown != nil {
			p("")
			callsTable(p, []string{o.Platform + " during the outage", o.Platform + " after recovery", o.OtherPlatform + " (up) from the outage to convergence"},
				[]*Calls{o.CallsDown, o.CallsRecovery, o.OtherCalls})
			p("")
			ratesTable(p, []string{o.Platform + " after recovery", o.OtherPlatform + " (up) during and after"}, []*Rates{o.RatesRecovery, o.OtherRates})
		}
	}
	p("")
	p("### Bot")
	p("")
	p("- resident memory: %s MiB idle after start; peak (VmHWM) %s MiB after the storm, %s MiB over the whole run",
		f1(r.Bot.IdleRSSMiB), f1(r.Bot.PeakRSSStormMiB), f1(r.Bot.PeakRSSMiB))
	p("- exit: %s", r.Bot.Exit)
	p("- log lines by level: %s (log: %s)", levelsString(r.Bot.LogLevels), r.Bot.LogPath)
	for _, l := range r.Bot.Recoveries {
		p("- recovery: %s", l)
	}
	for _, l := range r.Bot.LogSamples {
		p("- %s", l)
	}
	p("")
	p("### Verdicts")
	p("")
	for _, v := range r.Verdicts {
		mark := "MET"
		if !v.Met {
			mark = "MISSED"
		}
		p("- **%s** %s: %s", mark, v.Target, v.Detail)
	}
	if len(r.Failures) == 0 {
		p("- **OK** integrity: every incident converged on both platforms with exactly one root each; every webhook got 200; no bot error")
	}
	for _, f := range r.Failures {
		p("- **FAILED** %s", f)
	}
	for _, n := range r.Notes {
		p("- note: %s", n)
	}
	p("")
	p("Work directory (config, bot log): %s", r.WorkDir)
}

func callsTable(p func(string, ...any), names []string, cs []*Calls) {
	p("| platform | calls | per incident | roots posted | edits | replies posted | thread starts | lookups | posts refused | of all calls: 429s | refused (down) |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, c := range cs {
		if c == nil {
			continue
		}
		by := ""
		if len(c.RejectedBy) > 0 {
			by = " (" + mixString(c.RejectedBy) + ")"
		}
		p("| %s | %d | %s | %d | %d | %d | %d | %d | %d | %d%s | %d |", names[i], c.Total, f2(c.PerInc), c.Roots, c.Edits, c.Replies, c.ThreadStarts, c.Lookups, c.FailedPosts, c.Rejected429, by, c.Refused)
	}
}

func ratesTable(p func(string, ...any), names []string, rs []*Rates) {
	p("| platform | max per-channel rate | limit | measured as | secondary | limit | measured as |")
	p("|---|---:|---:|---|---:|---:|---|")
	for i, r := range rs {
		if r == nil {
			continue
		}
		extra := ""
		if r.ParentAllRoutes > 0 {
			extra = fmt.Sprintf("; all routes on the channel together: %g/s", r.ParentAllRoutes)
		}
		p("| %s | %g | %g | %s%s | %g | %g | %s |", names[i], r.PerChannel, r.PerChannelLimit, r.PerChannelWhat, extra, r.Secondary, r.SecondaryLimit, r.SecondaryWhat)
	}
}

func mixString(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func levelsString(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
