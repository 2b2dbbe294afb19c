package bot

import (
	"context"
	"fmt"
)

// The approval service's entries on an incident's timeline: a request made
// in the incident's thread is followed there from the ask to the result,
// so the post-mortem's "actions taken" shows what was done and who agreed.

// recordRequest notes a new request on its incident's timeline.
func (s *Approvals) recordRequest(ctx context.Context, a Approval) {
	s.cfg.Timeline.Record(ctx, a.IncidentID, fmt.Sprintf("%s asked to %s (request #%d, needs approval)",
		display(a.Requester), describe(a.Plan), a.ID))
}

// recordDecision notes a person's decision on a request; cancellations
// and refused decisions are not an incident's business.
func (s *Approvals) recordDecision(ctx context.Context, a Approval, b Ballot, d decision) {
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
	s.cfg.Timeline.Record(ctx, a.IncidentID, fmt.Sprintf("request #%d (%s) %s by %s", a.ID, a.Plan.Action, what, display(b.Who)))
}

// recordResult notes how an execution ended.
func (s *Approvals) recordResult(ctx context.Context, a Approval) {
	s.cfg.Timeline.Record(ctx, a.IncidentID, fmt.Sprintf("request #%d %s: %s", a.ID, describe(a.Plan), statusLine(a)))
}

// recordAlone notes an action that needed no approval and ran at once.
func (s *Approvals) recordAlone(ctx context.Context, incidentID int64, cmd Command, plan Plan, result string, err error) {
	line := fmt.Sprintf("%s ran %s (no approval needed): %s", display(cmd.User), describe(plan), result)
	if err != nil {
		line = fmt.Sprintf("%s ran %s (no approval needed); it failed: %v", display(cmd.User), describe(plan), err)
	}
	s.cfg.Timeline.Record(ctx, incidentID, line)
}
