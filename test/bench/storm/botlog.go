package main

import "github.com/bakewise/chatops/test/harness"

// readBotLog counts the bot's log lines by level, samples its warnings and
// errors, and lists its recoveries; an error line fails the run.
func (b *bench) readBotLog() {
	l := harness.ReadBotLog(b.res.Bot.LogPath)
	b.res.Bot.LogLevels, b.res.Bot.LogSamples, b.res.Bot.Recoveries = l.Levels, l.Samples, l.Recoveries
	if n := l.Errors(); n > 0 {
		b.fail("the bot logged %d error line(s); see the log samples", n)
	}
}
