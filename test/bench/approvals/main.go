// Command approvals measures the cost of chatops' guard rails on
// PostgreSQL: appending to the hash-chained audit log (every command
// writes one row before it runs) next to a plain single-row INSERT by
// pgbench on the same server; the request → approve → execute round trip
// of the approval service; fifty people approving one request at once; and
// verifying the chain.
//
//	go run ./test/bench/approvals [-pg-url URL] [-duration 10s] [-writers 8] [-rows 100000]
//
// The action approved is a no-op standing in for a Kubernetes call, so the
// figures are the bot's own overhead. Needs pgbench in PATH for the
// baseline (Debian: postgresql-client); without it the run fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/bot/approval"
	"github.com/bakewise/chatops/bot/command"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/policy"
	"github.com/bakewise/chatops/test/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "approvals:", err)
		os.Exit(1)
	}
}

func run() error {
	pgURL := flag.String("pg-url", harness.DefaultPGAdminURL, "admin URL of a loopback PostgreSQL")
	duration := flag.Duration("duration", 10*time.Second, "length of each timed phase")
	writers := flag.Int("writers", 8, "concurrent audit appenders (and pgbench clients)")
	rows := flag.Int("rows", 100000, "rows in the log when the chain is verified")
	flag.Parse()
	if err := harness.CheckPGURL(*pgURL); err != nil {
		return fmt.Errorf("-pg-url: %w", err)
	}
	if *duration <= 0 || *duration > 5*time.Minute || *writers < 1 || *writers > 64 || *rows < 1000 || *rows > 5_000_000 {
		return errors.New("want 0 < -duration <= 5m, 1 <= -writers <= 64, 1000 <= -rows <= 5000000")
	}
	ctx := context.Background()
	prog := harness.NewProgram("bench-approvals", func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "approvals: "+format+"\n", args...)
	})
	defer prog.Close() // drops the database
	var dbURL string
	if err := prog.Run(func() error {
		dbURL = harness.NewDatabase(prog, *pgURL, "chatops_bench_approvals_").URL
		return nil
	}); err != nil {
		return err
	}
	store, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: *writers + 60}, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}

	fmt.Printf("## Approvals and audit log on PostgreSQL (%d writers, %s per phase)\n\n", *writers, *duration)
	audit, err := auditAppend(ctx, store, *writers, *duration)
	if err != nil {
		return err
	}
	base, err := pgbenchInsert(ctx, dbURL, *writers, *duration)
	if err != nil {
		return err
	}
	fmt.Printf("| measure | value |\n|---|---|\n")
	fmt.Printf("| audit rows appended/s (one row per transaction, chained) | %.0f |\n", audit.rate)
	fmt.Printf("| pgbench single-row INSERTs/s, same server, %d clients | %.0f |\n", *writers, base)
	fmt.Printf("| ratio audit / plain insert | %.2f |\n", audit.rate/base)
	fmt.Printf("| audit append latency p50 / p99 | %s / %s |\n", ms(audit.p50), ms(audit.p99))

	rt, err := roundTrips(ctx, store, *writers, *duration)
	if err != nil {
		return err
	}
	fmt.Printf("| request (plan, limit check, insert, audit, card) p50 / p99 | %s / %s |\n", ms(rt.request.p50), ms(rt.request.p99))
	fmt.Printf("| approve → executed → recorded (vote, claim, re-plan, run, result, card) p50 / p99 | %s / %s |\n", ms(rt.approve.p50), ms(rt.approve.p99))
	fmt.Printf("| approved requests/s (%d people at once) | %.0f |\n", *writers, rt.rate)

	herd, runs, err := thunderingHerd(ctx, store)
	if err != nil {
		return err
	}
	fmt.Printf("| 50 people approving one request at once: settled in | %s (ran %d time) |\n", ms(herd), runs)

	n, took, err := verify(ctx, store, *rows)
	if err != nil {
		return err
	}
	fmt.Printf("| chain verified (%d rows) | %s, %.0f rows/s |\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	if runs != 1 {
		return fmt.Errorf("the herd ran the action %d times", runs)
	}
	return nil
}

type latencies struct {
	rate     float64
	p50, p99 time.Duration
}

func summarize(ds []time.Duration, elapsed time.Duration) latencies {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) == 0 {
		return latencies{}
	}
	return latencies{rate: float64(len(ds)) / elapsed.Seconds(), p50: ds[len(ds)/2], p99: ds[len(ds)*99/100]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// auditAppend appends command rows as the router does, from writers
// goroutines, for d.
func auditAppend(ctx context.Context, s bot.Store, writers int, d time.Duration) (latencies, error) {
	var (
		mu  sync.Mutex
		all []time.Duration
		wg  sync.WaitGroup
		bad atomic.Value
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				t := time.Now()
				rec := bot.AuditRecord{At: t, Actor: bot.Identity{Platform: "slack", UserID: fmt.Sprintf("U%03d", w), Name: "bench"},
					Kind: bot.AuditCommand, Action: "health", Outcome: "allowed", Channel: "C0OPS", Detail: "/ops health orders-service"}
				if err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, rec) }); err != nil {
					bad.Store(err)
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := bad.Load().(error); err != nil {
		return latencies{}, fmt.Errorf("append: %w", err)
	}
	return summarize(all, time.Since(start)), nil
}

// pgbenchInsert is the baseline: one plain INSERT per transaction into a
// table shaped like audit_log, by pgbench, same clients, same duration.
func pgbenchInsert(ctx context.Context, dbURL string, clients int, d time.Duration) (float64, error) {
	if _, err := exec.LookPath("pgbench"); err != nil {
		return 0, errors.New("pgbench not found in PATH: install the PostgreSQL client tools (Debian: postgresql-client)")
	}
	dir, err := os.MkdirTemp("", "chatops-bench-approvals")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	setup := `CREATE TABLE bench_insert (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL, actor TEXT NOT NULL,
		kind TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, hash TEXT NOT NULL)`
	if out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", dbURL, "-c", setup).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("psql: %v: %s", err, out)
	}
	script := filepath.Join(dir, "insert.sql")
	sql := "INSERT INTO bench_insert (at, actor, kind, action, outcome, detail, hash) VALUES (now(), 'slack:U001', 'command', 'health', 'allowed', '/ops health orders-service', md5(random()::text));\n"
	if err := os.WriteFile(script, []byte(sql), 0o600); err != nil {
		return 0, err
	}
	secs := strconv.Itoa(max(1, int(d.Seconds())))
	out, err := exec.CommandContext(ctx, "pgbench", "-n", "-f", script, "-c", strconv.Itoa(clients), "-j", "2", "-T", secs, dbURL).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %v: %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// noopCards accepts cards without a chat platform.
type noopCards struct{ n atomic.Int64 }

func (c *noopCards) PostCard(context.Context, string, string, bot.Message) (bot.ThreadRef, error) {
	return bot.ThreadRef{Channel: "C0OPS", RootID: strconv.FormatInt(c.n.Add(1), 10)}, nil
}

func (c *noopCards) EditCard(context.Context, bot.ThreadRef, bot.Message) error { return nil }

type rig struct {
	ap     *approval.Service
	router *command.Router
	runs   atomic.Int64
}

// newRig builds the approval service with a destructive no-op command and
// users U000..U099 as admins.
func newRig(s bot.Store) (*rig, error) {
	r := &rig{}
	users := map[string]policy.Role{}
	for i := range 100 {
		users[fmt.Sprintf("slack:U%03d", i)] = policy.Admin
	}
	roles := access.New(policy.Access{Default: policy.Viewer, Users: users}, nil)
	rule := policy.DefaultRule
	rule.MaxRequestsPerHour = 1 << 30
	spec := bot.CommandSpec{
		Name: "restart", Summary: "restart", Role: policy.Admin, Destructive: true,
		Args: []bot.Arg{{Name: "service", Positional: true, Required: true}},
		Plan: func(_ context.Context, inv bot.Invocation) (bot.Plan, error) {
			return bot.Plan{Target: "deployment bakery-ia/" + inv.String("service"), Params: map[string]string{}, TargetVersion: "7", Preview: []string{"2 pods replaced"}}, nil
		},
		Execute: func(context.Context, bot.Invocation, bot.Plan) (string, error) {
			r.runs.Add(1)
			return "restarted", nil
		},
	}
	planner, err := command.NewTable("ops", []bot.CommandSpec{spec})
	if err != nil {
		return nil, err
	}
	r.ap = approval.New(s, roles, planner, approval.Config{Rule: rule, Root: "ops", Cards: map[string]bot.CardPoster{"slack": &noopCards{}}}, zap.NewNop(), nil)
	r.router, err = command.NewRouter([]bot.CommandSpec{spec}, command.Config{Root: "ops", Channels: []string{"C0OPS"},
		Roles: roles, Audit: s, Actions: r.ap}, zap.NewNop(), nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

type answer struct{ a bot.Answer }

func (a *answer) Respond(_ context.Context, ans bot.Answer) error { a.a = ans; return nil }

// request makes who ask for a restart and returns the request id.
func (r *rig) request(ctx context.Context, who string) (int64, error) {
	var a answer
	r.router.Handle(ctx, bot.Command{Platform: "slack", User: bot.Identity{Platform: "slack", UserID: who}, Channel: "C0OPS", Text: "restart orders-service", ReceivedAt: time.Now()}, &a)
	var id int64
	if _, err := fmt.Sscanf(a.a.Title, "Request #%d", &id); err != nil {
		return 0, fmt.Errorf("request not taken: %q", a.a.Title)
	}
	return id, nil
}

type roundTrip struct {
	request, approve latencies
	rate             float64
}

// roundTrips runs independent request → approve cycles from workers
// pairs of people for d.
func roundTrips(ctx context.Context, s bot.Store, workers int, d time.Duration) (roundTrip, error) {
	r, err := newRig(s)
	if err != nil {
		return roundTrip{}, err
	}
	var (
		mu       sync.Mutex
		req, apv []time.Duration
		wg       sync.WaitGroup
		bad      atomic.Value
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			asker, approver := fmt.Sprintf("U%03d", 2*w), fmt.Sprintf("U%03d", 2*w+1)
			for time.Now().Before(deadline) {
				t := time.Now()
				id, err := r.request(ctx, asker)
				if err != nil {
					bad.Store(err)
					return
				}
				t2 := time.Now()
				ans := r.ap.Approve(ctx, bot.Ballot{Who: bot.Identity{Platform: "slack", UserID: approver}, Channel: "C0OPS", ID: id, Via: "command"})
				if !strings.Contains(ans.Title, "Ran") {
					bad.Store(fmt.Errorf("approval of #%d: %q", id, ans.Title))
					return
				}
				mu.Lock()
				req, apv = append(req, t2.Sub(t)), append(apv, time.Since(t2))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := bad.Load().(error); err != nil {
		return roundTrip{}, err
	}
	elapsed := time.Since(start)
	out := roundTrip{request: summarize(req, elapsed), approve: summarize(apv, elapsed)}
	out.rate = out.approve.rate
	if int(r.runs.Load()) != len(apv) {
		return out, fmt.Errorf("%d approvals ran the action %d times", len(apv), r.runs.Load())
	}
	return out, nil
}

// thunderingHerd has 50 people approve one request at the same moment.
func thunderingHerd(ctx context.Context, s bot.Store) (time.Duration, int64, error) {
	r, err := newRig(s)
	if err != nil {
		return 0, 0, err
	}
	id, err := r.request(ctx, "U099")
	if err != nil {
		return 0, 0, err
	}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			r.ap.Approve(ctx, bot.Ballot{Who: bot.Identity{Platform: "slack", UserID: fmt.Sprintf("U%03d", i)}, Channel: "C0OPS", ID: id, Via: "button"})
		}()
	}
	t := time.Now()
	close(gate)
	wg.Wait()
	return time.Since(t), r.runs.Load(), nil
}

// verify fills the log up to rows and walks the whole chain.
func verify(ctx context.Context, s bot.Store, rows int) (int64, time.Duration, error) {
	var have int64
	if err := s.AuditRecords(ctx, time.Time{}, func(bot.AuditRecord) error { have++; return nil }); err != nil {
		return 0, 0, err
	}
	const batch = 500
	for have < int64(rows) {
		n := min(batch, int(int64(rows)-have))
		recs := make([]bot.AuditRecord, n)
		for i := range recs {
			recs[i] = bot.AuditRecord{At: time.Now(), Actor: bot.Identity{Platform: "slack", UserID: "U001"}, Kind: bot.AuditCommand, Action: "health", Outcome: "allowed", Detail: "/ops health"}
		}
		if err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, recs...) }); err != nil {
			return 0, 0, err
		}
		have += int64(n)
	}
	var v bot.ChainVerifier
	t := time.Now()
	if err := s.AuditRecords(ctx, time.Time{}, v.Next); err != nil {
		return 0, 0, err
	}
	return v.Verified(), time.Since(t), nil
}
