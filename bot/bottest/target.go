package bottest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Target is a deployment as ScaleSpec sees it.
type Target struct {
	mu       sync.Mutex
	version  int
	replicas int
	runs     atomic.Int32
	fail     error
}

// FailNext makes the next execution fail with err, as an API error would.
func (f *Target) FailNext(err error) { f.mu.Lock(); f.fail = err; f.mu.Unlock() }

// NewTarget is a deployment at version with replicas.
func NewTarget(version, replicas int) *Target { return &Target{version: version, replicas: replicas} }

// Bump changes the deployment behind the bot's back: a plan made before
// is stale.
func (f *Target) Bump() { f.mu.Lock(); f.version++; f.mu.Unlock() }

// Runs is how often the scale was executed.
func (f *Target) Runs() int32 { return f.runs.Load() }

// ScaleSpec is a destructive command over f, shaped like the real scale:
// the plan carries the version, Execute refuses another one.
func ScaleSpec(f *Target) bot.CommandSpec {
	return bot.CommandSpec{
		Name: "scale", Summary: "scale", Role: policy.Admin, Destructive: true,
		Args: []bot.Arg{{Name: "service", Positional: true, Required: true},
			{Name: "replicas", Kind: bot.ArgInt, Positional: true, Required: true, Min: 0, Max: 100}},
		Plan: func(_ context.Context, inv bot.Invocation) (bot.Plan, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			n := inv.Int("replicas", 0)
			p := bot.Plan{
				Target: "deployment ns/" + inv.String("service"), Params: map[string]string{"replicas": strconv.Itoa(n)},
				TargetVersion: strconv.Itoa(f.version), Preview: []string{fmt.Sprintf("replicas %d → %d", f.replicas, n)},
			}
			if n == 0 {
				p.Role = policy.Owner
			}
			return p, nil
		},
		Execute: func(_ context.Context, inv bot.Invocation, p bot.Plan) (string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if p.TargetVersion != strconv.Itoa(f.version) {
				return "", &bot.StaleError{Kind: "deployment", Name: inv.String("service"), Reason: "version moved"}
			}
			if err := f.fail; err != nil {
				f.fail = nil
				return "", err
			}
			f.runs.Add(1)
			f.replicas = inv.Int("replicas", 0)
			f.version++
			return "scaled", nil
		},
	}
}
