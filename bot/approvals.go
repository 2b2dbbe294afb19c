package bot

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

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

// ApprovalsConfig sets up the approval service.
type ApprovalsConfig struct {
	Rule policy.Rule
	// Root is the command root, for the hints on cards ("ops").
	Root string
	// Cards posts and edits request cards, by platform.
	Cards map[string]CardPoster
	// BreakGlassChannels is where a break-glass execution is announced, by
	// platform ("" or absent: only in the request's own channel).
	BreakGlassChannels map[string]string
	// Timeline follows requests made in an incident's thread on that
	// incident's timeline (nil: not followed).
	Timeline *Timeline
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Approvals holds destructive commands until a second, different, eligible
// person approves them, then runs them once. Every decision is written to
// the audit log in the transaction that makes it.
type Approvals struct {
	store   ApprovalStore
	router  *Router
	roles   *Roles
	cfg     ApprovalsConfig
	log     *zap.Logger
	decided *prometheus.CounterVec
}

// NewApprovals builds the approval service; Attach then makes it a
// router's handler of destructive commands (the router's command table
// holds the approve and deny commands that call back into it).
func NewApprovals(store ApprovalStore, roles *Roles, cfg ApprovalsConfig, log *zap.Logger, reg prometheus.Registerer) *Approvals {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rule.Quorum < 1 {
		cfg.Rule.Quorum = 1
	}
	if cfg.Rule.Expiry <= 0 {
		cfg.Rule.Expiry = policy.DefaultRule.Expiry
	}
	s := &Approvals{
		store: store, roles: roles, cfg: cfg, log: log,
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_approval_decisions_total",
			Help: "Decisions on destructive actions by action and outcome (requested, approved, denied, refused, done, failed, stale, expired...).",
		}, []string{"action", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(s.decided)
	}
	return s
}

// Attach makes s the router's handler of destructive commands, and the
// router the one s re-plans and executes them with. Call it before either
// serves.
func (s *Approvals) Attach(router *Router) {
	s.router = router
	router.SetActions(s)
}

// Request holds a planned destructive command for approval and posts its
// card, or runs it at once when its plan needs no approval.
func (s *Approvals) Request(ctx context.Context, inv Invocation, plan Plan) (Answer, error) {
	cmd := inv.Command
	now := s.cfg.Now()
	if plan.NoApproval {
		return s.runAlone(ctx, inv, plan)
	}
	nonce, err := newNonce()
	if err != nil {
		return Answer{}, err
	}
	a := Approval{
		Nonce: nonce, Status: ApprovalPending, Requester: cmd.User,
		Platform: cmd.Platform, Channel: cmd.Channel, Thread: cmd.Thread,
		CommandText: cmd.Text, Options: cmd.Options, Plan: plan, Hash: plan.Hash(),
		Quorum: s.cfg.Rule.Quorum, CreatedAt: now, ExpiresAt: now.Add(s.cfg.Rule.Expiry),
		IncidentID: s.cfg.Timeline.IncidentOf(ctx, cmd),
	}
	var refusal error
	err = s.store.ApprovalTx(ctx, func(tx ApprovalTx) error {
		recent, err := tx.CountRequests(ctx, cmd.Platform, cmd.User.UserID, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		rec := AuditRecord{At: now, Actor: cmd.User, Kind: AuditRequest, Action: plan.Action, Channel: cmd.Channel}
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
		return Answer{}, fmt.Errorf("approval request: %w", err)
	}
	if refusal != nil {
		s.decided.WithLabelValues(plan.Action, "refused").Inc()
		return private(refusal.Error()), nil
	}
	s.decided.WithLabelValues(plan.Action, "requested").Inc()
	s.recordRequest(ctx, a)
	if s.postCard(ctx, &a) {
		return private(fmt.Sprintf("Request #%d is waiting for %s. It expires at %s; cancel it with /%s cancel %d.",
			a.ID, quorumText(a), a.ExpiresAt.UTC().Format("15:04 MST"), s.cfg.Root, a.ID)), nil
	}
	// Without a card the request is still valid: show it here.
	return s.cardAnswer(a), nil
}

// runAlone runs a plan that needs no approval (a narrow silence), audited
// like any other execution.
func (s *Approvals) runAlone(ctx context.Context, inv Invocation, plan Plan) (Answer, error) {
	cmd := inv.Command
	rec := AuditRecord{At: s.cfg.Now(), Actor: cmd.User, Kind: AuditExecute, Action: plan.Action, Outcome: "started", Channel: cmd.Channel, Detail: describe(plan)}
	if err := s.appendAudit(ctx, rec); err != nil {
		return Answer{}, err
	}
	result, xerr := s.router.Execute(ctx, inv, plan)
	rec.Kind, rec.At, rec.Outcome, rec.Detail = AuditResult, s.cfg.Now(), "ok", result
	if xerr != nil {
		rec.Outcome, rec.Detail = "failed", xerr.Error()
	}
	if err := s.appendAudit(ctx, rec); err != nil {
		s.log.Error("result not audited", zap.String("action", plan.Action), zap.Error(err))
	}
	s.decided.WithLabelValues(plan.Action, rec.Outcome).Inc()
	s.recordAlone(ctx, s.cfg.Timeline.IncidentOf(ctx, cmd), cmd, plan, result, xerr)
	if xerr != nil {
		return Answer{}, xerr
	}
	return Answer{Title: "✅ " + result, Color: colorDone, Lines: plan.Preview}, nil
}

func (s *Approvals) appendAudit(ctx context.Context, recs ...AuditRecord) error {
	return s.store.ApprovalTx(ctx, func(tx ApprovalTx) error { return tx.AppendAudit(ctx, recs...) })
}

// decision is one person's move on a request.
type decision int

const (
	decideApprove decision = iota
	decideDeny
	decideCancel
	decideBreakGlass
)

var decisionKinds = map[decision]AuditKind{decideApprove: AuditVote, decideDeny: AuditDeny, decideCancel: AuditCancel, decideBreakGlass: AuditBreakGlass}

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

// Approve votes for a request; reaching the quorum runs it.
func (s *Approvals) Approve(ctx context.Context, b Ballot) Answer {
	return s.decide(ctx, b, decideApprove)
}

// Deny closes a request; any eligible person but the requester may.
func (s *Approvals) Deny(ctx context.Context, b Ballot) Answer { return s.decide(ctx, b, decideDeny) }

// Cancel closes a request at its requester's wish.
func (s *Approvals) Cancel(ctx context.Context, b Ballot) Answer {
	return s.decide(ctx, b, decideCancel)
}

// BreakGlass runs an Owner's own request alone, with a written reason,
// when the configuration allows it.
func (s *Approvals) BreakGlass(ctx context.Context, b Ballot) Answer {
	return s.decide(ctx, b, decideBreakGlass)
}

func (s *Approvals) decide(ctx context.Context, b Ballot, d decision) Answer {
	if b.At.IsZero() {
		b.At = s.cfg.Now()
	}
	now := b.At
	b.Reason = clip(strings.TrimSpace(b.Reason), maxReasonLength)
	role, err := s.roles.RoleOf(ctx, b.Who, b.Channel)
	if err != nil {
		return errorAnswer("Your role could not be checked: " + err.Error())
	}
	var (
		after   Approval
		refusal error
		execute bool
	)
	err = s.store.ApprovalTx(ctx, func(tx ApprovalTx) error {
		refusal, execute = nil, false
		rec := AuditRecord{At: now, Actor: b.Who, Kind: decisionKinds[d], ApprovalID: b.ID, Channel: b.Channel}
		a, err := tx.LockApproval(ctx, b.ID)
		if errors.Is(err, ErrNotFound) {
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
			v := Vote{Voter: b.Who, Role: role, Approve: d == decideApprove, At: now}
			if err := tx.AddVote(ctx, a.ID, v); err != nil {
				return err
			}
			a.Votes = append(a.Votes, v)
			rec.Outcome = "approved"
			if d == decideDeny {
				rec.Outcome, a.Status, a.Reason, a.DecidedAt = "denied", ApprovalDenied, b.Reason, &now
			} else if s.cfg.Rule.QuorumReached(approvals(a)) {
				a.Status, a.DecidedAt, execute = ApprovalExecuting, &now, true
			}
		case decideCancel:
			rec.Outcome, a.Status, a.DecidedAt = "cancelled", ApprovalCancelled, &now
		case decideBreakGlass:
			rec.Outcome, rec.Flagged, rec.Detail = "break_glass", true, "ran alone by an owner: "+b.Reason
			a.Status, a.Reason, a.DecidedAt, execute = ApprovalExecuting, "break-glass: "+b.Reason, &now, true
		}
		if a.Status != ApprovalPending {
			if err := tx.UpdateApproval(ctx, &a); err != nil {
				return err
			}
		}
		after = a
		return tx.AppendAudit(ctx, rec)
	})
	if err != nil {
		s.log.Error("approval decision not recorded", zap.Int64("approval", b.ID), zap.Error(err))
		return errorAnswer("That decision could not be recorded; nothing changed. Try again in a moment.")
	}
	if refusal != nil {
		s.decided.WithLabelValues(actionOf(after), "refused").Inc()
		return private(refusal.Error())
	}
	s.recordDecision(ctx, after, b, d)
	if !execute {
		s.updateCard(ctx, after)
		s.decided.WithLabelValues(after.Plan.Action, string(decisionKinds[d])).Inc()
		switch after.Status {
		case ApprovalPending:
			return private(fmt.Sprintf("Your approval of request #%d is recorded; it needs %s.", after.ID, quorumText(after)))
		default:
			return private(fmt.Sprintf("Request #%d is %s.", after.ID, after.Status))
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
	return private(fmt.Sprintf("Request #%d: %s", after.ID, statusLine(after)))
}

// check applies the rules to one decision on a locked request.
func (s *Approvals) check(a Approval, b Ballot, role policy.Role, d decision, now time.Time) error {
	if b.Nonce != "" && subtle.ConstantTimeCompare([]byte(b.Nonce), []byte(a.Nonce)) != 1 {
		return &policy.Refusal{Code: "tampered", Msg: fmt.Sprintf("That button does not belong to request #%d.", a.ID)}
	}
	if b.Who.Platform != a.Platform || b.Channel != a.Channel {
		return &policy.Refusal{Code: "wrong_channel", Msg: fmt.Sprintf("Request #%d can only be decided in the channel where it was made.", a.ID)}
	}
	req := a.policyRequest()
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

func (a Approval) policyRequest() policy.Request {
	req := policy.Request{
		Requester: policy.Key(a.Requester.Platform, a.Requester.UserID),
		Role:      a.Plan.Role,
		Open:      a.Status == ApprovalPending,
		ExpiresAt: a.ExpiresAt,
	}
	for _, v := range a.Votes {
		req.Voters = append(req.Voters, policy.Key(v.Voter.Platform, v.Voter.UserID))
	}
	return req
}

func approvals(a Approval) int {
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
// was committed before, and every outcome closes the request.
func (s *Approvals) execute(ctx context.Context, a Approval) Approval {
	now := s.cfg.Now()
	cmd := Command{Platform: a.Platform, User: a.Requester, Channel: a.Channel, Thread: a.Thread, Text: a.CommandText, Options: a.Options, ReceivedAt: a.CreatedAt}
	status, reason, outcome := ApprovalFailed, "", ""
	var inv Invocation
	refusal := func() error {
		reqRole, err := s.roles.RoleOf(ctx, a.Requester, a.Channel)
		if err != nil {
			return fmt.Errorf("requester's role: %w", err)
		}
		var plan Plan
		inv, plan, err = s.router.Replan(ctx, cmd, reqRole)
		if err != nil {
			var se *StaleError
			if errors.As(err, &se) {
				return &policy.Refusal{Code: policy.CodeStale, Msg: err.Error()}
			}
			return fmt.Errorf("dry run before execution: %w", err)
		}
		if strings.HasPrefix(a.Reason, "break-glass: ") {
			return s.cfg.Rule.CheckBreakGlassExecution(a.policyRequest(), reqRole, a.Hash, plan.Hash(), now)
		}
		approvers := map[string]policy.Role{}
		for _, v := range a.Votes {
			if !v.Approve {
				continue
			}
			r, err := s.roles.RoleOf(ctx, v.Voter, a.Channel)
			if err != nil {
				return fmt.Errorf("approver's role: %w", err)
			}
			approvers[policy.Key(v.Voter.Platform, v.Voter.UserID)] = r
		}
		return s.cfg.Rule.CheckExecution(a.policyRequest(), reqRole, approvers, a.Hash, plan.Hash(), now)
	}()
	// The request is closed now: the checks run against an open request.
	if refusal != nil {
		reason, outcome = refusal.Error(), refusalCode(refusal)
		switch outcome {
		case policy.CodeStale:
			status = ApprovalStale
		case policy.CodeExpired:
			status = ApprovalExpired
		}
	} else {
		err := s.appendAudit(ctx, AuditRecord{At: now, Actor: a.Requester, Kind: AuditExecute, Action: a.Plan.Action, Outcome: "started", ApprovalID: a.ID, Channel: a.Channel, Detail: describe(a.Plan)})
		if err != nil {
			reason, outcome = "the audit log could not be written, so it did not run: "+err.Error(), "not_run"
		} else {
			result, xerr := s.router.Execute(ctx, inv, a.Plan)
			var se *StaleError
			switch {
			case errors.As(xerr, &se):
				status, reason, outcome = ApprovalStale, xerr.Error(), policy.CodeStale
			case xerr != nil:
				reason, outcome = xerr.Error(), "failed"
			default:
				status, outcome, a.Result = ApprovalDone, "ok", result
			}
		}
	}
	done := s.cfg.Now()
	if reason != "" {
		a.Result = reason
	}
	a.Status, a.ExecutedAt = status, &done
	err := s.store.ApprovalTx(ctx, func(tx ApprovalTx) error {
		if err := tx.UpdateApproval(ctx, &a); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, AuditRecord{At: done, Actor: a.Requester, Kind: AuditResult, Action: a.Plan.Action, Outcome: outcome, ApprovalID: a.ID, Channel: a.Channel, Detail: a.Result})
	})
	if err != nil {
		// The action ran (or was refused) but its record did not land: the
		// request stays "executing" and never runs again; say so loudly.
		s.log.Error("approval result not recorded", zap.Int64("approval", a.ID), zap.String("outcome", outcome), zap.Error(err))
	}
	s.decided.WithLabelValues(a.Plan.Action, outcome).Inc()
	s.updateCard(ctx, a)
	s.recordResult(ctx, a)
	return a
}

// ExpireDue closes pending requests past their expiry and marks their
// cards expired. It returns how many it closed.
func (s *Approvals) ExpireDue(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	due, err := s.store.DueApprovals(ctx, now, maxSweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range due {
		var (
			a      Approval
			closed bool
		)
		err := s.store.ApprovalTx(ctx, func(tx ApprovalTx) error {
			var err error
			if a, err = tx.LockApproval(ctx, d.ID); err != nil {
				return err
			}
			if closed = a.Status == ApprovalPending && !now.Before(a.ExpiresAt); !closed {
				return nil // decided meanwhile, or by another replica
			}
			a.Status, a.DecidedAt, a.Reason = ApprovalExpired, &now, "no quorum before the expiry"
			if err := tx.UpdateApproval(ctx, &a); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, AuditRecord{At: now, Actor: Identity{Platform: "chatops", UserID: "expiry", Name: "chatops"}, Kind: AuditExpire, Action: a.Plan.Action, Outcome: "expired", ApprovalID: a.ID, Channel: a.Channel, Detail: fmt.Sprintf("%d of %d approvals", approvals(a), a.Quorum)})
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
func (s *Approvals) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("expired requests not closed", zap.Error(err))
			}
		}
	}
}

// postCard posts a new request's card and remembers where it is.
func (s *Approvals) postCard(ctx context.Context, a *Approval) bool {
	poster := s.cfg.Cards[a.Platform]
	if poster == nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, cardTimeout)
	defer cancel()
	ref, err := poster.PostCard(cctx, a.Channel, a.Thread, s.card(*a))
	if err != nil {
		s.log.Warn("approval card not posted", zap.Int64("approval", a.ID), zap.Error(err))
		return false
	}
	a.Card = ref
	err = s.store.ApprovalTx(ctx, func(tx ApprovalTx) error {
		cur, err := tx.LockApproval(ctx, a.ID)
		if err != nil {
			return err
		}
		cur.Card = ref
		return tx.UpdateApproval(ctx, &cur)
	})
	if err != nil {
		s.log.Warn("approval card not remembered; it will not be edited", zap.Int64("approval", a.ID), zap.Error(err))
	}
	return true
}

// updateCard edits a request's card to show where it stands.
func (s *Approvals) updateCard(ctx context.Context, a Approval) {
	poster := s.cfg.Cards[a.Platform]
	if poster == nil || a.Card.RootID == "" {
		if poster != nil && a.ID != 0 {
			if cur, err := s.store.GetApproval(ctx, a.ID); err == nil && cur.Card.RootID != "" {
				a.Card = cur.Card
			}
		}
		if poster == nil || a.Card.RootID == "" {
			return
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cardTimeout)
	defer cancel()
	if err := poster.EditCard(cctx, a.Card, s.card(a)); err != nil {
		s.log.Warn("approval card not updated", zap.Int64("approval", a.ID), zap.Error(err))
	}
}

// announceBreakGlass tells the break-glass channel (and the request's own
// thread) that an Owner ran an action alone.
func (s *Approvals) announceBreakGlass(ctx context.Context, a Approval, b Ballot) {
	poster := s.cfg.Cards[a.Platform]
	if poster == nil {
		return
	}
	m := Message{
		Severity: SeverityUnknown,
		Marker:   fmt.Sprintf("chatops:breakglass:%d", a.ID),
		Title:    fmt.Sprintf("🚨 Break-glass: %s ran request #%d alone: %s", display(b.Who), a.ID, describe(a.Plan)),
		Color:    colorFailed,
		Lines:    []string{"Reason: " + b.Reason, "This is flagged in the audit log for review."},
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cardTimeout)
	defer cancel()
	channel, thread := a.Channel, a.Thread
	if c := s.cfg.BreakGlassChannels[a.Platform]; c != "" {
		channel, thread = c, ""
	}
	if _, err := poster.PostCard(cctx, channel, thread, m); err != nil {
		s.log.Warn("break-glass announcement not posted", zap.Int64("approval", a.ID), zap.Error(err))
	}
}

// Card colours.
const (
	colorPending = 0xECB22E
	colorDone    = 0x2EB67D
	colorFailed  = 0xE01E5A
	colorClosed  = 0x868686
)

// card renders a request as its card: the exact action, its preview, who
// asked and who decided, and buttons while it is open.
func (s *Approvals) card(a Approval) Message {
	m := Message{
		Severity: SeverityUnknown, // a card is not an incident
		Marker:   fmt.Sprintf("chatops:approval:%d", a.ID),
		Title:    fmt.Sprintf("%s Request #%d: %s", statusIcon(a.Status), a.ID, describe(a.Plan)),
		Fields: []Field{
			{Name: "Requested by", Value: display(a.Requester)},
			{Name: "Needs", Value: quorumText(a)},
			{Name: "Status", Value: string(a.Status)},
		},
	}
	switch a.Status {
	case ApprovalPending:
		m.Color = colorPending
		m.Fields = append(m.Fields, Field{Name: "Expires", Value: a.ExpiresAt.UTC().Format("15:04 MST")})
	case ApprovalDone:
		m.Color = colorDone
	case ApprovalFailed, ApprovalStale:
		m.Color = colorFailed
	default:
		m.Color = colorClosed
	}
	m.Lines = append(m.Lines, a.Plan.Preview...)
	for _, w := range a.Plan.Warnings {
		m.Lines = append(m.Lines, "⚠️ "+w)
	}
	for _, v := range a.Votes {
		verb := "approved"
		if !v.Approve {
			verb = "denied"
		}
		m.Lines = append(m.Lines, fmt.Sprintf("%s by %s (%s) at %s", verb, display(v.Voter), v.Role, v.At.UTC().Format("15:04:05 MST")))
	}
	if a.Reason != "" && a.Status != ApprovalFailed && a.Status != ApprovalStale {
		m.Lines = append(m.Lines, "Reason: "+a.Reason)
	}
	if a.Status.Closed() && a.Status != ApprovalExecuting || a.ExecutedAt != nil {
		m.Lines = append(m.Lines, statusLine(a))
	}
	if a.Status == ApprovalPending {
		id := strconv.FormatInt(a.ID, 10)
		m.Buttons = []Button{
			{ID: "chatops:approve:" + id + ":" + a.Nonce, Label: "Approve"},
			{ID: "chatops:deny:" + id + ":" + a.Nonce, Label: "Deny", Danger: true},
			{ID: "chatops:cancel:" + id + ":" + a.Nonce, Label: "Cancel (requester)"},
		}
		m.Lines = append(m.Lines, fmt.Sprintf("Or type /%s approve %d, /%s deny %d.", s.cfg.Root, a.ID, s.cfg.Root, a.ID))
	}
	return m
}

// cardAnswer is the card as a command's answer, for a platform that cannot
// post cards.
func (s *Approvals) cardAnswer(a Approval) Answer {
	m := s.card(a)
	return Answer{Title: m.Title, Lines: m.Lines, Fields: m.Fields, Color: m.Color}
}

func statusIcon(st ApprovalStatus) string {
	switch st {
	case ApprovalPending:
		return "🔐"
	case ApprovalExecuting:
		return "⏳"
	case ApprovalDone:
		return "✅"
	case ApprovalFailed, ApprovalStale:
		return "❌"
	}
	return "⛔"
}

// statusLine says how a closed request ended.
func statusLine(a Approval) string {
	at := ""
	if a.ExecutedAt != nil {
		at = " at " + a.ExecutedAt.UTC().Format("15:04:05 MST")
	} else if a.DecidedAt != nil {
		at = " at " + a.DecidedAt.UTC().Format("15:04:05 MST")
	}
	switch a.Status {
	case ApprovalDone:
		return "Ran" + at + ": " + a.Result
	case ApprovalFailed:
		return "Failed" + at + ": " + a.Result
	case ApprovalStale:
		return "Not run" + at + ", the target changed: " + a.Result
	case ApprovalExecuting:
		return "Running since" + at
	case ApprovalExpired:
		return "Expired" + at + " without enough approvals"
	case ApprovalDenied:
		return "Denied" + at
	case ApprovalCancelled:
		return "Cancelled by the requester" + at
	}
	return string(a.Status)
}

func quorumText(a Approval) string {
	q := max(a.Quorum, 1)
	who := "person"
	if q > 1 {
		who = "people"
	}
	return fmt.Sprintf("%d of %d approvals from another %s with the %s role", approvals(a), q, who, a.Plan.Role)
}

// describe is an action in one line: "rollback deployment bakery-ia/orders".
func describe(p Plan) string {
	s := p.Action
	if p.Target != "" {
		s += " " + p.Target
	}
	if len(p.Preview) > 0 {
		s += " (" + p.Preview[0] + ")"
	}
	return s
}

func display(id Identity) string {
	if id.Name != "" && id.Name != id.UserID {
		return id.Name + " (" + id.UserID + ")"
	}
	return id.UserID
}

func actionOf(a Approval) string {
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
func (s *Approvals) HandleClick(ctx context.Context, c Click) (Answer, bool) {
	parts := strings.Split(c.ButtonID, ":")
	if len(parts) != 4 || parts[0] != "chatops" {
		return Answer{}, false
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
		return Answer{}, false
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id <= 0 || parts[3] == "" {
		return private("That button could not be read."), true
	}
	if c.Value != "" && c.Value != c.ButtonID {
		return s.decide(ctx, Ballot{Who: c.User, Channel: c.Channel, ID: id, Nonce: "tampered-value", Via: "button", At: c.ReceivedAt}, d), true
	}
	return s.decide(ctx, Ballot{Who: c.User, Channel: c.Channel, ID: id, Nonce: parts[3], Via: "button", At: c.ReceivedAt}, d), true
}
