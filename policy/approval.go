package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Refusal is a rule saying no. Code is stable (for the audit log and
// tests); the message is for the person.
type Refusal struct {
	Code string
	Msg  string
}

func (r *Refusal) Error() string { return r.Msg }

// Refusal codes.
const (
	CodeSelfApproval = "self_approval"
	CodeExpired      = "expired"
	CodeRole         = "insufficient_role"
	CodeAlreadyVoted = "already_voted"
	CodeClosed       = "closed"
	CodeStale        = "stale"
	CodeRateLimited  = "rate_limited"
	CodeBreakGlass   = "break_glass"
	CodeNotRequester = "not_requester"
)

func refuse(code, format string, v ...any) error {
	return &Refusal{Code: code, Msg: fmt.Sprintf(format, v...)}
}

// Rule is the two-person rule and its limits.
type Rule struct {
	// Quorum is how many people besides the requester must approve (≥ 1).
	Quorum int
	// Expiry is how long a request waits for its quorum.
	Expiry time.Duration
	// BreakGlass lets an Owner run a request alone, with a written reason.
	BreakGlass bool
	// MaxRequestsPerHour bounds one person's destructive requests.
	MaxRequestsPerHour int
}

// DefaultRule is one approver, 15 minutes, no break-glass, 20 requests an
// hour.
var DefaultRule = Rule{Quorum: 1, Expiry: 15 * time.Minute, MaxRequestsPerHour: 20}

// Request is what the rules look at in an approval request.
type Request struct {
	// Requester is Key(platform, user id).
	Requester string
	// Role is what the requester and every approver must hold.
	Role      Role
	Open      bool
	ExpiresAt time.Time
	// Voters are the keys of everyone who voted so far.
	Voters []string
}

// CheckRequest decides whether someone holding role, who made recent
// requests in the last hour, may ask for an action needing required.
func (r Rule) CheckRequest(role, required Role, recent int) error {
	if !role.Allows(required) {
		return refuse(CodeRole, "this needs the %s role; you are %s", required, role)
	}
	if r.MaxRequestsPerHour > 0 && recent >= r.MaxRequestsPerHour {
		return refuse(CodeRateLimited, "you made %d destructive requests in the last hour (limit %d); ask someone else or wait", recent, r.MaxRequestsPerHour)
	}
	return nil
}

// CheckVote decides whether voter, holding role now, may approve req.
func (r Rule) CheckVote(req Request, voter string, role Role, now time.Time) error {
	if err := checkOpen(req, now); err != nil {
		return err
	}
	if voter == req.Requester {
		return refuse(CodeSelfApproval, "you cannot approve your own request; a second person must")
	}
	if !role.Allows(req.Role) {
		return refuse(CodeRole, "approving this needs the %s role; you are %s", req.Role, role)
	}
	for _, v := range req.Voters {
		if v == voter {
			return refuse(CodeAlreadyVoted, "you already voted on this request")
		}
	}
	return nil
}

// CheckDeny decides whether voter may deny req: anyone eligible to approve
// it may, except the requester, who cancels instead.
func (r Rule) CheckDeny(req Request, voter string, role Role, now time.Time) error {
	if err := checkOpen(req, now); err != nil {
		return err
	}
	if voter == req.Requester {
		return refuse(CodeSelfApproval, "this is your own request: cancel it instead")
	}
	if !role.Allows(req.Role) {
		return refuse(CodeRole, "denying this needs the %s role; you are %s", req.Role, role)
	}
	return nil
}

// CheckCancel decides whether who may cancel req: only its requester.
func (r Rule) CheckCancel(req Request, who string, now time.Time) error {
	if !req.Open {
		return refuse(CodeClosed, "this request is already closed")
	}
	if who != req.Requester {
		return refuse(CodeNotRequester, "only the requester can cancel a request; deny it instead")
	}
	return nil
}

// QuorumReached reports whether approvals (from distinct people other
// than the requester) are enough.
func (r Rule) QuorumReached(approvals int) bool { return approvals >= max(r.Quorum, 1) }

// CheckExecution is the last check before a request runs: still in time,
// the requester and every approver still hold the role (as they hold it
// now), and the target is as it was when requested.
func (r Rule) CheckExecution(req Request, requesterRole Role, approverRoles map[string]Role, requestedHash, currentHash string, now time.Time) error {
	if !now.Before(req.ExpiresAt) {
		return refuse(CodeExpired, "the request expired at %s", req.ExpiresAt.UTC().Format("15:04:05 MST"))
	}
	if !requesterRole.Allows(req.Role) {
		return refuse(CodeRole, "the requester no longer holds the %s role", req.Role)
	}
	approvers := 0
	for who, role := range approverRoles {
		if who == req.Requester {
			return refuse(CodeSelfApproval, "the requester cannot count as an approver")
		}
		if !role.Allows(req.Role) {
			return refuse(CodeRole, "approver %s no longer holds the %s role", who, req.Role)
		}
		approvers++
	}
	if !r.QuorumReached(approvers) {
		return refuse(CodeClosed, "%d of %d approvals", approvers, max(r.Quorum, 1))
	}
	if requestedHash != currentHash {
		return refuse(CodeStale, "the target changed since the request was made; request it again")
	}
	return nil
}

// CheckBreakGlassExecution is CheckExecution for a request an Owner runs
// alone: still in time, still an Owner, the target unchanged.
func (r Rule) CheckBreakGlassExecution(req Request, role Role, requestedHash, currentHash string, now time.Time) error {
	if !now.Before(req.ExpiresAt) {
		return refuse(CodeExpired, "the request expired at %s", req.ExpiresAt.UTC().Format("15:04:05 MST"))
	}
	if !role.Allows(Owner) || !role.Allows(req.Role) {
		return refuse(CodeRole, "break-glass needs the owner role; you are %s", role)
	}
	if requestedHash != currentHash {
		return refuse(CodeStale, "the target changed since the request was made; request it again")
	}
	return nil
}

// CheckBreakGlass decides whether someone holding role may run req alone.
func (r Rule) CheckBreakGlass(req Request, who string, role Role, reason string, now time.Time) error {
	if !r.BreakGlass {
		return refuse(CodeBreakGlass, "break-glass is off for this bot")
	}
	if err := checkOpen(req, now); err != nil {
		return err
	}
	if who != req.Requester {
		return refuse(CodeNotRequester, "break-glass runs your own request alone; to let someone else's run, approve it")
	}
	if !role.Allows(Owner) {
		return refuse(CodeRole, "break-glass needs the owner role; you are %s", role)
	}
	if len(strings.Fields(reason)) < 3 {
		return refuse(CodeBreakGlass, "break-glass needs a written reason (a few words)")
	}
	return nil
}

func checkOpen(req Request, now time.Time) error {
	if !req.Open {
		return refuse(CodeClosed, "this request is already closed")
	}
	if !now.Before(req.ExpiresAt) {
		return refuse(CodeExpired, "the request expired at %s", req.ExpiresAt.UTC().Format("15:04:05 MST"))
	}
	return nil
}

// Fingerprint binds an approval to an exact action: its name, target,
// parameters and the target's version. Any difference changes it.
func Fingerprint(action, target string, params map[string]string, version string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(action)
	field(target)
	field(version)
	for _, k := range keys {
		field(k)
		field(params[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
