package bot

import (
	"fmt"
	"strings"
	"time"
)

// Severity is an incident priority. Lower is more urgent: P0 is a complete
// outage, P3 a minor issue (the operations guide's scale).
type Severity int

const (
	P0 Severity = iota
	P1
	P2
	P3
)

// SeverityUnknown marks "no severity computed yet"; it sorts after P3.
const SeverityUnknown Severity = 99

func (s Severity) String() string {
	if s >= P0 && s <= P3 {
		return fmt.Sprintf("P%d", int(s))
	}
	return "unknown"
}

// Valid reports whether s is one of P0..P3.
func (s Severity) Valid() bool { return s >= P0 && s <= P3 }

// ParseSeverity accepts P0..P3 (case-insensitive).
func ParseSeverity(v string) (Severity, error) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "P0":
		return P0, nil
	case "P1":
		return P1, nil
	case "P2":
		return P2, nil
	case "P3":
		return P3, nil
	}
	return SeverityUnknown, fmt.Errorf("severity %q: want one of P0, P1, P2, P3", v)
}

// MarshalText makes a Severity read as "P1" in JSON and YAML.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "P0".."P3".
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// SeverityRule maps alerts whose labels match every matcher to a severity.
type SeverityRule struct {
	Name     string
	Matchers []Matcher
	Severity Severity
}

// Classifier assigns a severity to an alert from its labels: the ordered rules
// first (first match wins), then an explicit `priority` label, then the
// `severity` label (critical → P1, warning → P2, anything else → P3).
type Classifier struct {
	Rules []SeverityRule
}

// Classify returns the severity for one alert's labels.
func (c Classifier) Classify(labels map[string]string) Severity {
	for _, r := range c.Rules {
		if MatchAll(r.Matchers, labels) {
			return r.Severity
		}
	}
	if p, err := ParseSeverity(labels["priority"]); err == nil {
		return p
	}
	switch strings.ToLower(labels["severity"]) {
	case "critical":
		return P1
	case "warning":
		return P2
	default:
		return P3
	}
}

// Deadlines are the response deadlines by severity: how long an open
// incident may stay unacknowledged before its thread is reminded and its
// destinations' escalation groups are paged. A severity the map lacks takes
// DefaultDeadlines' value.
type Deadlines map[Severity]time.Duration

// DefaultDeadlines are the operations guide's response times.
var DefaultDeadlines = Deadlines{
	P0: 0, // immediately: a complete outage pages at once
	P1: 15 * time.Minute,
	P2: time.Hour,
	P3: 4 * time.Hour,
}

// DefaultEscalationInterval is how often an unacknowledged incident past its
// deadline is reminded again.
const DefaultEscalationInterval = 15 * time.Minute

// For returns severity s's deadline. An incident without a severity yet
// (every alert of its group arrived resolved) gets the least urgent one.
func (d Deadlines) For(s Severity) time.Duration {
	if !s.Valid() {
		s = P3
	}
	if v, ok := d[s]; ok {
		return v
	}
	return DefaultDeadlines[s]
}
