// Package escalation fires the reminders of incidents nobody acknowledged
// by their response deadline, paging each destination's escalation levels
// in turn. Only the replica holding the timer lease fires them, and each is
// claimed under its incident's row lock, so no reminder is ever doubled.
//
// It writes a reminder event and queues the chat sync; the outbox posts it.
package escalation
