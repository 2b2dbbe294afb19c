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

// AppendAudit seals recs onto the end of the chain and inserts them. The
// dialect's audit lock (PostgreSQL) or the immediate transaction (SQLite)
// makes appenders take turns from before they read the last row until they
// commit, so seq has no gaps and each row hashes its true predecessor. In
// PostgreSQL, take any row lock (LockApproval, LockIncident) before this:
// the audit lock is held to the end of the transaction.
func (t *tx) AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if t.s.q.lockAudit != "" {
		if _, err := t.tx.ExecContext(ctx, t.s.q.lockAudit); err != nil {
			return fmt.Errorf("audit log: lock: %w", err)
		}
	}
	var (
		last    bot.AuditRecord
		lastPtr *bot.AuditRecord
	)
	switch err := t.tx.QueryRowContext(ctx, t.s.q.auditLast).Scan(&last.Seq, &last.Hash); {
	case errors.Is(err, sql.ErrNoRows):
		// The first row of the chain.
	case err != nil:
		return fmt.Errorf("audit log: read last row: %w", err)
	default:
		lastPtr = &last
	}
	// Sealed copies: the caller's slice is left as it was, so a retried
	// transaction seals afresh.
	sealed := make([]bot.AuditRecord, len(recs))
	for i, r := range recs {
		r.Seal(lastPtr)
		sealed[i] = r
		lastPtr = &sealed[i]
	}
	err := t.insertRows(ctx, qAppendAuditHead, "", auditColumnCount, len(sealed), func(i int) []any {
		r := sealed[i]
		return []any{r.Seq, r.At, r.Actor.Platform, r.Actor.UserID, r.Actor.Name, string(r.Kind), r.Action,
			r.Outcome, r.ApprovalID, r.IncidentID, r.Channel, r.Detail, r.Flagged, r.PrevHash, r.Hash}
	})
	if err != nil {
		return fmt.Errorf("audit log: append rows %d..%d: %w", sealed[0].Seq, sealed[len(sealed)-1].Seq, err)
	}
	return nil
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
	page := make([]bot.AuditRecord, 0, auditPageSize)
	for rows.Next() {
		var (
			r    bot.AuditRecord
			kind string
		)
		if err := rows.Scan(&r.Seq, &r.At, &r.Actor.Platform, &r.Actor.UserID, &r.Actor.Name, &kind, &r.Action,
			&r.Outcome, &r.ApprovalID, &r.IncidentID, &r.Channel, &r.Detail, &r.Flagged, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		r.Kind, r.At = bot.AuditKind(kind), r.At.UTC()
		page = append(page, r)
	}
	return page, rows.Err()
}
