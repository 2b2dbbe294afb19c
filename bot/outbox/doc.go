// Package outbox brings incidents' chat threads up to date: it claims the
// sync jobs the incident engine and the escalator queue, renders each
// incident into a root message and thread replies (the runbook first, the
// post-mortem gist on resolution), and delivers them through the chat
// ports, with rate-limit waits, backoff, and a look for roots whose post
// had an unknown outcome.
//
// A job leaves the outbox only when its thread shows the incident as it
// is. The outbox never changes an incident.
package outbox
