package approval

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// Following what an approved action set in motion (a rollout) on its
// card. The replica that executed the request follows it, in a goroutine
// of its own, so neither the click that approved it nor the command's
// acknowledgement waits; the execution ran once, so the follow does too.
// Its reports edit the card through the same path as every other card
// edit (the platform client and its rate limits), at most once every
// followEditInterval, the last one at once and retried. Nothing of it is
// stored: if that replica dies, the card keeps the last line it showed.

const (
	// followEditInterval spaces out the card's edits while a follow
	// reports progress; the final report is not held back.
	followEditInterval = 5 * time.Second
	// followTimeout is this service's own bound on one follow, whatever
	// the follower's (the cluster bounds a rollout's follow far sooner).
	followTimeout = 15 * time.Minute
	// finalEditAttempts and finalEditBackoff retry the edit that shows
	// how the follow ended, through a chat outage of a few seconds.
	finalEditAttempts = 3
	finalEditBackoff  = 2 * time.Second
	// stopFollowsWait bounds how long StopFollows waits for the follows
	// to write their last line.
	stopFollowsWait = cardTimeout + time.Second
)

// Follower is a Planner whose commands may follow what their execution
// set in motion (the command table).
type Follower interface {
	// Follows reports whether inv's command follows anything.
	Follows(inv bot.Invocation) bool
	// Follow reports progress until what plan set in motion ends or ctx
	// does; its last report is Final.
	Follow(ctx context.Context, inv bot.Invocation, plan bot.Plan, report func(bot.Progress))
}

// startFollow follows request a's executed plan on its card, when its
// command follows anything and its platform has cards.
func (s *Service) startFollow(a bot.Approval, inv bot.Invocation) {
	f, ok := s.planner.(Follower)
	if !ok || !f.Follows(inv) || s.cfg.Cards[a.Platform] == nil {
		return
	}
	s.follows.Add(1)
	go func() {
		defer s.follows.Done()
		s.follow(f, a, inv)
	}()
}

// StopFollows ends the running follows and waits, a bounded time, for
// each to show its last line.
func (s *Service) StopFollows() {
	s.stopFollows()
	done := make(chan struct{})
	go func() {
		s.follows.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopFollowsWait):
		s.log.Warn("rollout follows still running at shutdown; their cards keep their last line")
	}
}

func (s *Service) follow(f Follower, a bot.Approval, inv bot.Invocation) {
	ctx, cancel := context.WithTimeout(s.followCtx, followTimeout)
	defer cancel()
	log := s.log.With(zap.Int64("approval", a.ID), zap.String("action", a.Plan.Action))
	// The latest report wins: a report replaces the one not yet shown.
	updates := make(chan bot.Progress, 1)
	go func() {
		defer close(updates)
		f.Follow(ctx, inv, a.Plan, func(p bot.Progress) {
			select {
			case <-updates:
			default:
			}
			updates <- p
		})
	}()
	var (
		edited time.Time
		shown  string
	)
	for p := range updates {
		if !p.Final {
			if wait := followEditInterval - time.Since(edited); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
				select {
				case q, ok := <-updates:
					if ok {
						p = q
					}
				default:
				}
			}
		}
		if p.Line == shown {
			continue
		}
		attempts := 1
		if p.Final {
			attempts = finalEditAttempts
		}
		for i := 1; i <= attempts; i++ {
			err := s.editCard(ctx, a, p.Line)
			if err == nil {
				shown = p.Line
				break
			}
			log.Warn("approval card not updated with the rollout", zap.Bool("final", p.Final), zap.Int("attempt", i), zap.Error(err))
			if i < attempts {
				time.Sleep(finalEditBackoff)
			}
		}
		edited = time.Now()
		if p.Final {
			log.Info("rollout followed", zap.String("last", p.Line))
		}
	}
}
