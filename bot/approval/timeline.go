package approval

import (
	"context"
	"fmt"

	"github.com/bakewise/chatops/bot"
)

// The approval service's entries on an incident's timeline: a request made
// in the incident's thread is followed there from the ask to the result,
// so the post-mortem's "actions taken" shows what was done and who agreed.

// recordRequest notes a new request on its incident's timeline.
func (s *Service) recordRequest(ctx context.Context, a bot.Approval) {
	s.record(ctx, a.IncidentID, fmt.Sprintf("%s asked to %s (request #%d, needs approval)",
		displayName(a.Requester), describe(a.Plan), a.ID))
}

// recordDecision notes a person's decision on a request; cancellations
// and refused decisions are not an incident's business.
func (s *Service) recordDecision(ctx context.Context, a bot.Approval, b bot.Ballot, d decision) {
	var what string
	switch d {
	case decideApprove:
		what = "approved"
	case decideDeny:
		what = "denied"
	case decideBreakGlass:
		what = "ran alone (break-glass: " + b.Reason + ")"
	default:
		return
	}
	s.record(ctx, a.IncidentID, fmt.Sprintf("request #%d (%s) %s by %s", a.ID, a.Plan.Action, what, displayName(b.Who)))
}

// recordResult notes how an execution ended.
func (s *Service) recordResult(ctx context.Context, a bot.Approval) {
	s.record(ctx, a.IncidentID, fmt.Sprintf("request #%d %s: %s", a.ID, describe(a.Plan), statusLine(a)))
}

// recordAlone notes an action that needed no approval and ran at once;
// failure, when not "", is what chat may say of how it failed.
func (s *Service) recordAlone(ctx context.Context, incidentID int64, cmd bot.Command, plan bot.Plan, result, failure string) {
	line := fmt.Sprintf("%s ran %s (no approval needed): %s", displayName(cmd.User), describe(plan), result)
	if failure != "" {
		line = fmt.Sprintf("%s ran %s (no approval needed); it failed: %s", displayName(cmd.User), describe(plan), failure)
	}
	s.record(ctx, incidentID, line)
}

// incidentOf is the incident whose thread cmd was typed in (0: none, or no
// timeline).
func (s *Service) incidentOf(ctx context.Context, cmd bot.Command) int64 {
	if s.cfg.Timeline == nil {
		return 0
	}
	return s.cfg.Timeline.IncidentOf(ctx, cmd)
}

// record appends an action to incident id's timeline (a no-op for id 0 or
// without a timeline). A timeline is stored text: its times are UTC.
func (s *Service) record(ctx context.Context, id int64, detail string) {
	if s.cfg.Timeline == nil || id == 0 {
		return
	}
	s.cfg.Timeline.Record(ctx, id, bot.PlainTimes(detail))
}
