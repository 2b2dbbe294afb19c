package config

import (
	"fmt"
	"time"

	"github.com/bakewise/chatops/bot"
)

// Limits on the deadline and escalation settings.
const (
	maxResponseDeadline   = 7 * 24 * time.Hour
	minEscalationInterval = time.Minute
	maxEscalationInterval = 24 * time.Hour
	maxEscalationLevels   = 5
)

// ResponseDeadlines is how long an open incident may stay unacknowledged,
// by severity, before its thread is reminded and its destinations'
// escalation groups are paged. 0 pages at once.
type ResponseDeadlines struct {
	P0 time.Duration `yaml:"P0"`
	P1 time.Duration `yaml:"P1"`
	P2 time.Duration `yaml:"P2"`
	P3 time.Duration `yaml:"P3"`
}

func defaultResponseDeadlines() ResponseDeadlines {
	d := bot.DefaultDeadlines
	return ResponseDeadlines{P0: d.For(bot.P0), P1: d.For(bot.P1), P2: d.For(bot.P2), P3: d.For(bot.P3)}
}

func (r ResponseDeadlines) bySeverity() []time.Duration {
	return []time.Duration{r.P0, r.P1, r.P2, r.P3}
}

// Deadlines is incidents.response_deadlines as the engine uses it.
func (c *Config) Deadlines() bot.Deadlines {
	out := bot.Deadlines{}
	for s, d := range c.Incidents.ResponseDeadlines.bySeverity() {
		out[bot.Severity(s)] = d
	}
	return out
}

// validateLifecycle checks the deadlines, the escalation interval and each
// destination's escalation levels, and fills the parsed destinations'
// levels. It runs after the destinations are parsed.
func validateLifecycle(c *Config, ps *Problems) {
	prev := time.Duration(0)
	for s, d := range c.Incidents.ResponseDeadlines.bySeverity() {
		path := fmt.Sprintf("incidents.response_deadlines.%s", bot.Severity(s))
		switch {
		case d < 0 || d > maxResponseDeadline:
			ps.add(path, "%s: want 0..%s (0 pages at once)", d, maxResponseDeadline)
		case d < prev:
			// Raising a severity must never give people more time.
			ps.add(path, "%s is shorter than %s's %s: a less urgent severity cannot be due sooner", d, bot.Severity(s-1), prev)
		}
		prev = max(prev, d)
	}
	if iv := c.Incidents.EscalationInterval; iv < minEscalationInterval || iv > maxEscalationInterval {
		ps.add("incidents.escalation_interval", "%s: want %s..%s", iv, minEscalationInterval, maxEscalationInterval)
	}
	for i, d := range c.Destinations {
		path := fmt.Sprintf("destinations[%d].escalation", i)
		if len(d.Escalation) > maxEscalationLevels {
			ps.add(path, "%d levels: at most %d", len(d.Escalation), maxEscalationLevels)
		}
		seen := map[string]bool{}
		for j, id := range d.Escalation {
			p := fmt.Sprintf("%s[%d]", path, j)
			switch {
			case id == "":
				ps.add(p, "empty: want a Slack user group id or a Discord role id")
			case len(id) > 64:
				ps.add(p, "longer than 64 characters")
			case d.Platform == "slack" && !slackGroup.MatchString(id):
				ps.add(p, "%q: a Slack user group id looks like S0123ABCD", id)
			case d.Platform == "discord" && !snowflake.MatchString(id):
				ps.add(p, "%q: a Discord role id is a number (Copy Role ID)", id)
			case seen[id]:
				ps.add(p, "%q is already an earlier level", id)
			}
			seen[id] = true
		}
		if i < len(c.destinations) {
			c.destinations[i].Escalation = d.Escalation
		}
	}
}
