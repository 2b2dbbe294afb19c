package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// timelineTimeout bounds the bookkeeping of one action: it runs after the
// command answered and must never hold a worker for long.
const timelineTimeout = 5 * time.Second

// maxActionDetail bounds an action event's text (a command typed with a
// long reason).
const maxActionDetail = 500

// ThreadIncidents finds the incident whose chat thread is at a place: the
// store, through its threads.
type ThreadIncidents interface {
	// IncidentByThread returns the incident whose thread at platform, in
	// channel (the thread's parent channel), is thread (Slack: the root's
	// ts; Discord: the thread's id); ErrNotFound when it is no incident's.
	IncidentByThread(ctx context.Context, platform, channel, thread string) (int64, error)
}

// Timeline writes what people do from an incident's thread onto that
// incident's timeline: the commands they run there and the approvals they
// ask for and give. Its errors are logged, never returned to the command:
// the timeline is a record, not a gate.
type Timeline struct {
	engine  *Engine
	threads ThreadIncidents
	log     *zap.Logger
}

// NewTimeline builds the recorder over the engine (which writes events) and
// the store (which knows the threads).
func NewTimeline(engine *Engine, threads ThreadIncidents, log *zap.Logger) *Timeline {
	return &Timeline{engine: engine, threads: threads, log: log}
}

// IncidentOf is the incident whose thread cmd was typed in; 0 outside one,
// and when the look-up fails (logged).
func (t *Timeline) IncidentOf(ctx context.Context, cmd Command) int64 {
	if t == nil || cmd.Thread == "" {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, timelineTimeout)
	defer cancel()
	id, err := t.threads.IncidentByThread(ctx, cmd.Platform, cmd.Channel, cmd.Thread)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			t.log.Warn("timeline: thread look-up failed", zap.String("platform", cmd.Platform), zap.Error(err))
		}
		return 0
	}
	return id
}

// Record appends an action to incident id's timeline; a no-op for id 0.
func (t *Timeline) Record(ctx context.Context, id int64, detail string) {
	if t == nil || id == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timelineTimeout)
	defer cancel()
	if err := t.engine.AppendAction(ctx, id, detail); err != nil {
		t.log.Warn("timeline: action not recorded", zap.Int64("incident", id), zap.Error(err))
	}
}

// commandRan records a command that ran in an incident's thread. Commands
// that write their own events are left to them: destructive ones (the
// approvals record the request, the votes and the execution) and those
// whose spec says so (acknowledging, approving).
func (t *Timeline) commandRan(ctx context.Context, root string, cmd Command, spec *CommandSpec, outcome string) {
	if t == nil || cmd.Thread == "" || spec == nil || spec.Destructive || spec.OwnTimeline {
		return
	}
	if outcome != "ok" && outcome != "error" {
		return // refused or mistyped: it did not run
	}
	id := t.IncidentOf(ctx, cmd)
	if id == 0 {
		return
	}
	detail := fmt.Sprintf("%s ran /%s %s", display(cmd.User), root, cmd.Text)
	if outcome == "error" {
		detail += " (it failed)"
	}
	t.Record(ctx, id, detail)
}

// AppendAction appends an action event to incident id's timeline and
// brings its threads up to date, in one transaction. The incident itself
// does not change.
func (e *Engine) AppendAction(ctx context.Context, id int64, detail string) error {
	now := e.cfg.Now().UTC()
	ev := Event{At: now, Kind: EventAction, Detail: clip(detail, maxActionDetail)}
	err := e.store.InTx(ctx, func(tx Tx) error {
		inc, err := tx.LockIncident(ctx, id)
		if err != nil {
			return fmt.Errorf("incident %d: %w", id, err)
		}
		if err := tx.AppendEvents(ctx, id, []Event{ev}); err != nil {
			return fmt.Errorf("incident %d: append action: %w", id, err)
		}
		for _, dest := range e.cfg.Routes.Destinations(inc) {
			if err := tx.Enqueue(ctx, OutboxJob{IncidentID: id, Destination: dest, Priority: inc.Severity, DueAt: now}); err != nil {
				return fmt.Errorf("incident %d: enqueue %s: %w", id, dest, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if e.cfg.Enqueued != nil {
		e.cfg.Enqueued()
	}
	return nil
}
