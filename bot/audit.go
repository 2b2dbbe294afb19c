package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	// execute, result, break_glass, expire, incident.
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
	Flagged  bool   `json:"flagged,omitempty"`
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

// ComputeHash is the row's hash: SHA-256 over its content and the previous
// row's hash, hex-encoded.
func (r AuditRecord) ComputeHash() string {
	b, err := json.Marshal(auditContent{
		Seq: r.Seq, At: r.At.UTC().Format(time.RFC3339Nano),
		Platform: r.Actor.Platform, UserID: r.Actor.UserID, Name: r.Actor.Name,
		Kind: string(r.Kind), Action: r.Action, Outcome: r.Outcome,
		ApprovalID: r.ApprovalID, IncidentID: r.IncidentID, Channel: r.Channel,
		Detail: r.Detail, Flagged: r.Flagged, PrevHash: r.PrevHash,
	})
	if err != nil {
		panic(err) // strings, ints and bools always marshal
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Seal sets the row's sequence number, previous hash and hash, given the
// chain's current last row (nil for the first row).
func (r *AuditRecord) Seal(last *AuditRecord) {
	r.Normalize()
	r.Seq, r.PrevHash = 1, ""
	if last != nil {
		r.Seq, r.PrevHash = last.Seq+1, last.Hash
	}
	r.Hash = r.ComputeHash()
}

// ChainError names the first row where the audit chain breaks.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("audit row %d: %s", e.Seq, e.Reason) }

// ChainVerifier checks audit rows one by one, in the order of their
// sequence numbers as stored.
type ChainVerifier struct {
	last *AuditRecord
	n    int64
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
	case r.ComputeHash() != r.Hash:
		return &ChainError{Seq: r.Seq, Reason: "content does not match its hash (the row was edited)"}
	}
	rr := r
	v.last = &rr
	v.n++
	return nil
}

// Verified is how many rows have checked out.
func (v *ChainVerifier) Verified() int64 { return v.n }
