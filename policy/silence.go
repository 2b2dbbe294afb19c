package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/pkg/labels"
)

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

// The labels a narrow silence must name. `service` is the label the
// routes, the severity rules and the outage correlation read a service
// from.
const (
	AlertNameLabel = "alertname"
	ServiceLabel   = "service"
)

// maxReasonValue bounds how much of a label value a reason quotes: the
// reason goes on a chat card, and the full matchers are on it already.
const maxReasonValue = 64

// NarrowSilence reports whether a silence is narrow enough for a Member to
// create alone (BroadSilenceReason says "").
func NarrowSilence(ms []SilenceMatcher) bool { return BroadSilenceReason(ms) == "" }

// BroadSilenceReason says why a silence is too broad for one person, or
// "" when it is narrow: only equality matchers with a value, naming both
// the alert (alertname=) and the service (service=); further equality
// matchers only narrow it. Anything else can hide pages nobody meant to
// silence (`alertname=ServiceDown,namespace=bakery-ia` hides every
// service's outage), so it needs a second person. The reasons are for the
// request card, one clause each, joined by "; ".
func BroadSilenceReason(ms []SilenceMatcher) string {
	if len(ms) == 0 {
		return "it has no matchers: it would silence every alert"
	}
	var reasons []string
	var alert, service string
	for _, m := range ms {
		switch {
		case m.IsRegex:
			reasons = append(reasons, fmt.Sprintf("%s is a regular expression: it may match more than one value", clipMatcher(m)))
		case !m.Equal:
			reasons = append(reasons, fmt.Sprintf("%s is a negative matcher: it matches every other value, and alerts without the label", clipMatcher(m)))
		case m.Value == "":
			reasons = append(reasons, fmt.Sprintf("%s matches only alerts without the label", clipMatcher(m)))
		case m.Name == AlertNameLabel && alert == "":
			alert = m.Value
		case m.Name == ServiceLabel && service == "":
			service = m.Value
		}
	}
	switch {
	case alert == "" && service == "":
		reasons = append(reasons, "names no alert and no service: it would silence every alert, of any service, that its other matchers match")
	case alert == "":
		reasons = append(reasons, fmt.Sprintf("names no alert: it would silence every alert of %s", clipText(service)))
	case service == "":
		reasons = append(reasons, fmt.Sprintf("names no service: it would silence %s for every service", clipText(alert)))
	}
	return strings.Join(reasons, "; ")
}

// IncidentGroupSilence reports whether ms are exactly an incident's group
// labels: one equality matcher with a value per label, nothing else. Such
// a silence hides that incident's alert group and nothing wider, whatever
// labels the route groups by, so a Member may create it alone.
func IncidentGroupSilence(ms []SilenceMatcher, group map[string]string) bool {
	if len(group) == 0 || len(ms) != len(group) {
		return false
	}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		v, ok := group[m.Name]
		if !ok || seen[m.Name] || !m.Equal || m.IsRegex || m.Value == "" || m.Value != v {
			return false
		}
		seen[m.Name] = true
	}
	return true
}

func clipMatcher(m SilenceMatcher) string {
	m.Name, m.Value = clipText(m.Name), clipText(m.Value)
	return m.String()
}

// clipText shortens s to maxReasonValue characters, with an ellipsis.
func clipText(s string) string {
	if utf8.RuneCountInString(s) <= maxReasonValue {
		return s
	}
	return string([]rune(s)[:maxReasonValue-1]) + "…"
}
