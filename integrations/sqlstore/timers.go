package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// The escalator's queries: durable reminders and the lease that lets one
// replica at a time fire them.

// qDueReminders is the escalator's scan; incidents_reminders_due covers it.
const qDueReminders = `SELECT id FROM incidents
	WHERE status = 'open' AND acked_at IS NULL AND next_reminder_at IS NOT NULL AND next_reminder_at <= ?
	ORDER BY next_reminder_at, id LIMIT ?`

// Past its deadline: reminded at least once since it (re)opened, or due.
const qCountPastDeadline = `SELECT COUNT(*) FROM incidents
	WHERE status = 'open' AND acked_at IS NULL
	AND (reminders > 0 OR (next_reminder_at IS NOT NULL AND next_reminder_at <= ?))`

// A reminder the escalator should have fired: still due. Firing one moves
// next_reminder_at to the next interval, so a due row that stays due is
// one nobody fired. incidents_reminders_due covers it.
const qCountOverdueReminders = `SELECT COUNT(*) FROM incidents
	WHERE status = 'open' AND acked_at IS NULL AND next_reminder_at IS NOT NULL AND next_reminder_at < ?`

// One statement takes a free lease, renews the holder's own or takes over
// an expired one; a lease held by someone else until later is left alone
// and no row changes. The primary key serialises replicas that race for it.
const qAcquireLease = `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
	WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`

// maxDueReminders bounds one scan whatever the caller asks.
const maxDueReminders = 1000

// DueReminders returns the ids of open, unacknowledged incidents whose next
// reminder is at or before now, longest overdue first.
func (s *Store) DueReminders(ctx context.Context, now time.Time, limit int) (ids []int64, err error) {
	defer s.observe("due_reminders", time.Now(), &err)
	if limit <= 0 || limit > maxDueReminders {
		limit = maxDueReminders
	}
	rows, err := s.db.QueryContext(ctx, rebind(qDueReminders, s.d.NumberedParams), now.UTC(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CountPastDeadline counts open, unacknowledged incidents past their
// response deadline.
func (s *Store) CountPastDeadline(ctx context.Context, now time.Time) (n int, err error) {
	defer s.observe("count_past_deadline", time.Now(), &err)
	err = s.db.QueryRowContext(ctx, rebind(qCountPastDeadline, s.d.NumberedParams), now.UTC()).Scan(&n)
	return n, err
}

// CountOverdueReminders counts open, unacknowledged incidents whose next
// reminder fell due before dueBefore and has not fired.
func (s *Store) CountOverdueReminders(ctx context.Context, dueBefore time.Time) (n int, err error) {
	defer s.observe("count_overdue_reminders", time.Now(), &err)
	err = s.db.QueryRowContext(ctx, rebind(qCountOverdueReminders, s.d.NumberedParams), dueBefore.UTC()).Scan(&n)
	return n, err
}

// AcquireLease gives lease name to holder until now+ttl when it is free,
// expired or already holder's, and reports whether holder has it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (ok bool, err error) {
	defer s.observe("acquire_lease", time.Now(), &err)
	if name == "" || holder == "" {
		return false, fmt.Errorf("lease %q: a lease needs a name and a holder", name)
	}
	if ttl < 0 {
		ttl = 0
	}
	now = now.UTC()
	res, err := s.db.ExecContext(ctx, rebind(qAcquireLease, s.d.NumberedParams), name, holder, now.Add(ttl), now)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	return n == 1, nil
}
