package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func timerTests() []namedTest {
	return []namedTest{
		{"CountOverdueReminders", testCountOverdueReminders},
	}
}

// testCountOverdueReminders: only open, unacknowledged incidents whose
// next reminder fell due before the cut-off count; one due exactly at it,
// one not due yet, one without a reminder, an acknowledged one and a
// resolved one do not.
func testCountOverdueReminders(t *testing.T, s bot.Store) {
	ctx := context.Background()
	cut := t0.Add(time.Hour)
	type row struct {
		key      string
		next     *time.Time
		acked    bool
		resolved bool
		counts   bool
	}
	ptr := func(d time.Duration) *time.Time { v := cut.Add(d); return &v }
	rows := []row{
		{key: "overdue-first", next: ptr(-10 * time.Minute), counts: true},
		{key: "overdue-second", next: ptr(-time.Second), counts: true},
		{key: "due-at-cut", next: ptr(0)},
		{key: "not-due", next: ptr(time.Minute)},
		{key: "no-reminder"},
		{key: "acked", next: ptr(-10 * time.Minute), acked: true},
		{key: "resolved", next: ptr(-10 * time.Minute), resolved: true},
	}
	want := 0
	for _, r := range rows {
		id := seed(t, s, r.key, bot.P1, t0)
		err := s.InTx(ctx, func(tx bot.Tx) error {
			inc, err := tx.LockIncident(ctx, id)
			if err != nil {
				return err
			}
			inc.NextReminderAt = r.next
			if r.acked {
				at := t0.Add(time.Minute)
				inc.AckedAt = &at
			}
			if r.resolved {
				at := t0.Add(time.Minute)
				inc.Status, inc.ResolvedAt, inc.Firing = bot.IncidentResolved, &at, 0
			}
			return tx.UpdateIncident(ctx, inc)
		})
		if err != nil {
			t.Fatalf("%s: update: %v", r.key, err)
		}
		if r.counts {
			want++
		}
	}
	n, err := s.CountOverdueReminders(ctx, cut)
	if err != nil || n != want {
		t.Fatalf("CountOverdueReminders(cut) = %d, %v; want %d", n, err, want)
	}
	if n, err := s.CountOverdueReminders(ctx, cut.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("CountOverdueReminders(an hour before) = %d, %v; want 0", n, err)
	}
}
