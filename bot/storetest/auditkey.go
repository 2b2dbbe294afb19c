package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

// keyedStore is what a store offers for keyed audit chains: serve gives it
// the key, then checks and marks the chain before serving.
type keyedStore interface {
	UseAuditKey(key *bot.AuditKey)
	PrepareAuditChain(ctx context.Context, marker bot.AuditRecord) (bool, error)
}

func keyed(t *testing.T, s bot.Store) keyedStore {
	t.Helper()
	ks, ok := s.(keyedStore)
	if !ok {
		t.Fatalf("%T cannot seal the audit log with a key (no UseAuditKey, PrepareAuditChain)", s)
	}
	return ks
}

func auditKey(t *testing.T, fill string) *bot.AuditKey {
	t.Helper()
	k, err := bot.NewAuditKey([]byte(strings.Repeat(fill, bot.MinAuditKeyBytes)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyWith streams the whole log through a verifier with key and
// recorded head (either may be nil), Finish included.
func verifyWith(ctx context.Context, s bot.Store, key *bot.AuditKey, head *bot.AuditHead) (int64, error) {
	v := bot.ChainVerifier{Key: key, Recorded: head}
	if err := s.AuditRecords(ctx, time.Time{}, v.Next); err != nil {
		return v.Verified(), err
	}
	return v.Verified(), v.Finish()
}

func wantVerifyBreak(t *testing.T, s bot.Store, key *bot.AuditKey, head *bot.AuditHead, seq int64, reason string) {
	t.Helper()
	n, err := verifyWith(context.Background(), s, key, head)
	var ce *bot.ChainError
	if !errors.As(err, &ce) || ce.Seq != seq || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("verify = %d rows, %v; want a break at row %d: %q", n, err, seq, reason)
	}
}

// Someone with the owner's rights lifts the guard and deletes the last
// rows: what is left is a whole chain, and only the head recorded before
// shows the loss.
func testAuditTruncatedTail(t *testing.T, b Backend) {
	appendTen(t, b.Store)
	last := records(t, b.Store, time.Time{})[9]
	head := &bot.AuditHead{Seq: last.Seq, Hash: last.Hash}
	if _, err := verifyWith(context.Background(), b.Store, nil, head); err != nil {
		t.Fatalf("before the cut, with the head: %v", err)
	}
	exec(t, b, b.Unguard...)
	exec(t, b, `DELETE FROM audit_log WHERE seq > 7`)
	if n, err := verifyWith(context.Background(), b.Store, nil, nil); err != nil || n != 7 {
		t.Fatalf("the cut chain alone = %d rows, %v; want 7 good rows", n, err)
	}
	wantVerifyBreak(t, b.Store, nil, head, 10, "missing: the chain ends at row 7")
}

// Plain rows, then keyed ones once the store has a key: the key verifies
// them, no key or another key does not, and rows forged without the key
// (edited and recomputed with SHA-256, or relabelled plain) fail with it.
func testAuditKeyedForgery(t *testing.T, b Backend) {
	ctx := context.Background()
	ks := keyed(t, b.Store)
	key := auditKey(t, "k")
	appendAudit(t, b.Store, auditRec(1, t0), auditRec(2, t0.Add(time.Minute)), auditRec(3, t0.Add(2*time.Minute)))
	ks.UseAuditKey(key)
	for i := 4; i <= 6; i++ {
		appendAudit(t, b.Store, auditRec(i, t0.Add(time.Duration(i)*time.Minute)))
	}
	rows := records(t, b.Store, time.Time{})
	if rows[2].Keyed || !rows[3].Keyed || rows[5].KeyID != key.ID() {
		t.Fatalf("rows 3, 4 = %+v, %+v; want plain then keyed under %s", rows[2], rows[3], key.ID())
	}
	if n, err := verifyWith(ctx, b.Store, key, nil); err != nil || n != 6 {
		t.Fatalf("with the key: %d rows, %v", n, err)
	}
	wantVerifyBreak(t, b.Store, nil, nil, 4, "no audit key was given")
	wantVerifyBreak(t, b.Store, auditKey(t, "w"), nil, 4, "not with the key given")

	// Row 5 edited, rows 5 and 6 recomputed with plain SHA-256: all that
	// database access alone allows.
	exec(t, b, b.Unguard...)
	forged := rows[4:]
	forged[0].Detail = "nothing happened"
	for i := range forged {
		prev := rows[3]
		if i > 0 {
			prev = forged[i-1]
		}
		forged[i].PrevHash = prev.Hash
		forged[i].Hash = forged[i].ComputeHash()
		exec(t, b, fmt.Sprintf(`UPDATE audit_log SET detail = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %d`,
			forged[i].Detail, forged[i].PrevHash, forged[i].Hash, forged[i].Seq))
	}
	wantVerifyBreak(t, b.Store, key, nil, 5, "does not match its keyed hash")

	// Every keyed row relabelled plain and recomputed: a whole plain
	// chain, which only the key shows to be a forgery.
	prev := rows[2]
	for _, r := range rows[3:] {
		r.Keyed, r.KeyID, r.PrevHash = false, "", prev.Hash
		r.Hash = r.ComputeHash()
		exec(t, b, fmt.Sprintf(`UPDATE audit_log SET keyed = FALSE, key_id = '', detail = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %d`,
			r.Detail, r.PrevHash, r.Hash, r.Seq))
		prev = r
	}
	if n, err := verifyWith(ctx, b.Store, nil, nil); err != nil || n != 6 {
		t.Fatalf("the relabelled chain without the key = %d rows, %v; want it to pass, as it must", n, err)
	}
	wantVerifyBreak(t, b.Store, key, nil, 6, "newest row is plain SHA-256 although an audit key was given")
}

// A keyed chain is extended only with its key: a store without it, or
// with another, refuses to append (a plain row would break the chain for
// good) and PrepareAuditChain says why; with a key, PrepareAuditChain
// marks a plain chain keyed once.
func testAuditKeyedAppend(t *testing.T, s bot.Store) {
	ctx := context.Background()
	ks := keyed(t, s)
	key := auditKey(t, "k")
	marker := bot.AuditRecord{At: t0, Actor: bot.Identity{Platform: "chatops", UserID: "serve"}, Kind: bot.AuditKeyInUse,
		Action: "audit key", Outcome: "in use"}

	if added, err := ks.PrepareAuditChain(ctx, marker); err != nil || added {
		t.Fatalf("no key, empty log: PrepareAuditChain = %v, %v; want nothing to do", added, err)
	}
	appendAudit(t, s, auditRec(1, t0))
	ks.UseAuditKey(key)
	for i, want := range []bool{true, false} {
		if added, err := ks.PrepareAuditChain(ctx, marker); err != nil || added != want {
			t.Fatalf("with a key, call %d: PrepareAuditChain = %v, %v; want %v", i+1, added, err, want)
		}
	}
	rows := records(t, s, time.Time{})
	if len(rows) != 2 || !rows[1].Keyed || rows[1].Kind != bot.AuditKeyInUse {
		t.Fatalf("after marking: %+v; want a plain row then the keyed marker", rows)
	}

	for _, tc := range []struct {
		name string
		key  *bot.AuditKey
		want error
	}{{"without a key", nil, bot.ErrAuditKeyNeeded}, {"with another key", auditKey(t, "w"), bot.ErrWrongAuditKey}} {
		ks.UseAuditKey(tc.key)
		err := s.InTx(ctx, func(tx bot.Tx) error { return tx.AppendAudit(ctx, auditRec(3, t0)) })
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), key.ID()) {
			t.Fatalf("%s: AppendAudit = %v; want %v naming %s", tc.name, err, tc.want, key.ID())
		}
		if _, err := ks.PrepareAuditChain(ctx, marker); !errors.Is(err, tc.want) {
			t.Fatalf("%s: PrepareAuditChain = %v; want %v", tc.name, err, tc.want)
		}
	}
	ks.UseAuditKey(key)
	appendAudit(t, s, auditRec(3, t0))
	if n, err := verifyWith(ctx, s, key, nil); err != nil || n != 3 {
		t.Fatalf("verify: %d rows, %v; want 3, nil", n, err)
	}
}
