// Package approval holds destructive commands until a second, different,
// eligible person approves them, then runs each exactly once against the
// target it was planned for: requests, votes, denials, cancellations,
// break-glass, expiry, the request cards and their buttons. Every decision
// is written to the audit log in the transaction that makes it; the rules
// themselves live in policy.
//
// It re-plans and executes through a Planner (the command table); it never
// calls a platform's API itself.
package approval
