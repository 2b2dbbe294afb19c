// Package harness runs the chatops binary the way an operator would, for the
// end-to-end tests and the benchmark tools alike: it builds the binary, gives
// each bot a fresh store (a SQLite data directory or a PostgreSQL database
// created for it and dropped with FORCE after), the Slack and Discord
// stand-ins, a real Alertmanager when asked, and watches every child process
// (SIGTERM, SIGKILL, its log shown when the test fails). It holds the wire
// types of what the bot reads (Alertmanager's v4 webhook) and answers (the
// incidents API), declared here once.
//
// Everything it starts listens on loopback and dies with the process that
// started it. It never skips a test: a missing PostgreSQL or Alertmanager
// fails it. It never asserts on timing: waits are generous deadlines for a
// state, not measurements.
package harness
