package incident

import (
	"context"
	"errors"
	"time"

	"github.com/bakewise/chatops/bot"

	"go.uber.org/zap"
)

// timelineTimeout bounds the bookkeeping of one action: it runs after the
// command answered and must never hold a worker for long.
const timelineTimeout = 5 * time.Second

// maxActionDetail bounds an action event's text (a command typed with a
// long reason).
const maxActionDetail = 500

// Threads finds the incident whose chat thread is at a place: the store,
// through its threads.
type Threads interface {
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
	threads Threads
	log     *zap.Logger
}

// NewTimeline builds the recorder over the engine (which writes events) and
// the store (which knows the threads).
func NewTimeline(engine *Engine, threads Threads, log *zap.Logger) *Timeline {
	return &Timeline{engine: engine, threads: threads, log: log}
}

// IncidentOf is the incident whose thread cmd was typed in; 0 outside one,
// and when the look-up fails (logged).
func (t *Timeline) IncidentOf(ctx context.Context, cmd bot.Command) int64 {
	if t == nil || cmd.Thread == "" {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, timelineTimeout)
	defer cancel()
	id, err := t.threads.IncidentByThread(ctx, cmd.Platform, cmd.Channel, cmd.Thread)
	if err != nil {
		if !errors.Is(err, bot.ErrNotFound) {
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
