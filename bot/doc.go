// Package bot is the domain of chatops and the ports where its services and
// adapters meet: alert groups, incidents, severities and deadlines, routes
// and destinations, chat messages, commands and answers, approval requests,
// audit records, the platform's state as commands see it, and the store's
// contract (Store, Tx).
//
// The services live in packages below it, one job each: incident (alerts →
// incidents), outbox (incidents → chat threads), escalation (reminders),
// approval (the two-person rule), command (commands → answers), access
// (who holds which role). bot never imports a service or an integration:
// main wires the store, the chat platforms and the cluster around it.
// Everything here works from state, not from deltas, so a duplicated or
// retried notification is harmless.
package bot
