// Package incident turns Alertmanager notifications into durable incidents:
// one transaction per notification (whole-group state, idempotent, stale
// retries ignored, flap control, severities, response deadlines), the
// outage correlation that opens one P0 when several services fail at once,
// the changes people make by hand (acknowledge, resolve, severity) and the
// timeline of what they do from an incident's thread.
//
// It writes through the store's transactions only and tells the outbox
// (through Notifier) that chat work was committed; it never talks to a
// chat platform and never answers a person.
package incident
