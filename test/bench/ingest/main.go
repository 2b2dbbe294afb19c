// Command ingest is a bounded load generator for the chatops Alertmanager
// webhook (POST /v1/alertmanager).
//
// Each sender posts Alertmanager v4 webhook bodies in a closed loop until the
// deadline. Every alert carries a unique fingerprint (so each alert must become
// a new row), while payloads are spread over a fixed set of alert groups (so
// existing incidents are updated, not only created), or, with -new-groups,
// each payload is a group of its own (so every webhook opens an incident). After the deadline the
// generator waits for in-flight requests, then — when -pg-url is given — checks
// in the bot's database that every alert acknowledged with a 2xx is stored.
//
// Exit status: 0 all good; 1 integrity failure (lost alerts, duplicate or
// missing incidents, duplicate alert rows); 2 usage or setup error; 3 some
// requests failed (non-2xx or transport errors) but nothing acknowledged was
// lost.
//
//	go run ./test/bench/ingest -url http://127.0.0.1:8080 -token T -duration 20s
//
// With -compare-tracing it starts the bot itself, once without tracing and
// once exporting to an in-process OTLP endpoint, and reports the ratio:
//
//	go run ./test/bench/ingest -compare-tracing -duration 20s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bakewise/chatops/test/harness"
)

const (
	maxDuration  = 5 * time.Minute
	webhookPath  = "/v1/alertmanager"
	maxSamples   = 5
	maxBodyBytes = 1 << 20 // the bot rejects bodies above 1 MiB with 413
)

type config struct {
	url        string
	token      string
	duration   time.Duration
	senders    int
	perPayload int
	groups     int
	newGroups  bool
	pgURL      string
	jsonOut    bool
	reqTimeout time.Duration
}

func main() {
	os.Exit(run())
}

func run() int {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "bot base URL (loopback only)")
	flag.StringVar(&cfg.token, "token", "", "webhook bearer token (CHATOPS_WEBHOOK_TOKEN)")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "how long to send (hard cap 5m)")
	flag.IntVar(&cfg.senders, "senders", 8, "concurrent senders (each keeps one request in flight)")
	flag.IntVar(&cfg.perPayload, "alerts-per-payload", 1, "alerts in each webhook body")
	flag.IntVar(&cfg.groups, "groups", 200, "distinct alert groups (incidents) to spread payloads across")
	flag.BoolVar(&cfg.newGroups, "new-groups", false, "every payload is a group of its own, so every webhook opens an incident (-groups is not used)")
	flag.StringVar(&cfg.pgURL, "pg-url", "", "optional: the bot's PostgreSQL URL, to verify stored rows after the run")
	flag.BoolVar(&cfg.jsonOut, "json", false, "print the result as one JSON line")
	flag.DurationVar(&cfg.reqTimeout, "request-timeout", 30*time.Second, "per-request timeout")
	compare := flag.Bool("compare-tracing", false, "start the bot twice per round on fresh PostgreSQL databases, without tracing and exporting every span to an in-process OTLP endpoint, run the load against each and report on ÷ off (-url and -token are not used)")
	rounds := flag.Int("rounds", 1, "with -compare-tracing: off/on pairs to run (1..5)")
	bin := flag.String("bin", "", "with -compare-tracing: the chatops binary (default: go build ./cmd/chatops)")
	flag.Parse()

	if *compare {
		cfg.token = "set-per-bot"
		if *rounds < 1 || *rounds > 5 || time.Duration(2**rounds)*cfg.duration > maxDuration {
			fmt.Fprintln(os.Stderr, "ingest: -rounds must be in 1..5 and 2 × rounds × -duration at most", maxDuration)
			return 2
		}
		if err := validate(&cfg); err != nil {
			fmt.Fprintln(os.Stderr, "ingest:", err)
			return 2
		}
		return compareTracing(cfg, *bin, *rounds)
	}

	if err := validate(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		return 2
	}

	res, err := loadRun(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		return 2
	}
	if cfg.pgURL != "" {
		if err := verify(cfg, res); err != nil {
			fmt.Fprintln(os.Stderr, "ingest: database check:", err)
			res.DB = &dbResult{Checked: false, Error: err.Error()}
		}
	}
	code := res.finish()
	if cfg.jsonOut {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	} else {
		res.printText(os.Stdout)
	}
	return code
}

func validate(cfg *config) error {
	if cfg.duration <= 0 {
		return errors.New("-duration must be > 0")
	}
	if cfg.duration > maxDuration {
		return fmt.Errorf("-duration %s exceeds the hard cap of %s", cfg.duration, maxDuration)
	}
	if cfg.senders < 1 || cfg.senders > 1024 {
		return errors.New("-senders must be in 1..1024")
	}
	if cfg.perPayload < 1 || cfg.perPayload > 1000 {
		return errors.New("-alerts-per-payload must be in 1..1000")
	}
	if cfg.groups < 1 || cfg.groups > 1_000_000 {
		return errors.New("-groups must be in 1..1000000")
	}
	if cfg.token == "" {
		return errors.New("-token is required")
	}
	u, err := url.Parse(cfg.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q is not an http(s) URL", cfg.url)
	}
	if !harness.Loopback(u.Hostname()) {
		return fmt.Errorf("-url host %q is not a loopback address; this benchmark only talks to 127.0.0.1", u.Hostname())
	}
	cfg.url = strings.TrimRight(cfg.url, "/")
	if cfg.pgURL != "" {
		if err := harness.CheckPGURL(cfg.pgURL); err != nil {
			return fmt.Errorf("-pg-url: %w", err)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// payloads

var (
	alertnames = []struct{ name, severity, summary string }{
		{"HighErrorRate", "critical", "5xx ratio above 5%"},
		{"ServiceDown", "critical", "service is not answering health checks"},
		{"HighMemoryUsage", "warning", "working set above 80% of the limit"},
		{"DatabaseConnectionsHigh", "warning", "connection pool above 80%"},
		{"HighLatency", "warning", "p95 latency above 1s"},
		{"CertificateExpiringSoon", "info", "TLS certificate expires in 21 days"},
	}
	services = []string{
		"gateway", "auth-service", "orders-service", "forecasting-service",
		"inventory-service", "tenant-service", "notification-service",
		"production-service", "sales-service", "suppliers-service",
	}
)

// group holds the pre-rendered, constant parts of a webhook body.
type group struct {
	prefix      []byte // `{"version":"4",...,"alerts":[`
	alertOpen   []byte // `{"status":"firing","labels":{...,"pod":"<service>-`
	alertMiddle []byte // `",...},"annotations":{...},"startsAt":"`
	alertTail   []byte // `","endsAt":"0001-...","generatorURL":"...","fingerprint":"`
	alertClose  []byte // `"}`
	used        atomic.Bool
}

// Placeholders in a rendered alert, where each alert's own values go.
const (
	fingerprintMark = "@FINGERPRINT@"
	startsAtMark    = "@STARTSAT@"
)

func makeGroups(n int, runID string) []*group {
	gs := make([]*group, n)
	for i := range n {
		gs[i] = makeGroup(i, runID)
	}
	return gs
}

// makeGroup renders group i.
func makeGroup(i int, runID string) *group {
	an := alertnames[i%len(alertnames)]
	svc := services[(i/len(alertnames))%len(services)]
	gname := fmt.Sprintf("g%04d", i)
	groupLabels := map[string]string{
		"alertname": an.name, "service": svc, "bench_group": gname, "bench_run": runID,
	}
	common := map[string]string{
		"alertname": an.name, "service": svc, "bench_group": gname, "bench_run": runID,
		"namespace": "bakery-ia", "severity": an.severity,
	}
	hook := harness.Webhook{
		Version: "4", GroupKey: harness.GroupKey(groupLabels), Status: "firing", Receiver: "chatops",
		GroupLabels: groupLabels, CommonLabels: common, CommonAnnotations: map[string]string{"description": an.summary},
		ExternalURL: harness.ExternalURL,
	}
	prefix := bytes.TrimSuffix(hook.JSONWith(nil), []byte("]}"))

	// One alert rendered with placeholders, cut where each alert's pod,
	// startsAt and fingerprint go: alert labels = common labels + a
	// unique pod label.
	labels := maps.Clone(common)
	labels["pod"] = svc + "-" + fingerprintMark
	a := harness.WebhookAlert{
		Status: "firing", Labels: labels,
		Annotations: map[string]string{"description": an.summary, "summary": svc + ": " + an.summary},
		StartsAt:    startsAtMark, EndsAt: harness.NoEnd,
		GeneratorURL: "http://127.0.0.1:9090/graph?g0.expr=bench_" + an.name, Fingerprint: fingerprintMark,
	}
	tmpl, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	open, rest, ok1 := bytes.Cut(tmpl, []byte(fingerprintMark))
	middle, rest, ok2 := bytes.Cut(rest, []byte(startsAtMark))
	tail, closing, ok3 := bytes.Cut(rest, []byte(fingerprintMark))
	if !ok1 || !ok2 || !ok3 {
		panic("ingest: a rendered alert does not have its placeholders in the order labels, startsAt, fingerprint: " + string(tmpl))
	}
	return &group{prefix: prefix, alertOpen: open, alertMiddle: middle, alertTail: tail, alertClose: closing}
}

// fingerprint = 8 hex chars of run id + 8 hex chars of a global alert counter:
// 16 hex characters like Alertmanager's, unique per alert and per run.
func appendFingerprint(b []byte, runID string, n uint64) []byte {
	b = append(b, runID...)
	var tmp [8]byte
	s := strconv.AppendUint(tmp[:0], n, 16)
	for range 8 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (g *group) render(buf []byte, runID string, base uint64, n int, startsAt string) []byte {
	buf = append(buf[:0], g.prefix...)
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		c := base + uint64(i)
		buf = append(buf, g.alertOpen...)
		buf = appendFingerprint(buf, runID, c)
		buf = append(buf, g.alertMiddle...)
		buf = append(buf, startsAt...)
		buf = append(buf, g.alertTail...)
		buf = appendFingerprint(buf, runID, c)
		buf = append(buf, g.alertClose...)
	}
	return append(buf, "]}"...)
}

// ---------------------------------------------------------------------------
// load

type span struct {
	base uint64
	n    uint32
}

type senderStats struct {
	latencies []time.Duration // 2xx only
	acked     []span
	sent      int64
	ok        int64
	non2xx    int64
	errs      int64
	status    map[int]int64
	samples   []string
	// newGroupsAcked: with -new-groups, the groups (one per payload) that
	// got a 2xx.
	newGroupsAcked int64
}

type latencyMS struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type dbResult struct {
	Checked            bool    `json:"checked"`
	Error              string  `json:"error,omitempty"`
	AlertRowsTotal     int64   `json:"alert_rows_total"`
	AlertRowsRun       int64   `json:"alert_rows_run"`
	FoundMatching      int64   `json:"found_matching"`
	Lost               int64   `json:"lost"`
	UnackedStored      int64   `json:"unacked_stored"`
	DuplicateAlertRows int64   `json:"duplicate_alert_rows"`
	IncidentsExpected  int64   `json:"incidents_expected"`
	IncidentsFound     int64   `json:"incidents_found"`
	IncidentGroups     int64   `json:"incident_groups_found"`
	DuplicateIncidents int64   `json:"duplicate_incidents"`
	MissingIncidents   int64   `json:"missing_incidents"`
	CheckSeconds       float64 `json:"check_s"`
}

type result struct {
	RunID            string           `json:"run_id"`
	URL              string           `json:"url"`
	DurationS        float64          `json:"duration_s"`
	ElapsedS         float64          `json:"elapsed_s"`
	Senders          int              `json:"senders"`
	AlertsPerPayload int              `json:"alerts_per_payload"`
	Groups           int              `json:"groups"`
	NewGroups        bool             `json:"new_groups"`
	GroupsUsed       int64            `json:"groups_used"`
	PayloadsSent     int64            `json:"payloads_sent"`
	Payloads2xx      int64            `json:"payloads_2xx"`
	PayloadsNon2xx   int64            `json:"payloads_non2xx"`
	Errors           int64            `json:"errors"`
	StatusCounts     map[string]int64 `json:"status_counts"`
	AlertsSent       int64            `json:"alerts_sent"`
	AlertsAcked      int64            `json:"alerts_acked"`
	AlertsPerS       float64          `json:"alerts_per_s"`
	PayloadsPerS     float64          `json:"payloads_per_s"`
	LatencyMS        latencyMS        `json:"ack_latency_ms"`
	Samples          []string         `json:"failure_samples,omitempty"`
	DB               *dbResult        `json:"db,omitempty"`
	OK               bool             `json:"ok"`
	Problems         []string         `json:"problems,omitempty"`

	acked    []span
	maxAlert uint64
}

func loadRun(cfg config) (*result, error) {
	var rb [4]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, err
	}
	runID := hex.EncodeToString(rb[:])
	nGroups := cfg.groups
	if cfg.newGroups {
		nGroups = 1 // for the size check; the senders render their own
	}
	groups := makeGroups(nGroups, runID)

	// Size check: the largest body must fit under the bot's 1 MiB limit.
	probe := groups[0].render(nil, runID, 0, cfg.perPayload, time.Now().UTC().Format(time.RFC3339Nano))
	if len(probe) > maxBodyBytes {
		return nil, fmt.Errorf("a %d-alert payload is %d bytes, above the 1 MiB body limit", cfg.perPayload, len(probe))
	}

	tr := &http.Transport{
		Proxy:               nil, // never route through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.senders * 2,
		MaxIdleConnsPerHost: cfg.senders * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.reqTimeout}
	endpoint := cfg.url + webhookPath
	auth := "Bearer " + cfg.token

	var counter, groupCounter atomic.Uint64
	stats := make([]*senderStats, cfg.senders)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.duration)
	for s := range cfg.senders {
		st := &senderStats{status: map[int]int64{}, latencies: make([]time.Duration, 0, 4096)}
		stats[s] = st
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(seed, uint64(start.UnixNano())))
			var buf []byte
			for time.Now().Before(deadline) {
				var g *group
				if cfg.newGroups {
					g = makeGroup(int(groupCounter.Add(1)-1), runID)
				} else {
					g = groups[rng.IntN(len(groups))]
				}
				base := counter.Add(uint64(cfg.perPayload)) - uint64(cfg.perPayload)
				buf = g.render(buf, runID, base, cfg.perPayload, time.Now().UTC().Format(time.RFC3339Nano))
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, endpoint, bytes.NewReader(buf))
				if err != nil {
					panic(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", auth)
				st.sent++
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					st.errs++
					st.sample("transport error: " + err.Error())
					continue
				}
				body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				lat := time.Since(t0)
				st.status[resp.StatusCode]++
				switch {
				case rerr != nil:
					st.errs++
					st.sample(fmt.Sprintf("reading %d response: %v", resp.StatusCode, rerr))
				case resp.StatusCode >= 200 && resp.StatusCode < 300:
					st.ok++
					st.latencies = append(st.latencies, lat)
					st.acked = append(st.acked, span{base: base, n: uint32(cfg.perPayload)})
					g.used.Store(true)
					if cfg.newGroups {
						st.newGroupsAcked++
					}
				default:
					st.non2xx++
					st.sample(fmt.Sprintf("HTTP %d after %s: %s", resp.StatusCode, lat.Round(time.Millisecond), truncate(string(body), 300)))
				}
			}
		}(uint64(s) + 1)
	}
	wg.Wait() // deadline passed and every in-flight request has finished
	elapsed := time.Since(start)

	res := &result{
		RunID: runID, URL: cfg.url, DurationS: cfg.duration.Seconds(), ElapsedS: elapsed.Seconds(),
		Senders: cfg.senders, AlertsPerPayload: cfg.perPayload, Groups: cfg.groups, NewGroups: cfg.newGroups,
		StatusCounts: map[string]int64{}, maxAlert: counter.Load(),
	}
	var lats []time.Duration
	for _, st := range stats {
		res.PayloadsSent += st.sent
		res.Payloads2xx += st.ok
		res.PayloadsNon2xx += st.non2xx
		res.Errors += st.errs
		for code, n := range st.status {
			res.StatusCounts[strconv.Itoa(code)] += n
		}
		lats = append(lats, st.latencies...)
		res.acked = append(res.acked, st.acked...)
		for _, s := range st.samples {
			if len(res.Samples) < maxSamples && !slices.Contains(res.Samples, s) {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	for _, g := range groups {
		if g.used.Load() && !cfg.newGroups {
			res.GroupsUsed++
		}
	}
	for _, st := range stats {
		res.GroupsUsed += st.newGroupsAcked
	}
	res.AlertsSent = res.PayloadsSent * int64(cfg.perPayload)
	res.AlertsAcked = res.Payloads2xx * int64(cfg.perPayload)
	res.AlertsPerS = float64(res.AlertsAcked) / elapsed.Seconds()
	res.PayloadsPerS = float64(res.Payloads2xx) / elapsed.Seconds()
	res.LatencyMS = percentiles(lats)
	return res, nil
}

func (st *senderStats) sample(s string) {
	if len(st.samples) < maxSamples {
		st.samples = append(st.samples, s)
	}
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func percentiles(d []time.Duration) latencyMS {
	if len(d) == 0 {
		return latencyMS{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		i = max(0, min(i, len(d)-1))
		return ms(d[i])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return latencyMS{
		P50: rank(0.50), P90: rank(0.90), P99: rank(0.99),
		Max: ms(d[len(d)-1]), Mean: ms(sum / time.Duration(len(d))),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// ---------------------------------------------------------------------------
// database check

func verify(cfg config, res *result) error {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, cfg.pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	// acked[i] / seen[i]: bit per alert counter value of this run.
	words := res.maxAlert/64 + 1
	acked := make([]uint64, words)
	seen := make([]uint64, words)
	for _, s := range res.acked {
		for c := s.base; c < s.base+uint64(s.n); c++ {
			acked[c/64] |= 1 << (c % 64)
		}
	}

	db := &dbResult{Checked: true, IncidentsExpected: res.GroupsUsed}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM alerts`).Scan(&db.AlertRowsTotal); err != nil {
		return fmt.Errorf("count alerts: %w", err)
	}
	rows, err := conn.Query(ctx,
		`SELECT fingerprint FROM alerts WHERE length(fingerprint) = 16 AND left(fingerprint, 8) = $1`, res.RunID)
	if err != nil {
		return fmt.Errorf("select alert fingerprints: %w", err)
	}
	var fp string
	for rows.Next() {
		if err := rows.Scan(&fp); err != nil {
			rows.Close()
			return err
		}
		db.AlertRowsRun++
		c, perr := strconv.ParseUint(fp[8:], 16, 64)
		if perr != nil || c >= res.maxAlert {
			continue // not one of ours
		}
		w, b := c/64, uint64(1)<<(c%64)
		if seen[w]&b != 0 {
			db.DuplicateAlertRows++
			continue
		}
		seen[w] |= b
		if acked[w]&b != 0 {
			db.FoundMatching++
		} else {
			db.UnackedStored++ // e.g. committed but the response was an error/timeout
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan alert fingerprints: %w", err)
	}
	db.Lost = res.AlertsAcked - db.FoundMatching

	if err := conn.QueryRow(ctx,
		`SELECT count(*), count(DISTINCT (receiver, group_key)) FROM incidents WHERE strpos(group_key, $1) > 0`,
		`bench_run="`+res.RunID+`"`).Scan(&db.IncidentsFound, &db.IncidentGroups); err != nil {
		return fmt.Errorf("count incidents: %w", err)
	}
	db.DuplicateIncidents = db.IncidentsFound - db.IncidentGroups
	db.MissingIncidents = max(0, db.IncidentsExpected-db.IncidentGroups)
	db.CheckSeconds = math.Round(time.Since(t0).Seconds()*1000) / 1000
	res.DB = db
	return nil
}

// finish decides the verdict and the exit status.
func (r *result) finish() int {
	integrity := false
	if r.DB != nil {
		if !r.DB.Checked {
			r.Problems = append(r.Problems, "database check failed: "+r.DB.Error)
			integrity = true
		} else {
			if r.DB.Lost != 0 {
				r.Problems = append(r.Problems, fmt.Sprintf("%d acknowledged alerts are not in the alerts table", r.DB.Lost))
				integrity = true
			}
			if r.DB.DuplicateAlertRows != 0 {
				r.Problems = append(r.Problems, fmt.Sprintf("%d duplicate alert rows for the same fingerprint", r.DB.DuplicateAlertRows))
				integrity = true
			}
			if r.DB.DuplicateIncidents != 0 {
				r.Problems = append(r.Problems, fmt.Sprintf("%d extra incidents for an already-open group key", r.DB.DuplicateIncidents))
				integrity = true
			}
			if r.DB.MissingIncidents != 0 {
				r.Problems = append(r.Problems, fmt.Sprintf("%d acknowledged groups have no incident", r.DB.MissingIncidents))
				integrity = true
			}
		}
	}
	if r.PayloadsNon2xx != 0 || r.Errors != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d non-2xx responses, %d transport errors", r.PayloadsNon2xx, r.Errors))
	}
	if r.Payloads2xx == 0 {
		r.Problems = append(r.Problems, "no payload was acknowledged")
	}
	r.OK = len(r.Problems) == 0
	switch {
	case integrity:
		return 1
	case !r.OK:
		return 3
	}
	return 0
}

func (r *result) printText(w io.Writer) {
	groups := fmt.Sprintf("over %d groups", r.Groups)
	if r.NewGroups {
		groups = "each a new group"
	}
	fmt.Fprintf(w, "run %s: %d senders × %d alerts/payload %s, %.1fs (configured %.0fs)\n",
		r.RunID, r.Senders, r.AlertsPerPayload, groups, r.ElapsedS, r.DurationS)
	fmt.Fprintf(w, "payloads: sent %d, 2xx %d, non-2xx %d, errors %d  status=%v\n",
		r.PayloadsSent, r.Payloads2xx, r.PayloadsNon2xx, r.Errors, r.StatusCounts)
	fmt.Fprintf(w, "throughput: %.1f alerts/s, %.1f payloads/s (acknowledged)\n", r.AlertsPerS, r.PayloadsPerS)
	l := r.LatencyMS
	fmt.Fprintf(w, "ack latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f\n", l.P50, l.P90, l.P99, l.Max, l.Mean)
	if d := r.DB; d != nil && d.Checked {
		fmt.Fprintf(w, "db: alerts rows %d (this run %d), acked %d, found %d, lost %d, unacked-but-stored %d, dup rows %d\n",
			d.AlertRowsTotal, d.AlertRowsRun, r.AlertsAcked, d.FoundMatching, d.Lost, d.UnackedStored, d.DuplicateAlertRows)
		fmt.Fprintf(w, "db: incidents expected %d, found %d (distinct groups %d)\n", d.IncidentsExpected, d.IncidentsFound, d.IncidentGroups)
	}
	for _, s := range r.Samples {
		fmt.Fprintln(w, "sample failure:", s)
	}
	if r.OK {
		fmt.Fprintln(w, "OK")
	} else {
		for _, p := range r.Problems {
			fmt.Fprintln(w, "PROBLEM:", p)
		}
	}
}
