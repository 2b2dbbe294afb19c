// Command console measures the web console's pages on years of data: it
// fills a store with -incidents incidents (100,000) and -audit audit rows
// (1,000,000) by bulk insert, then renders the incident list and the audit
// log (first pages, deep pages, filtered pages) -n times each and reports
// the server time (p50, p99) and the bytes of each page, on SQLite and on
// PostgreSQL. The targets: p99 under 100 ms and pages under 200 KB.
//
//	go run ./test/bench/console                 # both stores
//	go run ./test/bench/console -store sqlite   # one
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/console"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/bakewise/chatops/integrations/webauth"
	"github.com/bakewise/chatops/policy"
	"github.com/bakewise/chatops/test/harness"
)

// The targets the issue sets.
const (
	targetP99   = 100 * time.Millisecond
	targetBytes = 200 << 10
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}

type options struct {
	incidents, audit, n int
}

func run() error {
	which := flag.String("store", "both", "sqlite, postgres or both")
	pgURL := flag.String("pg-url", harness.DefaultPGAdminURL, "admin URL of a loopback PostgreSQL")
	var o options
	flag.IntVar(&o.incidents, "incidents", 100_000, "incidents in the store")
	flag.IntVar(&o.audit, "audit", 1_000_000, "audit rows in the store")
	flag.IntVar(&o.n, "n", 200, "renders of each page")
	flag.Parse()
	if o.incidents < 1000 || o.incidents > 5_000_000 || o.audit < 1000 || o.audit > 20_000_000 || o.n < 10 || o.n > 100_000 {
		return errors.New("want 1000 <= -incidents <= 5000000, 1000 <= -audit <= 20000000, 10 <= -n <= 100000")
	}
	ctx := context.Background()
	fmt.Printf("console bench: %d incidents, %d audit rows, %d renders a page, GOMAXPROCS %s\n",
		o.incidents, o.audit, o.n, strconv.Itoa(runtimeProcs()))
	failed := false
	if *which == "sqlite" || *which == "both" {
		dir, err := os.MkdirTemp("", "chatops-bench-console-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "chatops.db")
		store, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			return err
		}
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return err
		}
		ok, err := bench(ctx, "sqlite", store, raw, false, o)
		raw.Close()
		store.Close()
		if err != nil {
			return err
		}
		failed = failed || !ok
	}
	if *which == "postgres" || *which == "both" {
		if err := harness.CheckPGURL(*pgURL); err != nil {
			return fmt.Errorf("-pg-url: %w", err)
		}
		prog := harness.NewProgram("bench-console", func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "console: "+format+"\n", args...)
		})
		defer prog.Close() // drops the database
		var dbURL string
		if err := prog.Run(func() error {
			dbURL = harness.NewDatabase(prog, *pgURL, "chatops_bench_console_").URL
			return nil
		}); err != nil {
			return err
		}
		store, err := postgres.Open(ctx, postgres.Config{URL: dbURL}, nil)
		if err != nil {
			return err
		}
		raw, err := sql.Open("pgx", dbURL)
		if err != nil {
			return err
		}
		ok, err := bench(ctx, "postgres", store, raw, true, o)
		raw.Close()
		store.Close()
		if err != nil {
			return err
		}
		failed = failed || !ok
	}
	if failed {
		return errors.New("a page missed its target")
	}
	return nil
}

func bench(ctx context.Context, name string, store *sqlstore.Store, raw *sql.DB, numbered bool, o options) (bool, error) {
	if _, err := store.Migrate(ctx); err != nil {
		return false, err
	}
	start := time.Now()
	newest, err := fillIncidents(ctx, raw, numbered, o.incidents)
	if err != nil {
		return false, fmt.Errorf("%s: fill incidents: %w", name, err)
	}
	tookIncidents := time.Since(start)
	start = time.Now()
	if err := fillAudit(ctx, store, o.audit); err != nil {
		return false, fmt.Errorf("%s: fill audit: %w", name, err)
	}
	tookAudit := time.Since(start)
	if numbered {
		// What autovacuum does after a bulk load; SQLite gets no ANALYZE,
		// as in production.
		if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
			return false, err
		}
	}
	fmt.Printf("\n%s: filled %d incidents in %s, %d audit rows in %s\n", name, o.incidents,
		tookIncidents.Round(time.Millisecond), o.audit, tookAudit.Round(time.Millisecond))

	c, err := console.New(console.Config{Now: func() time.Time { return newest }}, store, zap.NewNop())
	if err != nil {
		return false, err
	}
	admin := webauth.Viewer{ID: "bench:admin", Name: "bench", Role: policy.Admin, Via: "proxy"}
	deepResolved := int64(o.incidents / 10)
	pages := []struct{ what, path string }{
		{"incidents, first page", "/ui/incidents"},
		{"incidents, deep resolved page", "/ui/incidents?after=r." + strconv.FormatInt(deepResolved, 10)},
		{"incidents, deep open page", "/ui/incidents?after=o.2.1"},
		{"incidents, status resolved", "/ui/incidents?status=resolved"},
		{"incidents, severity P1", "/ui/incidents?severity=P1"},
		{"incidents, one service", "/ui/incidents?service=svc-7"},
		{"incidents, one service, deep", "/ui/incidents?service=svc-7&after=r." + strconv.FormatInt(deepResolved, 10)},
		{"incidents, alert name + resolved", "/ui/incidents?alertname=HighLatency&status=resolved"},
		{"incidents, text (common)", "/ui/incidents?q=latency"},
		{"incidents, text (matches nothing: one window)", "/ui/incidents?q=no-such-title"},
		{"audit, first page", "/ui/audit"},
		{"audit, deep page", "/ui/audit?before=1000"},
		{"audit, one person", "/ui/audit?person=slack:U0007"},
		{"audit, one person, deep", "/ui/audit?person=slack:U0007&before=" + strconv.Itoa(o.audit/10)},
		{"audit, one action", "/ui/audit?action=scale"},
	}
	ok := true
	fmt.Printf("%-46s %9s %9s %9s %9s\n", "page", "p50", "p99", "max", "bytes")
	for _, p := range pages {
		var times []time.Duration
		size := 0
		for i := range o.n + 5 {
			req := httptest.NewRequest(http.MethodGet, p.path, nil)
			req = req.WithContext(webauth.WithViewer(ctx, admin))
			w := httptest.NewRecorder()
			t0 := time.Now()
			c.ServeHTTP(w, req)
			d := time.Since(t0)
			if w.Code != http.StatusOK {
				return false, fmt.Errorf("%s: GET %s: %d %s", name, p.path, w.Code, w.Body.String())
			}
			size = max(size, w.Body.Len())
			if i >= 5 { // the first few warm the caches
				times = append(times, d)
			}
		}
		slices.Sort(times)
		p50, p99 := times[len(times)/2], times[(len(times)*99+99)/100-1]
		mark := ""
		if p99 > targetP99 || size > targetBytes {
			mark, ok = "  MISSED", false
		}
		fmt.Printf("%-46s %9s %9s %9s %9d%s\n", p.what, ms(p50), ms(p99), ms(times[len(times)-1]), size, mark)
	}
	return ok, nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + "ms"
}

var (
	alertNames = []string{"ServiceDown", "HighLatency", "HighErrorRate", "PodCrashLooping", "DiskFilling",
		"CertificateExpiring", "QueueBacklog", "DatabaseConnections", "MemoryPressure", "ReplicaLag"}
	actions = []string{"health", "logs", "scale", "rollback", "restart", "incident ack", "silence", "approve", "status", "whoami"}
)

const incidentInsert = `INSERT INTO incidents (receiver, group_key, status, severity, title, group_labels, common_labels,
	common_annotations, external_url, truncated_alerts, firing, resolved, opened_at, resolved_at, updated_at,
	acked_at, acked_by, reminders) VALUES `

const incidentCols = 18

// fillIncidents writes n incidents over the year before now in batches,
// one in a hundred still open, and returns the newest one's time.
func fillIncidents(ctx context.Context, db *sql.DB, numbered bool, n int) (time.Time, error) {
	const batch = 500
	end := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	step := 365 * 24 * time.Hour / time.Duration(n)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return end, err
	}
	defer tx.Rollback() //nolint:errcheck // committed below
	for from := 0; from < n; from += batch {
		rows := min(batch, n-from)
		args := make([]any, 0, rows*incidentCols)
		for i := from; i < from+rows; i++ {
			opened := end.Add(-time.Duration(n-i) * step)
			sev := i % 4
			svc := "svc-" + strconv.Itoa(i%18)
			name := alertNames[i%len(alertNames)]
			status, resolvedAt, acked := "resolved", any(opened.Add(time.Duration(5+i%120)*time.Minute)), any(opened.Add(time.Duration(1+i%15)*time.Minute))
			if i%100 == 0 {
				status, resolvedAt = "open", nil
				if i%200 == 0 {
					acked = nil
				}
			}
			args = append(args, "ops", "{}:{alertname=\""+name+"\",service=\""+svc+"\",n=\""+strconv.Itoa(i)+"\"}", status, sev,
				name+" · "+svc, `{"alertname":"`+name+`","service":"`+svc+`"}`, `{"alertname":"`+name+`","service":"`+svc+`","severity":"critical"}`,
				`{"summary":"`+name+` on `+svc+`","description":"`+strings.Repeat("the service does not answer its probes; ", 4)+`"}`,
				"http://alertmanager:9093", 0, 1, 0, opened, resolvedAt, opened, acked, ackedBy(acked), 0)
		}
		q := incidentInsert + placeholders(rows, incidentCols, numbered)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return end, err
		}
	}
	return end, tx.Commit()
}

func ackedBy(acked any) string {
	if acked == nil {
		return ""
	}
	return "slack:U0007"
}

// placeholders is rows groups of cols parameters.
func placeholders(rows, cols int, numbered bool) string {
	var b strings.Builder
	k := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			k++
			if numbered {
				b.WriteString("$" + strconv.Itoa(k))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// fillAudit appends n rows through the store, sealed as serve seals them,
// in batches of one transaction each.
func fillAudit(ctx context.Context, store *sqlstore.Store, n int) error {
	const batch = 10_000
	at := time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC)
	for from := 0; from < n; from += batch {
		recs := make([]bot.AuditRecord, 0, batch)
		for i := from; i < min(from+batch, n); i++ {
			user := fmt.Sprintf("U%04d", i%50)
			recs = append(recs, bot.AuditRecord{At: at.Add(time.Duration(i) * 30 * time.Second),
				Actor: bot.Identity{Platform: "slack", UserID: user, Name: "person " + user}, Kind: bot.AuditCommand,
				Action: actions[i%len(actions)], Outcome: "allowed", Channel: "C0OPS", IncidentID: int64(i % 1000),
				Detail: actions[i%len(actions)] + " orders-service --namespace bakery-ia"})
		}
		if err := store.AppendAudit(ctx, recs...); err != nil {
			return err
		}
	}
	return nil
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
