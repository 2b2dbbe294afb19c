package bot

import (
	"context"
	"time"

	"github.com/bakewise/chatops/policy"
)

// Plan is a destructive command's exact action, worked out by a server-side
// dry run before anyone approves it: what will change, on which target, at
// which version of that target.
type Plan struct {
	// Action is the command's name ("scale"); Target what it acts on
	// ("deployment bakery-ia/orders-service", "silence").
	Action string `json:"action"`
	Target string `json:"target"`
	// Params are the exact parameters, resolved ("replicas": "5",
	// "revision": "3").
	Params map[string]string `json:"params"`
	// TargetVersion is the target's version when planned (a Deployment's
	// generation); "" when the target has none.
	TargetVersion string `json:"target_version"`
	// Preview says what will happen, one fact per line: "replicas 2 → 5".
	Preview []string `json:"preview"`
	// Warnings are shown on the card ("an HPA manages this deployment").
	Warnings []string `json:"warnings,omitempty"`
	// Role is the role the requester and every approver must hold; it may
	// be above the command's own (scale to zero needs an Owner).
	Role policy.Role `json:"role"`
	// NoApproval lets the action run at once, without a second person (a
	// narrow silence).
	NoApproval bool `json:"no_approval,omitempty"`
}

// Hash binds an approval to this exact plan: action, parameters and the
// target's version.
func (p Plan) Hash() string { return policy.Fingerprint(p.Action, p.Target, p.Params, p.TargetVersion) }

// ApprovalStatus is where a request for a destructive action stands.
type ApprovalStatus string

const (
	ApprovalPending ApprovalStatus = "pending"
	// ApprovalExecuting: quorum was reached and one replica claimed the
	// execution; it never runs again, whatever happens next.
	ApprovalExecuting ApprovalStatus = "executing"
	ApprovalDone      ApprovalStatus = "done"
	ApprovalFailed    ApprovalStatus = "failed"
	ApprovalDenied    ApprovalStatus = "denied"
	ApprovalCancelled ApprovalStatus = "cancelled"
	ApprovalExpired   ApprovalStatus = "expired"
	// ApprovalStale: the target changed after the request was made.
	ApprovalStale ApprovalStatus = "stale"
)

// Closed reports whether no vote can change the request any more.
func (s ApprovalStatus) Closed() bool { return s != ApprovalPending }

// Approval is a request to run a destructive action, and its votes.
type Approval struct {
	ID int64
	// Nonce is a random value carried by the card's buttons: a click
	// whose value does not carry it was not made on this card.
	Nonce     string
	Status    ApprovalStatus
	Requester Identity
	// Where it was asked (Thread "" outside a thread), and the incident
	// whose thread that is (0: none).
	Platform, Channel, Thread string
	IncidentID                int64
	// CommandText and Options are the command as typed, re-planned at
	// execution to prove the target has not changed.
	CommandText string
	Options     map[string]string
	Plan        Plan
	// Hash is Plan.Hash() when requested.
	Hash   string
	Quorum int
	Votes  []Vote
	// Reason is the break-glass reason, or why it was denied, went stale or
	// failed.
	Reason string
	// Card is the request card's message, edited as the request moves.
	Card      ThreadRef
	CreatedAt time.Time
	ExpiresAt time.Time
	// DecidedAt is when it left pending; ExecutedAt when it finished.
	DecidedAt  *time.Time
	ExecutedAt *time.Time
	// Result is what the execution said.
	Result string
}

// Vote is one person's decision on a request.
type Vote struct {
	Voter   Identity
	Role    policy.Role
	Approve bool
	At      time.Time
}

// ApprovalTx is what the approval service does inside one transaction.
// Every change is written with its audit rows in the same transaction.
type ApprovalTx interface {
	// CreateApproval stores a new request and returns its id.
	CreateApproval(ctx context.Context, a *Approval) (int64, error)
	// LockApproval loads a request with its votes and holds it until the
	// transaction ends; ErrNotFound for an unknown id.
	LockApproval(ctx context.Context, id int64) (Approval, error)
	// UpdateApproval saves a locked request's status, reason, card,
	// decision and execution times and result.
	UpdateApproval(ctx context.Context, a *Approval) error
	// AddVote records a vote; a person votes once per request.
	AddVote(ctx context.Context, approvalID int64, v Vote) error
	// CountRequests counts the requests a person made since a time, for the
	// per-hour limit.
	CountRequests(ctx context.Context, platform, userID string, since time.Time) (int, error)
	// AppendAudit seals and appends audit rows to the chain.
	AppendAudit(ctx context.Context, recs ...AuditRecord) error
}

// Ballot is a decision as it arrives: from a command or a card's button.
type Ballot struct {
	Who     Identity
	Channel string
	ID      int64
	// Nonce is what a button carried ("" from a typed command).
	Nonce  string
	Reason string
	// Via says how it came: "button" or "command".
	Via string
	At  time.Time
}
