package console

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// verifyTimeout bounds one walk of the chain (a million rows take seconds).
const verifyTimeout = 10 * time.Minute

// verification is the outcome of the last walk of the chain.
type verification struct {
	Done bool
	At   time.Time
	// Took is how long the walk took.
	Took time.Duration
	OK   bool
	Rows int64
	Head bot.AuditHead
	// Err is why the chain does not verify ("" when it does).
	Err string
	// KeyNeeded: keyed rows were met and the console has no audit key.
	KeyNeeded bool
}

// auditStatus walks the chain in the background, the way audit verify
// does, and keeps the last outcome for the audit page: a page must not
// cost a walk of a million rows.
type auditStatus struct {
	mu   sync.Mutex
	last verification
}

func (a *auditStatus) get() verification {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func (a *auditStatus) run(ctx context.Context, store bot.AuditSource, cfg Config, log *zap.Logger) {
	for {
		a.verify(ctx, store, cfg, log)
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.VerifyInterval):
		}
	}
}

func (a *auditStatus) verify(ctx context.Context, store bot.AuditSource, cfg Config, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	start := cfg.Now()
	v := bot.ChainVerifier{Key: cfg.AuditKey}
	err := bot.VerifyAudit(ctx, store, &v)
	if ctx.Err() != nil && err != nil && !errors.As(err, new(*bot.ChainError)) {
		return // shutting down, or too slow: keep the last outcome
	}
	out := verification{Done: true, At: start.UTC(), Took: cfg.Now().Sub(start), OK: err == nil, Rows: v.Verified()}
	out.Head, _ = v.Last()
	if err != nil {
		out.Err = err.Error()
		out.KeyNeeded = errors.Is(err, bot.ErrAuditKeyNeeded)
		log.Warn("audit chain does not verify", zap.String("component", "console"), zap.Error(err))
	}
	a.mu.Lock()
	a.last = out
	a.mu.Unlock()
}

type auditData struct {
	Status  verification
	Head    bot.AuditHead
	HasHead bool
	// Unchecked is how many rows were written after the last walk's head:
	// the next walk checks them.
	Unchecked int64
	Person    string
	Action    string
	Rows      []bot.AuditRecord
	First     string
	Next      string
	ExportURL string
}

// parsePerson reads "platform:user_id", as the page names people.
func parsePerson(s string) (bot.Identity, bool) {
	if s == "" {
		return bot.Identity{}, true
	}
	p, u, ok := strings.Cut(s, ":")
	return bot.Identity{Platform: p, UserID: u}, ok && p != "" && u != ""
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	d := auditData{Status: c.audit.get(), Person: formValue(r, "person"), Action: formValue(r, "action")}
	actor, okPerson := parsePerson(d.Person)
	before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if !okPerson || (r.URL.Query().Get("before") != "" && (err != nil || before <= 0)) {
		c.fail(w, r, http.StatusBadRequest, "The filter or page asked for makes no sense: a person is platform:user_id (slack:U123).")
		return
	}
	if d.Head, d.HasHead, err = c.store.LastAudit(ctx); err != nil {
		c.storeFailed(w, r, "audit row", err)
		return
	}
	if d.Status.Done && d.HasHead {
		d.Unchecked = max(d.Head.Seq-d.Status.Head.Seq, 0)
	}
	q := bot.AuditQuery{Actor: actor, Action: d.Action, Before: before, Limit: c.cfg.PageSize}
	if d.Rows, err = c.store.AuditList(ctx, q); err != nil {
		c.storeFailed(w, r, "audit row", err)
		return
	}
	if before > 0 {
		d.First = pageURL(r, "before", "")
	}
	if len(d.Rows) == q.Limit {
		d.Next = pageURL(r, "before", strconv.FormatInt(d.Rows[len(d.Rows)-1].Seq, 10))
	}
	c.render(w, http.StatusOK, "audit", c.newPage(r, "audit", "Audit log", d))
}

// auditExport streams the log as the CLI's audit export writes it: JSON
// lines in sequence order, from since (an RFC 3339 time; none: all).
func (c *Console) auditExport(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			c.fail(w, r, http.StatusBadRequest, "since must be an RFC 3339 time (2026-11-20T02:14:05Z).")
			return
		}
		since = t
	}
	// A million rows take a while to write: the export sets its own
	// deadline instead of the server's.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(verifyTimeout))
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-Disposition", `attachment; filename="chatops-audit-`+c.cfg.Now().UTC().Format("20060102T150405Z")+`.jsonl"`)
	h.Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(w, 64<<10)
	n, err := bot.ExportAudit(r.Context(), c.store, since, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// Headers are gone: cut the stream short so the file is visibly
		// incomplete (no final newline-terminated row count matches).
		c.log.Warn("audit export cut short", zap.String("component", "console"), zap.Int64("rows", n), zap.Error(err))
		panic(http.ErrAbortHandler)
	}
}
