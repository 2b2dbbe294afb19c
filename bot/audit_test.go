package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var auditT0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

func testKey(t *testing.T, fill byte) *AuditKey {
	t.Helper()
	k, err := NewAuditKey([]byte(strings.Repeat(string(rune(fill)), MinAuditKeyBytes)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chain seals n rows, the first plain of them plain and the rest with key.
func chain(n, plain int, key *AuditKey) []AuditRecord {
	out := make([]AuditRecord, n)
	var last *AuditRecord
	for i := range out {
		r := AuditRecord{At: auditT0.Add(time.Duration(i) * time.Minute), Actor: Identity{Platform: "slack", UserID: "U1", Name: "alice"},
			Kind: AuditCommand, Action: "health", Outcome: "allowed", Detail: fmt.Sprintf("health orders-service #%d", i+1)}
		k := key
		if i < plain {
			k = nil
		}
		r.SealWith(last, k)
		out[i] = r
		last = &out[i]
	}
	return out
}

// verify runs rows through v and Finish.
func verify(v *ChainVerifier, rows []AuditRecord) error {
	for _, r := range rows {
		if err := v.Next(r); err != nil {
			return err
		}
	}
	return v.Finish()
}

func wantChainError(t *testing.T, err error, seq int64, reason string) *ChainError {
	t.Helper()
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != seq || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("verify = %v; want a break at row %d: %q", err, seq, reason)
	}
	return ce
}

// A plain row's hashed content is what it was before keyed rows existed,
// so every hash already stored still verifies.
func TestPlainHashUnchanged(t *testing.T) {
	r := AuditRecord{Seq: 1, At: auditT0, Actor: Identity{Platform: "slack", UserID: "U1", Name: "alice"}, Kind: AuditCommand,
		Action: "health", Outcome: "allowed", Channel: "C1", Detail: "health orders-service"}
	was := `{"seq":1,"at":"2026-11-20T02:14:05Z","platform":"slack","user_id":"U1","name":"alice","kind":"command",` +
		`"action":"health","outcome":"allowed","approval_id":0,"incident_id":0,"channel":"C1","detail":"health orders-service",` +
		`"flagged":false,"prev_hash":""}`
	sum := sha256.Sum256([]byte(was))
	if got, want := r.ComputeHash(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("plain hash = %s, want %s (the hashed content changed)", got, want)
	}
}

func TestAuditKeyBounds(t *testing.T) {
	for _, n := range []int{0, MinAuditKeyBytes - 1, MaxAuditKeyBytes + 1} {
		if _, err := NewAuditKey(make([]byte, n)); err == nil {
			t.Errorf("NewAuditKey(%d bytes) accepted", n)
		}
	}
	a, b := testKey(t, 'a'), testKey(t, 'b')
	if a.ID() == b.ID() || len(a.ID()) != 16 || a.ID() != testKey(t, 'a').ID() {
		t.Fatalf("key ids %q, %q: want 16 hex digits, stable, distinct per key", a.ID(), b.ID())
	}
}

// The key's bytes never print, whatever the verb or encoder.
func TestAuditKeyNeverPrints(t *testing.T) {
	secret := strings.Repeat("s3cr3t-", 6)
	k, err := NewAuditKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(struct{ K *AuditKey }{k})
	outs := []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", k, k, k, k, k, k, k, k), string(j)}
	hexSecret := hex.EncodeToString([]byte(secret))
	for _, o := range outs {
		if strings.Contains(o, "s3cr3t") || strings.Contains(strings.ToLower(o), hexSecret[:20]) {
			t.Fatalf("the key printed as %q", o)
		}
		if !strings.Contains(o, k.ID()) {
			t.Errorf("%q does not name the key id", o)
		}
	}
}

func TestParseAuditHead(t *testing.T) {
	h := strings.Repeat("ab", 32)
	good := map[string]AuditHead{
		"12:" + h:                         {12, h},
		" 7:" + strings.ToUpper(h) + "\n": {7, h},
	}
	for in, want := range good {
		got, err := ParseAuditHead(in)
		if err != nil || got != want {
			t.Errorf("ParseAuditHead(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, err := ParseAuditHead(got.String()); err != nil || back != got {
			t.Errorf("round trip of %v = %v, %v", got, back, err)
		}
	}
	for _, in := range []string{"", "12", h, "0:" + h, "-3:" + h, "x:" + h, "12:" + h[:63], "12:" + h + "00", "12:" + strings.Repeat("zz", 32), "12 :" + h} {
		if got, err := ParseAuditHead(in); err == nil {
			t.Errorf("ParseAuditHead(%q) = %v, want an error", in, got)
		}
	}
}

// Rows cut off the chain's end leave a chain that verifies; only a head
// recorded before shows them.
func TestRecordedHead(t *testing.T) {
	rows := chain(10, 10, nil)
	head := AuditHead{Seq: 9, Hash: rows[8].Hash}

	if err := verify(&ChainVerifier{Recorded: &head}, rows); err != nil {
		t.Fatalf("intact chain with its head: %v", err)
	}
	cut := rows[:7]
	if err := verify(&ChainVerifier{}, cut); err != nil {
		t.Fatalf("the cut chain alone verifies, as it must: %v", err)
	}
	err := verify(&ChainVerifier{Recorded: &head}, cut)
	wantChainError(t, err, 9, "missing: the chain ends at row 7, before the recorded head 9:")
	if err := verify(&ChainVerifier{Recorded: &head}, nil); err == nil {
		t.Fatal("an emptied log verified against a recorded head")
	}

	// Cut and re-grown past the head: row 9 is another row now.
	regrown := append([]AuditRecord(nil), cut...)
	for i := range 5 {
		r := AuditRecord{At: auditT0.Add(time.Hour), Kind: AuditCommand, Action: "health", Outcome: "allowed", Detail: fmt.Sprint("new ", i)}
		r.Seal(&regrown[len(regrown)-1])
		regrown = append(regrown, r)
	}
	err = verify(&ChainVerifier{Recorded: &head}, regrown)
	wantChainError(t, err, 9, "is not the recorded head's")
}

// Keyed rows follow plain ones in one chain; the key is needed to verify
// them, a wrong key is named as such, and a chain recomputed with plain
// SHA-256 fails with the key.
func TestKeyedChain(t *testing.T) {
	key, other := testKey(t, 'k'), testKey(t, 'o')
	rows := chain(10, 4, key)
	if rows[3].Keyed || !rows[4].Keyed || rows[4].KeyID != key.ID() || rows[4].Hash == rows[4].ComputeHash() {
		t.Fatalf("rows 4 and 5 = %+v, %+v; want plain then keyed", rows[3], rows[4])
	}
	v := ChainVerifier{Key: key}
	if err := verify(&v, rows); err != nil {
		t.Fatalf("with the key: %v", err)
	}
	if p, k := v.Counts(); p != 4 || k != 6 {
		t.Fatalf("counts = %d plain, %d keyed; want 4, 6", p, k)
	}

	err := verify(&ChainVerifier{}, rows)
	if ce := wantChainError(t, err, 5, "no audit key was given"); !errors.Is(ce, ErrAuditKeyNeeded) {
		t.Fatalf("without the key: %v, want ErrAuditKeyNeeded", err)
	}
	err = verify(&ChainVerifier{Key: other}, rows)
	if ce := wantChainError(t, err, 5, "not with the key given"); !errors.Is(ce, ErrWrongAuditKey) {
		t.Fatalf("with another key: %v, want ErrWrongAuditKey", err)
	}

	t.Run("edited and recomputed with SHA-256", func(t *testing.T) {
		forged := forge(rows, 6, func(r *AuditRecord) { r.Detail = "nothing happened" }, false)
		wantChainError(t, verify(&ChainVerifier{Key: key}, forged), 7, "does not match its keyed hash")
	})
	t.Run("edited and resealed under another key with the right id", func(t *testing.T) {
		forged := append([]AuditRecord(nil), rows...)
		forged[6].Detail = "nothing happened"
		for i := 6; i < len(forged); i++ {
			forged[i].PrevHash = forged[i-1].Hash
			forged[i].Hash = forged[i].ComputeKeyedHash(other)
		}
		wantChainError(t, verify(&ChainVerifier{Key: key}, forged), 7, "does not match its keyed hash")
	})
	t.Run("relabelled plain from row 7", func(t *testing.T) {
		forged := forge(rows, 6, func(r *AuditRecord) { r.Keyed, r.KeyID = false, "" }, true)
		wantChainError(t, verify(&ChainVerifier{Key: key}, forged), 7, "a plain SHA-256 row after keyed rows")
	})
	t.Run("every keyed row relabelled plain", func(t *testing.T) {
		forged := forge(rows, 4, func(r *AuditRecord) { r.Keyed, r.KeyID = false, "" }, true)
		if err := verify(&ChainVerifier{}, forged); err != nil {
			t.Fatalf("without the key the forgery passes, as it must: %v", err)
		}
		wantChainError(t, verify(&ChainVerifier{Key: key}, forged), 10, "newest row is plain SHA-256 although an audit key was given")
	})
	t.Run("keyed rows cut off", func(t *testing.T) {
		wantChainError(t, verify(&ChainVerifier{Key: key}, rows[:4]), 4, "newest row is plain")
	})
}

// forge edits the row at index from (every row from it on, when all) and
// recomputes the hashes from there with plain SHA-256, as someone without
// the key would.
func forge(rows []AuditRecord, from int, edit func(*AuditRecord), all bool) []AuditRecord {
	out := append([]AuditRecord(nil), rows...)
	for i := from; i < len(out); i++ {
		if i == from || all {
			edit(&out[i])
		}
		out[i].PrevHash = out[i-1].Hash
		out[i].Hash = out[i].ComputeHash()
	}
	return out
}
