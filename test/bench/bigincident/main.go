// Command bigincident benchmarks one very large incident (issue 11: "big
// incidents load everything"): what the bot holds in memory and how fast
// it answers GET /v1/incidents/{id} once a storm has put 60,000 alerts
// into one alert group.
//
// It runs `chatops serve` on a fresh PostgreSQL database with one Slack
// destination (the Slack stand-in), so every notification is also synced
// to a thread, then:
//
//  1. posts -alerts alerts of one group as webhooks of -batch new alerts
//     each (each must be acknowledged with 200);
//  2. waits until the thread shows them all: the root edited to "…and
//     N more alerts" and the outbox empty;
//  3. times -calls calls of GET /v1/incidents/{id} (p50, p99, max) and
//     checks each answer (the totals, a bounded first page);
//  4. walks GET /v1/incidents/{id}/alerts and /timeline with their
//     cursors and checks that every alert comes exactly once;
//  5. reads the bot's peak resident memory (VmHWM) and stops it (SIGTERM,
//     exit 0 expected).
//
// Targets: peak RSS under 100 MiB, the detail call's p99 under 200 ms. A
// missed target is reported, not an error. Exit status: 0 when the run was
// clean; 1 when a webhook or a call failed, an answer was wrong, the thread
// never caught up or the bot did not exit 0; 2 on a usage or setup error.
//
//	go run ./test/bench/bigincident
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// Caps: the tool never sends more, nor runs longer, than these allow.
const (
	maxAlerts = 200_000
	// maxBatch is the webhook's own limit of alerts a notification.
	maxBatch = 10_000
	maxCalls = 1000
	// runBudget bounds the whole run on two busy cores.
	runBudget = 30 * time.Minute
	// syncTimeout bounds the wait for the thread to show the storm.
	syncTimeout = 5 * time.Minute
	// requestTimeout bounds one webhook (10,000 alerts, one commit) or
	// one API call.
	requestTimeout = 2 * time.Minute
	stopTimeout    = 30 * time.Second
	pollEvery      = 250 * time.Millisecond
	// bodyLimit is the bot's webhook.max_body_bytes for the run: a batch
	// of 10,000 alerts is about 4 MiB of JSON.
	bodyLimit = 32 << 20
	slackChan = "C0BIGINCIDENT"
)

// The targets.
const (
	targetRSSMiB   = 100.0
	targetDetailMs = 200.0
)

type config struct {
	bin     string
	pgURL   string
	alerts  int
	batch   int
	calls   int
	jsonOut bool
	keep    bool
}

func main() { os.Exit(run()) }

func run() int {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bigincident:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runBudget)
	defer cancel()

	b := &bench{cfg: cfg}
	code := b.run(ctx)
	b.res.print(os.Stdout)
	if cfg.jsonOut {
		out, _ := json.Marshal(b.res)
		fmt.Println(string(out))
	}
	return code
}

func parseFlags() (config, error) {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "built chatops binary (default: go build ./cmd/chatops into a temp dir)")
	flag.StringVar(&cfg.pgURL, "pg-url", harness.DefaultPGAdminURL, "admin URL of the local PostgreSQL; one database is created and dropped")
	flag.IntVar(&cfg.alerts, "alerts", 60_000, "alerts put into the one incident (cap 200,000)")
	flag.IntVar(&cfg.batch, "batch", maxBatch, "new alerts a webhook carries (1..10,000, the webhook's limit)")
	flag.IntVar(&cfg.calls, "calls", 50, "GET /v1/incidents/{id} calls timed (cap 1000)")
	flag.BoolVar(&cfg.jsonOut, "json", false, "also print the result as one JSON line (last line of stdout)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (configuration, bot log) even when all went well")
	flag.Parse()
	switch {
	case flag.NArg() > 0:
		return cfg, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	case cfg.alerts < 1 || cfg.alerts > maxAlerts:
		return cfg, fmt.Errorf("-alerts must be in 1..%d", maxAlerts)
	case cfg.batch < 1 || cfg.batch > maxBatch:
		return cfg, fmt.Errorf("-batch must be in 1..%d", maxBatch)
	case cfg.calls < 1 || cfg.calls > maxCalls:
		return cfg, fmt.Errorf("-calls must be in 1..%d", maxCalls)
	}
	if err := harness.CheckPGURL(cfg.pgURL); err != nil {
		return cfg, fmt.Errorf("-pg-url: %w", err)
	}
	return cfg, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bigincident %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// bench is one run.
type bench struct {
	cfg   config
	res   Result
	prog  *harness.Program
	work  string
	slack *slackstandin.Server
	bot   *harness.Bot
	// incident is the storm's incident.
	incident int64
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("FAILURE: %s", msg)
	b.res.Failures = append(b.res.Failures, msg)
}

// run does the stages in order and returns the exit status.
func (b *bench) run(ctx context.Context) int {
	cfg := b.cfg
	b.res = Result{Failures: []string{}, Machine: harness.Machine() + "; the bot, PostgreSQL and this tool on the same machine, all traffic on 127.0.0.1",
		Alerts: cfg.alerts, Batch: cfg.batch, Calls: cfg.calls}
	b.prog = harness.NewProgram("bigincident", logf)
	defer b.prog.Close() // drops the database, also when a panic unwinds
	work, err := b.prog.WorkDir()
	if err != nil {
		logf("temp dir: %v", err)
		return 2
	}
	b.work, b.res.WorkDir = work, work
	defer func() { b.res.WorkDir = b.prog.KeepOrRemove(work, len(b.res.Failures) == 0, cfg.keep) }()
	if err := b.prog.Run(func() error { return b.start(ctx) }); err != nil {
		b.fail("setup: %v", err)
		return 2
	}
	for _, stage := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"storm", b.storm},
		{"thread", b.waitThread},
		{"detail calls", b.detailCalls},
		{"walk the pages", b.walk},
	} {
		if ctx.Err() != nil {
			b.fail("stopped before %s: %v", stage.name, ctx.Err())
			break
		}
		if err := b.prog.Run(func() error { return stage.fn(ctx) }); err != nil {
			b.fail("%s: %v", stage.name, err)
			if stage.name == "storm" {
				break
			}
		}
	}
	b.stop()
	b.prog.Close()
	b.res.verdicts()
	if len(b.res.Failures) > 0 {
		return 1
	}
	return 0
}

// botYAML: one Slack destination that every incident goes to, so each
// notification is synced to a thread, and a body limit that takes a
// batch of 10,000 alerts. Correlation is off: the storm is one group, and
// its alerts are warnings (P2) in any case.
var botYAML = fmt.Sprintf(`# written by test/bench/bigincident
log:
  format: json
  level: info
webhook:
  max_body_bytes: %d
incidents:
  correlation:
    enabled: false
destinations:
  - name: storm
    platform: slack
    channel: %s
routes:
  - destinations: [storm]
`, bodyLimit, slackChan)

// start builds the bot (unless -bin), makes its database and the Slack
// stand-in, and starts it.
func (b *bench) start(ctx context.Context) error {
	t := b.prog
	if b.cfg.bin == "" {
		logf("building the bot: go build ./cmd/chatops")
	}
	bin, err := harness.Chatops(ctx, b.cfg.bin, b.work)
	if err != nil {
		return err
	}
	b.slack = slackstandin.New()
	t.Cleanup(b.slack.Close)
	db := harness.NewDatabase(t, b.cfg.pgURL, "chatops_bigincident_")
	cfg := &harness.BotConfig{
		Binary: bin, Store: harness.PostgresStore(db), Addr: harness.FreeAddr(t),
		WebhookToken: "big-wh-" + harness.RandHex(12), APIToken: "big-api-" + harness.RandHex(12),
		Slack: b.slack, LogPath: filepath.Join(b.work, "bot.log"),
	}
	cfg.WriteConfig(t, b.work, botYAML)
	b.res.BotLog = cfg.LogPath
	b.bot = harness.StartBot(t, cfg)
	b.bot.Client = &http.Client{Timeout: requestTimeout}
	b.res.ReadyRSSMiB = b.bot.Process.RSSMiB()
	logf("bot pid %d on %s, database %s; RSS at ready %.1f MiB", b.bot.Process.Pid(), cfg.Addr, db.Name, b.res.ReadyRSSMiB)
	return nil
}

// stop sends SIGTERM, reading the peak RSS just before.
func (b *bench) stop() {
	if b.bot == nil {
		return
	}
	b.res.PeakRSSMiB = b.bot.Process.PeakRSSMiB()
	b.res.EndRSSMiB = b.bot.Process.RSSMiB()
	e := b.bot.Process.Terminate(stopTimeout)
	b.res.BotExit = e.Code
	if e.Err != nil {
		b.fail("bot stop: %v", e.Err)
	}
}

// group is the storm's alert group: one alertname on one service.
var group = map[string]string{"alertname": "PodNotReady", "service": "orders-service"}

// stormAlert is the i-th alert of the storm: a pod of its own, firing.
func stormAlert(runID string, i int, at time.Time) harness.WebhookAlert {
	pod := fmt.Sprintf("orders-service-%s-%06d", runID, i)
	return harness.FiringAlert(
		map[string]string{"alertname": "PodNotReady", "service": "orders-service", "namespace": "bakery-ia", "pod": pod, "severity": "warning"},
		map[string]string{"summary": "pod " + pod + " is not ready", "description": "Readiness probe failed for 5 minutes."},
		at, runID+fmt.Sprintf("%08x", i))
}

// storm posts the alerts, batch by batch, each batch new alerts of the
// one group, and times each acknowledgement.
func (b *bench) storm(ctx context.Context) error {
	runID := harness.RandHex(4)
	t0 := time.Now().Add(-time.Minute).UTC()
	for start := 0; start < b.cfg.alerts; start += b.cfg.batch {
		end := min(start+b.cfg.batch, b.cfg.alerts)
		enc := make([][]byte, 0, end-start)
		for i := start; i < end; i++ {
			a, err := json.Marshal(stormAlert(runID, i, t0.Add(time.Duration(i)*time.Millisecond)))
			if err != nil {
				return err
			}
			enc = append(enc, a)
		}
		w := harness.NewWebhook("chatops", group)
		w.Status, w.CommonAnnotations = "firing", map[string]string{"description": "Readiness probe failed for 5 minutes."}
		w.CommonLabels = map[string]string{"alertname": "PodNotReady", "service": "orders-service", "namespace": "bakery-ia", "severity": "warning"}
		body := w.JSONWith(enc)
		began := time.Now()
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		code, resp, err := b.bot.Request(rctx, "POST", "/v1/alertmanager", b.bot.Config.WebhookToken, body)
		cancel()
		took := time.Since(began)
		if err != nil {
			return fmt.Errorf("webhook of alerts %d..%d: %w", start, end-1, err)
		}
		id, err := harness.WebhookAck(code, resp)
		if err != nil {
			return fmt.Errorf("webhook of alerts %d..%d: %w", start, end-1, err)
		}
		if b.incident != 0 && id != b.incident {
			return fmt.Errorf("webhook of alerts %d..%d landed in incident #%d, not #%d", start, end-1, id, b.incident)
		}
		b.incident = id
		b.res.Webhooks = append(b.res.Webhooks, Webhook{Alerts: end - start, BodyMiB: float64(len(body)) / (1 << 20), AckMs: ms(took)})
		logf("webhook %d: %d alerts (%.1f MiB) acknowledged in %.0f ms; RSS %.1f MiB", len(b.res.Webhooks), end-start,
			float64(len(body))/(1<<20), ms(took), b.bot.Process.RSSMiB())
	}
	b.res.Incident = b.incident
	return nil
}

// waitThread waits until the Slack thread shows every alert (its root
// says "…and N more alerts" for the ten it lists) and the outbox is empty.
func (b *bench) waitThread(ctx context.Context) error {
	began := time.Now()
	want := fmt.Sprintf("%d more alerts", b.cfg.alerts-min(b.cfg.alerts, 10))
	wctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	state := ""
	for wctx.Err() == nil {
		roots := b.slack.Roots(slackChan)
		depth := -1.0
		if m, err := b.bot.Metrics(wctx); err == nil {
			depth, _ = m.Sum("chatops_outbox_depth")
		}
		// The alerts are in the root's attachment (its colour bar).
		shown := len(roots) == 1 && (b.cfg.alerts <= 10 || strings.Contains(string(roots[0].Blocks)+string(roots[0].Attachments), want))
		if shown && depth == 0 {
			b.res.ThreadS = time.Since(began).Seconds()
			b.res.ThreadReplies = len(b.slack.Replies(slackChan, roots[0].TS))
			logf("thread caught up in %.1f s after the last webhook: 1 root, %d replies", b.res.ThreadS, b.res.ThreadReplies)
			return nil
		}
		state = fmt.Sprintf("%d roots, root shows %q: %v, outbox depth %.0f", len(roots), want, shown, depth)
		if err := harness.Sleep(wctx, pollEvery); err != nil {
			break
		}
	}
	return fmt.Errorf("the thread did not catch up within %s: %s", syncTimeout, state)
}

// detail is what the tool checks of GET /v1/incidents/{id}.
type detail struct {
	ID          int64             `json:"id"`
	Firing      int               `json:"firing"`
	Alerts      []json.RawMessage `json:"alerts"`
	AlertsTotal int               `json:"alerts_total"`
	Timeline    []json.RawMessage `json:"timeline"`
	EventsTotal int               `json:"events_total"`
}

// detailCalls times GET /v1/incidents/{id}, one call after the other, and
// checks every answer.
func (b *bench) detailCalls(ctx context.Context) error {
	path := fmt.Sprintf("/v1/incidents/%d", b.incident)
	var lat []time.Duration
	for i := range b.cfg.calls {
		began := time.Now()
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		code, body, err := b.bot.Request(rctx, "GET", path, b.bot.Config.APIToken, nil)
		cancel()
		took := time.Since(began)
		if err != nil || code != 200 {
			return fmt.Errorf("call %d: GET %s: %d %v", i+1, path, code, err)
		}
		var d detail
		if err := json.Unmarshal(body, &d); err != nil {
			return fmt.Errorf("call %d: decode: %w", i+1, err)
		}
		if d.ID != b.incident || d.AlertsTotal != b.cfg.alerts || d.Firing != b.cfg.alerts || len(d.Alerts) == 0 ||
			len(d.Alerts) > 100 || len(d.Timeline) == 0 || len(d.Timeline) > 100 || d.EventsTotal < b.cfg.alerts {
			return fmt.Errorf("call %d: #%d with %d of %d alerts (%d firing) and %d of %d events; want #%d, %d alerts firing, a bounded page of each",
				i+1, d.ID, len(d.Alerts), d.AlertsTotal, d.Firing, len(d.Timeline), d.EventsTotal, b.incident, b.cfg.alerts)
		}
		b.res.DetailBytes = len(body)
		b.res.DetailAlerts, b.res.DetailEvents, b.res.EventsTotal = len(d.Alerts), len(d.Timeline), d.EventsTotal
		lat = append(lat, took)
	}
	b.res.Detail = summarize(lat)
	logf("GET %s ×%d: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d bytes", path, b.cfg.calls, b.res.Detail.P50Ms, b.res.Detail.P99Ms, b.res.Detail.MaxMs, b.res.DetailBytes)
	return nil
}

// walk follows the cursors of /alerts and /timeline to the end: every
// alert once, every event once.
func (b *bench) walk(ctx context.Context) error {
	began := time.Now()
	fps := map[string]bool{}
	pages, err := b.pages(ctx, "alerts", func(item json.RawMessage) error {
		var a struct {
			Fingerprint string `json:"fingerprint"`
		}
		if err := json.Unmarshal(item, &a); err != nil {
			return err
		}
		if fps[a.Fingerprint] {
			return fmt.Errorf("alert %s came twice", a.Fingerprint)
		}
		fps[a.Fingerprint] = true
		return nil
	})
	if err != nil {
		return err
	}
	if len(fps) != b.cfg.alerts {
		return fmt.Errorf("the alerts' pages held %d alerts, want %d", len(fps), b.cfg.alerts)
	}
	b.res.AlertPages, b.res.AlertWalkS = pages, time.Since(began).Seconds()
	began = time.Now()
	var last int64
	events := 0
	b.res.EventPages, err = b.pages(ctx, "timeline", func(item json.RawMessage) error {
		var e struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(item, &e); err != nil {
			return err
		}
		if e.ID <= last {
			return fmt.Errorf("event #%d after #%d", e.ID, last)
		}
		last, events = e.ID, events+1
		return nil
	})
	if err != nil {
		return err
	}
	if events != b.res.EventsTotal {
		return fmt.Errorf("the timeline's pages held %d events, the detail says %d", events, b.res.EventsTotal)
	}
	b.res.EventWalkS = time.Since(began).Seconds()
	logf("walked %d alerts in %d pages (%.1f s) and %d events in %d pages (%.1f s)", len(fps), b.res.AlertPages, b.res.AlertWalkS,
		events, b.res.EventPages, b.res.EventWalkS)
	return nil
}

// pages walks GET /v1/incidents/{id}/<list> with pages of 1,000 and calls
// each for every item; it returns how many pages there were.
func (b *bench) pages(ctx context.Context, list string, each func(json.RawMessage) error) (int, error) {
	cursor := ""
	for pages := 1; pages <= maxAlerts; pages++ {
		path := fmt.Sprintf("/v1/incidents/%d/%s?limit=1000", b.incident, list)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		code, body, err := b.bot.Request(rctx, "GET", path, b.bot.Config.APIToken, nil)
		cancel()
		if err != nil || code != 200 {
			return pages, fmt.Errorf("GET %s: %d %v", path, code, err)
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(body, &page); err != nil {
			return pages, fmt.Errorf("GET %s: %w", path, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(page[list], &items); err != nil {
			return pages, fmt.Errorf("GET %s: %s: %w", path, list, err)
		}
		for _, it := range items {
			if err := each(it); err != nil {
				return pages, fmt.Errorf("GET %s: %w", path, err)
			}
		}
		raw, more := page["next_cursor"]
		if !more {
			return pages, nil
		}
		if err := json.Unmarshal(raw, &cursor); err != nil || cursor == "" {
			return pages, fmt.Errorf("GET %s: next_cursor %s", path, raw)
		}
	}
	return 0, errors.New("the walk does not end")
}
