package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func auditTests() []namedTest {
	return []namedTest{
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditConcurrentAppenders", testAuditConcurrentAppenders},
		{"AuditRolledBackLeavesNoGap", testAuditRolledBack},
		{"AuditSince", testAuditSince},
		{"AuditPages", testAuditPages},
		{"AuditKeyedAppend", testAuditKeyedAppend},
	}
}

type tamperTest struct {
	name string
	fn   func(t *testing.T, b Backend)
}

func tamperTests() []tamperTest {
	return []tamperTest{
		{"AuditAppendOnly", testAuditAppendOnly},
		{"AuditTamperEdit", testAuditTamperEdit},
		{"AuditTamperDelete", testAuditTamperDelete},
		{"AuditTamperReorder", testAuditTamperReorder},
		{"AuditTruncatedTail", testAuditTruncatedTail},
		{"AuditKeyedForgery", testAuditKeyedForgery},
	}
}

// verifyChain streams the whole log through a ChainVerifier, handing each
// good row to each (when set), and returns how many rows verified.
func verifyChain(ctx context.Context, s bot.Store, each func(bot.AuditRecord)) (int64, error) {
	var v bot.ChainVerifier
	err := s.AuditRecords(ctx, time.Time{}, func(r bot.AuditRecord) error {
		if err := v.Next(r); err != nil {
			return err
		}
		if each != nil {
			each(r)
		}
		return nil
	})
	return v.Verified(), err
}

func records(t *testing.T, s bot.Store, since time.Time) []bot.AuditRecord {
	t.Helper()
	var out []bot.AuditRecord
	if err := s.AuditRecords(context.Background(), since, func(r bot.AuditRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("AuditRecords: %v", err)
	}
	return out
}

func auditRec(i int, at time.Time) bot.AuditRecord {
	return bot.AuditRecord{At: at, Actor: idAlice, Kind: bot.AuditCommand, Action: "health",
		Outcome: "allowed", Channel: "C0OPS", Detail: fmt.Sprintf("health orders-service #%d", i)}
}

// appendAudit appends recs in one engine transaction.
func appendAudit(t *testing.T, s bot.Store, recs ...bot.AuditRecord) {
	t.Helper()
	ctx := context.Background()
	if err := s.InTx(ctx, func(tx bot.Tx) error { return tx.AppendAudit(ctx, recs...) }); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
}

// Rows read back exactly as sealed: the time to the microsecond in UTC
// (whatever zone and precision it was given in), invalid text repaired and
// long text clipped before hashing, every field in its column.
func testAuditRoundTrip(t *testing.T, s bot.Store) {
	ctx := context.Background()
	paris := time.FixedZone("CET", 3600)
	in := []bot.AuditRecord{
		{At: time.Date(2026, 11, 20, 3, 14, 5, 123456789, paris), Actor: idAlice, Kind: bot.AuditRequest,
			Action: "scale", Outcome: "pending", ApprovalID: 7, IncidentID: 3, Channel: "C0OPS",
			Detail: "scale orders-service 5"},
		{At: t0.Add(time.Second), Actor: idBob, Kind: bot.AuditBreakGlass, Action: "rollback", Outcome: "allowed",
			ApprovalID: 8, Detail: "bad byte \xff here", Flagged: true},
		{At: t0.Add(2 * time.Second), Actor: idCarol, Kind: bot.AuditResult, Action: strings.Repeat("a", 100),
			Outcome: "ok", Detail: strings.Repeat("é", bot.MaxAuditDetail)},
	}
	// One row alone, then two in one call: both paths seal the same way.
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, in[0]) })
	if err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	appendAudit(t, s, in[1:]...)
	if in[0].Seq != 0 || in[0].Hash != "" {
		t.Fatalf("AppendAudit sealed the caller's record in place: %+v", in[0])
	}
	var (
		want []bot.AuditRecord
		last *bot.AuditRecord
	)
	for _, r := range in {
		r.Seal(last)
		want = append(want, r)
		last = &want[len(want)-1]
	}
	got := records(t, s, time.Time{})
	if len(got) != len(want) {
		t.Fatalf("%d rows read back, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) || g.At.Location() != time.UTC || g.At.Nanosecond()%1000 != 0 {
			t.Fatalf("row %d at = %s, want %s in UTC to the microsecond", w.Seq, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("row %d = %+v\nwant %+v", i+1, g, w)
		}
	}
	if got[1].Detail != "bad byte \uFFFD here" || len(got[2].Detail) > bot.MaxAuditDetail || len(got[2].Action) > bot.MaxAuditAction {
		t.Fatalf("text not normalized: %q, %d-byte detail, %d-byte action", got[1].Detail, len(got[2].Detail), len(got[2].Action))
	}
	if n, err := verifyChain(ctx, s, nil); err != nil || n != 3 {
		t.Fatalf("verify: %d rows, %v; want 3, nil", n, err)
	}
}

// Twenty writers append ten rows each, through both kinds of transaction:
// the log is rows 1..200 with no gap and no fork.
func testAuditConcurrentAppenders(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const writers, rows = 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rows {
				r := auditRec(w*rows+i, t0.Add(time.Duration(w*rows+i)*time.Millisecond))
				var err error
				if i%2 == 0 {
					err = s.InTx(ctx, func(tx bot.Tx) error { return tx.AppendAudit(ctx, r) })
				} else {
					err = s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, r) })
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d row %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var seqs []int64
	n, err := verifyChain(ctx, s, func(r bot.AuditRecord) {
		seqs = append(seqs, r.Seq)
		seen[r.Detail] = true
	})
	if err != nil || n != writers*rows {
		t.Fatalf("verify: %d rows, %v; want %d, nil", n, err, writers*rows)
	}
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("row %d has seq %d", i+1, seq)
		}
	}
	if len(seen) != writers*rows {
		t.Fatalf("%d distinct rows, want %d: some row was lost or doubled", len(seen), writers*rows)
	}
}

// A transaction that appended and then failed leaves no row and no hole.
func testAuditRolledBack(t *testing.T, s bot.Store) {
	ctx := context.Background()
	appendAudit(t, s, auditRec(1, t0))
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx bot.Tx) error {
		if err := tx.AppendAudit(ctx, auditRec(2, t0), auditRec(3, t0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	appendAudit(t, s, auditRec(4, t0))
	got := records(t, s, time.Time{})
	if len(got) != 2 || got[1].Seq != 2 || got[1].Detail != auditRec(4, t0).Detail {
		t.Fatalf("after a rollback: %+v, want rows 1 and 2 (the 4th record)", got)
	}
	if n, err := verifyChain(ctx, s, nil); err != nil || n != 2 {
		t.Fatalf("verify: %d, %v", n, err)
	}
}

func testAuditSince(t *testing.T, s bot.Store) {
	half := 500 * time.Millisecond
	appendAudit(t, s, auditRec(1, t0), auditRec(2, t0.Add(time.Hour+half)), auditRec(3, t0.Add(2*time.Hour)))
	// Times are not always in seq order (two replicas' clocks): since
	// filters by time and still streams in seq order.
	appendAudit(t, s, auditRec(4, t0.Add(time.Hour+2*half)))
	tests := []struct {
		name  string
		since time.Time
		want  []int64
	}{
		{"zero means all", time.Time{}, []int64{1, 2, 3, 4}},
		{"inclusive", t0.Add(time.Hour + half), []int64{2, 3, 4}},
		{"a microsecond later", t0.Add(time.Hour + half + time.Microsecond), []int64{3, 4}},
		{"in another zone", t0.Add(time.Hour + half).In(time.FixedZone("X", -7*3600)), []int64{2, 3, 4}},
		{"after the last", t0.Add(3 * time.Hour), nil},
	}
	for _, tc := range tests {
		var got []int64
		for _, r := range records(t, s, tc.since) {
			got = append(got, r.Seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: since %s = %v, want %v", tc.name, tc.since, got, tc.want)
		}
	}
}

// More rows than two pages: all come back, in order, and fn's error stops
// the stream at once.
func testAuditPages(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const total = 2500
	batch := make([]bot.AuditRecord, 0, 500)
	for i := range total {
		batch = append(batch, auditRec(i, t0.Add(time.Duration(i)*time.Second)))
		if len(batch) == cap(batch) {
			appendAudit(t, s, batch...)
			batch = batch[:0]
		}
	}
	if n, err := verifyChain(ctx, s, nil); err != nil || n != total {
		t.Fatalf("verify: %d rows, %v; want %d", n, err, total)
	}
	if got := records(t, s, t0.Add(1500*time.Second)); len(got) != 1000 || got[0].Seq != 1501 || got[999].Seq != total {
		t.Fatalf("since row 1501: %d rows from %d", len(got), got[0].Seq)
	}
	stop := errors.New("enough")
	calls := 0
	err := s.AuditRecords(ctx, time.Time{}, func(r bot.AuditRecord) error {
		calls++
		if r.Seq == 1200 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 1200 {
		t.Fatalf("AuditRecords with a stopping fn = %v after %d calls, want enough after 1200", err, calls)
	}
}

// appendTen appends rows 1..10 and checks they verify.
func appendTen(t *testing.T, s bot.Store) {
	t.Helper()
	for i := range 10 {
		appendAudit(t, s, auditRec(i+1, t0.Add(time.Duration(i)*time.Minute)))
	}
	if n, err := verifyChain(context.Background(), s, nil); err != nil || n != 10 {
		t.Fatalf("before tampering: %d rows, %v", n, err)
	}
}

func exec(t *testing.T, b Backend, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if err := b.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// wantBreak verifies the log and wants it to break first at row seq, after
// good rows checked out.
func wantBreak(t *testing.T, s bot.Store, seq, good int64, reason string) {
	t.Helper()
	n, err := verifyChain(context.Background(), s, nil)
	var ce *bot.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("verify after tampering = %d rows, %v; want a chain error", n, err)
	}
	if ce.Seq != seq || !strings.Contains(ce.Reason, reason) || n != good {
		t.Fatalf("verify after tampering: %v after %d good rows; want row %d (%s) after %d", ce, n, seq, reason, good)
	}
}

// The database itself refuses to change or remove a row.
func testAuditAppendOnly(t *testing.T, b Backend) {
	appendTen(t, b.Store)
	for _, q := range []string{
		`UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 3`,
		`DELETE FROM audit_log WHERE seq = 3`,
		`DELETE FROM audit_log`,
	} {
		if err := b.Exec(context.Background(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want the append-only trigger's refusal", q, err)
		}
	}
	if n, err := verifyChain(context.Background(), b.Store, nil); err != nil || n != 10 {
		t.Fatalf("after refused tampering: %d rows, %v; want 10 intact", n, err)
	}
}

func testAuditTamperEdit(t *testing.T, b Backend) {
	appendTen(t, b.Store)
	exec(t, b, b.Unguard...)
	exec(t, b, `UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 7`)
	wantBreak(t, b.Store, 7, 6, "edited")
}

func testAuditTamperDelete(t *testing.T, b Backend) {
	appendTen(t, b.Store)
	exec(t, b, b.Unguard...)
	exec(t, b, `DELETE FROM audit_log WHERE seq = 5`)
	wantBreak(t, b.Store, 6, 4, "rows 5..5 are missing")
}

// Rows 3 and 4 trade places: each keeps its own content, hash included,
// under the other's number.
func testAuditTamperReorder(t *testing.T, b Backend) {
	appendTen(t, b.Store)
	exec(t, b, b.Unguard...)
	exec(t, b,
		`UPDATE audit_log SET seq = 1000000 WHERE seq = 3`,
		`UPDATE audit_log SET seq = 3 WHERE seq = 4`,
		`UPDATE audit_log SET seq = 4 WHERE seq = 1000000`)
	wantBreak(t, b.Store, 3, 2, "previous-hash does not match")
}
