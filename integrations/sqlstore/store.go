package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Dialect is what differs between the databases.
type Dialect struct {
	// Name labels metrics and errors: "postgres" or "sqlite".
	Name string
	// NumberedParams rewrites ? into $1, $2, ... (PostgreSQL).
	NumberedParams bool
	// LockGroup, when set, takes a transaction-scoped lock on one alert
	// group; its only parameter is the group's identity. Unset means the
	// database already serialises writing transactions (SQLite).
	LockGroup string
	// LockAudit, when set, takes the transaction-scoped lock that appenders
	// of the audit log queue on, so that each reads the chain's true last
	// row; it has no parameter. Unset means the database already serialises
	// writing transactions (SQLite).
	LockAudit string
	// ForUpdate is appended to reads of rows the transaction will write.
	ForUpdate string
	// SkipLocked closes the outbox claim's inner SELECT so that concurrent
	// claimers pass over each other's rows.
	SkipLocked string
	// WalkIndexes, when set, makes the rest of a transaction walk an
	// index in its order rather than gather every match and sort it. The
	// correlation's reads want the newest few of many critical alerts; in
	// a storm the statistics lag far behind the table (PostgreSQL's said
	// 154 rows where there were 13,858) and the planner gathers the lot.
	WalkIndexes string
	// WriteCTE says the database takes data-modifying CTEs, so a
	// notification's writes go in one statement (PostgreSQL).
	WriteCTE bool
	// Migrations are the database's schema, checked by Ready.
	Migrations Migrations
}

// Store is bot.Store over database/sql.
type Store struct {
	seen atomic.Int64 // FirstSeen calls, for sweeping
	db   *sql.DB
	// interactive serves what a person waits on (the replay check before a
	// command is acknowledged), so it never queues behind an alert storm's
	// transactions for a connection. It is db when the database has no
	// separate pool.
	interactive *sql.DB
	d           Dialect
	q           queries
	latency     *prometheus.HistogramVec
	// auditFailures counts transactions that carried audit rows and did
	// not commit them (see runTx).
	auditFailures prometheus.Counter
	// auditKey, when set, seals audit rows with HMAC-SHA-256 (UseAuditKey).
	auditKey *bot.AuditKey
}

type queries struct {
	latest, create, update, alerts, alertCounts, timeline, enqueue string
	list, get, countOpen, outboxDepth, outboxOldest, lockGroup     string
	claim, claimNext, finish, release, retry, continueJob          string
	thread, saveThread                                             string
	remember, forgetExpired                                        string
	lockIncident, lockAudit, auditLast, auditPage, auditPageSince  string
	createApproval, getApproval, lockApproval, updateApproval      string
	votes, addVote, countRequests, dueApprovals                    string
	alertsRanked, alertPage, countAll, newestEvents, eventPage     string
	eventPageKind, countEvents, incidentExists                     string
	firstStart, unended, lastEnd                                   string
}

// New wraps an open database. The caller has applied the migrations. Store
// latency goes to reg when it is not nil.
func New(db *sql.DB, d Dialect, reg prometheus.Registerer) *Store {
	s := &Store{db: db, interactive: db, d: d}
	r := func(q string) string { return rebind(q, d.NumberedParams) }
	s.q = queries{
		latest:        r(qLatestIncident + " " + d.ForUpdate),
		create:        r(qCreateIncident),
		update:        r(qUpdateIncident),
		alerts:        r(qAlerts),
		alertCounts:   r(qAlertCounts),
		timeline:      r(qTimeline),
		enqueue:       r(qEnqueue),
		list:          r(qListIncidents),
		get:           r(qGetIncident),
		countOpen:     r(qCountOpen),
		outboxDepth:   r(qOutboxDepth),
		outboxOldest:  r(qOutboxOldest),
		claim:         r(qClaimJobsHead + d.SkipLocked + qClaimJobsTail),
		claimNext:     r(qClaimNextHead + d.SkipLocked + qClaimJobsTail),
		continueJob:   r(qContinueJob),
		finish:        r(qFinishJob),
		release:       r(qReleaseJob),
		retry:         r(qRetryJob),
		thread:        r(qThread),
		saveThread:    r(qSaveThread),
		remember:      r(qRemember),
		forgetExpired: r(qForgetExpired),
		lockGroup:     r(d.LockGroup),

		lockIncident:   r(qLockIncident + d.ForUpdate),
		lockAudit:      r(d.LockAudit),
		auditLast:      r(qAuditLast),
		auditPage:      r(qAuditPage),
		auditPageSince: r(qAuditPageSince),
		createApproval: r(qCreateApproval),
		getApproval:    r(qGetApproval),
		lockApproval:   r(qLockApproval + d.ForUpdate),
		updateApproval: r(qUpdateApproval),
		votes:          r(qVotes),
		addVote:        r(qAddVote),
		countRequests:  r(qCountRequests),
		dueApprovals:   r(qDueApprovals),

		alertsRanked:   r(qAlertsRanked),
		alertPage:      r(qAlertPage),
		countAll:       r(qCountAll),
		newestEvents:   r(qNewestEvents),
		eventPage:      r(qEventPage),
		eventPageKind:  r(qEventPageKind),
		countEvents:    r(qCountEvents),
		incidentExists: r(qIncidentExists),
		firstStart:     r(qFirstStart),
		unended:        r(qUnended),
		lastEnd:        r(qLastEnd),
	}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "chatops_store_duration_seconds",
		Help:        "Time spent in the store, by operation (tx is one whole transaction) and outcome.",
		ConstLabels: prometheus.Labels{"store": d.Name},
		Buckets:     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"op", "outcome"})
	s.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "chatops_audit_append_failures_total",
		Help:        "Audit appends that did not commit: the append failed, or its transaction did. Each is a decision the audit log does not hold.",
		ConstLabels: prometheus.Labels{"store": d.Name},
	})
	if reg != nil {
		reg.MustRegister(s.latency, s.auditFailures)
	}
	return s
}

// rebind turns ? placeholders into $n. The queries contain no ? inside
// string literals, which keeps this simple.
func rebind(q string, numbered bool) string {
	if !numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// observe records an operation's latency and outcome. It takes the
// operation's named error by address because it is deferred: a deferred
// call's arguments are evaluated when it is deferred, not when it runs.
func (s *Store) observe(op string, start time.Time, errp *error) {
	outcome := "ok"
	if err := *errp; err != nil && !errors.Is(err, bot.ErrNotFound) {
		outcome = "error"
	}
	s.latency.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

// Migrate applies the dialect's pending migrations and returns how many it
// applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	n, err := s.d.Migrations.Up(ctx, s.db)
	if err != nil {
		return n, fmt.Errorf("%s: %w", s.d.Name, err)
	}
	return n, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	if s.interactive != s.db {
		s.interactive.Close()
	}
	return s.db.Close()
}

// UseInteractivePool gives the requests people wait on a pool of their own.
func (s *Store) UseInteractivePool(db *sql.DB) { s.interactive = db }

// Ready pings the database and checks that no migration is pending.
func (s *Store) Ready(ctx context.Context) (err error) {
	defer s.observe("ready", time.Now(), &err)
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping: %w", s.d.Name, err)
	}
	pending, err := s.d.Migrations.Pending(ctx, s.db)
	if err != nil {
		return fmt.Errorf("%s: migration status: %w", s.d.Name, err)
	}
	if pending {
		return fmt.Errorf("%s: migrations pending", s.d.Name)
	}
	return nil
}

// InTx runs fn in one transaction.
func (s *Store) InTx(ctx context.Context, fn func(bot.Tx) error) (err error) {
	defer s.observe("tx", time.Now(), &err)
	return s.runTx(ctx, func(t *tx) error { return fn(t) })
}

// ApprovalTx runs fn in one transaction.
func (s *Store) ApprovalTx(ctx context.Context, fn func(bot.ApprovalTx) error) (err error) {
	defer s.observe("approval_tx", time.Now(), &err)
	return s.runTx(ctx, func(t *tx) error { return fn(t) })
}

func (s *Store) runTx(ctx context.Context, fn func(*tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	// Rolls back on an error and on a panic (or a test's Goexit) alike, so
	// a lock is never left held; after Commit it is a no-op.
	defer sqlTx.Rollback() //nolint:errcheck // ErrTxDone after a commit
	t := &tx{tx: sqlTx, s: s}
	if err := fn(t); err != nil {
		s.auditLost(t)
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		s.auditLost(t)
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// auditLost counts a transaction that tried to append audit rows and did
// not commit. Every audit append, whichever service makes it, goes through
// a transaction here, so this is the one place that sees them all fail.
func (s *Store) auditLost(t *tx) {
	if t.auditing {
		s.auditFailures.Inc()
	}
}

// tx is both the engine's bot.Tx and the approval service's bot.ApprovalTx:
// the audit rows of either are written in the same transaction as the
// change they record.
type tx struct {
	tx *sql.Tx
	s  *Store
	// walking: the dialect's WalkIndexes ran in this transaction.
	walking bool
	// auditing: the transaction tried to append audit rows.
	auditing bool
}

// walkIndexes runs the dialect's WalkIndexes, once per transaction.
func (t *tx) walkIndexes(ctx context.Context) error {
	if t.walking || t.s.d.WalkIndexes == "" {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, t.s.d.WalkIndexes); err != nil {
		return err
	}
	t.walking = true
	return nil
}

func (t *tx) LockGroup(ctx context.Context, receiver, groupKey string) error {
	if t.s.q.lockGroup == "" {
		return nil
	}
	// A hash collision between two groups only makes them take turns.
	_, err := t.tx.ExecContext(ctx, t.s.q.lockGroup, receiver+"\n"+groupKey)
	return err
}

func (t *tx) LatestIncident(ctx context.Context, receiver, groupKey string) (*bot.Incident, error) {
	inc, err := scanIncident(t.tx.QueryRowContext(ctx, t.s.q.latest, receiver, groupKey))
	if errors.Is(err, bot.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &inc, nil
}

func (t *tx) Alerts(ctx context.Context, incidentID int64, fingerprints []string) ([]bot.Alert, error) {
	var out []bot.Alert
	for start := 0; start < len(fingerprints); start += maxRowsPerInsert {
		chunk := fingerprints[start:min(start+maxRowsPerInsert, len(fingerprints))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, incidentID)
		for _, fp := range chunk {
			args = append(args, fp)
		}
		q := rebind(qAlertsAmongHead+values(1, len(chunk)), t.s.d.NumberedParams)
		as, err := queryAlerts(ctx, t.tx, q, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

func (t *tx) AlertCounts(ctx context.Context, incidentID int64) (bot.AlertCounts, error) {
	var c bot.AlertCounts
	rows, err := t.tx.QueryContext(ctx, t.s.q.alertCounts, incidentID)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			sev, n int
		)
		if err := rows.Scan(&status, &sev, &n); err != nil {
			return c, err
		}
		c.Add(bot.Alert{Status: bot.AlertStatus(status), Severity: bot.Severity(sev)}, n)
	}
	return c, rows.Err()
}

// LockIncident reads an incident with a row lock (PostgreSQL); in SQLite
// the immediate transaction already holds the whole database.
func (t *tx) LockIncident(ctx context.Context, id int64) (*bot.Incident, error) {
	inc, err := scanIncident(t.tx.QueryRowContext(ctx, t.s.q.lockIncident, id))
	if err != nil {
		return nil, fmt.Errorf("incident %d: %w", id, err)
	}
	return &inc, nil
}

func (t *tx) CreateIncident(ctx context.Context, inc *bot.Incident) (int64, error) {
	var id int64
	err := t.tx.QueryRowContext(ctx, t.s.q.create,
		inc.Receiver, inc.GroupKey, string(inc.Status), int(inc.Severity), inc.Title,
		jsonText(inc.GroupLabels), jsonText(inc.CommonLabels), jsonText(inc.CommonAnnotations),
		inc.ExternalURL, inc.TruncatedAlerts, inc.Firing, inc.Resolved,
		inc.OpenedAt.UTC(), nullTime(inc.ResolvedAt), inc.UpdatedAt.UTC(),
		nullTime(inc.AckedAt), inc.AckedBy, nullSeverity(inc.SeverityOverride),
		nullTime(inc.NextReminderAt), inc.Reminders,
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, bot.ErrConflict
	}
	return id, err
}

func (t *tx) UpdateIncident(ctx context.Context, inc *bot.Incident) error {
	res, err := t.tx.ExecContext(ctx, t.s.q.update,
		string(inc.Status), int(inc.Severity), inc.Title,
		jsonText(inc.GroupLabels), jsonText(inc.CommonLabels), jsonText(inc.CommonAnnotations),
		inc.ExternalURL, inc.TruncatedAlerts, inc.Firing, inc.Resolved,
		nullTime(inc.ResolvedAt), inc.UpdatedAt.UTC(),
		nullTime(inc.AckedAt), inc.AckedBy, nullSeverity(inc.SeverityOverride),
		nullTime(inc.NextReminderAt), inc.Reminders, inc.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return fmt.Errorf("incident %d: %w", inc.ID, bot.ErrNotFound)
	}
	return nil
}

func (t *tx) UpsertAlerts(ctx context.Context, incidentID int64, alerts []bot.Alert, at time.Time) error {
	return t.insertRows(ctx, qUpsertAlertsHead, qUpsertAlertsTail, alertColumns, len(alerts), func(i int) []any {
		a := alerts[i]
		var ends *time.Time
		if !a.EndsAt.IsZero() {
			ends = &a.EndsAt
		}
		return []any{incidentID, a.Fingerprint, string(a.Status), int(a.Severity),
			jsonText(a.Labels), jsonText(a.Annotations), a.StartsAt.UTC(), nullTime(ends), a.GeneratorURL, at.UTC()}
	})
}

func (t *tx) AppendEvents(ctx context.Context, incidentID int64, events []bot.Event) error {
	return t.insertRows(ctx, qAppendEventsHead, "", eventColumns, len(events), func(i int) []any {
		e := events[i]
		return []any{incidentID, e.At.UTC(), string(e.Kind), e.Detail}
	})
}

// maxRowsPerInsert keeps one statement well under PostgreSQL's 65,535
// parameters (and SQLite's 32,766); lookups by fingerprint use it too.
const maxRowsPerInsert = 500

// insertRows writes n rows with as few multi-row statements as the
// parameter limit allows: one round trip for a typical notification, not one
// per alert. row(i) returns the i-th row's cols values in column order.
func (t *tx) insertRows(ctx context.Context, head, tail string, cols, n int, row func(i int) []any) error {
	for start := 0; start < n; start += maxRowsPerInsert {
		end := min(start+maxRowsPerInsert, n)
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		q := rebind(head+values(end-start, cols)+tail, t.s.d.NumberedParams)
		if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// values is the placeholder list "(?, ?), (?, ?)" for rows × cols; it
// holds no data, only placeholders.
func values(rows, cols int) string {
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(one+", ", rows-1) + one
}

func (t *tx) Enqueue(ctx context.Context, jobs ...bot.OutboxJob) error {
	if len(jobs) == 1 {
		job := jobs[0]
		now := job.DueAt.UTC()
		_, err := t.tx.ExecContext(ctx, t.s.q.enqueue, job.IncidentID, job.Destination, int(job.Priority), now, now, now,
			nullTraceParent(traceParentOf(ctx, job)))
		return err
	}
	// One statement may not update a row twice: a job named twice is
	// coalesced here as the conflict clause would coalesce it.
	type key struct {
		id   int64
		dest string
	}
	at := make(map[key]int, len(jobs))
	merged := make([]bot.OutboxJob, 0, len(jobs))
	for _, j := range jobs {
		k := key{j.IncidentID, j.Destination}
		i, ok := at[k]
		if !ok {
			at[k] = len(merged)
			merged = append(merged, j)
			continue
		}
		m := &merged[i]
		m.Priority = min(m.Priority, j.Priority)
		if j.DueAt.Before(m.DueAt) {
			m.DueAt = j.DueAt
		}
	}
	return t.insertRows(ctx, qEnqueueHead, qEnqueueConflict, enqueueColumns, len(merged), func(i int) []any {
		j := merged[i]
		now := j.DueAt.UTC()
		return []any{j.IncidentID, j.Destination, int(j.Priority), now, now, now, nullTraceParent(traceParentOf(ctx, j))}
	})
}

// traceParentOf is the traceparent a job stores: its own, or that of the
// span that queues it.
func traceParentOf(ctx context.Context, job bot.OutboxJob) string {
	if job.TraceParent != "" {
		return job.TraceParent
	}
	return telemetry.TraceParent(ctx)
}

// nullTraceParent stores tp, or NULL when there is none or it is longer
// than the column allows (it was not made by a W3C propagator).
func nullTraceParent(tp string) any {
	if tp == "" || len(tp) > telemetry.MaxTraceParent {
		return nil
	}
	return tp
}

// scanTraceParent keeps a stored traceparent within bounds; the
// dispatcher's propagator validates the rest.
func scanTraceParent(ns sql.NullString) string {
	if !ns.Valid || len(ns.String) > telemetry.MaxTraceParent {
		return ""
	}
	return ns.String
}

// LockIncidents loads and row-locks the incidents in one statement per
// chunk, in id order (the order every writer of several incidents takes).
func (t *tx) LockIncidents(ctx context.Context, ids []int64) ([]bot.Incident, error) {
	ids = slices.Sorted(slices.Values(ids))
	ids = slices.Compact(ids)
	out := make([]bot.Incident, 0, len(ids))
	for chunk := range slices.Chunk(ids, maxRowsPerInsert) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := rebind(qLockIncidentsHead+values(1, len(chunk))+qLockIncidentsTail+t.s.d.ForUpdate, t.s.d.NumberedParams)
		rows, err := t.tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			inc, err := scanIncident(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, inc)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if len(out) != len(ids) {
		for i, id := range ids {
			if i >= len(out) || out[i].ID != id {
				return nil, fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
			}
		}
	}
	return out, nil
}

func (t *tx) AppendToEach(ctx context.Context, ids []int64, ev bot.Event) error {
	return t.insertRows(ctx, qAppendEventsHead, "", eventColumns, len(ids), func(i int) []any {
		return []any{ids[i], ev.At.UTC(), string(ev.Kind), ev.Detail}
	})
}

// ListIncidents returns incidents newest first.
func (s *Store) ListIncidents(ctx context.Context, f bot.IncidentFilter) (out []bot.Incident, err error) {
	defer s.observe("list_incidents", time.Now(), &err)
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	before := f.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	return queryIncidents(ctx, s.db, s.q.list, before, string(f.Status), string(f.Status), min(limit, bot.MaxPage))
}

// GetIncident returns one incident with its alerts and timeline.
func (s *Store) GetIncident(ctx context.Context, id int64) (d bot.IncidentDetail, err error) {
	defer s.observe("get_incident", time.Now(), &err)
	// One read transaction, so the incident, its alerts and its timeline
	// are one consistent picture.
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return d, err
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	if d.Incident, err = scanIncident(rtx.QueryRowContext(ctx, s.q.get, id)); err != nil {
		return d, err
	}
	if d.Alerts, err = queryAlerts(ctx, rtx, s.q.alerts, id); err != nil {
		return d, err
	}
	if d.Timeline, err = queryEvents(ctx, rtx, id, s.q.timeline, id); err != nil {
		return d, err
	}
	d.AlertsTotal, d.EventsTotal = len(d.Alerts), len(d.Timeline)
	return d, nil
}

// CountOpenIncidents counts open incidents by severity.
func (s *Store) CountOpenIncidents(ctx context.Context) (out map[bot.Severity]int, err error) {
	defer s.observe("count_open", time.Now(), &err)
	rows, err := s.db.QueryContext(ctx, s.q.countOpen)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out = map[bot.Severity]int{}
	for rows.Next() {
		var sev, n int
		if err := rows.Scan(&sev, &n); err != nil {
			return nil, err
		}
		out[bot.Severity(sev)] = n
	}
	return out, rows.Err()
}

// OutboxStats counts pending jobs and finds when the oldest was enqueued.
func (s *Store) OutboxStats(ctx context.Context) (n int, oldest time.Time, err error) {
	defer s.observe("outbox_stats", time.Now(), &err)
	if err = s.db.QueryRowContext(ctx, s.q.outboxDepth).Scan(&n); err != nil || n == 0 {
		return n, oldest, err
	}
	err = s.db.QueryRowContext(ctx, s.q.outboxOldest).Scan(&oldest)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil // drained in between
	}
	return n, oldest.UTC(), err
}

// ClaimJobs claims due jobs, most urgent first.
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) (jobs []bot.OutboxJob, err error) {
	defer s.observe("claim_jobs", time.Now(), &err)
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	rows, err := s.db.QueryContext(ctx, s.q.claim, now.Add(lease), token, now, now, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		j := bot.OutboxJob{ClaimToken: token}
		var prio int
		var tp sql.NullString
		if err := rows.Scan(&j.ID, &j.IncidentID, &j.Destination, &prio, &j.DueAt, &j.Attempts, &j.Version, &j.CreatedAt, &tp); err != nil {
			return nil, err
		}
		j.Priority, j.DueAt, j.CreatedAt = bot.Severity(prio), j.DueAt.UTC(), j.CreatedAt.UTC()
		j.TraceParent = scanTraceParent(tp)
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(jobs, func(a, b int) bool {
		if jobs[a].Priority != jobs[b].Priority {
			return jobs[a].Priority < jobs[b].Priority
		}
		return jobs[a].DueAt.Before(jobs[b].DueAt)
	})
	return jobs, nil
}

// ClaimNext claims the next job of destination, roots first: the job that
// posts the root of the most urgent, then oldest, incident without one;
// with none (or with rootsOnly false), the most urgent, then oldest, of
// the others. ok is false when none is due.
func (s *Store) ClaimNext(ctx context.Context, destination string, now time.Time, lease time.Duration, rootsOnly bool) (job bot.OutboxJob, ok bool, err error) {
	defer s.observe("claim_next", time.Now(), &err)
	token, err := newToken()
	if err != nil {
		return job, false, err
	}
	now = now.UTC()
	only := 0
	if rootsOnly {
		only = 1
	}
	job.ClaimToken = token
	var prio int
	var tp sql.NullString
	err = s.db.QueryRowContext(ctx, s.q.claimNext, now.Add(lease), token, destination, now, now, only).
		Scan(&job.ID, &job.IncidentID, &job.Destination, &prio, &job.DueAt, &job.Attempts, &job.Version, &job.CreatedAt, &tp)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.OutboxJob{}, false, nil
	}
	if err != nil {
		return bot.OutboxJob{}, false, err
	}
	job.Priority, job.DueAt, job.CreatedAt = bot.Severity(prio), job.DueAt.UTC(), job.CreatedAt.UTC()
	job.TraceParent = scanTraceParent(tp)
	return job, true, nil
}

// ContinueJob releases a claimed job whose first part is done as new work
// due at due (see qContinueJob).
func (s *Store) ContinueJob(ctx context.Context, job bot.OutboxJob, due time.Time) (err error) {
	defer s.observe("continue_job", time.Now(), &err)
	_, err = s.db.ExecContext(ctx, s.q.continueJob, due.UTC(), job.Version, due.UTC(), job.ID, job.ClaimToken)
	return err
}

// FinishJob deletes the job if it is unchanged since the claim, and
// otherwise releases it for the newer change.
func (s *Store) FinishJob(ctx context.Context, job bot.OutboxJob) (err error) {
	defer s.observe("finish_job", time.Now(), &err)
	res, err := s.db.ExecContext(ctx, s.q.finish, job.ID, job.Version, job.ClaimToken)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q.release, job.ID, job.ClaimToken)
	return err
}

// RetryJob releases the job, due again at due.
func (s *Store) RetryJob(ctx context.Context, job bot.OutboxJob, due time.Time, lastErr string) (err error) {
	defer s.observe("retry_job", time.Now(), &err)
	_, err = s.db.ExecContext(ctx, s.q.retry, clipText(lastErr, 1000), job.Version, due.UTC(), job.ID, job.ClaimToken)
	return err
}

// ExpediteJobs makes the waiting jobs of destinations due now.
func (s *Store) ExpediteJobs(ctx context.Context, destinations []string, now time.Time, limit int) (n int, err error) {
	defer s.observe("expedite_jobs", time.Now(), &err)
	if len(destinations) == 0 {
		return 0, nil
	}
	args := []any{now.UTC(), now.UTC()}
	for _, d := range destinations {
		args = append(args, d)
	}
	if limit <= 0 {
		limit = math.MaxInt32
	}
	args = append(args, limit)
	res, err := s.db.ExecContext(ctx, rebind(qExpediteHead+values(1, len(destinations))+qExpediteTail, s.d.NumberedParams), args...)
	if err != nil {
		return 0, err
	}
	affected, err := res.RowsAffected()
	return int(affected), err
}

// FirstSeen records a request key and reports whether it is new. Expired
// keys are swept now and then on the way, bot.ReplayClockSkew after their
// expiry as now reads it: the replica sweeping may run fast, and another
// running slow still takes the request's signature as fresh.
func (s *Store) FirstSeen(ctx context.Context, key string, now, expires time.Time) (first bool, err error) {
	defer s.observe("first_seen", time.Now(), &err)
	if s.seen.Add(1)%sweepEvery == 0 {
		if _, err := s.interactive.ExecContext(ctx, s.q.forgetExpired, now.Add(-bot.ReplayClockSkew).UTC()); err != nil {
			return false, err
		}
	}
	res, err := s.interactive.ExecContext(ctx, s.q.remember, key, expires.UTC())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// sweepEvery is how many FirstSeen calls pass between sweeps of expired keys.
const sweepEvery = 100

// Thread reads an incident's thread state at a destination.
func (s *Store) Thread(ctx context.Context, incidentID int64, destination string) (th bot.Thread, err error) {
	defer s.observe("thread", time.Now(), &err)
	th = bot.Thread{IncidentID: incidentID, Destination: destination}
	var attempted sql.NullTime
	err = s.db.QueryRowContext(ctx, s.q.thread, incidentID, destination).Scan(&th.Platform, &th.Ref.Channel,
		&th.Ref.RootID, &th.Ref.ThreadID, &attempted, &th.RootHash, &th.LastEventID, &th.RunbookPosted, &th.GraphState)
	if errors.Is(err, sql.ErrNoRows) {
		return th, nil
	}
	if attempted.Valid {
		t := attempted.Time.UTC()
		th.RootAttemptedAt = &t
	}
	return th, err
}

// SaveThread writes an incident's thread state at a destination.
func (s *Store) SaveThread(ctx context.Context, th bot.Thread, at time.Time) (err error) {
	defer s.observe("save_thread", time.Now(), &err)
	_, err = s.db.ExecContext(ctx, s.q.saveThread, th.IncidentID, th.Destination, th.Platform, th.Ref.Channel,
		th.Ref.RootID, th.Ref.ThreadID, nullTime(th.RootAttemptedAt), th.RootHash, th.LastEventID, th.RunbookPosted, th.GraphState, at.UTC())
	return err
}

func newToken() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

type rowScanner interface{ Scan(dest ...any) error }

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanIncident(r rowScanner) (bot.Incident, error) {
	var (
		inc                      bot.Incident
		status                   string
		sev                      int
		groupL, commonL, commonA string
		resolvedAt, ackedAt      sql.NullTime
		override                 sql.NullInt64
		nextReminder             sql.NullTime
	)
	err := r.Scan(&inc.ID, &inc.Receiver, &inc.GroupKey, &status, &sev, &inc.Title, &groupL, &commonL, &commonA,
		&inc.ExternalURL, &inc.TruncatedAlerts, &inc.Firing, &inc.Resolved, &inc.OpenedAt, &resolvedAt, &inc.UpdatedAt,
		&ackedAt, &inc.AckedBy, &override, &nextReminder, &inc.Reminders)
	if errors.Is(err, sql.ErrNoRows) {
		return inc, bot.ErrNotFound
	}
	if err != nil {
		return inc, err
	}
	inc.Status, inc.Severity = bot.IncidentStatus(status), bot.Severity(sev)
	inc.OpenedAt, inc.UpdatedAt = inc.OpenedAt.UTC(), inc.UpdatedAt.UTC()
	inc.ResolvedAt, inc.AckedAt = timePtr(resolvedAt), timePtr(ackedAt)
	inc.NextReminderAt = timePtr(nextReminder)
	if override.Valid {
		sev := bot.Severity(override.Int64)
		inc.SeverityOverride = &sev
	}
	for _, m := range []struct {
		src string
		dst *map[string]string
	}{{groupL, &inc.GroupLabels}, {commonL, &inc.CommonLabels}, {commonA, &inc.CommonAnnotations}} {
		if err := json.Unmarshal([]byte(m.src), m.dst); err != nil {
			return inc, fmt.Errorf("incident %d: decode labels: %w", inc.ID, err)
		}
	}
	return inc, nil
}

func queryAlerts(ctx context.Context, q queryer, query string, args ...any) ([]bot.Alert, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []bot.Alert{}
	for rows.Next() {
		var (
			a              bot.Alert
			status         string
			sev            int
			labels, annots string
			ends           sql.NullTime
		)
		if err := rows.Scan(&a.Fingerprint, &status, &sev, &labels, &annots, &a.StartsAt, &ends, &a.GeneratorURL); err != nil {
			return nil, err
		}
		a.Status, a.Severity, a.StartsAt = bot.AlertStatus(status), bot.Severity(sev), a.StartsAt.UTC()
		if ends.Valid {
			a.EndsAt = ends.Time.UTC()
		}
		if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("alert %s: decode labels: %w", a.Fingerprint, err)
		}
		if err := json.Unmarshal([]byte(annots), &a.Annotations); err != nil {
			return nil, fmt.Errorf("alert %s: decode annotations: %w", a.Fingerprint, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func jsonText(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

// timePtr is nullTime's inverse, in UTC.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullSeverity(s *bot.Severity) sql.NullInt64 {
	if s == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*s), Valid: true}
}
