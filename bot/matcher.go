package bot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MatchOp is one of Alertmanager's four matcher operators.
type MatchOp string

const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher tests one label, written as Alertmanager writes it:
// `service=~"gateway|auth-service"`. Regular expressions are anchored at both
// ends, as in Alertmanager, and a missing label reads as the empty string.
type Matcher struct {
	Label string
	Op    MatchOp
	Value string
	re    *regexp.Regexp
}

// Maximum sizes keep a hostile or mistaken config from costing much.
const (
	maxMatcherLen = 1024
)

var matcherSyntax = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatcher parses `label op value`; the value may be double-quoted (Go
// string syntax) or bare.
func ParseMatcher(s string) (Matcher, error) {
	if len(s) > maxMatcherLen {
		return Matcher{}, fmt.Errorf("matcher longer than %d bytes", maxMatcherLen)
	}
	m := matcherSyntax.FindStringSubmatch(s)
	if m == nil {
		return Matcher{}, fmt.Errorf("matcher %q: want label=value, label!=value, label=~regex or label!~regex", s)
	}
	value := m[3]
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad quoted value: %w", s, err)
		}
		value = v
	}
	return NewMatcher(m[1], MatchOp(m[2]), value)
}

// NewMatcher builds a matcher, compiling its regular expression if it has one.
func NewMatcher(label string, op MatchOp, value string) (Matcher, error) {
	mt := Matcher{Label: label, Op: op, Value: value}
	switch op {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %s%s%q: %w", label, op, value, err)
		}
		mt.re = re
	default:
		return Matcher{}, fmt.Errorf("matcher %s: unknown operator %q", label, op)
	}
	return mt, nil
}

// Matches tests the matcher against a label set.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Label]
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

func (m Matcher) String() string { return m.Label + string(m.Op) + strconv.Quote(m.Value) }

// MatchAll reports whether every matcher matches; no matchers match everything.
func MatchAll(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}
