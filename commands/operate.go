package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// ScaleBounds limit the replicas a person may ask for one service.
type ScaleBounds struct {
	Min, Max int32
}

// maxReplicas is the most any argument may say, whatever the bounds.
const maxReplicas = 1000

var serviceArg = bot.Arg{Name: "service", Positional: true, Required: true, Help: "the service (deployment)", Complete: "service"}

// Each action is planned by a dry run that reads the target and says
// exactly what would change, with the target's version (a Deployment's
// generation); the action checks that version again and refuses with a
// *bot.StaleError when the target changed since.

// Scaler scales a deployment (the cluster).
type Scaler interface {
	PlanScale(ctx context.Context, service string, replicas int32) (bot.ScalePlan, error)
	Scale(ctx context.Context, service string, replicas int32, version string) error
}

// RollerBack rolls a deployment back to a revision (0: the previous one).
type RollerBack interface {
	PlanRollback(ctx context.Context, service string, revision int64) (bot.RollbackPlan, error)
	Rollback(ctx context.Context, service string, revision int64, version string) error
}

// Restarter restarts a deployment's pods with a rolling restart.
type Restarter interface {
	PlanRestart(ctx context.Context, service string) (bot.RestartPlan, error)
	Restart(ctx context.Context, service string, version string) error
}

func target(ns, service string) string { return "deployment " + ns + "/" + service }

func scale(op Scaler, bounds map[string]ScaleBounds, def ScaleBounds) bot.CommandSpec {
	return bot.CommandSpec{
		Name:        "scale",
		Summary:     "Scale a service to a number of replicas (needs a second admin's approval; 0 needs an owner)",
		Role:        policy.Admin,
		Destructive: true,
		Args: []bot.Arg{serviceArg,
			{Name: "replicas", Kind: bot.ArgInt, Positional: true, Required: true, Min: 0, Max: maxReplicas, Help: "how many replicas"}},
		Plan: func(ctx context.Context, inv bot.Invocation) (bot.Plan, error) {
			service, n := inv.String("service"), int32(inv.Int("replicas", 0))
			b, ok := bounds[service]
			if !ok {
				b = def
			}
			if n < b.Min || n > b.Max {
				return bot.Plan{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("%s may be scaled to %d..%d replicas", service, b.Min, b.Max)}
			}
			p, err := op.PlanScale(ctx, service, n)
			if err != nil {
				return bot.Plan{}, err
			}
			if p.From == p.To {
				return bot.Plan{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("%s already has %d replicas", service, n)}
			}
			plan := bot.Plan{
				Target:        target(p.Namespace, p.Service),
				Params:        map[string]string{"replicas": strconv.Itoa(int(n))},
				TargetVersion: p.Version,
				Preview:       []string{fmt.Sprintf("replicas %d → %d", p.From, p.To)},
				Role:          policy.Admin,
			}
			if n == 0 {
				plan.Role = policy.Owner
				plan.Warnings = append(plan.Warnings, "scaling to zero stops the service: this needs an owner")
			}
			if p.HPA != "" {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("HorizontalPodAutoscaler %s manages this deployment (%d..%d replicas) and will override a manual scale", p.HPA, p.HPAMin, p.HPAMax))
			}
			return plan, nil
		},
		Execute: func(ctx context.Context, inv bot.Invocation, p bot.Plan) (string, error) {
			service, n := inv.String("service"), int32(inv.Int("replicas", 0))
			if err := op.Scale(ctx, service, n, p.TargetVersion); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s scaled: %s", service, p.Preview[0]), nil
		},
		Follow: followRollout(op),
	}
}

func rollback(op RollerBack) bot.CommandSpec {
	return bot.CommandSpec{
		Name:        "rollback",
		Summary:     "Roll a service back to its previous (or a named) revision (needs a second admin's approval)",
		Role:        policy.Admin,
		Destructive: true,
		Args: []bot.Arg{serviceArg,
			{Name: "to-revision", Kind: bot.ArgInt, Min: 1, Max: 1 << 40, Help: "the revision to go back to (default: the previous one)"}},
		Plan: func(ctx context.Context, inv bot.Invocation) (bot.Plan, error) {
			service := inv.String("service")
			p, err := op.PlanRollback(ctx, service, int64(inv.Int("to-revision", 0)))
			if err != nil {
				return bot.Plan{}, err
			}
			preview := []string{fmt.Sprintf("revision %d → %d", p.FromRevision, p.ToRevision)}
			if from, to := strings.Join(p.FromImages, ", "), strings.Join(p.ToImages, ", "); from != to {
				preview = append(preview, fmt.Sprintf("image %s → %s", from, to))
			}
			preview = append(preview, p.Changes...)
			return bot.Plan{
				Target:        target(p.Namespace, p.Service),
				Params:        map[string]string{"revision": strconv.FormatInt(p.ToRevision, 10)},
				TargetVersion: p.Version,
				Preview:       preview,
				Role:          policy.Admin,
			}, nil
		},
		Execute: func(ctx context.Context, inv bot.Invocation, p bot.Plan) (string, error) {
			service := inv.String("service")
			rev, err := strconv.ParseInt(p.Params["revision"], 10, 64)
			if err != nil {
				return "", fmt.Errorf("rollback %s: plan has no revision", service)
			}
			if err := op.Rollback(ctx, service, rev, p.TargetVersion); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s rolled back: %s", service, strings.Join(p.Preview, "; ")), nil
		},
		Follow: followRollout(op),
	}
}

func restart(op Restarter) bot.CommandSpec {
	return bot.CommandSpec{
		Name:        "restart",
		Summary:     "Restart a service's pods with a rolling restart (needs a second admin's approval)",
		Role:        policy.Admin,
		Destructive: true,
		Args:        []bot.Arg{serviceArg},
		Plan: func(ctx context.Context, inv bot.Invocation) (bot.Plan, error) {
			p, err := op.PlanRestart(ctx, inv.String("service"))
			if err != nil {
				return bot.Plan{}, err
			}
			return bot.Plan{
				Target:        target(p.Namespace, p.Service),
				Params:        map[string]string{},
				TargetVersion: p.Version,
				Preview:       append([]string{fmt.Sprintf("%d pods replaced by a rolling restart", p.Pods)}, p.Changes...),
				Role:          policy.Admin,
			}, nil
		},
		Execute: func(ctx context.Context, inv bot.Invocation, p bot.Plan) (string, error) {
			service := inv.String("service")
			if err := op.Restart(ctx, service, p.TargetVersion); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s restarted: %s", service, p.Preview[0]), nil
		},
		Follow: followRollout(op),
	}
}
