// Package commands is the table of chat commands: one file per command, each
// with its arguments, required role, whether it is destructive, and its
// handler, which works through small interfaces declared here and answers
// with a platform-neutral bot.Answer. main builds the table with Table and
// hands it to the router; help, Discord registration and the Slack manifest
// are generated from it.
//
// A handler never trusts its arguments beyond what the router validated:
// names are checked again before they reach an API.
package commands

import (
	"context"
	"errors"

	"github.com/bakewise/chatops/bot"
)

// Deps is what the commands work with. Cluster may be nil (no Kubernetes
// configured): the cluster commands then say so when used, so the table, and
// what is generated from it, is the same everywhere.
type Deps struct {
	Incidents IncidentReader
	Cluster   bot.Cluster
	Alerts    AlertCounter
	// Operator changes the cluster (nil: the write commands say there is
	// no cluster). ScaleBounds limit scale per service; others get
	// DefaultScaleBounds.
	Operator    bot.Operator
	ScaleBounds map[string]ScaleBounds
	Silences    Silences
	Approvals   Decider
	Changer     IncidentChanger
}

// Table is every command chatops answers.
func Table(d Deps) []bot.CommandSpec {
	c := d.Cluster
	if c == nil {
		c = noCluster{}
	}
	op := d.Operator
	if op == nil {
		op = noOperator{}
	}
	specs := []bot.CommandSpec{
		whoami(),
		incidentList(d.Incidents),
		incidentShow(d.Incidents),
		incidentTimeline(d.Incidents),
		health(c, d.Alerts),
		logs(c),
		history(c),
		status(c),
		scale(op, d.ScaleBounds, DefaultScaleBounds),
		rollback(op),
		restart(op),
		silence(d.Silences, d.Incidents),
	}
	specs = append(specs, incidentChanges(d.Changer)...)
	return append(specs, approvalCommands(d.Approvals)...)
}

// errNoCluster answers the cluster commands of a bot without Kubernetes.
var errNoCluster = errors.New("no Kubernetes cluster is configured for this bot (kubernetes.kubeconfig, KUBECONFIG, or running in a pod)")

type noCluster struct{}

func (noCluster) Health(context.Context, string) (bot.HealthReport, error) {
	return bot.HealthReport{}, errNoCluster
}

func (noCluster) Logs(context.Context, string, bot.LogOptions) ([]bot.PodLogs, error) {
	return nil, errNoCluster
}

func (noCluster) History(context.Context, string) ([]bot.Revision, error) { return nil, errNoCluster }

func (noCluster) Status(context.Context, string) (bot.RolloutStatus, error) {
	return bot.RolloutStatus{}, errNoCluster
}

func (noCluster) Services(context.Context, string) ([]string, error) { return nil, errNoCluster }

type noOperator struct{}

func (noOperator) PlanScale(context.Context, string, int32) (bot.ScalePlan, error) {
	return bot.ScalePlan{}, errNoOperator
}

func (noOperator) Scale(context.Context, string, int32, string) error { return errNoOperator }

func (noOperator) PlanRollback(context.Context, string, int64) (bot.RollbackPlan, error) {
	return bot.RollbackPlan{}, errNoOperator
}

func (noOperator) Rollback(context.Context, string, int64, string) error { return errNoOperator }

func (noOperator) PlanRestart(context.Context, string) (bot.RestartPlan, error) {
	return bot.RestartPlan{}, errNoOperator
}

func (noOperator) Restart(context.Context, string, string) error { return errNoOperator }
