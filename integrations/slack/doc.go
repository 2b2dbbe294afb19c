// Package slack is the Slack side of chat: it renders bot.Message as Block
// Kit within Slack's limits and posts, edits and threads incident messages
// through the Web API (slack-go), under its own per-channel rate limits.
//
// It owns the mapping from Slack's answers to the errors that drive the
// outbox's retries: 429 → *bot.RateLimitedError, configuration trouble →
// bot.Permanent, anything else transient. It never retries by itself,
// never blocks a call for long, never lets text taken from an alert ping
// anyone, and never logs or returns the token.
//
// Inbound events (Socket Mode, interactions) will live here too.
package slack
