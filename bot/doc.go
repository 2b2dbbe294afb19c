// Package bot owns the domain of chatops: alert groups, incidents and their
// severities, the incident engine that turns Alertmanager notifications into
// durable incidents, and the small interfaces (Store, Tx, Router) it needs from
// the outside world.
//
// bot never imports an integration: main wires the store, the receivers and the
// chat platforms around it. Everything here works from state, not from deltas,
// so a duplicated or retried notification is harmless.
package bot
