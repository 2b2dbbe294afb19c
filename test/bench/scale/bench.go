package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// bench is one run: the binaries, the work directory, and the two stores'
// results.
type bench struct {
	cfg       config
	res       Result
	prog      *harness.Program
	work      string
	bin       string
	ingestBin string
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("FAILURE: %s", msg)
	b.res.Failures = append(b.res.Failures, msg)
}

// run builds the binaries, runs the bot on the empty store and then on
// the filled one, and returns the exit status.
func (b *bench) run(ctx context.Context) int {
	cfg := b.cfg
	b.res = Result{Failures: []string{}, Machine: harness.Machine() + "; the bot, PostgreSQL, the ingest generator and this tool on the same machine, all traffic on 127.0.0.1", Params: Params{
		Open: cfg.open, Resolved: cfg.resolved, Due: cfg.due, IdleS: cfg.idle.Seconds(), SettleS: cfg.settle.Seconds(),
		IngestS: cfg.ingest.Seconds(), Senders: cfg.senders, Rounds: cfg.rounds, Passes: cfg.passes,
	}}
	b.prog = harness.NewProgram("scale", logf)
	defer b.prog.Close() // drops the databases, also when a panic unwinds
	work, err := b.prog.WorkDir()
	if err != nil {
		logf("temp dir: %v", err)
		return 2
	}
	b.work, b.res.WorkDir = work, work
	defer func() { b.res.WorkDir = b.prog.KeepOrRemove(work, len(b.res.Failures) == 0, cfg.keep) }()
	if err := b.build(ctx); err != nil {
		b.fail("setup: %v", err)
		return 2
	}
	stores := []*store{{res: &StoreResult{Store: "empty"}}, {res: &StoreResult{Store: "filled"}, filled: true}}
	for _, st := range stores {
		b.res.Stores = append(b.res.Stores, st.res)
	}
	// Each stage for both stores before the next: the fill (heavy) comes
	// before any measurement, and the ingest cases alternate between the
	// stores, so that the machine's other work weighs on both alike.
	stage := func(what string, st *store, fn func() error) {
		if st.failed || ctx.Err() != nil {
			return
		}
		if err := b.prog.Run(fn); err != nil {
			st.failed = true
			b.fail("%s store: %s: %v", st.res.Store, what, err)
		}
	}
	for _, st := range stores {
		stage("prepare", st, func() error { return b.prepare(ctx, st) })
	}
	for _, st := range stores {
		stage("start and idle", st, func() error { return b.startAndIdle(ctx, st) })
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, n := range cfg.senders {
			for _, st := range stores {
				stage("ingest", st, func() error {
					c := b.ingestCase(ctx, st.bot, st.db.URL, filepath.Join(st.dir, fmt.Sprintf("ingest-r%d-s%d.log", round, n)), n)
					c.Store, c.Round = st.res.Store, round
					st.res.Ingest = append(st.res.Ingest, c)
					return nil
				})
			}
		}
	}
	// Again after the ingest: the store now also holds the run's own
	// incidents, and the complete outage they opened with its links.
	for _, st := range stores {
		stage("passes after the ingest", st, func() error {
			var err error
			if st.res.AfterIngest, err = storeCounts(ctx, st.db.URL); err != nil {
				return err
			}
			st.res.PassesAfterIngest, err = timePasses(ctx, st.db.URL, cfg.passes)
			return err
		})
	}
	for _, st := range stores {
		b.stop(st)
	}
	if ctx.Err() != nil {
		b.fail("stopped: %v", ctx.Err())
	}
	b.prog.Close()
	b.verdicts()
	if len(b.res.Failures) > 0 {
		return 1
	}
	return 0
}

// build builds the bot (unless -bin) and the ingest generator.
func (b *bench) build(ctx context.Context) error {
	if b.cfg.bin == "" {
		logf("building the bot: go build ./cmd/chatops")
	}
	bin, err := harness.Chatops(ctx, b.cfg.bin, b.work)
	if err != nil {
		return err
	}
	repo, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	logf("building the ingest generator: go build ./test/bench/ingest")
	b.bin, b.ingestBin = bin, filepath.Join(b.work, "ingest")
	return harness.GoBuild(ctx, repo, b.ingestBin, "./test/bench/ingest")
}

// botYAML: no destination, so incidents are stored and not posted, and
// every lifecycle setting at its default (correlation on, reminders).
const botYAML = `# written by test/bench/scale
log:
  format: json
  level: info
`

// store is one store's part of the run.
type store struct {
	res    *StoreResult
	filled bool
	failed bool
	dir    string
	db     *harness.Database
	cfg    *harness.BotConfig
	bot    *harness.Bot
}

// prepare makes the store's database with the bot's migrations, and
// fills it if it is the filled one.
func (b *bench) prepare(ctx context.Context, st *store) error {
	cfg := b.cfg
	st.dir = filepath.Join(b.work, st.res.Store)
	if err := os.Mkdir(st.dir, 0o700); err != nil {
		return err
	}
	st.db = harness.NewDatabase(b.prog, cfg.pgURL, "chatops_scale_")
	if err := migrate(ctx, b.bin, st.db.URL); err != nil {
		return err
	}
	if !st.filled {
		return nil
	}
	logf("filling %s: %d open and %d resolved incidents", st.db.Name, cfg.open, cfg.resolved)
	// Pending reminders fall due after everything the run will do, so
	// the idle window sees only what -due put before it.
	after := 2*(cfg.settle+cfg.idle) + 2*time.Duration(cfg.rounds*len(cfg.senders))*(cfg.ingest+ingestSlack) + 10*time.Minute
	f, err := fill(ctx, st.db.URL, cfg.open, cfg.resolved, cfg.due, after)
	if err != nil {
		return err
	}
	st.res.Fill = f
	logf("filled in %.1f s, vacuumed in %.1f s: %.0f MiB", f.TotalS, f.VacuumS, f.SizeMiB)
	return nil
}

// startAndIdle starts the bot on the store, lets it settle, watches it
// idle and times the background passes.
func (b *bench) startAndIdle(ctx context.Context, st *store) error {
	t, cfg, sr := b.prog, b.cfg, st.res
	st.cfg = &harness.BotConfig{
		Binary: b.bin, Store: harness.PostgresStore(st.db), Addr: harness.FreeAddr(t),
		WebhookToken: "scale-wh-" + harness.RandHex(12), APIToken: "scale-api-" + harness.RandHex(12),
		LogPath: filepath.Join(st.dir, "bot.log"),
	}
	st.cfg.WriteConfig(t, st.dir, botYAML)
	t0 := time.Now()
	st.bot = harness.StartBot(t, st.cfg)
	sr.ReadyS = time.Since(t0).Seconds()
	sr.StartRSSMiB = st.bot.Process.RSSMiB()
	logf("%s store: bot pid %d ready in %.1f s; settling %s", sr.Store, st.bot.Process.Pid(), sr.ReadyS, cfg.settle)
	if err := harness.Sleep(ctx, cfg.settle); err != nil {
		return err
	}
	sr.Idle = b.idle(ctx, st.bot, st.db.Name)
	logf("%s store: idle %.2f %% of a core (PostgreSQL backends %.2f %%), RSS %.1f MiB", sr.Store, sr.Idle.BotCPUPct, sr.Idle.PGCPUPct, sr.Idle.RSSMiB)
	passes, err := timePasses(ctx, st.db.URL, cfg.passes)
	sr.Passes = passes
	if err != nil {
		b.fail("%s store: timing the passes: %v", sr.Store, err)
	}
	return nil
}

// stop stops the store's bot (SIGTERM, expecting exit 0) and reads its
// log.
func (b *bench) stop(st *store) {
	if st.bot == nil {
		return
	}
	sr := st.res
	// VmHWM is updated lazily by the kernel and can miss a peak the
	// samples saw: the peak is the larger.
	sr.PeakRSSMiB = max(st.bot.Process.PeakRSSMiB(), maxIngestRSS(sr))
	e := st.bot.Process.Terminate(stopTimeout)
	sr.Exit = e.How
	if e.Err != nil {
		b.fail("%s store: %v", sr.Store, e.Err)
	}
	sr.LogLevels, sr.LogSamples = readLog(st.cfg.LogPath)
	if n := sr.LogLevels["error"] + sr.LogLevels["fatal"] + sr.LogLevels["panic"]; n > 0 {
		b.fail("%s store: the bot logged %d error line(s): %s", sr.Store, n, strings.Join(sr.LogSamples, "; "))
	}
}

// migrate runs `chatops migrate` on the database: the bot's own
// migrations make the tables the fill writes into.
func migrate(ctx context.Context, bin, dbURL string) error {
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Env = append(harness.CleanEnviron(), "CHATOPS_DATABASE_URL="+dbURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chatops migrate: %v\n%s", err, out)
	}
	return nil
}

// idle watches the bot doing nothing for -idle: its CPU and its backends',
// its memory, and the store operations its background loops ran.
func (b *bench) idle(ctx context.Context, bot *harness.Bot, dbName string) *IdleResult {
	r := &IdleResult{Seconds: b.cfg.idle.Seconds()}
	// Scrapes first, outside the window: each one counts the open
	// incidents, which is not idling.
	var scrapes []time.Duration
	var m0 harness.Metrics
	for range 3 {
		t0 := time.Now()
		m, err := bot.Metrics(ctx)
		scrapes = append(scrapes, time.Since(t0))
		if err != nil {
			b.fail("scrape /metrics: %v", err)
			return r
		}
		m0 = m
	}
	slices.Sort(scrapes)
	r.ScrapeMS = msOf(scrapes[1])

	pg0, err := backends(ctx, b.cfg.pgURL, dbName)
	if err != nil {
		b.fail("read the PostgreSQL backends: %v", err)
	}
	c0, err := cpuSeconds(bot.Process.Pid())
	if err != nil {
		b.fail("read the bot's CPU time: %v", err)
		return r
	}
	start := time.Now()
	if harness.Sleep(ctx, b.cfg.idle) != nil {
		return r
	}
	c1, _ := cpuSeconds(bot.Process.Pid())
	elapsed := time.Since(start).Seconds()
	pg1, _ := backends(ctx, b.cfg.pgURL, dbName)
	r.RSSMiB, r.HWMMiB = bot.Process.RSSMiB(), bot.Process.PeakRSSMiB()
	r.BotCPUPct = 100 * (c1 - c0) / elapsed
	pgSeconds, gone := backendCPU(pg0, pg1)
	r.PGCPUPct, r.PGBackends, r.PGBackendsGone = 100*pgSeconds/elapsed, len(pg1), gone

	m1, err := bot.Metrics(ctx)
	if err == nil {
		r.Ops = storeOps(m0, m1)
	}
	return r
}

// storeOps is what the bot's store did between two scrapes, by operation:
// how many and their mean time.
func storeOps(a, z harness.Metrics) []OpStat {
	count := func(m harness.Metrics, suffix string) map[string]float64 {
		out := map[string]float64{}
		for _, s := range m {
			if s.Name == "chatops_store_duration_seconds"+suffix {
				out[labelValue(s.Labels, "op")] += s.Value
			}
		}
		return out
	}
	n0, n1 := count(a, "_count"), count(z, "_count")
	s0, s1 := count(a, "_sum"), count(z, "_sum")
	var ops []OpStat
	for op, n := range n1 {
		d := n - n0[op]
		if d <= 0 {
			continue
		}
		ops = append(ops, OpStat{Op: op, Count: d, MeanMS: 1000 * (s1[op] - s0[op]) / d})
	}
	slices.SortFunc(ops, func(x, y OpStat) int { return int(y.Count - x.Count) })
	return ops
}

// labelValue is key's value in a sample's labels (`op="tx",outcome="ok"`).
func labelValue(labels, key string) string {
	for _, kv := range strings.Split(labels, ",") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// ingestCase runs the generator with senders senders against the bot,
// sampling the bot's resident memory as it goes.
func (b *bench) ingestCase(ctx context.Context, bot *harness.Bot, dbURL, logPath string, senders int) *IngestCase {
	c := &IngestCase{Senders: senders}
	logf("ingest: %d senders for %s, every webhook a new group", senders, b.cfg.ingest)
	run, err := harness.StartIngest(b.ingestBin, logPath, harness.IngestArgs{
		URL: bot.BaseURL, Token: bot.Config.WebhookToken, PGURL: dbURL, Duration: b.cfg.ingest,
		Senders: senders, AlertsPerPayload: 1, NewGroups: true,
	})
	if err != nil {
		b.fail("ingest with %d senders: %v", senders, err)
		return c
	}
	tick := time.NewTicker(rssEvery)
	defer tick.Stop()
	loadEnds := run.Started.Add(b.cfg.ingest)
sample:
	for {
		select {
		case <-run.Process.Done():
			break sample
		case <-ctx.Done():
			break sample
		case now := <-tick.C:
			if now.Before(loadEnds) {
				c.PeakRSSMiB = max(c.PeakRSSMiB, bot.Process.RSSMiB())
			}
		}
	}
	rep, err := run.Wait(ctx, time.Until(loadEnds.Add(ingestSlack)))
	if err != nil {
		b.fail("ingest with %d senders: %v", senders, err)
		return c
	}
	c.ExitCode = run.Process.ExitCode()
	c.PayloadsPerS, c.Acked = rep.PayloadsPerS, rep.Payloads2xx
	c.P50, c.P99, c.Max = rep.Latency.P50, rep.Latency.P99, rep.Latency.Max
	c.Failed = rep.Non2xx + rep.Errors
	c.Problems = rep.Problems
	if rep.DB != nil && rep.DB.Checked {
		c.Lost = &rep.DB.Lost
	}
	switch {
	case c.Lost == nil:
		b.fail("ingest with %d senders: the database check did not run: %s", senders, strings.Join(rep.Problems, "; "))
	case *c.Lost != 0 || c.Failed != 0:
		b.fail("ingest with %d senders: %d acknowledged alerts lost, %d webhooks failed: %s", senders, *c.Lost, c.Failed, strings.Join(rep.Problems, "; "))
	}
	logf("ingest: %d senders: %.0f webhooks/s, p50 %.1f ms, p99 %.1f ms, peak RSS %.1f MiB", senders, c.PayloadsPerS, c.P50, c.P99, c.PeakRSSMiB)
	return c
}

var digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// readLog counts the bot's log lines by level and keeps its distinct
// warnings and errors.
func readLog(path string) (map[string]int, []string) {
	levels := map[string]int{}
	seen := map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return levels, []string{err.Error()}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), 4<<20)
	var order []string
	for sc.Scan() {
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Level == "" {
			levels["unparsed"]++
			continue
		}
		level := l.Level
		levels[level]++
		if level != "info" && level != "debug" {
			k := level + ": " + l.Msg
			if l.Error != "" {
				k += ": " + digits.ReplaceAllString(l.Error, "N") // ids and durations vary, the kind of error does not
			}
			if seen[k] == 0 {
				order = append(order, k)
			}
			seen[k]++
		}
	}
	var samples []string
	for _, k := range order[:min(len(order), 10)] {
		samples = append(samples, fmt.Sprintf("%d× %s", seen[k], k))
	}
	return levels, samples
}
