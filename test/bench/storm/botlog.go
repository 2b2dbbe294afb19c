package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// readBotLog counts the bot's log lines by level, samples its warnings and
// errors, and lists its recoveries; an error line fails the run.
func (b *bench) readBotLog() {
	b.res.Bot.LogLevels = map[string]int{}
	f, err := os.Open(b.res.Bot.LogPath)
	if err != nil {
		return
	}
	defer f.Close()
	type key struct{ level, msg string }
	counts := map[key]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), 4<<20)
	for sc.Scan() {
		var l struct {
			Level    string `json:"level"`
			TS       string `json:"ts"`
			Msg      string `json:"msg"`
			Platform string `json:"platform"`
			Jobs     *int   `json:"jobs"`
			Error    string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			b.res.Bot.LogLevels["unparsed"]++
			continue
		}
		b.res.Bot.LogLevels[l.Level]++
		if l.Level == "warn" || l.Level == "error" || l.Level == "fatal" || l.Level == "panic" {
			msg := l.Msg
			if l.Error != "" {
				msg += ": " + firstWords(l.Error, 14)
			}
			msg = digits.ReplaceAllString(msg, "N") // ids and durations vary; the kind of message does not
			counts[key{l.Level, msg}]++
		}
		if strings.HasPrefix(l.Msg, "outbox: platform answers again") && l.Jobs != nil {
			b.res.Bot.Recoveries = append(b.res.Bot.Recoveries, fmt.Sprintf("%s %s: %d jobs expedited", l.TS, l.Platform, *l.Jobs))
		}
	}
	keys := slices.Collect(maps.Keys(counts))
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	for _, k := range keys[:min(len(keys), 12)] {
		b.res.Bot.LogSamples = append(b.res.Bot.LogSamples, fmt.Sprintf("%d× %s %q", counts[k], k.level, k.msg))
	}
	if n := b.res.Bot.LogLevels["error"] + b.res.Bot.LogLevels["fatal"] + b.res.Bot.LogLevels["panic"]; n > 0 {
		b.fail("the bot logged %d error line(s); see the log samples", n)
	}
}

var digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// firstWords shortens an error message to its first n words, so that
// messages differing only in ids group together.
func firstWords(s string, n int) string {
	fs := strings.Fields(s)
	if len(fs) > n {
		fs = append(fs[:n], "…")
	}
	return strings.Join(fs, " ")
}
