package approval

import (
	"context"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// postCard posts a new request's card and remembers where it is.
func (s *Service) postCard(ctx context.Context, a *bot.Approval) bool {
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
	err = s.store.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
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
func (s *Service) updateCard(ctx context.Context, a bot.Approval) {
	if err := s.editCard(ctx, a, ""); err != nil {
		s.log.Warn("approval card not updated", zap.Int64("approval", a.ID), zap.Error(err))
	}
}

// editCard edits a request's card to show where it stands, with progress
// (what its execution set in motion) as its last line when not "". A card
// that was never posted, or on a platform without cards, is no error.
func (s *Service) editCard(ctx context.Context, a bot.Approval, progress string) error {
	poster := s.cfg.Cards[a.Platform]
	if poster == nil || a.Card.RootID == "" {
		if poster != nil && a.ID != 0 {
			if cur, err := s.store.GetApproval(ctx, a.ID); err == nil && cur.Card.RootID != "" {
				a.Card = cur.Card
			}
		}
		if poster == nil || a.Card.RootID == "" {
			return nil
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cardTimeout)
	defer cancel()
	m := s.card(a)
	if progress != "" {
		m.Lines = append(m.Lines, progress)
	}
	return poster.EditCard(cctx, a.Card, m)
}

// announceBreakGlass tells the break-glass channel (and the request's own
// thread) that an Owner ran an action alone.
func (s *Service) announceBreakGlass(ctx context.Context, a bot.Approval, b bot.Ballot) {
	poster := s.cfg.Cards[a.Platform]
	if poster == nil {
		return
	}
	m := bot.Message{
		Severity: bot.SeverityUnknown,
		Marker:   fmt.Sprintf("chatops:breakglass:%d", a.ID),
		Title:    fmt.Sprintf("🚨 Break-glass: %s ran request #%d alone: %s", displayName(b.Who), a.ID, describe(a.Plan)),
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
func (s *Service) card(a bot.Approval) bot.Message {
	m := bot.Message{
		Severity: bot.SeverityUnknown, // a card is not an incident
		Marker:   fmt.Sprintf("chatops:approval:%d", a.ID),
		Title:    fmt.Sprintf("%s Request #%d: %s", statusIcon(a.Status), a.ID, describe(a.Plan)),
		Fields: []bot.Field{
			{Name: "Requested by", Value: displayName(a.Requester)},
			{Name: "Needs", Value: quorumText(a)},
			{Name: "Status", Value: string(a.Status)},
		},
	}
	switch a.Status {
	case bot.ApprovalPending:
		m.Color = colorPending
		m.Fields = append(m.Fields, bot.Field{Name: "Expires", Value: bot.AtAgo(a.ExpiresAt)})
	case bot.ApprovalDone:
		m.Color = colorDone
	case bot.ApprovalFailed, bot.ApprovalStale:
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
		m.Lines = append(m.Lines, fmt.Sprintf("%s by %s (%s) at %s", verb, displayName(v.Voter), v.Role, bot.At(v.At)))
	}
	if a.Reason != "" && a.Status != bot.ApprovalFailed && a.Status != bot.ApprovalStale {
		m.Lines = append(m.Lines, "Reason: "+a.Reason)
	}
	if a.Status.Closed() && a.Status != bot.ApprovalExecuting || a.ExecutedAt != nil {
		m.Lines = append(m.Lines, statusLine(a))
	}
	if a.Status == bot.ApprovalPending {
		id := strconv.FormatInt(a.ID, 10)
		m.Buttons = []bot.Button{
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
func (s *Service) cardAnswer(a bot.Approval) bot.Answer {
	m := s.card(a)
	return bot.Answer{Title: m.Title, Lines: m.Lines, Fields: m.Fields, Color: m.Color}
}

func statusIcon(st bot.ApprovalStatus) string {
	switch st {
	case bot.ApprovalPending:
		return "🔐"
	case bot.ApprovalExecuting:
		return "⏳"
	case bot.ApprovalDone:
		return "✅"
	case bot.ApprovalFailed, bot.ApprovalStale:
		return "❌"
	}
	return "⛔"
}

// statusLine says how a closed request ended.
func statusLine(a bot.Approval) string {
	at := ""
	if a.ExecutedAt != nil {
		at = " at " + bot.At(*a.ExecutedAt)
	} else if a.DecidedAt != nil {
		at = " at " + bot.At(*a.DecidedAt)
	}
	switch a.Status {
	case bot.ApprovalDone:
		return "Ran" + at + ": " + a.Result
	case bot.ApprovalFailed:
		return "Failed" + at + ": " + a.Result
	case bot.ApprovalStale:
		return "Not run" + at + ", the target changed: " + a.Result
	case bot.ApprovalExecuting:
		return "Running since" + at
	case bot.ApprovalExpired:
		return "Expired" + at + " without enough approvals"
	case bot.ApprovalDenied:
		return "Denied" + at
	case bot.ApprovalCancelled:
		return "Cancelled by the requester" + at
	}
	return string(a.Status)
}

func quorumText(a bot.Approval) string {
	q := max(a.Quorum, 1)
	who := "person"
	if q > 1 {
		who = "people"
	}
	return fmt.Sprintf("%d of %d approvals from another %s with the %s role", approvals(a), q, who, a.Plan.Role)
}
