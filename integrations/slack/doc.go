// Package slack is the Slack side of chat: it renders bot.Message as Block
// Kit within Slack's limits and posts, edits and threads incident messages
// and approval cards (bot.CardPoster) through the Web API (slack-go),
// under its own per-channel rate limits. Groups tells which user groups a
// person is in (bot.GroupLookup), from one cached usergroups.list.
//
// It owns the mapping from Slack's answers to the errors that drive the
// outbox's retries: 429 → *bot.RateLimitedError, configuration trouble →
// bot.Permanent, anything else transient. It never retries by itself,
// never blocks a call for long, never lets text taken from an alert ping
// anyone, and never logs or returns the token.
//
// Inbound (Inbound): slash commands, app mentions and button clicks, over
// HTTP (/slack/commands, /slack/events, /slack/interactions) or Socket
// Mode; a click becomes a bot.Click for the configured bot.ClickHandler.
// An HTTP request is read once, within 64 KiB, and its v0 signature,
// its 5-minute timestamp window and the replay guard are checked before a
// byte of it is parsed; any failure is a 401 with no detail. Every command
// is acknowledged at once and run by the command router (bot/command) in its own goroutine;
// its answer (answer.go) goes through the response_url or, for a mention,
// into the mention's thread, with long output as a file. Inbound never
// parses arguments (the router does), never runs an event twice (Slack
// retries), never posts an answer to a URL outside Slack's, and never logs
// a signature, a secret, a token or a response_url.
package slack
