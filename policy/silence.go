package policy

import "github.com/prometheus/alertmanager/pkg/labels"

// SilenceMatcher is one matcher of a silence.
type SilenceMatcher struct {
	Name, Value    string
	Equal, IsRegex bool
}

// Type is the matcher's operator as Alertmanager names it.
func (m SilenceMatcher) Type() labels.MatchType {
	switch {
	case m.Equal && m.IsRegex:
		return labels.MatchRegexp
	case m.IsRegex:
		return labels.MatchNotRegexp
	case !m.Equal:
		return labels.MatchNotEqual
	}
	return labels.MatchEqual
}

// String writes the matcher as Alertmanager writes it: name="value",
// name!="value", name=~"regex", name!~"regex", quoting a name that needs
// it. Alertmanager's parser, and so the silence command, reads it back to
// the same matcher for any name a silence may have.
func (m SilenceMatcher) String() string {
	return (&labels.Matcher{Type: m.Type(), Name: m.Name, Value: m.Value}).String()
}

// NarrowSilence reports whether a silence is narrow enough for a Member to
// create alone: only plain equality matchers, naming the alert and at least
// one more label (a service, an instance). Anything broader could hide
// other people's pages and needs approval.
func NarrowSilence(ms []SilenceMatcher) bool {
	if len(ms) < 2 {
		return false
	}
	named := false
	for _, m := range ms {
		if !m.Equal || m.IsRegex || m.Value == "" {
			return false
		}
		if m.Name == "alertname" {
			named = true
		}
	}
	return named
}
