// Command commands benchmarks chatops' chat commands: how fast the bot
// acknowledges a Slack slash command and how long the answer takes, on a
// quiet bot and while the ingest benchmark's generator
// (test/bench/ingest) posts Alertmanager webhooks at full speed, and how
// long `health` takes over Bakery-IA's 18 services and 50 pods.
//
// It starts, all on 127.0.0.1:
//   - a real Kubernetes control plane (test/kubeharness: etcd,
//     kube-apiserver with RBAC, kube-controller-manager; binaries cached
//     by test/tools/kube.sh) with one node, the shipped RBAC
//     (deploy/kubernetes/base/rbac.yaml) and 18 Deployments with 50 pods, five
//     of them in trouble (CrashLoopBackOff, OOMKilled, ImagePullBackOff,
//     NotReady); the bot reads it as the chatops ServiceAccount;
//   - a fresh PostgreSQL database (dropped at the end);
//   - the Slack stand-in (integrations/slack/slackstandin): the bot's
//     slack.api_url, and where the commands' response_urls point;
//   - the bot binary (-bin, or built), Slack commands over HTTP.
//
// Then, after a few warm-up commands that are not counted, two phases,
// each in two parts:
//
//  1. Quiet: -health-alone `/ops health` commands at -alone-rate per
//     second (slow enough that the bot's Kubernetes client stays under
//     client-go's default client-side limit), then the mix: -health
//     `/ops health`, -status `/ops status orders-service` and -logs
//     `/ops logs orders-service --tail N`, interleaved, open loop at
//     -rate per second.
//  2. Storm: the ingest generator runs against the same bot (-senders
//     senders, -alerts-per-payload alerts per webhook) from a few seconds
//     before the phase's first command to a few seconds after its last,
//     while the same two parts are sent again.
//
// With -worst-logs N, the two phases give way to one worst case: a 19th
// Deployment, log-flood, whose 10 pods have each logged about 1 MiB of
// 16 KiB lines (and one line of 100 KiB), and N `/ops logs log-flood
// --tail 2000 --grep P` sent at once, each by a person of its own, with P
// the costliest pattern the bot accepts; from a second later,
// -worst-others health and status commands at -rate. It reports the
// bot's resident size against the pod's memory limit
// (deploy/kubernetes/base/deployment.yaml) and the other commands'
// acknowledgements.
//
// For each command it measures the acknowledgement (request sent → HTTP
// 200 read) and the answer (request sent → the answer recorded at the
// response_url), and checks both. It prints a Markdown report with a
// verdict per target (with -json, also one JSON line at the end).
//
// Exit status: 0 when every command was acknowledged with 200 and
// answered as expected, the ingest had no failures and the bot exited 0
// on SIGTERM (a missed target is reported, not an error); 1 otherwise;
// 2 on a usage or setup error.
//
//	go run ./test/bench/commands
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// Targets (issue 4, item 9) and Slack's own limit.
const (
	targetAckP99   = 30 * time.Millisecond
	slackAckLimit  = 3 * time.Second
	targetHealth   = time.Second
	stormLead      = 3 * time.Second // ingest before the first command
	stormTail      = 3 * time.Second // and after the last
	afterWarmup    = 3 * time.Second
	maxIngest      = 5 * time.Minute // the generator's own cap
	maxCount       = 5000
	maxRate        = 100.0
	maxSpan        = maxIngest - stormLead - stormTail
	maxAnswerWait  = 5 * time.Minute
	slackFileRate  = 100.0 / 60.0 // the bot's file-upload budget (Slack's Tier 4)
	ingestSlack    = 2 * time.Minute
	setupAllowance = 15 * time.Minute
)

type config struct {
	bin       string
	pgURL     string
	health    int
	alone     int
	aloneRate float64
	status    int
	logs      int
	// reads are the read commands' counts in the mix: events, hpa,
	// certs, gitops (readKinds' order).
	reads         [4]int
	alerts        int
	tail          int
	rate          float64
	warmup        int
	senders       int
	perPayload    int
	groups        int
	answerTimeout time.Duration
	jsonOut       bool
	keep          bool
	worstLogs     int
	worstOthers   int
	worstGrep     string
}

// worstKindIndex is the worst-case logs command among the kinds (after
// health, status and logs).
const worstKindIndex = 3

// maxWorstLogs is the most -worst-logs: the bot's default bound on the
// commands one platform runs at once (commands.max_in_flight).
const maxWorstLogs = 64

func main() { os.Exit(run()) }

func run() int {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "built chatops binary (default: go build ./cmd/chatops into a temp dir)")
	flag.StringVar(&cfg.pgURL, "pg-url", harness.DefaultPGAdminURL, "admin URL of the local PostgreSQL; a fresh database is created and dropped")
	flag.IntVar(&cfg.health, "health", 200, "\"/ops health\" commands per phase, in the mix")
	flag.IntVar(&cfg.alone, "health-alone", 20, "\"/ops health\" commands per phase sent alone, at -alone-rate, before the mix")
	flag.Float64Var(&cfg.aloneRate, "alone-rate", 1, "rate of the health-alone commands per second (1/s keeps the bot's Kubernetes client under client-go's default 5 requests/s)")
	flag.IntVar(&cfg.status, "status", 100, "\"/ops status orders-service\" commands per phase, in the mix")
	flag.IntVar(&cfg.logs, "logs", 40, "\"/ops logs orders-service --tail N\" commands per phase, in the mix")
	flag.IntVar(&cfg.reads[0], "events", 0, "\"/ops events\" commands per phase, in the mix")
	flag.IntVar(&cfg.reads[1], "hpa", 0, "\"/ops hpa\" commands per phase, in the mix")
	flag.IntVar(&cfg.reads[2], "certs", 0, "\"/ops certs\" commands per phase, in the mix (the workload has cert-manager's CRD and Certificates)")
	flag.IntVar(&cfg.reads[3], "gitops", 0, "\"/ops gitops\" commands per phase, in the mix (the workload has Flux's CRDs and objects)")
	flag.IntVar(&cfg.alerts, "alerts", 0, "\"/ops alerts\" commands per phase, in the mix; when > 0 a real Alertmanager holding the firing alerts of alertsWorkload is started and the bot reads it (health then asks it for firing alerts too)")
	flag.IntVar(&cfg.tail, "tail", 100, "--tail of the logs command (each orders-service pod has 500 lines)")
	flag.Float64Var(&cfg.rate, "rate", 10, "commands per second of the mix, both phases (open loop)")
	flag.IntVar(&cfg.warmup, "warmup", 3, "warm-up commands of each kind before the quiet phase, not counted")
	flag.IntVar(&cfg.senders, "senders", 32, "ingest generator senders during the storm")
	flag.IntVar(&cfg.perPayload, "alerts-per-payload", 1, "alerts per webhook during the storm")
	flag.IntVar(&cfg.groups, "groups", 200, "alert groups the storm's webhooks are spread over")
	flag.DurationVar(&cfg.answerTimeout, "answer-timeout", 60*time.Second, "how long after a phase's last command its answers may still arrive")
	flag.BoolVar(&cfg.jsonOut, "json", false, "also print the result as one JSON line (last line of stdout)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (bot config and log, generator output) even when all went well")
	flag.IntVar(&cfg.worstLogs, "worst-logs", 0, "worst-case logs mode: instead of the quiet and storm phases, this many `/ops logs log-flood --tail 2000 --grep <the costliest pattern accepted>` at once, each from its own person, over 10 pods of ~1 MiB of long lines (0: off)")
	flag.IntVar(&cfg.worstOthers, "worst-others", 200, "health and status commands sent at -rate before the worst-case logs commands (the baseline) and again while they run")
	flag.StringVar(&cfg.worstGrep, "worst-grep", worstPattern, "the worst-case logs commands' --grep (\"none\": no --grep, so every line read is answered)")
	flag.Parse()
	if err := validate(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "commands:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	span := cfg.span()
	ctx, cancel := context.WithTimeout(ctx, setupAllowance+2*(span+cfg.answerTimeout)+stormLead+stormTail+ingestSlack+cfg.worstSpan())
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

// span is how long one phase's commands take to send: health alone,
// then the mix.
func (cfg *config) span() time.Duration {
	d := time.Duration(float64(cfg.mixTotal()) / cfg.rate * float64(time.Second))
	if cfg.alone > 0 {
		d += time.Duration(float64(cfg.alone) / cfg.aloneRate * float64(time.Second))
	}
	return d
}

// worstSpan is how long the worst-case logs phase may take: the baseline,
// then the logs commands and the others.
func (cfg *config) worstSpan() time.Duration {
	if cfg.worstLogs == 0 {
		return 0
	}
	return worstLead + 2*(time.Duration(float64(cfg.worstOthers)/cfg.rate*float64(time.Second))+cfg.answerTimeout)
}

// grepOrNone is the worst-case logs commands' --grep, "" for none.
func (cfg *config) grepOrNone() string {
	if cfg.worstGrep == "none" {
		return ""
	}
	return cfg.worstGrep
}

// mixTotal is how many commands one phase's mix sends.
func (cfg *config) mixTotal() int {
	n := cfg.health + cfg.status + cfg.logs + cfg.alerts
	for _, r := range cfg.reads {
		n += r
	}
	return n
}

func validate(cfg *config) error {
	total := cfg.mixTotal()
	for _, r := range cfg.reads {
		if r < 0 || r > maxCount {
			return fmt.Errorf("-events, -hpa, -certs and -gitops must be in 0..%d", maxCount)
		}
	}
	switch {
	case cfg.alone < 0 || cfg.alone > maxCount:
		return fmt.Errorf("-health-alone must be in 0..%d", maxCount)
	case cfg.aloneRate <= 0 || cfg.aloneRate > maxRate:
		return fmt.Errorf("-alone-rate must be in (0, %g]", maxRate)
	case cfg.health < 0 || cfg.status < 0 || cfg.logs < 0 || cfg.health > maxCount || cfg.status > maxCount || cfg.logs > maxCount:
		return fmt.Errorf("-health, -status and -logs must be in 0..%d", maxCount)
	case cfg.alerts < 0 || cfg.alerts > maxCount || (cfg.alerts > 0 && cfg.worstLogs > 0):
		return fmt.Errorf("-alerts must be in 0..%d, and 0 with -worst-logs", maxCount)
	case total == 0:
		return errors.New("nothing to send: -health, -status, -logs and the read commands are all 0")
	case cfg.rate <= 0 || cfg.rate > maxRate:
		return fmt.Errorf("-rate must be in (0, %g]", maxRate)
	case cfg.span() > maxSpan:
		return fmt.Errorf("one phase's commands take %s to send: at most %s (the ingest generator runs at most %s)",
			cfg.span().Round(time.Second), maxSpan, maxIngest)
	case cfg.tail < 1 || cfg.tail > 2000:
		return errors.New("-tail must be in 1..2000 (the bot's own limit)")
	case cfg.warmup < 0 || cfg.warmup > 50:
		return errors.New("-warmup must be in 0..50")
	case cfg.senders < 1 || cfg.senders > 256:
		return errors.New("-senders must be in 1..256")
	case cfg.perPayload < 1 || cfg.perPayload > 1000:
		return errors.New("-alerts-per-payload must be in 1..1000")
	case cfg.groups < 1 || cfg.groups > 1_000_000:
		return errors.New("-groups must be in 1..1000000")
	case cfg.answerTimeout <= 0 || cfg.answerTimeout > maxAnswerWait:
		return fmt.Errorf("-answer-timeout must be in (0, %s]", maxAnswerWait)
	case cfg.worstLogs < 0 || cfg.worstLogs > maxWorstLogs:
		return fmt.Errorf("-worst-logs must be in 0..%d (the bot's commands.max_in_flight)", maxWorstLogs)
	case cfg.worstOthers < 2 || cfg.worstOthers > maxCount:
		return fmt.Errorf("-worst-others must be in 2..%d", maxCount)
	case cfg.worstGrep == "" || len(cfg.worstGrep) > 256 || strings.ContainsAny(cfg.worstGrep, " \t\n'\""):
		return errors.New("-worst-grep must be a pattern of 1..256 characters without spaces or quotes, or \"none\"")
	}
	if err := harness.CheckPGURL(cfg.pgURL); err != nil {
		return fmt.Errorf("-pg-url: %w", err)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "commands %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------------------
// results

// Result is everything the run measured; it is also the JSON line.
type Result struct {
	Params   Params            `json:"params"`
	Setup    Setup             `json:"setup"`
	Warmup   *PhaseResult      `json:"warmup,omitempty"`
	Parts    []*PhaseResult    `json:"parts"`
	Ingest   *IngestResult     `json:"storm_ingest,omitempty"`
	Worst    *WorstResult      `json:"worst_logs,omitempty"`
	Bot      BotResult         `json:"bot"`
	Verdicts []harness.Verdict `json:"verdicts"`
	Errors   []string          `json:"errors"`
	Notes    []string          `json:"notes,omitempty"`
	WorkDir  string            `json:"work_dir"`
	Workload workloadFacts     `json:"workload"`
}

type Params struct {
	Health           int     `json:"health"`
	HealthAlone      int     `json:"health_alone"`
	AloneRate        float64 `json:"alone_rate_per_s"`
	Status           int     `json:"status"`
	Logs             int     `json:"logs"`
	Reads            [4]int  `json:"reads_events_hpa_certs_gitops"`
	Alerts           int     `json:"alerts,omitempty"`
	Tail             int     `json:"tail"`
	Rate             float64 `json:"rate_per_s"`
	Warmup           int     `json:"warmup_per_kind"`
	Senders          int     `json:"ingest_senders"`
	AlertsPerPayload int     `json:"ingest_alerts_per_payload"`
	Groups           int     `json:"ingest_groups"`
	AnswerTimeoutS   float64 `json:"answer_timeout_s"`
	WorstLogs        int     `json:"worst_logs,omitempty"`
	WorstOthers      int     `json:"worst_others,omitempty"`
	WorstGrep        string  `json:"worst_grep,omitempty"`
}

type Setup struct {
	Date       string  `json:"date"`
	Machine    string  `json:"machine"`
	LoadAvg    string  `json:"load_average_at_start"`
	Bot        string  `json:"bot"`
	PostgreSQL string  `json:"postgresql"`
	ClusterS   float64 `json:"cluster_setup_s"`
	APIServer  string  `json:"apiserver"`
	GoVersion  string  `json:"go"`
}

type BotResult struct {
	Exit       string     `json:"exit"`
	PeakRSSMiB float64    `json:"peak_rss_mib"`
	Log        logSummary `json:"log"`
}

// ---------------------------------------------------------------------------
// the run

type bench struct {
	cfg  config
	res  Result
	work string
	// prog is what the harness and the control plane act for: it holds
	// their cleanups until teardown.
	prog *harness.Program

	db    *harness.Database
	slack *slackstandin.Server
	bot   *harness.Bot
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("ERROR: %s", msg)
	b.res.Errors = append(b.res.Errors, msg)
}

func (b *bench) note(format string, args ...any) {
	b.res.Notes = append(b.res.Notes, fmt.Sprintf(format, args...))
}

func (b *bench) run(ctx context.Context) int {
	cfg := b.cfg
	b.res.Errors = []string{}
	b.res.Params = Params{Health: cfg.health, HealthAlone: cfg.alone, AloneRate: cfg.aloneRate, Status: cfg.status, Logs: cfg.logs, Reads: cfg.reads, Alerts: cfg.alerts, Tail: cfg.tail, Rate: cfg.rate,
		Warmup: cfg.warmup, Senders: cfg.senders, AlertsPerPayload: cfg.perPayload, Groups: cfg.groups,
		AnswerTimeoutS: cfg.answerTimeout.Seconds()}
	if cfg.worstLogs > 0 {
		b.res.Params.WorstLogs, b.res.Params.WorstOthers, b.res.Params.WorstGrep = cfg.worstLogs, cfg.worstOthers, cfg.worstGrep
		// The mode's own service; the facts (and the health answer) count it.
		workload = append(workload, service{name: floodService, replicas: floodPods})
	}
	b.res.Workload = facts()
	b.res.Setup.Date = time.Now().UTC().Format(time.RFC3339)
	b.res.Setup.Machine = harness.Machine() + "; bot, PostgreSQL, control plane, stand-in, generator and this tool share them"
	b.res.Setup.LoadAvg = loadAvg()
	b.res.Setup.GoVersion = runtime.Version()

	b.prog = harness.NewProgram("bench-commands", logf)
	work, err := b.prog.WorkDir()
	if err != nil {
		logf("temp dir: %v", err)
		return 2
	}
	b.work = work
	b.res.WorkDir = work
	defer func() { b.res.WorkDir = b.prog.KeepOrRemove(work, len(b.res.Errors) == 0, cfg.keep) }()

	if err := b.setup(ctx); err != nil {
		b.fail("setup: %v", err)
		b.teardown()
		return 2
	}
	kinds := commandKinds(b.res.Workload, cfg.tail, cfg.worstLogs > 0, cfg.grepOrNone())
	counts, warm := []int{cfg.health, cfg.status, cfg.logs}, []int{cfg.warmup, cfg.warmup, cfg.warmup}
	if cfg.worstLogs > 0 {
		counts, warm = append(counts, 0), append(warm, 0) // the worst-case kind, sent by its own phase
	}
	for _, r := range cfg.reads {
		counts = append(counts, r)
		warm = append(warm, min(r, cfg.warmup))
	}
	if cfg.alerts > 0 {
		kinds = append(kinds, alertsKind())
		counts, warm = append(counts, cfg.alerts), append(warm, cfg.warmup)
	}
	cmd := newCommander(b.slack, b.signingSecret(), b.bot.BaseURL, kinds)
	if lr := cfg.rate * float64(cfg.logs) / float64(cfg.mixTotal()); lr > slackFileRate {
		b.note("logs commands arrive at %.2f/s, above the bot's file-upload budget of %.2f/s (100/min, Slack's Tier 4): their answers wait for it or come without the file", lr, slackFileRate)
	}

	if cfg.warmup > 0 {
		logf("warm-up: %d of each command", cfg.warmup)
		b.res.Warmup = cmd.run(ctx, "warm-up", "not counted", sequence(warm), cfg.rate, cfg.answerTimeout)
		b.phaseErrors(b.res.Warmup)
		// The warm-up may have emptied the bot's client-side rate limiter
		// (client-go's default bucket: 10, refilled at 5/s): let it refill.
		_ = harness.Sleep(ctx, afterWarmup)
	}
	switch {
	case ctx.Err() != nil:
	case cfg.worstLogs > 0:
		b.worstPhase(ctx, cmd)
	default:
		logf("quiet phase: %d health alone at %g/s, then %d commands at %g/s", cfg.alone, cfg.aloneRate, cfg.health+cfg.status+cfg.logs+cfg.alerts, cfg.rate)
		b.parts(ctx, cmd, "quiet", counts)
		if ctx.Err() == nil {
			b.storm(ctx, cmd, counts)
		}
	}
	if ctx.Err() != nil {
		b.fail("stopped early: %v", context.Cause(ctx))
	}
	b.teardown()
	b.verdicts()
	if len(b.res.Errors) > 0 {
		return 1
	}
	return 0
}

func (b *bench) signingSecret() string { return "bench-signing-" + b.db.Name }

// setup builds the bot (unless -bin) and the ingest generator, starts the
// control plane with its workload, and starts the bot on a fresh database
// with the Slack stand-in. Everything it starts, b.prog stops.
func (b *bench) setup(ctx context.Context) error {
	return b.prog.Run(func() error {
		repo, err := harness.RepoRoot()
		if err != nil {
			return err
		}
		if b.cfg.bin == "" {
			logf("building the bot: go build ./cmd/chatops")
			b.res.Setup.Bot = gitDescribe(repo)
		}
		bin, err := harness.Chatops(ctx, b.cfg.bin, b.work)
		if err != nil {
			return err
		}
		if b.cfg.bin != "" {
			b.res.Setup.Bot = bin + " (-bin)"
		}
		logf("building the ingest generator: go build ./test/bench/ingest")
		if err := harness.GoBuild(ctx, repo, filepath.Join(b.work, "ingest"), "./test/bench/ingest"); err != nil {
			return err
		}

		logf("starting the control plane and the workload (18 deployments, 50 pods)")
		t0 := time.Now()
		cl, err := startCluster(b.prog)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		b.res.Setup.ClusterS = time.Since(t0).Round(100 * time.Millisecond).Seconds()
		b.res.Setup.APIServer = cl.apiserver
		logf("cluster ready in %.1fs", b.res.Setup.ClusterS)

		b.res.Setup.PostgreSQL = pgSettings(ctx, b.cfg.pgURL)
		b.db = harness.NewDatabase(b.prog, b.cfg.pgURL, "chatops_bench_commands_")

		b.slack = slackstandin.New()
		b.prog.Cleanup(b.slack.Close)
		if !strings.HasPrefix(b.slack.URL(), "http://127.0.0.1:") {
			return fmt.Errorf("the Slack stand-in is at %s, not on 127.0.0.1", b.slack.URL())
		}
		amURL := ""
		if b.cfg.alerts > 0 {
			am, err := startAlertmanager(ctx, b.prog)
			if err != nil {
				return fmt.Errorf("alertmanager: %w", err)
			}
			amURL = am.BaseURL
		}
		b.startBot(bin, cl.kubeconfig, amURL)
		return nil
	})
}

// parts sends one phase's commands: health alone, then the mix.
func (b *bench) parts(ctx context.Context, cmd *commander, phase string, counts []int) {
	if b.cfg.alone > 0 {
		p := cmd.run(ctx, phase, fmt.Sprintf("health alone, %g/s", b.cfg.aloneRate), make([]int, b.cfg.alone), b.cfg.aloneRate, b.cfg.answerTimeout)
		b.res.Parts = append(b.res.Parts, p)
		b.phaseErrors(p)
	}
	if ctx.Err() != nil {
		return
	}
	p := cmd.run(ctx, phase, fmt.Sprintf("mix, %g/s", b.cfg.rate), sequence(counts), b.cfg.rate, b.cfg.answerTimeout)
	b.res.Parts = append(b.res.Parts, p)
	b.phaseErrors(p)
}

// storm runs the ingest generator and sends the phase's commands while
// it runs.
func (b *bench) storm(ctx context.Context, cmd *commander, counts []int) {
	cfg := b.cfg
	d := (stormLead + cfg.span() + stormTail).Round(time.Second)
	logf("storm phase: ingest generator for %s (%d senders × %d alerts/payload); commands from +%s: %d health alone at %g/s, then %d at %g/s",
		d, cfg.senders, cfg.perPayload, stormLead, cfg.alone, cfg.aloneRate, cfg.health+cfg.status+cfg.logs+cfg.alerts, cfg.rate)
	ing, err := harness.StartIngest(filepath.Join(b.work, "ingest"), filepath.Join(b.work, "ingest.stderr"), harness.IngestArgs{
		URL: b.bot.BaseURL, Token: b.bot.Config.WebhookToken, PGURL: b.db.URL, Duration: d,
		Senders: cfg.senders, AlertsPerPayload: cfg.perPayload, Groups: cfg.groups,
	})
	if err != nil {
		b.fail("storm: %v", err)
		return
	}
	if harness.Sleep(ctx, stormLead) != nil {
		ing.Process.Kill()
		return
	}
	b.parts(ctx, cmd, "storm", counts)
	from, to := -1.0, 0.0 // when the storm's commands were sent, seconds into the generator's run
	for _, p := range b.res.Parts {
		if p.Phase == "storm" && !p.started.IsZero() {
			if from < 0 {
				from = p.started.Sub(ing.Started).Seconds()
			}
			to = p.started.Sub(ing.Started).Seconds() + p.SendS
		}
	}
	rep, err := ing.Wait(ctx, time.Until(ing.Started.Add(d+ingestSlack)))
	if err != nil {
		b.fail("storm: %v", err)
		return
	}
	res := ingestResult(rep, ing.Process.ExitCode())
	res.CommandsFromS, res.CommandsToS = round2(from), round2(to)
	b.res.Ingest = res
	if res.Non2xx+res.Errors > 0 {
		b.fail("storm: the ingest generator had %d non-2xx answers and %d transport errors: %s", res.Non2xx, res.Errors, strings.Join(res.Problems, "; "))
	}
	switch {
	case res.Lost == nil:
		b.fail("storm: the ingest generator could not check the database: %s", strings.Join(res.Problems, "; "))
	case *res.Lost != 0:
		b.fail("storm: %d acknowledged alerts are not in the database", *res.Lost)
	}
	if to > res.ElapsedS {
		b.note("the storm's last command was sent %.1f s after the ingest generator's last request", to-res.ElapsedS)
	}
}

func (b *bench) phaseErrors(p *PhaseResult) {
	for _, k := range p.Kinds {
		if k.Sent == 0 {
			continue
		}
		if n := k.errors(); n > 0 {
			var what []string
			for _, x := range []struct {
				n    int
				what string
			}{{k.Non200, "non-200"}, {k.TransportErrors, "without a proper acknowledgement"}, {k.Missing, "without an answer"}, {k.Wrong, "answered with an error"}} {
				if x.n > 0 {
					what = append(what, fmt.Sprintf("%d %s", x.n, x.what))
				}
			}
			msg := fmt.Sprintf("%s: `%s`: %d of %d commands failed: %s", p.name(), k.Command, n, k.Sent, strings.Join(what, ", "))
			if k.WrongMS.N > 0 {
				msg += fmt.Sprintf(" (the error answers came %.1f s after the command at the median, %.1f s at most)", k.WrongMS.P50/1000, k.WrongMS.Max/1000)
			}
			b.fail("%s; e.g. %s", msg, strings.Join(k.Samples, " | "))
		}
		if k.ExtraPosts > 0 {
			b.note("%s: `%s`: %d extra posts to response_urls (more than one answer to a command)", p.name(), k.Command, k.ExtraPosts)
		}
		if k.NoFile > 0 {
			b.note("%s: `%s`: %d of %d answers came without the log file", p.name(), k.Command, k.NoFile, k.Right)
		}
	}
}

// teardown stops the bot (SIGTERM, expecting exit 0), then what setup
// started: the stand-in, the database and the control plane. It may be
// called more than once.
func (b *bench) teardown() {
	if b.bot != nil {
		b.res.Bot.PeakRSSMiB = round2(b.bot.Process.PeakRSSMiB())
		e := b.bot.Process.Terminate(stopTimeout)
		b.res.Bot.Exit = e.How
		if e.Err != nil {
			b.fail("%v", e.Err)
		}
		b.res.Bot.Log = readBotLog(b.bot.Process.LogPath)
		if l := b.res.Bot.Log; l.Throttled+l.LimiterErrors > 0 {
			b.note("the bot's Kubernetes client queued its API calls behind client-go's client-side rate limiter: %d \"Waited before sending request … client-side throttling\" lines (client-go logs waits over 1 s) and %d log lines of commands that failed with \"client rate limiter Wait returned an error\". integrations/kubernetes.New leaves rest.Config QPS and Burst at 0, so each API group's client gets client-go's defaults: 5 requests/s, bursts of 10 (health makes 2 calls to the core group, 1 to apps and 1 discovery call; logs 1 to apps and 1 + one per pod to core)", l.Throttled, l.LimiterErrors)
		}
		b.bot = nil
	}
	if b.prog != nil {
		b.prog.Close()
	}
}

// part returns the phase's health-alone part (alone) or its mix.
func (b *bench) part(phase string, alone bool) *PhaseResult {
	for _, p := range b.res.Parts {
		if p.Phase == phase && strings.HasPrefix(p.Part, "health alone") == alone {
			return p
		}
	}
	return nil
}

func (b *bench) verdicts() {
	qa, qm, sa, sm := b.part("quiet", true), b.part("quiet", false), b.part("storm", true), b.part("storm", false)
	f := b.res.Workload
	if sm != nil && sm.All.AckMS.N > 0 {
		detail := fmt.Sprintf("p99 %.2f ms (p50 %.2f, max %.2f) over the %d commands of the %g/s mix under the storm", sm.All.AckMS.P99, sm.All.AckMS.P50, sm.All.AckMS.Max, sm.All.AckMS.N, sm.Rate)
		if sa != nil && sa.All.AckMS.N > 0 {
			detail += fmt.Sprintf("; health alone under the storm p99 %.2f ms", sa.All.AckMS.P99)
		}
		if qm != nil && qm.All.AckMS.N > 0 {
			detail += fmt.Sprintf("; quiet mix p99 %.2f ms", qm.All.AckMS.P99)
		}
		b.res.Verdicts = append(b.res.Verdicts, harness.Verdict{
			Target: fmt.Sprintf("command acknowledgement p99 < %d ms while the ingest runs at full speed", targetAckP99.Milliseconds()),
			Met:    sm.All.AckMS.P99 < ms(targetAckP99), Detail: detail})
	}
	var worst float64
	var n, failed int
	for _, p := range b.res.Parts {
		worst = max(worst, p.All.AckMS.Max)
		n += p.All.Sent
		failed += p.All.Non200 + p.All.TransportErrors
	}
	if n > 0 {
		b.res.Verdicts = append(b.res.Verdicts, harness.Verdict{
			Target: fmt.Sprintf("every acknowledgement within Slack's %s", slackAckLimit),
			Met:    failed == 0 && worst < ms(slackAckLimit),
			Detail: fmt.Sprintf("slowest %.2f ms of %d commands, both phases; %d not acknowledged with 200", worst, n, failed)})
	}
	healthVerdict := func(p, other *PhaseResult, where string) {
		if p == nil || p.Kinds[0].Sent == 0 {
			return
		}
		h := p.Kinds[0]
		detail := fmt.Sprintf("%d of %d answers right", h.Right, h.Sent)
		if h.AnswerMS.N > 0 {
			detail += fmt.Sprintf(", p99 %.1f ms (p50 %.1f, max %.1f)", h.AnswerMS.P99, h.AnswerMS.P50, h.AnswerMS.Max)
		}
		if bad := h.errors(); bad > 0 {
			detail += fmt.Sprintf("; %d failed (see Errors)", bad)
		}
		if other != nil && other.Kinds[0].Sent > 0 {
			o := other.Kinds[0]
			detail += fmt.Sprintf("; under the storm: %d of %d right", o.Right, o.Sent)
			if o.AnswerMS.N > 0 {
				detail += fmt.Sprintf(", p99 %.1f ms, max %.1f", o.AnswerMS.P99, o.AnswerMS.Max)
			}
		}
		b.res.Verdicts = append(b.res.Verdicts, harness.Verdict{
			Target: fmt.Sprintf("`health` over %d services / %d pods answered in < %s (p99, quiet, %s)", f.Services, f.Pods, targetHealth, where),
			Met:    h.errors() == 0 && h.AnswerMS.N > 0 && h.AnswerMS.P99 < ms(targetHealth), Detail: detail})
	}
	healthVerdict(qa, sa, "health alone")
	healthVerdict(qm, sm, "within the command mix")
	b.worstVerdicts()
}

// ---------------------------------------------------------------------------
// report

func (b *bench) printReport(w io.Writer) {
	r, c := b.res, b.cfg
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	f := r.Workload
	p("## chatops chat-command benchmark")
	p("")
	p("- date: %s; machine: %s; load average at start: %s", r.Setup.Date, r.Setup.Machine, r.Setup.LoadAvg)
	p("- bot: %s; PostgreSQL: %s; %s", r.Setup.Bot, orQ(r.Setup.PostgreSQL), r.Setup.GoVersion)
	p("- cluster: etcd + kube-apiserver (RBAC) + kube-controller-manager v1.37.2 on 127.0.0.1 (ready in %.1f s), 1 node, namespace %s: %d deployments, %d pods, %d in trouble (%s); the bot reads it as system:serviceaccount:%s:%s, bound by deploy/kubernetes/base/rbac.yaml",
		r.Setup.ClusterS, namespace, f.Services, f.Pods, f.PodsInTrouble, strings.Join(f.Trouble, ", "), namespace, serviceAccount)
	reads := ""
	for i, name := range []string{"events", "hpa", "certs", "gitops"} {
		if n := c.reads[i]; n > 0 {
			reads += fmt.Sprintf(" + %d `%s`", n, name)
		}
	}
	p("- commands: signed (v0) slash commands POSTed to the bot's /slack/commands, open loop, each from a person of its own. Each phase: %d `health` alone at %g/s, then the mix at %g/s: %d `health` + %d `status %s` + %d `logs %s --tail %d`%s, interleaved. %d of each sent first as warm-up, not counted",
		c.alone, c.aloneRate, c.rate, c.health, c.status, logService, c.logs, logService, c.tail, reads, c.warmup)
	if c.alerts > 0 {
		p("- and in the same mix: %d `alerts` (%d alert groups to list), interleaved; %d sent first as warm-up", c.alerts, alertsGroups, c.warmup)
	}
	if c.alerts > 0 {
		p("- answers: posted by the bot to the command's response_url on the Slack stand-in (the host of slack.api_url); alertmanager.url is a real Alertmanager holding %d firing alerts in %d groups, which `alerts` lists and `health` counts", alertsFiring, alertsGroups)
	} else {
		p("- answers: posted by the bot to the command's response_url on the Slack stand-in (the host of slack.api_url); no alertmanager.url, so `health` skips the firing-alerts query")
	}
	p("- storm: `test/bench/ingest`, %d senders × %d alert/payload over %d groups, from %s before the phase's first command to %s after its last; no chat destination, so incidents are stored, not posted",
		c.senders, c.perPayload, c.groups, stormLead, stormTail)
	p("")
	p("ack = request sent → HTTP 200 read; answer = request sent → answer recorded at the response_url, over the right answers only (ms).")
	p("")
	p("| phase | part | command | sent | 200 | right answers | errors | ack p50 | ack p90 | ack p99 | ack max | answer p50 | answer p90 | answer p99 | answer max |")
	p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, ph := range r.Parts {
		rows := []*KindResult{}
		for _, k := range ph.Kinds {
			if k.Sent > 0 {
				rows = append(rows, k)
			}
		}
		if len(rows) > 1 {
			rows = append(rows, ph.All)
		}
		for _, k := range rows {
			name := "`" + k.Command + "`"
			if k == ph.All {
				name = "**all**"
			}
			p("| %s | %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |", ph.Phase, ph.Part, name, k.Sent, k.Acked, k.Right, k.errors(),
				f2(k.AckMS.N, k.AckMS.P50), f2(k.AckMS.N, k.AckMS.P90), f2(k.AckMS.N, k.AckMS.P99), f2(k.AckMS.N, k.AckMS.Max),
				f1(k.AnswerMS.N, k.AnswerMS.P50), f1(k.AnswerMS.N, k.AnswerMS.P90), f1(k.AnswerMS.N, k.AnswerMS.P99), f1(k.AnswerMS.N, k.AnswerMS.Max))
		}
	}
	var guards []string
	for _, ph := range r.Parts {
		if ph.Guard != nil {
			guards = append(guards, fmt.Sprintf("%s %.2f ms (%d calls)", ph.name(), ph.Guard.MeanMS, ph.Guard.Calls))
		}
	}
	if len(guards) > 0 {
		p("")
		p("Inside the acknowledgement: the bot's replay guard writes each signed request's key to PostgreSQL before answering 200; its mean time per part (the bot's `chatops_store_duration_seconds{op=\"first_seen\"}`): %s.", strings.Join(guards, "; "))
	}
	if in := r.Ingest; in != nil {
		lost := "?"
		if in.Lost != nil {
			lost = fmt.Sprint(*in.Lost)
		}
		p("")
		p("Ingest during the storm phase (the generator's own figures over its whole run):")
		p("")
		p("| senders | alerts/payload | run s | commands sent at s | alerts/s | payloads/s | webhook ack p50 ms | p99 ms | max ms | failed | lost |")
		p("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
		p("| %d | %d | %.1f | %.1f–%.1f | %.1f | %.1f | %.2f | %.2f | %.2f | %d | %s |", in.Senders, in.AlertsPerPayload, in.ElapsedS,
			in.CommandsFromS, in.CommandsToS, in.AlertsPerS, in.PayloadsPerS, in.AckMS.P50, in.AckMS.P99, in.AckMS.Max, in.Non2xx+in.Errors, lost)
	}
	b.printWorst(w)
	for _, ph := range r.Parts {
		if ph.MaxLate > 50 {
			p("")
			p("Note: in the %s part the sender fell up to %.0f ms behind its schedule (a busy machine).", ph.name(), ph.MaxLate)
		}
	}
	p("")
	p("Targets:")
	p("")
	for _, v := range r.Verdicts {
		p("- %s", v)
	}
	if len(r.Verdicts) == 0 {
		p("- (no verdict: the phases did not run)")
	}
	p("")
	p("Bot: %s; peak RSS %.1f MiB; log lines by level: %s.", orQ(r.Bot.Exit), r.Bot.PeakRSSMiB, levels(r.Bot.Log.Levels))
	for _, s := range r.Bot.Log.Samples {
		p("- bot log: %s", s)
	}
	if len(r.Notes) > 0 {
		p("")
		p("Notes:")
		for _, n := range r.Notes {
			p("- %s", n)
		}
	}
	p("")
	if len(r.Errors) == 0 {
		p("Errors: none.")
	} else {
		p("Errors:")
		for _, e := range r.Errors {
			p("- %s", e)
		}
	}
	p("")
	p("Work directory: %s", r.WorkDir)
}

func f2(n int, v float64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func f1(n int, v float64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", v)
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func levels(m map[string]int) string {
	var parts []string
	for _, l := range []string{"debug", "info", "warn", "error", "unparsed"} {
		if m[l] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", l, m[l]))
		}
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	fs := strings.Fields(string(data))
	if len(fs) < 3 {
		return "?"
	}
	return strings.Join(fs[:3], " ")
}

func gitDescribe(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "built from the working tree (no git)"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += " + uncommitted changes"
	}
	return "built from " + rev
}
