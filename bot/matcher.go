package bot

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
)

// MatchOp is one of Alertmanager's four matcher operators.
type MatchOp string

const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

var matchTypes = map[MatchOp]labels.MatchType{
	MatchEqual:     labels.MatchEqual,
	MatchNotEqual:  labels.MatchNotEqual,
	MatchRegexp:    labels.MatchRegexp,
	MatchNotRegexp: labels.MatchNotRegexp,
}

// Matcher tests one label, written as Alertmanager writes it:
// `service=~"gateway|auth-service"`. It is Alertmanager's own matcher
// underneath, so regular expressions are anchored at both ends and a
// missing label reads as the empty string, exactly as there.
type Matcher struct {
	Label string
	Op    MatchOp
	Value string
	am    *labels.Matcher
}

// parseMatcher is how Alertmanager v0.35 reads a matcher when started
// without feature flags, and how amtool reads one: the UTF-8 parser, falling
// back to the classic one for input only the classic one accepts, and
// keeping the classic reading when both accept it but disagree. Following
// that mode makes a matcher copied from an Alertmanager route, amtool or the
// Alertmanager UI valid here exactly when it is valid there, with the same
// meaning. The classic parser alone would refuse the UTF-8 label names
// Alertmanager accepts (`service.name`, quoted names); the strict UTF-8 parser
// alone would refuse inputs Alertmanager still accepts (`alertname=~\d+`,
// unquoted values with spaces) and would read `"\t"` as a tab where
// Alertmanager reads a backslash and a t. Alertmanager logs a warning for
// each fallback; nobody reads a log of ours for that, so it is discarded.
var parseMatcher = compat.FallbackMatcherParser(slog.New(slog.DiscardHandler))

// ParseMatcher reads one matcher, `name op value`, with Alertmanager's
// parser (see parseMatcher): it succeeds exactly when Alertmanager would.
func ParseMatcher(s string) (Matcher, error) {
	am, err := parseMatcher(s, "chatops")
	if err != nil {
		// When both parsers refuse, compat returns the classic one's error,
		// which for a malformed matcher is only "bad matcher format"; the
		// UTF-8 parser's says where and what it expected. Should the wording
		// change, Alertmanager's own error is still shown.
		if strings.HasPrefix(err.Error(), "bad matcher format") {
			if _, uerr := parse.Matcher(s); uerr != nil {
				err = uerr
			}
		}
		return Matcher{}, fmt.Errorf("matcher %q: %w", s, err)
	}
	return fromAlertmanager(am), nil
}

// NewMatcher builds a matcher from its parts, as Alertmanager does: any
// label name, and a regular expression that compiles anchored.
func NewMatcher(label string, op MatchOp, value string) (Matcher, error) {
	t, ok := matchTypes[op]
	if !ok {
		return Matcher{}, fmt.Errorf("matcher %s: unknown operator %q", label, op)
	}
	am, err := labels.NewMatcher(t, label, value)
	if err != nil {
		return Matcher{}, fmt.Errorf("matcher %s: %w", (&labels.Matcher{Type: t, Name: label, Value: value}).String(), err)
	}
	return fromAlertmanager(am), nil
}

func fromAlertmanager(am *labels.Matcher) Matcher {
	return Matcher{Label: am.Name, Op: MatchOp(am.Type.String()), Value: am.Value, am: am}
}

// alertmanager is m as Alertmanager's matcher; it is built here for a
// Matcher written as a literal rather than parsed, and is nil when such a
// literal is invalid.
func (m Matcher) alertmanager() *labels.Matcher {
	if m.am != nil {
		return m.am
	}
	built, err := NewMatcher(m.Label, m.Op, m.Value)
	if err != nil {
		return nil
	}
	return built.am
}

// Matches tests the matcher against a label set. An invalid matcher
// matches nothing.
func (m Matcher) Matches(ls map[string]string) bool {
	am := m.alertmanager()
	return am != nil && am.Matches(ls[m.Label])
}

// String writes the matcher as Alertmanager writes it; ParseMatcher reads
// it back to the same matcher.
func (m Matcher) String() string {
	if am := m.alertmanager(); am != nil {
		return am.String()
	}
	return m.Label + string(m.Op) + fmt.Sprintf("%q", m.Value)
}

// MatchAll reports whether every matcher matches; no matchers match everything.
func MatchAll(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}
