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
	"github.com/bakewise/chatops/bot"
)

// Deps is what the commands work with. Cluster may be nil (no Kubernetes
// configured): the cluster commands are then left out of the table.
type Deps struct {
	Incidents IncidentReader
	Cluster   bot.Cluster
	Alerts    AlertCounter
}

// Table is every command chatops answers.
func Table(d Deps) []bot.CommandSpec {
	specs := []bot.CommandSpec{
		whoami(),
		incidentList(d.Incidents),
		incidentShow(d.Incidents),
	}
	if d.Cluster != nil {
		specs = append(specs, health(d.Cluster, d.Alerts), logs(d.Cluster), history(d.Cluster), status(d.Cluster))
	}
	return specs
}
