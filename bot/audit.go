package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// AuditRecord is one row of the append-only audit log: a command (allowed
// or refused), a vote, an execution or its result. Each row hashes its own
// content together with the previous row's hash, so editing, deleting or
// reordering a row breaks the chain from that row on.
type AuditRecord struct {
	// Seq numbers rows 1, 2, 3... with no gaps; the store assigns it.
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Actor Identity  `json:"actor"`
	// Kind is what happened: command, request, vote, deny, cancel,
	// execute, result, break_glass, expire, incident, sign_in.
	Kind AuditKind `json:"kind"`
	// Action is the command ("rollback", "incident ack").
	Action string `json:"action"`
	// Outcome: allowed, refused, approved, denied, ok, failed, stale...
	Outcome    string `json:"outcome"`
	ApprovalID int64  `json:"approval_id,omitempty"`
	IncidentID int64  `json:"incident_id,omitempty"`
	Channel    string `json:"channel,omitempty"`
	// Detail is free text: the command as typed, the refusal's reason, the
	// result.
	Detail string `json:"detail"`
	// Flagged marks rows a reviewer must look at (break-glass).
	Flagged bool `json:"flagged,omitempty"`
	// Keyed rows are sealed with HMAC-SHA-256 under the audit key named
	// by KeyID; the others with plain SHA-256. Both are in the hashed
	// content, so a row cannot be relabelled.
	Keyed    bool   `json:"keyed,omitempty"`
	KeyID    string `json:"key_id,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// AuditKind names what an audit row records.
type AuditKind string

const (
	AuditCommand    AuditKind = "command"
	AuditRequest    AuditKind = "request"
	AuditVote       AuditKind = "vote"
	AuditDeny       AuditKind = "deny"
	AuditCancel     AuditKind = "cancel"
	AuditExecute    AuditKind = "execute"
	AuditResult     AuditKind = "result"
	AuditBreakGlass AuditKind = "break_glass"
	AuditExpire     AuditKind = "expire"
	AuditIncident   AuditKind = "incident"
	// AuditSignIn is a sign-in to the web console (or a refused one) and
	// a sign-out.
	AuditSignIn AuditKind = "sign_in"
	// AuditKeyInUse marks where serve began sealing rows with an audit
	// key, so that the chain's newest row is keyed from the start.
	AuditKeyInUse AuditKind = "audit_key"
)

// Limits on an audit row's text, so one row cannot grow the log without
// bound.
const (
	MaxAuditDetail = 4000
	MaxAuditAction = 64
)

// auditContent is what a row's hash covers: everything but the hash itself.
// Its field order is fixed; changing it changes every hash.
type auditContent struct {
	Seq        int64  `json:"seq"`
	At         string `json:"at"`
	Platform   string `json:"platform"`
	UserID     string `json:"user_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Action     string `json:"action"`
	Outcome    string `json:"outcome"`
	ApprovalID int64  `json:"approval_id"`
	IncidentID int64  `json:"incident_id"`
	Channel    string `json:"channel"`
	Detail     string `json:"detail"`
	Flagged    bool   `json:"flagged"`
	PrevHash   string `json:"prev_hash"`
	// Added with keyed chains, last and omitted when empty, so a plain
	// row's content (and every hash stored before them) is unchanged.
	Keyed bool   `json:"keyed,omitempty"`
	KeyID string `json:"key_id,omitempty"`
}

// Normalize truncates the time to microseconds (what PostgreSQL keeps) in
// UTC, makes the text valid UTF-8 and clips it, so the hash computed before storing equals
// the one recomputed from the stored row.
func (r *AuditRecord) Normalize() {
	r.At = r.At.UTC().Truncate(time.Microsecond)
	for _, f := range []*string{&r.Actor.Platform, &r.Actor.UserID, &r.Actor.Name, &r.Outcome, &r.Channel, &r.Detail, &r.Action} {
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
	r.Detail = Clip(r.Detail, MaxAuditDetail)
	r.Action = Clip(r.Action, MaxAuditAction)
}

// content is the JSON a row's hash covers.
func (r AuditRecord) content() []byte {
	b, err := json.Marshal(auditContent{
		Seq: r.Seq, At: r.At.UTC().Format(time.RFC3339Nano),
		Platform: r.Actor.Platform, UserID: r.Actor.UserID, Name: r.Actor.Name,
		Kind: string(r.Kind), Action: r.Action, Outcome: r.Outcome,
		ApprovalID: r.ApprovalID, IncidentID: r.IncidentID, Channel: r.Channel,
		Detail: r.Detail, Flagged: r.Flagged, PrevHash: r.PrevHash,
		Keyed: r.Keyed, KeyID: r.KeyID,
	})
	if err != nil {
		panic(err) // strings, ints and bools always marshal
	}
	return b
}

// ComputeHash is a plain row's hash: SHA-256 over its content and the
// previous row's hash, hex-encoded. Anyone who can read the row can
// recompute it, so it shows mistakes and partial edits, not a rewrite.
func (r AuditRecord) ComputeHash() string {
	sum := sha256.Sum256(r.content())
	return hex.EncodeToString(sum[:])
}

// ComputeKeyedHash is a keyed row's hash: HMAC-SHA-256 under key over the
// same content, hex-encoded. Without the key it cannot be recomputed.
func (r AuditRecord) ComputeKeyedHash(key *AuditKey) string {
	return key.sum(r.content())
}

// Seal sets the row's sequence number, previous hash and plain hash, given
// the chain's current last row (nil for the first row).
func (r *AuditRecord) Seal(last *AuditRecord) { r.SealWith(last, nil) }

// SealWith is Seal with an audit key: with one (not nil) the row is keyed.
func (r *AuditRecord) SealWith(last *AuditRecord, key *AuditKey) {
	r.Normalize()
	r.Seq, r.PrevHash = 1, ""
	if last != nil {
		r.Seq, r.PrevHash = last.Seq+1, last.Hash
	}
	r.Keyed, r.KeyID = false, ""
	if key == nil {
		r.Hash = r.ComputeHash()
		return
	}
	r.Keyed, r.KeyID = true, key.ID()
	r.Hash = r.ComputeKeyedHash(key)
}

// Bounds on an audit key. 32 random bytes are as strong as HMAC-SHA-256
// gets; a shorter secret could be guessed offline from any keyed row.
const (
	MinAuditKeyBytes = 32
	MaxAuditKeyBytes = 4096
)

// auditKeyIDInput is what a key's id is the HMAC of.
const auditKeyIDInput = "chatops audit key id v1"

// AuditKey is the secret that keys the audit chain. It comes from the
// environment or a file, never from the YAML or the database, and prints as
// its id alone: its bytes never reach a log line, an error or an export.
type AuditKey struct {
	secret []byte
	id     string
}

// NewAuditKey wraps a secret of MinAuditKeyBytes..MaxAuditKeyBytes bytes.
func NewAuditKey(secret []byte) (*AuditKey, error) {
	switch n := len(secret); {
	case n < MinAuditKeyBytes:
		return nil, fmt.Errorf("audit key: %d bytes, want at least %d random bytes (openssl rand -hex 32)", n, MinAuditKeyBytes)
	case n > MaxAuditKeyBytes:
		return nil, fmt.Errorf("audit key: %d bytes, want at most %d", n, MaxAuditKeyBytes)
	}
	k := &AuditKey{secret: append([]byte(nil), secret...)}
	k.id = k.sum([]byte(auditKeyIDInput))[:16]
	return k, nil
}

// ID names the key without revealing it: 16 hex digits of an HMAC under
// it. Keyed rows carry it, so that verify can tell a wrong key from an
// edited row.
func (k *AuditKey) ID() string { return k.id }

func (k *AuditKey) sum(b []byte) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// String, GoString, Format and MarshalText print the id alone, whatever
// the verb or encoder (zap.Any included).
func (k *AuditKey) String() string {
	if k == nil {
		return "no audit key"
	}
	return "audit key " + k.id
}
func (k *AuditKey) GoString() string             { return strconv.Quote(k.String()) }
func (k *AuditKey) Format(f fmt.State, _ rune)   { io.WriteString(f, k.String()) }
func (k *AuditKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Errors about the audit key, wrapped by the ChainError or the store error
// that meets them.
var (
	// ErrAuditKeyNeeded: a keyed row was met with no audit key.
	ErrAuditKeyNeeded = errors.New("no audit key given")
	// ErrWrongAuditKey: a keyed row names another key than the one given.
	ErrWrongAuditKey = errors.New("another audit key")
)

// AuditHead names the chain's newest row: its sequence number and hash,
// written "SEQ:HASH". Recorded where the bot cannot write, it shows rows
// later cut off the chain's end, which the chain alone cannot.
type AuditHead struct {
	Seq  int64
	Hash string
}

func (h AuditHead) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash }

// ParseAuditHead reads a head as String writes it (and audit verify prints
// it): a positive row number, a colon, 64 hex digits.
func ParseAuditHead(s string) (AuditHead, error) {
	s = strings.TrimSpace(s)
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n <= 0 {
		return AuditHead{}, fmt.Errorf("%q: want SEQ:HASH as audit verify prints it, a row number, a colon and 64 hex digits", Clip(s, 100))
	}
	hash = strings.ToLower(hash)
	if _, err := hex.DecodeString(hash); err != nil || len(hash) != sha256.Size*2 {
		return AuditHead{}, fmt.Errorf("%q: the hash must be 64 hex digits", Clip(s, 100))
	}
	return AuditHead{Seq: n, Hash: hash}, nil
}

// ChainError names the first row where the audit chain breaks.
type ChainError struct {
	Seq    int64
	Reason string
	// Err, when set, classifies the break (ErrAuditKeyNeeded,
	// ErrWrongAuditKey).
	Err error
}

func (e *ChainError) Error() string { return fmt.Sprintf("audit row %d: %s", e.Seq, e.Reason) }
func (e *ChainError) Unwrap() error { return e.Err }

// ChainVerifier checks audit rows one by one, in the order of their
// sequence numbers as stored, then Finish checks the chain's end. The zero
// value checks plain rows and stops at the first keyed one.
//
// Plain and keyed rows share one chain: plain rows first (written before
// an audit key was set), keyed rows after. A plain row after a keyed one
// is a break, since that is what recomputing the chain without the key
// looks like; and with a key, the newest row must be keyed, since serve
// with a key seals every row with it (and marks where it began).
type ChainVerifier struct {
	// Key checks keyed rows. Without it the first keyed row stops the
	// walk with ErrAuditKeyNeeded: it cannot be told from a forgery.
	Key *AuditKey
	// Recorded, when set, is a head kept from an earlier verify: the
	// chain must still reach that row, with that hash.
	Recorded *AuditHead

	last         *AuditRecord
	plain, keyed int64
}

// Next checks one row against its own hash and the row before it.
func (v *ChainVerifier) Next(r AuditRecord) error {
	wantSeq, wantPrev := int64(1), ""
	if v.last != nil {
		wantSeq, wantPrev = v.last.Seq+1, v.last.Hash
	}
	switch {
	case r.Seq != wantSeq && r.Seq > wantSeq:
		return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("rows %d..%d are missing (deleted)", wantSeq, r.Seq-1)}
	case r.Seq != wantSeq:
		return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("out of order: expected row %d", wantSeq)}
	case r.PrevHash != wantPrev:
		return &ChainError{Seq: r.Seq, Reason: "previous-hash does not match the row before it (a row was deleted, reordered or replaced)"}
	}
	if err := v.checkHash(r); err != nil {
		return err
	}
	if h := v.Recorded; h != nil && r.Seq == h.Seq && r.Hash != h.Hash {
		return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("hash %s is not the recorded head's %s (the chain was rewritten up to this row)", r.Hash, h.Hash)}
	}
	rr := r
	v.last = &rr
	if r.Keyed {
		v.keyed++
	} else {
		v.plain++
	}
	return nil
}

// checkHash checks the row's hash the way the row says it was sealed.
func (v *ChainVerifier) checkHash(r AuditRecord) error {
	if !r.Keyed {
		if v.keyed > 0 {
			return &ChainError{Seq: r.Seq, Reason: "a plain SHA-256 row after keyed rows (the chain was recomputed without the audit key from here on)"}
		}
		if r.ComputeHash() != r.Hash {
			return &ChainError{Seq: r.Seq, Reason: "content does not match its hash (the row was edited)"}
		}
		return nil
	}
	switch {
	case v.Key == nil:
		return &ChainError{Seq: r.Seq, Err: ErrAuditKeyNeeded, Reason: fmt.Sprintf(
			"sealed with HMAC-SHA-256 under audit key %s, and no audit key was given: this row and those after it cannot be verified", r.KeyID)}
	case r.KeyID != v.Key.ID():
		return &ChainError{Seq: r.Seq, Err: ErrWrongAuditKey, Reason: fmt.Sprintf(
			"sealed with audit key %s, not with the key given (%s)", r.KeyID, v.Key.ID())}
	case !hmac.Equal([]byte(r.ComputeKeyedHash(v.Key)), []byte(r.Hash)):
		return &ChainError{Seq: r.Seq, Reason: "content does not match its keyed hash (the row was edited)"}
	}
	return nil
}

// Finish checks the end of the chain once every row has passed Next: that
// the recorded head was reached, and, with a key, that the newest row is
// keyed.
func (v *ChainVerifier) Finish() error {
	end := int64(0)
	if v.last != nil {
		end = v.last.Seq
	}
	if h := v.Recorded; h != nil && end < h.Seq {
		return &ChainError{Seq: h.Seq, Reason: fmt.Sprintf(
			"missing: the chain ends at row %d, before the recorded head %s (rows were cut off its end)", end, h)}
	}
	if v.Key != nil && v.last != nil && !v.last.Keyed {
		return &ChainError{Seq: end, Reason: "the newest row is plain SHA-256 although an audit key was given: serve seals every row " +
			"with its key, so the keyed rows were removed or recomputed without it, or serve runs without the key"}
	}
	return nil
}

// Verified is how many rows have checked out.
func (v *ChainVerifier) Verified() int64 { return v.plain + v.keyed }

// Counts is how many of the rows that checked out are plain and keyed.
func (v *ChainVerifier) Counts() (plain, keyed int64) { return v.plain, v.keyed }

// Last is the newest row that checked out, as a head; false before any.
func (v *ChainVerifier) Last() (AuditHead, bool) {
	if v.last == nil {
		return AuditHead{}, false
	}
	return AuditHead{Seq: v.last.Seq, Hash: v.last.Hash}, true
}

// AuditSource streams the audit log in sequence order (Store.AuditRecords).
type AuditSource interface {
	AuditRecords(ctx context.Context, since time.Time, fn func(AuditRecord) error) error
}

// VerifyAudit walks the whole log through v and checks its end: nil when
// the chain holds; a *ChainError naming the first break otherwise. The
// CLI's audit verify and the console's status both run it.
func VerifyAudit(ctx context.Context, src AuditSource, v *ChainVerifier) error {
	if err := src.AuditRecords(ctx, time.Time{}, v.Next); err != nil {
		return err
	}
	return v.Finish()
}

// ExportAudit writes the rows at or after since (zero: all) to w as JSON
// lines, one AuditRecord each, in sequence order, and counts them.
func ExportAudit(ctx context.Context, src AuditSource, since time.Time, w io.Writer) (int64, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var n int64
	err := src.AuditRecords(ctx, since, func(r AuditRecord) error {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("audit export: row %d: %w", r.Seq, err)
		}
		n++
		return nil
	})
	return n, err
}
