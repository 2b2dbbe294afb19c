// Package commands is the table of chat commands: one file per command, each
// with its arguments, required role, whether it is destructive, and its
// handler, which works through small interfaces declared beside it and
// answers with a platform-neutral bot.Answer. main builds the table with
// Table and hands it to the router; help, Discord registration and the
// Slack manifest are generated from it.
//
// A handler never trusts its arguments beyond what the router validated:
// names are checked again before they reach an API.
package commands

import (
	"context"
	"time"

	"github.com/bakewise/chatops/bot"
)

// Cluster is every cluster operation the commands call; each command
// takes only its part (integrations/kubernetes implements all of them).
type Cluster interface {
	HealthChecker
	LogReader
	HistoryReader
	StatusReader
	EventReader
	HPAReader
	CertificateReader
	GitOpsReader
	Scaler
	RollerBack
	Restarter
}

// Deps is what the commands work with. Any of them may be missing (nil):
// the commands that need it then answer that it is not configured, so the
// table, and what is generated from it, is the same everywhere.
type Deps struct {
	// Incidents reads incidents (the store); Changer changes them (the
	// incident engine).
	Incidents IncidentReader
	Changer   IncidentChanger
	// Cluster is the Kubernetes cluster.
	Cluster Cluster
	// Alerts counts firing alerts for health (Alertmanager's API).
	Alerts AlertCounter
	// Silences creates silences (Alertmanager's API).
	Silences Silences
	// Firing lists the firing alerts for the alerts command (Alertmanager's
	// API); Severity maps them to P0-P3 as incidents are (the configured
	// rules, then the priority and severity labels).
	Firing   AlertLister
	Severity bot.Classifier
	// Now is the clock answers are written at (nil: time.Now).
	Now func() time.Time
	// Graphs draws charts (Prometheus).
	Graphs Grapher
	// ScaleBounds limit scale per service; other services get
	// DefaultScaleBounds.
	ScaleBounds        map[string]ScaleBounds
	DefaultScaleBounds ScaleBounds
}

// What a command answers when its dependency is not configured: written
// for people, so chat shows it.
var (
	errNoCluster      error = &bot.UserError{Msg: "no Kubernetes cluster is configured for this bot (kubernetes.kubeconfig, KUBECONFIG, or running in a pod)"}
	errNoAlertmanager error = &bot.UserError{Msg: "no Alertmanager is configured for this bot (alertmanager.url)"}
	errNoIncidents    error = &bot.UserError{Msg: "this bot keeps no incidents"}
	errNoApprovals    error = &bot.UserError{Msg: "approvals are not configured on this bot"}
)

// Destructive is the commands that change something: each is planned by a
// dry run and waits for approval. The approval service re-plans and runs
// approved requests through a table of these.
func Destructive(d Deps) []bot.CommandSpec {
	cluster := needs(d.Cluster != nil, errNoCluster,
		scale(d.Cluster, d.ScaleBounds, d.DefaultScaleBounds),
		rollback(d.Cluster),
		restart(d.Cluster))
	return append(cluster, needs(d.Silences != nil, errNoAlertmanager, silence(d.Silences, d.Incidents))...)
}

// Table is every command chatops answers: the destructive ones, those that
// answer at once, and the approval service's decisions, which go to
// approvals.
func Table(d Deps, approvals Decider) []bot.CommandSpec {
	specs := []bot.CommandSpec{whoami()}
	specs = append(specs, needs(d.Cluster != nil, errNoCluster,
		health(d.Cluster, d.Alerts), logs(d.Cluster), history(d.Cluster), status(d.Cluster),
		events(d.Cluster), hpa(d.Cluster), certs(d.Cluster), gitops(d.Cluster))...)
	now := d.Now
	if now == nil {
		now = time.Now
	}
	specs = append(specs, needs(d.Firing != nil, errNoAlertmanager, alerts(d.Firing, d.Severity, now))...)
	specs = append(specs, needs(d.Incidents != nil, errNoIncidents,
		incidentList(d.Incidents), incidentShow(d.Incidents), incidentTimeline(d.Incidents))...)
	specs = append(specs, needs(d.Changer != nil, errNoIncidents, incidentChanges(d.Changer)...)...)
	specs = append(specs, needs(d.Graphs != nil, errNoPrometheus, graph(d.Graphs, d.Incidents))...)
	specs = append(specs, needs(approvals != nil, errNoApprovals, approvalCommands(approvals)...)...)
	return append(specs, Destructive(d)...)
}

// needs makes specs answer err instead of running when ok is false: what
// they work with is not configured. It is the one place that says so.
func needs(ok bool, err error, specs ...bot.CommandSpec) []bot.CommandSpec {
	if ok {
		return specs
	}
	out := make([]bot.CommandSpec, len(specs))
	for i, s := range specs {
		if s.Destructive {
			s.Plan = func(context.Context, bot.Invocation) (bot.Plan, error) { return bot.Plan{}, err }
			s.Execute = func(context.Context, bot.Invocation, bot.Plan) (string, error) { return "", err }
		} else {
			s.Run = func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{}, err }
		}
		out[i] = s
	}
	return out
}
