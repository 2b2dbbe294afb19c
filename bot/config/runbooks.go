package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/incident"
)

// Runbook is what responders do for one alert: steps to read, and the
// actions the bot offers as buttons (health, logs, history, status, restart,
// rollback), run on the incident's service. It is its thread's first reply.
type Runbook struct {
	Steps   []string `yaml:"steps"`
	Actions []string `yaml:"actions"`
}

// Correlation opens one P0 "complete outage" incident, linking the others,
// when critical (P0/P1) firing alerts touch MinServices distinct services
// (their service label) within Window.
type Correlation struct {
	Enabled     bool          `yaml:"enabled"`
	MinServices int           `yaml:"min_services"`
	Window      time.Duration `yaml:"window"`
}

// DefaultCorrelation is on: three services within five minutes.
func DefaultCorrelation() Correlation {
	return Correlation{Enabled: true, MinServices: incident.DefaultCorrelationMinServices, Window: incident.DefaultCorrelationWindow}
}

// Limits on the lifecycle settings.
const (
	maxRunbooks           = 500
	maxCorrelationService = 100
	minCorrelationWindow  = 30 * time.Second
	maxCorrelationWindow  = time.Hour
)

// alertNameKey is what a runbook's key may be: an alert name as Prometheus
// rules write them.
var alertNameKey = regexp.MustCompile(`^[A-Za-z0-9_:.-]{1,128}$`)

func validateRunbooks(c *Config, ps *Problems) {
	if len(c.Runbooks) > maxRunbooks {
		ps.add("runbooks", "%d runbooks: at most %d", len(c.Runbooks), maxRunbooks)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Runbooks)) {
		path := "runbooks." + name
		rb := c.Runbooks[name]
		if !alertNameKey.MatchString(name) {
			ps.add(path, "%q is not an alert name (letters, digits, _ : . -, at most 128)", name)
		}
		if len(rb.Steps) == 0 && len(rb.Actions) == 0 {
			ps.add(path, "no steps and no actions: a runbook must say something")
		}
		if len(rb.Steps) > bot.MaxRunbookSteps {
			ps.add(path+".steps", "%d steps: at most %d", len(rb.Steps), bot.MaxRunbookSteps)
		}
		for i, s := range rb.Steps {
			p := fmt.Sprintf("%s.steps[%d]", path, i)
			switch n := utf8.RuneCountInString(s); {
			case n == 0:
				ps.add(p, "empty step")
			case n > bot.MaxRunbookStepLen:
				ps.add(p, "%d characters: at most %d", n, bot.MaxRunbookStepLen)
			}
		}
		seen := map[string]bool{}
		for i, a := range rb.Actions {
			p := fmt.Sprintf("%s.actions[%d]", path, i)
			if _, err := bot.ParseRunbookAction(a); err != nil {
				ps.add(p, "%v", err)
			}
			if seen[a] {
				ps.add(p, "%q is listed twice", a)
			}
			seen[a] = true
		}
	}

	co := c.Incidents.Correlation
	if co.MinServices < 2 || co.MinServices > maxCorrelationService {
		ps.add("incidents.correlation.min_services", "%d: want 2..%d (one service failing is its own incident)", co.MinServices, maxCorrelationService)
	}
	if co.Window < minCorrelationWindow || co.Window > maxCorrelationWindow {
		ps.add("incidents.correlation.window", "%s: want %s..%s", co.Window, minCorrelationWindow, maxCorrelationWindow)
	}
}

// IncidentRunbooks is the runbooks, by alert name, as the dispatcher posts
// them.
func (c *Config) IncidentRunbooks() bot.Runbooks {
	out := bot.Runbooks{}
	for name, rb := range c.Runbooks {
		b := bot.Runbook{Steps: append([]string(nil), rb.Steps...)}
		for _, a := range rb.Actions {
			if act, err := bot.ParseRunbookAction(a); err == nil {
				b.Actions = append(b.Actions, act)
			}
		}
		out[name] = b
	}
	return out
}

// IncidentCorrelation is the correlation as the engine runs it.
func (c *Config) IncidentCorrelation() incident.CorrelationConfig {
	co := c.Incidents.Correlation
	return incident.CorrelationConfig{Enabled: co.Enabled, MinServices: co.MinServices, Window: co.Window}
}
