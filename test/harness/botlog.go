package harness

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

// BotLog sums up the JSON log of one or more chatops processes, as a
// benchmark reports it.
type BotLog struct {
	// Levels counts the lines by level ("unparsed": not a JSON line).
	Levels map[string]int
	// Samples are the most frequent distinct warn and error messages,
	// with their counts, digits folded ("12× warn \"outbox: …\"").
	Samples []string
	// Recoveries are the outbox's "platform answers again" lines.
	Recoveries []string
}

// Errors counts the lines at level error or worse.
func (l BotLog) Errors() int { return l.Levels["error"] + l.Levels["fatal"] + l.Levels["panic"] }

// maxLogSamples bounds the distinct messages a summary keeps.
const maxLogSamples = 12

// ReadBotLog sums up the logs at paths; a file that cannot be opened
// counts for nothing.
func ReadBotLog(paths ...string) BotLog {
	out := BotLog{Levels: map[string]int{}}
	type key struct{ level, msg string }
	counts := map[key]int{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
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
				out.Levels["unparsed"]++
				continue
			}
			out.Levels[l.Level]++
			if l.Level == "warn" || l.Level == "error" || l.Level == "fatal" || l.Level == "panic" {
				msg := l.Msg
				if l.Error != "" {
					msg += ": " + firstWords(l.Error, 14)
				}
				msg = digits.ReplaceAllString(msg, "N") // ids and durations vary; the kind of message does not
				counts[key{l.Level, msg}]++
			}
			if strings.HasPrefix(l.Msg, "outbox: platform answers again") && l.Jobs != nil {
				out.Recoveries = append(out.Recoveries, fmt.Sprintf("%s %s: %d jobs expedited", l.TS, l.Platform, *l.Jobs))
			}
		}
		f.Close()
	}
	keys := slices.Collect(maps.Keys(counts))
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i].msg < keys[j].msg
	})
	for _, k := range keys[:min(len(keys), maxLogSamples)] {
		out.Samples = append(out.Samples, fmt.Sprintf("%d× %s %q", counts[k], k.level, k.msg))
	}
	return out
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
