package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bakewise/chatops/bot"
)

// auditPageSize bounds how many audit rows one read holds in memory: a log
// of millions of rows streams through in pages of this size.
const auditPageSize = 1000

// UseAuditKey makes the store seal every audit row it appends with key
// (HMAC-SHA-256); nil keeps plain SHA-256. Call it before the store is used.
func (s *Store) UseAuditKey(key *bot.AuditKey) { s.auditKey = key }

// AppendAudit seals recs onto the end of the chain and inserts them. The
// dialect's audit lock (PostgreSQL) or the immediate transaction (SQLite)
// makes appenders take turns from before they read the last row until they
// commit, so seq has no gaps and each row hashes its true predecessor. In
// PostgreSQL, take any row lock (LockApproval, LockIncident) before this:
// the audit lock is held to the end of the transaction.
//
// Once the chain is keyed, a store without that key refuses to append:
// a plain row after keyed ones would break the chain for good.
func (t *tx) AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	t.auditing = true
	last, err := t.lockAuditEnd(ctx)
	if err != nil {
		return err
	}
	if err := t.s.checkAuditKey(last); err != nil {
		return err
	}
	return t.insertAudit(ctx, last, recs)
}

// lockAuditEnd takes the audit lock and reads the chain's last row (nil
// when the log is empty): its seq, hash and how it was sealed.
func (t *tx) lockAuditEnd(ctx context.Context) (*bot.AuditRecord, error) {
	if t.s.q.lockAudit != "" {
		if _, err := t.tx.ExecContext(ctx, t.s.q.lockAudit); err != nil {
			return nil, fmt.Errorf("audit log: lock: %w", err)
		}
	}
	var last bot.AuditRecord
	switch err := t.tx.QueryRowContext(ctx, t.s.q.auditLast).Scan(&last.Seq, &last.Hash, &last.Keyed, &last.KeyID); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil // the first row of the chain
	case err != nil:
		return nil, fmt.Errorf("audit log: read last row: %w", err)
	}
	return &last, nil
}

// checkAuditKey refuses to extend a keyed chain without its key.
func (s *Store) checkAuditKey(last *bot.AuditRecord) error {
	switch {
	case last == nil || !last.Keyed:
		return nil
	case s.auditKey == nil:
		return fmt.Errorf("audit log: row %d is sealed with audit key %s and this process has no audit key: %w",
			last.Seq, last.KeyID, bot.ErrAuditKeyNeeded)
	case last.KeyID != s.auditKey.ID():
		return fmt.Errorf("audit log: row %d is sealed with audit key %s and this process has audit key %s: %w",
			last.Seq, last.KeyID, s.auditKey.ID(), bot.ErrWrongAuditKey)
	}
	return nil
}

func (t *tx) insertAudit(ctx context.Context, last *bot.AuditRecord, recs []bot.AuditRecord) error {
	// Sealed copies: the caller's slice is left as it was, so a retried
	// transaction seals afresh.
	sealed := make([]bot.AuditRecord, len(recs))
	for i, r := range recs {
		r.SealWith(last, t.s.auditKey)
		sealed[i] = r
		last = &sealed[i]
	}
	err := t.insertRows(ctx, qAppendAuditHead, "", auditColumnCount, len(sealed), func(i int) []any {
		r := sealed[i]
		return []any{r.Seq, r.At, r.Actor.Platform, r.Actor.UserID, r.Actor.Name, string(r.Kind), r.Action,
			r.Outcome, r.ApprovalID, r.IncidentID, r.Channel, r.Detail, r.Flagged, r.Keyed, r.KeyID, r.PrevHash, r.Hash}
	})
	if err != nil {
		return fmt.Errorf("audit log: append rows %d..%d: %w", sealed[0].Seq, sealed[len(sealed)-1].Seq, err)
	}
	return nil
}

// PrepareAuditChain is serve's check at start-up, under the audit lock.
// Without an audit key it fails if the chain is keyed. With one it fails
// if the chain is keyed with another key, and if the chain's last row is
// not keyed yet (or there is none) it appends marker, sealed with the key,
// so that the chain is keyed from now on: verify with the key expects the
// newest row to be keyed. It reports whether it appended the marker.
func (s *Store) PrepareAuditChain(ctx context.Context, marker bot.AuditRecord) (appended bool, err error) {
	defer s.observe("prepare_audit_chain", time.Now(), &err)
	err = s.runTx(ctx, func(t *tx) error {
		last, err := t.lockAuditEnd(ctx)
		if err != nil {
			return err
		}
		if err := s.checkAuditKey(last); err != nil {
			return err
		}
		if s.auditKey == nil || last != nil && last.Keyed {
			return nil
		}
		t.auditing = true
		if err := t.insertAudit(ctx, last, []bot.AuditRecord{marker}); err != nil {
			return err
		}
		appended = true
		return nil
	})
	return appended, err
}

// AppendAudit appends rows to the audit chain in a transaction of their
// own.
func (s *Store) AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error {
	return s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, recs...) })
}

// AuditRecords streams the audit rows at or after since (zero: all) in
// sequence order. Each page is read whole and its rows released before fn
// sees them, so a slow consumer holds no connection or read lock.
func (s *Store) AuditRecords(ctx context.Context, since time.Time, fn func(bot.AuditRecord) error) (err error) {
	defer s.observe("audit_records", time.Now(), &err)
	after := int64(0)
	for {
		page, err := s.auditPage(ctx, after, since)
		if err != nil {
			return fmt.Errorf("audit log: read rows after %d: %w", after, err)
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < auditPageSize {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

func (s *Store) auditPage(ctx context.Context, after int64, since time.Time) ([]bot.AuditRecord, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if since.IsZero() {
		rows, err = s.db.QueryContext(ctx, s.q.auditPage, after, auditPageSize)
	} else {
		rows, err = s.db.QueryContext(ctx, s.q.auditPageSince, after, since.UTC(), auditPageSize)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanAudit(rows, auditPageSize)
}

// scanAudit reads audit rows as auditColumns lists them.
func scanAudit(rows *sql.Rows, size int) ([]bot.AuditRecord, error) {
	page := make([]bot.AuditRecord, 0, size)
	for rows.Next() {
		var (
			r    bot.AuditRecord
			kind string
		)
		if err := rows.Scan(&r.Seq, &r.At, &r.Actor.Platform, &r.Actor.UserID, &r.Actor.Name, &kind, &r.Action,
			&r.Outcome, &r.ApprovalID, &r.IncidentID, &r.Channel, &r.Detail, &r.Flagged, &r.Keyed, &r.KeyID, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		r.Kind, r.At = bot.AuditKind(kind), r.At.UTC()
		page = append(page, r)
	}
	return page, rows.Err()
}
