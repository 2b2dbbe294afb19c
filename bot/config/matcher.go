package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/bakewise/chatops/bot"
)

// Limits on one rule's or route's matchers; the grammar itself is
// Alertmanager's and has none.
const (
	maxMatchersRule = 32
	maxMatcherLen   = 1024
)

// matchers reads a match list, one matcher per entry, in Alertmanager's
// syntax (bot.ParseMatcher). An entry chatops used to read differently is a
// problem that says how to write each reading, so an upgrade never changes
// what a rule matches without anyone noticing.
func matchers(specs []string, path string, ps *Problems) []bot.Matcher {
	if len(specs) > maxMatchersRule {
		ps.add(path, "%d matchers: at most %d", len(specs), maxMatchersRule)
	}
	var out []bot.Matcher
	for j, s := range specs {
		p := fmt.Sprintf("%s[%d]", path, j)
		if len(s) > maxMatcherLen {
			ps.add(p, "matcher longer than %d bytes", maxMatcherLen)
			continue
		}
		m, err := bot.ParseMatcher(s)
		old, wasValid := legacyMatcher(s)
		switch {
		case err != nil && wasValid && readsBack(old):
			ps.add(p, "%v; chatops used to read it as %s: write that instead", err, entry(old.String()))
		case err != nil:
			ps.add(p, "%v", err)
		case wasValid && !sameMatcher(m, old):
			msg := fmt.Sprintf("read differently since chatops uses Alertmanager's parser: the value is now %q, it was %q (Go notation); write %s to keep the new reading",
				m.Value, old.Value, entry(m.String()))
			if readsBack(old) {
				msg += fmt.Sprintf(", or %s for the old one", entry(old.String()))
			}
			ps.add(p, "%s", msg)
		default:
			out = append(out, m)
		}
	}
	return out
}

// legacySyntax is the grammar chatops read matchers with before it used
// Alertmanager's parser: a classic label name, and a value that is bare or
// a Go-quoted string. It is kept only to find entries whose meaning the
// change of parser would alter.
var legacySyntax = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// legacyMatcher reads s as chatops used to; ok is false when it refused it.
func legacyMatcher(s string) (m bot.Matcher, ok bool) {
	parts := legacySyntax.FindStringSubmatch(s)
	if parts == nil {
		return bot.Matcher{}, false
	}
	value := parts[3]
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return bot.Matcher{}, false
		}
		value = v
	}
	m, err := bot.NewMatcher(parts[1], bot.MatchOp(parts[2]), value)
	return m, err == nil
}

func sameMatcher(a, b bot.Matcher) bool {
	return a.Label == b.Label && a.Op == b.Op && a.Value == b.Value
}

// readsBack reports whether m, written as Alertmanager writes it, parses
// back to m; a value Alertmanager cannot express has no spelling to offer.
func readsBack(m bot.Matcher) bool {
	back, err := bot.ParseMatcher(m.String())
	return err == nil && sameMatcher(back, m)
}

// entry shows a matcher as it goes in the file: as is when every character
// is visible, else as a YAML double-quoted string, whose escapes Go's
// quoting shares.
func entry(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '`' {
			return "the YAML string " + strconv.Quote(s)
		}
	}
	return "`" + s + "`"
}
