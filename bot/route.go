package bot

// Destination is a chat channel incidents can be mirrored to.
type Destination struct {
	Name     string
	Platform string
	Channel  string
	// Mention is the user group (Slack) or role (Discord) notified for
	// open incidents of MentionSeverities (default P0 and P1).
	Mention           string
	MentionSeverities []Severity
	// Escalation are the groups paged when an incident that mentions here
	// is not acknowledged in time: the first reminder pages level 1, the
	// second level 2, and so on, staying at the last level. Empty: level 1
	// is Mention.
	Escalation []string
}

// EscalationLevels is how many escalation levels the destination has.
func (d Destination) EscalationLevels() int {
	if len(d.Escalation) > 0 {
		return len(d.Escalation)
	}
	if d.Mention != "" {
		return 1
	}
	return 0
}

// EscalationMention is the group paged at escalation level (1-based),
// capped at the last level; "" when the destination pages nobody.
func (d Destination) EscalationMention(level int) string {
	if len(d.Escalation) == 0 {
		return d.Mention
	}
	return d.Escalation[min(max(level, 1), len(d.Escalation))-1]
}

// MentionsFor reports whether an incident of severity s mentions.
func (d Destination) MentionsFor(s Severity) bool {
	if len(d.MentionSeverities) == 0 {
		return s <= P1
	}
	for _, m := range d.MentionSeverities {
		if m == s {
			return true
		}
	}
	return false
}

// Route sends incidents that match it to destinations. An empty Severities
// list matches every severity; Matchers test the incident's common labels.
type Route struct {
	Severities   []Severity
	Matchers     []Matcher
	Destinations []string
	Continue     bool
}

// Routes picks destinations for an incident: routes are tried in order, a
// match adds its destinations and stops the walk unless it says Continue.
type Routes []Route

// Destinations returns the distinct destination names for inc, in route order.
func (rs Routes) Destinations(inc *Incident) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !r.matches(inc) {
			continue
		}
		for _, d := range r.Destinations {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
		if !r.Continue {
			break
		}
	}
	return out
}

func (r Route) matches(inc *Incident) bool {
	if len(r.Severities) > 0 {
		ok := false
		for _, s := range r.Severities {
			ok = ok || s == inc.Severity
		}
		if !ok {
			return false
		}
	}
	return MatchAll(r.Matchers, inc.CommonLabels)
}
