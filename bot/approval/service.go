package approval

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
	"github.com/bakewise/chatops/policy"
)

// Timeouts of the approval service's own work.
const (
	cardTimeout = 10 * time.Second
	// executionGrace is how long an execution may take after the request
	// that triggered it ended (a click's context ends on shutdown).
	executionGrace = 2 * time.Minute
	// DefaultSweepInterval is how often expired requests are closed.
	DefaultSweepInterval = 5 * time.Second
	maxSweepBatch        = 50
	maxReasonLength      = 500
)

// codeRolesUnconfirmed is the outcome of a decision or an execution
// refused because the platform could not confirm someone's role.
const codeRolesUnconfirmed = "roles_unconfirmed"

// Store is the approval service's side of the store.
type Store interface {
	// ApprovalTx runs fn in one transaction and commits when fn returns nil.
	ApprovalTx(ctx context.Context, fn func(bot.ApprovalTx) error) error
	// GetApproval reads a request with its votes.
	GetApproval(ctx context.Context, id int64) (bot.Approval, error)
	// DueApprovals returns up to limit pending requests whose expiry is at
	// or before now, oldest first.
	DueApprovals(ctx context.Context, now time.Time, limit int) ([]bot.Approval, error)
	// AppendAudit appends audit rows in a transaction of their own.
	AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error
}

// Planner plans and executes destructive commands from their text: the
// command table (bot/command).
type Planner interface {
	// Replan parses a stored command again and re-runs its dry run.
	Replan(ctx context.Context, cmd bot.Command, role policy.Role) (bot.Invocation, bot.Plan, error)
	// Execute runs an approved plan within the command's deadline.
	Execute(ctx context.Context, inv bot.Invocation, plan bot.Plan) (string, error)
}

// Roles tell a person's role in a channel (bot/access).
type Roles interface {
	// RoleOf is the role from the groups a request reported.
	RoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error)
	// CurrentRoleOf is the role as the platform holds it now, whatever a
	// request or a stored vote reported; an error wrapping
	// bot.ErrRolesUnconfirmed when the platform could not confirm it.
	CurrentRoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error)
}

// Timeline follows requests made in an incident's thread on that
// incident's timeline (bot/incident).
type Timeline interface {
	// IncidentOf is the incident whose thread cmd was typed in (0: none).
	IncidentOf(ctx context.Context, cmd bot.Command) int64
	// Record appends an action to incident id's timeline.
	Record(ctx context.Context, id int64, detail string)
}

// Config sets up the approval service.
type Config struct {
	Rule policy.Rule
	// Root is the command root, for the hints on cards ("ops").
	Root string
	// Cards posts and edits request cards, by platform.
	Cards map[string]bot.CardPoster
	// BreakGlassChannels is where a break-glass execution is announced, by
	// platform ("" or absent: only in the request's own channel).
	BreakGlassChannels map[string]string
	// Timeline follows requests made in an incident's thread on that
	// incident's timeline (nil: not followed).
	Timeline Timeline
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service holds destructive commands until a second, different, eligible
// person approves them, then runs them once. Every decision is written to
// the audit log in the transaction that makes it.
type Service struct {
	store   Store
	planner Planner
	roles   Roles
	cfg     Config
	log     *zap.Logger
	decided *prometheus.CounterVec
	// follows are the running follows of executed requests (follow.go);
	// stopFollows ends them (Run does, when it returns).
	follows     sync.WaitGroup
	followCtx   context.Context
	stopFollows context.CancelFunc
}

// New builds the approval service. It re-plans and executes requests
// through planner, which needs only the destructive commands; the router
// hands it new requests (Request), and the approve and deny commands and
// the cards' buttons bring it decisions.
func New(store Store, roles Roles, planner Planner, cfg Config, log *zap.Logger, reg prometheus.Registerer) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rule.Quorum < 1 {
		cfg.Rule.Quorum = 1
	}
	if cfg.Rule.Expiry <= 0 {
		cfg.Rule.Expiry = policy.DefaultRule.Expiry
	}
	s := &Service{
		store: store, planner: planner, roles: roles, cfg: cfg, log: log,
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_approval_decisions_total",
			Help: "Decisions on destructive actions by action and outcome (requested, approved, denied, refused, done, failed, stale, expired...).",
		}, []string{"action", "outcome"}),
	}
	s.followCtx, s.stopFollows = context.WithCancel(context.Background())
	// A planner that lists its commands (the command table) gets each
	// destructive action's main outcomes exported before the first request.
	if l, ok := planner.(specLister); ok {
		for _, spec := range l.Specs() {
			if !spec.Destructive {
				continue
			}
			for _, o := range []string{"requested", "approved", "denied", "done", "failed", "expired"} {
				s.decided.WithLabelValues(spec.Name, o)
			}
		}
	}
	if reg != nil {
		reg.MustRegister(s.decided)
	}
	return s
}

// specLister is a Planner that can list its commands.
type specLister interface {
	Specs() []bot.CommandSpec
}

// Request holds a planned destructive command for approval and posts its
// card, or runs it at once when its plan needs no approval.
func (s *Service) Request(ctx context.Context, inv bot.Invocation, plan bot.Plan) (bot.Answer, error) {
	cmd := inv.Command
	now := s.cfg.Now()
	if plan.NoApproval {
		return s.runAlone(ctx, inv, plan)
	}
	nonce, err := newNonce()
	if err != nil {
		return bot.Answer{}, err
	}
	a := bot.Approval{
		Nonce: nonce, Status: bot.ApprovalPending, Requester: cmd.User,
		Platform: cmd.Platform, Channel: cmd.Channel, Thread: cmd.Thread,
		CommandText: cmd.Text, Options: cmd.Options, Plan: plan, Hash: plan.Hash(),
		Quorum: s.cfg.Rule.Quorum, CreatedAt: now, ExpiresAt: now.Add(s.cfg.Rule.Expiry),
		IncidentID: s.incidentOf(ctx, cmd),
	}
	var refusal error
	err = s.store.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		recent, err := tx.CountRequests(ctx, cmd.Platform, cmd.User.UserID, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		rec := bot.AuditRecord{At: now, Actor: cmd.User, Kind: bot.AuditRequest, Action: plan.Action, Channel: cmd.Channel}
		if refusal = s.cfg.Rule.CheckRequest(inv.Role, plan.Role, recent); refusal != nil {
			rec.Outcome, rec.Detail = refusalCode(refusal), refusal.Error()+" — "+describe(plan)
			return tx.AppendAudit(ctx, rec)
		}
		if a.ID, err = tx.CreateApproval(ctx, &a); err != nil {
			return err
		}
		rec.ApprovalID, rec.Outcome, rec.Detail = a.ID, "pending", describe(plan)
		return tx.AppendAudit(ctx, rec)
	})
	if err != nil {
		return bot.Answer{}, fmt.Errorf("approval request: %w", err)
	}
	if refusal != nil {
		s.decided.WithLabelValues(plan.Action, "refused").Inc()
		return bot.PrivateAnswer(refusal.Error()), nil
	}
	s.decided.WithLabelValues(plan.Action, "requested").Inc()
	s.recordRequest(ctx, a)
	if s.postCard(ctx, &a) {
		return bot.PrivateAnswer(fmt.Sprintf("Request #%d is waiting for %s. It expires at %s; cancel it with /%s cancel %d.",
			a.ID, quorumText(a), bot.At(a.ExpiresAt), s.cfg.Root, a.ID)), nil
	}
	// Without a card the request is still valid: show it here.
	return s.cardAnswer(a), nil
}

// runAlone runs a plan that needs no approval (a narrow silence), audited
// like any other execution. An internal error comes back as a
// *bot.InternalError, logged under its request id.
func (s *Service) runAlone(ctx context.Context, inv bot.Invocation, plan bot.Plan) (bot.Answer, error) {
	cmd := inv.Command
	rec := bot.AuditRecord{At: s.cfg.Now(), Actor: cmd.User, Kind: bot.AuditExecute, Action: plan.Action, Outcome: "started", Channel: cmd.Channel, Detail: describe(plan)}
	if err := s.appendAudit(ctx, rec); err != nil {
		return bot.Answer{}, err
	}
	result, xerr := s.planner.Execute(ctx, inv, plan)
	rec.Kind, rec.At, rec.Outcome, rec.Detail = bot.AuditResult, s.cfg.Now(), "ok", result
	var text string
	if xerr != nil {
		rec.Outcome = "failed"
		var rid string
		text, rec.Detail, rid = s.chatText(ctx, s.log.With(zap.String("action", plan.Action)), xerr, plan.Action+" failed")
		if rid != "" {
			xerr = &bot.InternalError{RequestID: rid, Err: xerr}
		}
	}
	if err := s.appendAudit(ctx, rec); err != nil {
		telemetry.Logger(ctx, s.log).Error("result not audited", zap.String("action", plan.Action), zap.Error(err))
	}
	s.decided.WithLabelValues(plan.Action, rec.Outcome).Inc()
	s.recordAlone(ctx, s.incidentOf(ctx, cmd), cmd, plan, result, text)
	if xerr != nil {
		return bot.Answer{}, xerr
	}
	return bot.Answer{Title: "✅ " + result, Color: colorDone, Lines: plan.Preview}, nil
}

func (s *Service) appendAudit(ctx context.Context, recs ...bot.AuditRecord) error {
	return s.store.AppendAudit(ctx, recs...)
}

// decision is one person's move on a request.
type decision int

const (
	decideApprove decision = iota
	decideDeny
	decideCancel
	decideBreakGlass
)

var decisionKinds = map[decision]bot.AuditKind{decideApprove: bot.AuditVote, decideDeny: bot.AuditDeny, decideCancel: bot.AuditCancel, decideBreakGlass: bot.AuditBreakGlass}

// Approve votes for a request; reaching the quorum runs it.
func (s *Service) Approve(ctx context.Context, b bot.Ballot) bot.Answer {
	return s.decide(ctx, b, decideApprove)
}

// Deny closes a request; any eligible person but the requester may.
func (s *Service) Deny(ctx context.Context, b bot.Ballot) bot.Answer {
	return s.decide(ctx, b, decideDeny)
}

// Cancel closes a request at its requester's wish.
func (s *Service) Cancel(ctx context.Context, b bot.Ballot) bot.Answer {
	return s.decide(ctx, b, decideCancel)
}

// BreakGlass runs an Owner's own request alone, with a written reason,
// when the configuration allows it.
func (s *Service) BreakGlass(ctx context.Context, b bot.Ballot) bot.Answer {
	return s.decide(ctx, b, decideBreakGlass)
}

func (s *Service) decide(ctx context.Context, b bot.Ballot, d decision) bot.Answer {
	ctx, span := telemetry.Start(ctx, "approval.decide", attribute.Int64("chatops.approval", b.ID),
		attribute.String("chatops.decision", string(decisionKinds[d])))
	defer span.End()
	if b.At.IsZero() {
		b.At = s.cfg.Now()
	}
	now := b.At
	b.Reason = bot.Clip(strings.TrimSpace(b.Reason), maxReasonLength)
	role, err := s.voterRole(ctx, b, d)
	if err != nil {
		return s.roleUnconfirmed(ctx, b, d, err)
	}
	var (
		after   bot.Approval
		refusal error
		execute bool
	)
	err = s.store.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		refusal, execute = nil, false
		rec := bot.AuditRecord{At: now, Actor: b.Who, Kind: decisionKinds[d], ApprovalID: b.ID, Channel: b.Channel}
		a, err := tx.LockApproval(ctx, b.ID)
		if errors.Is(err, bot.ErrNotFound) {
			refusal = &policy.Refusal{Code: "unknown_request", Msg: fmt.Sprintf("There is no request #%d.", b.ID)}
			rec.ApprovalID = 0
			rec.Outcome, rec.Detail = "unknown_request", fmt.Sprintf("%s of request #%d by %s", rec.Kind, b.ID, b.Via)
			return tx.AppendAudit(ctx, rec)
		}
		if err != nil {
			return err
		}
		rec.Action = a.Plan.Action
		refusal = s.check(a, b, role, d, now)
		if refusal != nil {
			rec.Outcome, rec.Detail = refusalCode(refusal), refusal.Error()+" (by "+b.Via+")"
			after = a
			return tx.AppendAudit(ctx, rec)
		}
		rec.Outcome, rec.Detail = "ok", b.Via
		switch d {
		case decideApprove, decideDeny:
			v := bot.Vote{Voter: b.Who, Role: role, Approve: d == decideApprove, At: now}
			if err := tx.AddVote(ctx, a.ID, v); err != nil {
				return err
			}
			a.Votes = append(a.Votes, v)
			rec.Outcome = "approved"
			if d == decideDeny {
				rec.Outcome, a.Status, a.Reason, a.DecidedAt = "denied", bot.ApprovalDenied, b.Reason, &now
			} else if s.cfg.Rule.QuorumReached(approvals(a)) {
				a.Status, a.DecidedAt, execute = bot.ApprovalExecuting, &now, true
			}
		case decideCancel:
			rec.Outcome, a.Status, a.DecidedAt = "cancelled", bot.ApprovalCancelled, &now
		case decideBreakGlass:
			rec.Outcome, rec.Flagged, rec.Detail = "break_glass", true, "ran alone by an owner: "+b.Reason
			a.Status, a.Reason, a.DecidedAt, execute = bot.ApprovalExecuting, "break-glass: "+b.Reason, &now, true
		}
		if a.Status != bot.ApprovalPending {
			if err := tx.UpdateApproval(ctx, &a); err != nil {
				return err
			}
		}
		after = a
		return tx.AppendAudit(ctx, rec)
	})
	if err != nil {
		rid, log := telemetry.ForError(ctx, s.log)
		log.Error("approval decision not recorded", zap.Int64("approval", b.ID), zap.Error(err))
		return bot.ErrorAnswer(fmt.Sprintf("That decision could not be recorded; nothing changed. Try again in a moment (request id %s).", rid))
	}
	if refusal != nil {
		s.decided.WithLabelValues(actionOf(after), "refused").Inc()
		return bot.PrivateAnswer(refusal.Error())
	}
	s.recordDecision(ctx, after, b, d)
	if !execute {
		s.updateCard(ctx, after)
		s.decided.WithLabelValues(after.Plan.Action, string(decisionKinds[d])).Inc()
		switch after.Status {
		case bot.ApprovalPending:
			return bot.PrivateAnswer(fmt.Sprintf("Your approval of request #%d is recorded; it needs %s.", after.ID, quorumText(after)))
		default:
			return bot.PrivateAnswer(fmt.Sprintf("Request #%d is %s.", after.ID, after.Status))
		}
	}
	if d == decideBreakGlass {
		s.announceBreakGlass(ctx, after, b)
	}
	// The execution outlives the click that triggered it: once claimed it
	// must finish and record its result even if the click's context ends.
	xctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), executionGrace)
	defer cancel()
	after = s.execute(xctx, after)
	return bot.PrivateAnswer(fmt.Sprintf("Request #%d: %s", after.ID, statusLine(after)))
}

// voterRole is the role a decision is judged by. An approval or a
// break-glass may complete what runs, so it takes the voter's role as the
// platform holds it now; a denial or a cancellation only stops an action,
// and the role reported with it is enough.
func (s *Service) voterRole(ctx context.Context, b bot.Ballot, d decision) (policy.Role, error) {
	if d == decideApprove || d == decideBreakGlass {
		return s.roles.CurrentRoleOf(ctx, b.Who, b.Channel)
	}
	return s.roles.RoleOf(ctx, b.Who, b.Channel)
}

// roleUnconfirmed refuses a decision whose voter's role could not be read:
// nothing changes, the refusal is audited, and the detail is logged under
// the request id the answer names.
func (s *Service) roleUnconfirmed(ctx context.Context, b bot.Ballot, d decision, err error) bot.Answer {
	rid, log := telemetry.ForError(ctx, s.log)
	log.Warn("decision refused: role not confirmed", zap.Int64("approval", b.ID),
		zap.String("platform", b.Who.Platform), zap.String("user", b.Who.UserID), zap.Error(err))
	rec := bot.AuditRecord{At: b.At, Actor: b.Who, Kind: decisionKinds[d], Outcome: codeRolesUnconfirmed, Channel: b.Channel,
		Detail: fmt.Sprintf("%s of request #%d by %s: roles not confirmed (request id %s)", decisionKinds[d], b.ID, b.Via, rid)}
	if aerr := s.appendAudit(ctx, rec); aerr != nil {
		log.Error("refused decision not audited", zap.Error(aerr))
	}
	s.decided.WithLabelValues("unknown", "refused").Inc()
	msg := fmt.Sprintf("Your role could not be checked; nothing changed. Try again (request id %s).", rid)
	if errors.Is(err, bot.ErrRolesUnconfirmed) {
		msg = fmt.Sprintf("Could not confirm your roles with %s; nothing changed. Try again (request id %s).", bot.PlatformName(b.Who.Platform), rid)
	}
	return bot.ErrorAnswer(msg)
}

// check applies the rules to one decision on a locked request.
func (s *Service) check(a bot.Approval, b bot.Ballot, role policy.Role, d decision, now time.Time) error {
	if b.Nonce != "" && subtle.ConstantTimeCompare([]byte(b.Nonce), []byte(a.Nonce)) != 1 {
		return &policy.Refusal{Code: "tampered", Msg: fmt.Sprintf("That button does not belong to request #%d.", a.ID)}
	}
	if b.Who.Platform != a.Platform || b.Channel != a.Channel {
		return &policy.Refusal{Code: "wrong_channel", Msg: fmt.Sprintf("Request #%d can only be decided in the channel where it was made.", a.ID)}
	}
	req := policyRequest(a)
	who := policy.Key(b.Who.Platform, b.Who.UserID)
	switch d {
	case decideApprove:
		return s.cfg.Rule.CheckVote(req, who, role, now)
	case decideDeny:
		return s.cfg.Rule.CheckDeny(req, who, role, now)
	case decideCancel:
		return s.cfg.Rule.CheckCancel(req, who, now)
	default:
		return s.cfg.Rule.CheckBreakGlass(req, who, role, b.Reason, now)
	}
}

func policyRequest(a bot.Approval) policy.Request {
	req := policy.Request{
		Requester: policy.Key(a.Requester.Platform, a.Requester.UserID),
		Role:      a.Plan.Role,
		Open:      a.Status == bot.ApprovalPending,
		ExpiresAt: a.ExpiresAt,
	}
	for _, v := range a.Votes {
		req.Voters = append(req.Voters, policy.Key(v.Voter.Platform, v.Voter.UserID))
	}
	return req
}

func approvals(a bot.Approval) int {
	n := 0
	for _, v := range a.Votes {
		if v.Approve {
			n++
		}
	}
	return n
}

// execute runs a request this replica claimed (status executing): the last
// checks, then the action, then its result. It never runs twice: the claim
// was committed before, and every outcome closes the request. The roles of
// the requester and of every approver are read as the platform holds them
// now. What the card and the answer say of a failure is written for
// people; an internal error is named there by a request id, and its detail
// is in the log and the audit row.
func (s *Service) execute(ctx context.Context, a bot.Approval) bot.Approval {
	ctx, span := telemetry.Start(ctx, "approval.execute", attribute.Int64("chatops.approval", a.ID),
		attribute.String("chatops.action", a.Plan.Action))
	defer func() { span.End() }()
	now := s.cfg.Now()
	cmd := bot.Command{Platform: a.Platform, User: a.Requester, Channel: a.Channel, Thread: a.Thread, Text: a.CommandText, Options: a.Options, ReceivedAt: a.CreatedAt}
	status, reason, outcome, detail := bot.ApprovalFailed, "", "", ""
	log := s.log.With(zap.Int64("approval", a.ID), zap.String("action", a.Plan.Action))
	var inv bot.Invocation
	refusal := func() error {
		reqRole, err := s.roles.CurrentRoleOf(ctx, a.Requester, a.Channel)
		if err != nil {
			return s.unconfirmed(ctx, log, "requester", a.Requester, err)
		}
		var plan bot.Plan
		inv, plan, err = s.planner.Replan(ctx, cmd, reqRole)
		if err != nil {
			var se *bot.StaleError
			if errors.As(err, &se) {
				return &policy.Refusal{Code: policy.CodeStale, Msg: err.Error()}
			}
			return fmt.Errorf("dry run before execution: %w", err)
		}
		if strings.HasPrefix(a.Reason, "break-glass: ") {
			return s.cfg.Rule.CheckBreakGlassExecution(policyRequest(a), reqRole, a.Hash, plan.Hash(), now)
		}
		approvers := map[string]policy.Role{}
		for _, v := range a.Votes {
			if !v.Approve {
				continue
			}
			r, err := s.roles.CurrentRoleOf(ctx, v.Voter, a.Channel)
			if err != nil {
				return s.unconfirmed(ctx, log, "approver", v.Voter, err)
			}
			approvers[policy.Key(v.Voter.Platform, v.Voter.UserID)] = r
		}
		return s.cfg.Rule.CheckExecution(policyRequest(a), reqRole, approvers, a.Hash, plan.Hash(), now)
	}()
	// The request is closed now: the checks run against an open request.
	if refusal != nil {
		outcome = refusalCode(refusal)
		reason, detail, _ = s.chatText(ctx, log, refusal, "the last check before running it failed")
		switch outcome {
		case policy.CodeStale:
			status = bot.ApprovalStale
		case policy.CodeExpired:
			status = bot.ApprovalExpired
		}
	} else {
		err := s.appendAudit(ctx, bot.AuditRecord{At: now, Actor: a.Requester, Kind: bot.AuditExecute, Action: a.Plan.Action, Outcome: "started", ApprovalID: a.ID, Channel: a.Channel, Detail: describe(a.Plan)})
		if err != nil {
			outcome = "not_run"
			reason, detail, _ = s.chatText(ctx, log, fmt.Errorf("audit log: %w", err), "the audit log could not be written, so it did not run")
		} else {
			result, xerr := s.planner.Execute(ctx, inv, a.Plan)
			var se *bot.StaleError
			switch {
			case errors.As(xerr, &se):
				status, reason, outcome = bot.ApprovalStale, xerr.Error(), policy.CodeStale
			case xerr != nil:
				outcome = "failed"
				reason, detail, _ = s.chatText(ctx, log, xerr, "it failed")
			default:
				status, outcome, a.Result = bot.ApprovalDone, "ok", result
			}
		}
	}
	done := s.cfg.Now()
	if reason != "" {
		a.Result = reason
	}
	if detail == "" {
		detail = a.Result
	}
	a.Status, a.ExecutedAt = status, &done
	err := s.store.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		if err := tx.UpdateApproval(ctx, &a); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, bot.AuditRecord{At: done, Actor: a.Requester, Kind: bot.AuditResult, Action: a.Plan.Action, Outcome: outcome, ApprovalID: a.ID, Channel: a.Channel, Detail: detail})
	})
	if err != nil {
		// The action ran (or was refused) but its record did not land: the
		// request stays "executing" and never runs again; say so loudly.
		telemetry.Logger(ctx, log).Error("approval result not recorded", zap.String("outcome", outcome), zap.Error(err))
	}
	s.decided.WithLabelValues(a.Plan.Action, outcome).Inc()
	span.SetAttributes(attribute.String("chatops.approval.outcome", outcome))
	if status != bot.ApprovalDone {
		span.SetStatus(codes.Error, outcome)
	}
	s.updateCard(ctx, a)
	s.recordResult(ctx, a)
	if status == bot.ApprovalDone {
		s.startFollow(a, inv)
	}
	return a
}

// unconfirmed is the refusal of an execution whose requester's or
// approver's role the platform could not confirm: it does not run on the
// roles reported earlier. The detail is logged under the request id the
// refusal names.
func (s *Service) unconfirmed(ctx context.Context, log *zap.Logger, who string, id bot.Identity, err error) error {
	rid, log := telemetry.ForError(ctx, log)
	log.Warn("execution refused: role not confirmed", zap.String("who", who),
		zap.String("platform", id.Platform), zap.String("user", id.UserID), zap.Error(err))
	return &policy.Refusal{Code: codeRolesUnconfirmed, Msg: fmt.Sprintf("the roles of the %s, %s, could not be confirmed with %s, so it did not run; request it again (request id %s)",
		who, displayName(id), bot.PlatformName(id.Platform), rid)}
}

// chatText is what the card, the answer and the timeline may say of err,
// and what the audit row keeps: the text itself when it is written for
// people; otherwise what (what failed) with a request id (rid), under
// which the whole error is logged and audited.
func (s *Service) chatText(ctx context.Context, log *zap.Logger, err error, what string) (text, detail, rid string) {
	if msg, ok := bot.UserMessage(err); ok {
		return msg, msg, ""
	}
	rid, log = telemetry.ForError(ctx, log)
	log.Error(what, zap.Error(err))
	return bot.InternalErrorText(what, rid), err.Error() + " (request id " + rid + ")", rid
}

// ExpireDue closes pending requests past their expiry and marks their
// cards expired. It returns how many it closed.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	due, err := s.store.DueApprovals(ctx, now, maxSweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range due {
		var (
			a      bot.Approval
			closed bool
		)
		err := s.store.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
			var err error
			if a, err = tx.LockApproval(ctx, d.ID); err != nil {
				return err
			}
			if closed = a.Status == bot.ApprovalPending && !now.Before(a.ExpiresAt); !closed {
				return nil // decided meanwhile, or by another replica
			}
			a.Status, a.DecidedAt, a.Reason = bot.ApprovalExpired, &now, "no quorum before the expiry"
			if err := tx.UpdateApproval(ctx, &a); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, bot.AuditRecord{At: now, Actor: bot.Identity{Platform: "chatops", UserID: "expiry", Name: "chatops"}, Kind: bot.AuditExpire, Action: a.Plan.Action, Outcome: "expired", ApprovalID: a.ID, Channel: a.Channel, Detail: fmt.Sprintf("%d of %d approvals", approvals(a), a.Quorum)})
		})
		if err != nil {
			return n, fmt.Errorf("expire request #%d: %w", d.ID, err)
		}
		if closed {
			n++
			s.decided.WithLabelValues(a.Plan.Action, "expired").Inc()
			s.updateCard(ctx, a)
		}
	}
	return n, nil
}

// Run closes expired requests every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.StopFollows()
			return nil
		case <-t.C:
			if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("expired requests not closed", zap.Error(err))
			}
		}
	}
}

// describe is an action in one line: "rollback deployment bakery-ia/orders".
func describe(p bot.Plan) string {
	s := p.Action
	if p.Target != "" {
		s += " " + p.Target
	}
	if len(p.Preview) > 0 {
		s += " (" + p.Preview[0] + ")"
	}
	return s
}

func actionOf(a bot.Approval) string {
	if a.Plan.Action == "" {
		return "unknown"
	}
	return a.Plan.Action
}

func refusalCode(err error) string {
	var r *policy.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return "error"
}

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("approval nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// HandleClick acts on an approval card's buttons:
// chatops:<approve|deny|cancel>:<request id>:<nonce>. It reports false
// for a button that is not an approval's.
func (s *Service) HandleClick(ctx context.Context, c bot.Click) (bot.Answer, bool) {
	parts := strings.Split(c.ButtonID, ":")
	if len(parts) != 4 || parts[0] != "chatops" {
		return bot.Answer{}, false
	}
	var d decision
	switch parts[1] {
	case "approve":
		d = decideApprove
	case "deny":
		d = decideDeny
	case "cancel":
		d = decideCancel
	default:
		return bot.Answer{}, false
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id <= 0 || parts[3] == "" {
		return bot.PrivateAnswer("That button could not be read."), true
	}
	if c.Value != "" && c.Value != c.ButtonID {
		return s.decide(ctx, bot.Ballot{Who: c.User, Channel: c.Channel, ID: id, Nonce: "tampered-value", Via: "button", At: c.ReceivedAt}, d), true
	}
	return s.decide(ctx, bot.Ballot{Who: c.User, Channel: c.Channel, ID: id, Nonce: parts[3], Via: "button", At: c.ReceivedAt}, d), true
}

// displayName is a person as cards and timelines name them.
func displayName(id bot.Identity) string { return id.Display() }
