package policy

import "strconv"

// SilenceMatcher is one matcher of a silence.
type SilenceMatcher struct {
	Name, Value    string
	Equal, IsRegex bool
}

// String writes the matcher as Alertmanager's syntax reads it:
// name="value", name!="value", name=~"regex", name!~"regex".
func (m SilenceMatcher) String() string {
	op := "="
	switch {
	case m.Equal && m.IsRegex:
		op = "=~"
	case m.IsRegex:
		op = "!~"
	case !m.Equal:
		op = "!="
	}
	return m.Name + op + strconv.Quote(m.Value)
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
