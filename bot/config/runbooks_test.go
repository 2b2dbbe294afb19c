package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
)

func TestRunbookAndCorrelationDefaults(t *testing.T) {
	cfg, err := Load("", tokens())
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.IncidentCorrelation(); !got.Enabled || got.MinServices != 3 || got.Window != 5*time.Minute {
		t.Fatalf("correlation defaults = %+v, want on, 3 services, 5m", got)
	}
	if rbs := cfg.IncidentRunbooks(); len(rbs) != 0 {
		t.Fatalf("runbooks without a file: %v", rbs)
	}
}

func TestRunbookValidation(t *testing.T) {
	long := strings.Repeat("x", bot.MaxRunbookStepLen+1)
	many := strings.Repeat("\n      - step", bot.MaxRunbookSteps+1)
	path := writeFile(t, "c.yaml", `
incidents:
  correlation:
    min_services: 1
    window: 2h
runbooks:
  ServiceDown:
    steps: ["ok", "", "`+long+`"]
    actions: [health, reboot, health]
    step: typo
  Empty: {}
  "bad name":
    steps: [one]
  TooMany:
    steps:`+many+`
`)
	_, err := Load(path, tokens())
	ps := problems(t, err)
	for _, want := range []string{
		"incidents.correlation.min_services",
		"incidents.correlation.window",
		"runbooks.ServiceDown.steps[1]",
		"runbooks.ServiceDown.steps[2]",
		"runbooks.ServiceDown.actions[1]",
		"runbooks.ServiceDown.actions[2]",
		"runbooks.ServiceDown.step",
		"runbooks.Empty",
		"runbooks.bad name",
		"runbooks.TooMany.steps",
	} {
		if _, ok := findProblem(ps, want); !ok {
			t.Errorf("no problem at %s; got:\n%v", want, ps)
		}
	}
	if _, ok := findProblem(ps, "runbooks.ServiceDown.steps[0]"); ok {
		t.Error("a good step was refused")
	}
}

// The shipped runbooks: the guide's alerts, each within the limits, with
// the buttons that make sense for it.
func TestBakeryIARunbooks(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "deploy", "kubernetes", "base", "bakery-ia.yaml"), tokens())
	if err != nil {
		t.Fatal(err)
	}
	rbs := cfg.IncidentRunbooks()
	want := map[string][]bot.RunbookAction{
		"ServiceDown":             {bot.ActionHealth, bot.ActionLogs, bot.ActionHistory, bot.ActionStatus, bot.ActionRestart, bot.ActionRollback},
		"HighMemoryUsage":         {bot.ActionHealth, bot.ActionLogs, bot.ActionStatus, bot.ActionRestart},
		"DatabaseConnectionsHigh": {bot.ActionHealth, bot.ActionLogs},
		"CertificateExpiringSoon": {bot.ActionHealth},
		"HighErrorRate":           {bot.ActionHealth, bot.ActionLogs, bot.ActionHistory, bot.ActionStatus, bot.ActionRollback},
		"HighLatency":             {bot.ActionHealth, bot.ActionLogs, bot.ActionHistory, bot.ActionRollback},
		bot.OutageAlertName:       {bot.ActionHealth},
	}
	if len(rbs) != len(want) {
		t.Errorf("%d runbooks, want %d", len(rbs), len(want))
	}
	for name, actions := range want {
		rb, ok := rbs[name]
		if !ok {
			t.Errorf("no runbook for %s", name)
			continue
		}
		if !slices.Equal(rb.Actions, actions) {
			t.Errorf("%s actions = %v, want %v", name, rb.Actions, actions)
		}
		if len(rb.Steps) < 3 {
			t.Errorf("%s has %d steps", name, len(rb.Steps))
		}
		for _, s := range rb.Steps {
			if utf8.RuneCountInString(s) > bot.MaxRunbookStepLen {
				t.Errorf("%s: step too long: %q", name, s)
			}
		}
	}
	if !strings.Contains(strings.Join(rbs["ServiceDown"].Steps, "\n"), "kubectl rollout undo deployment/SERVICE_NAME -n bakery-ia") {
		t.Error("ServiceDown lacks the guide's rollback step")
	}
	if !strings.Contains(strings.Join(rbs["DatabaseConnectionsHigh"].Steps, "\n"), `"SELECT datname, count(*) FROM pg_stat_activity GROUP BY datname;"`) {
		t.Error("DatabaseConnectionsHigh lost its quoted query")
	}
	if got := cfg.IncidentCorrelation(); !got.Enabled || got.MinServices != 3 || got.Window != 5*time.Minute {
		t.Errorf("correlation = %+v", got)
	}
}
