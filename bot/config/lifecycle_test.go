package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func TestLifecycleDefaults(t *testing.T) {
	cfg, err := Load("", tokens())
	if err != nil {
		t.Fatal(err)
	}
	want := map[bot.Severity]time.Duration{bot.P0: 0, bot.P1: 15 * time.Minute, bot.P2: time.Hour, bot.P3: 4 * time.Hour}
	for sev, d := range want {
		if got := cfg.Deadlines().For(sev); got != d {
			t.Errorf("default deadline %s = %s, want %s", sev, got, d)
		}
	}
	if cfg.Incidents.EscalationInterval != 15*time.Minute {
		t.Errorf("default escalation interval %s, want 15m", cfg.Incidents.EscalationInterval)
	}
}

func TestLifecycleAccepted(t *testing.T) {
	yaml := `incidents:
  response_deadlines: {P1: 10m, P2: 30m}
  escalation_interval: 5m
destinations:
  - {name: s, platform: slack, channel: C1, mention: S0ONCALL, escalation: [S0ONCALL, S0LEADS]}
  - {name: d, platform: discord, channel: "1", escalation: ["2", "3"]}
`
	cfg, err := Load(writeFile(t, "chatops.yaml", yaml), tokens())
	if err != nil {
		t.Fatal(err)
	}
	dl := cfg.Deadlines()
	// Keys the file leaves out keep their defaults.
	if dl.For(bot.P0) != 0 || dl.For(bot.P1) != 10*time.Minute || dl.For(bot.P2) != 30*time.Minute || dl.For(bot.P3) != 4*time.Hour {
		t.Errorf("deadlines %v", dl)
	}
	if cfg.Incidents.EscalationInterval != 5*time.Minute {
		t.Errorf("interval %s", cfg.Incidents.EscalationInterval)
	}
	ds := cfg.ChatDestinations()
	if len(ds) != 2 || ds[0].EscalationMention(2) != "S0LEADS" || ds[1].EscalationMention(1) != "2" || ds[1].EscalationLevels() != 2 {
		t.Errorf("destinations %+v", ds)
	}
}

func TestLifecycleProblems(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantPath string
		wantMsg  string
	}{
		{"negative deadline", "incidents:\n  response_deadlines: {P2: -1m}\n", "incidents.response_deadlines.P2", "want 0..168h"},
		{"deadline beyond a week", "incidents:\n  response_deadlines: {P3: 200h}\n", "incidents.response_deadlines.P3", "want 0..168h"},
		{"deadline not a duration", "incidents:\n  response_deadlines: {P1: soon}\n", "incidents.response_deadlines.P1", "a duration"},
		{"unknown severity key", "incidents:\n  response_deadlines: {P5: 1h}\n", "incidents.response_deadlines.P5", "unknown field"},
		{"less urgent due sooner", "incidents:\n  response_deadlines: {P1: 2h}\n", "incidents.response_deadlines.P2", "shorter than P1's 2h0m0s"},
		{"interval too short", "incidents:\n  escalation_interval: 10s\n", "incidents.escalation_interval", "want 1m0s..24h0m0s"},
		{"interval zero", "incidents:\n  escalation_interval: 0s\n", "incidents.escalation_interval", "want 1m0s.."},
		{"slack escalation not a group id", "destinations:\n  - {name: s, platform: slack, channel: C1, mention: S1, escalation: [S1, leads]}\n",
			"destinations[0].escalation[1]", "user group id"},
		{"discord escalation not a role id", "destinations:\n  - {name: d, platform: discord, channel: '1', escalation: ['@leads']}\n",
			"destinations[0].escalation[0]", "role id is a number"},
		{"empty escalation level", "destinations:\n  - {name: s, platform: slack, channel: C1, escalation: ['']}\n",
			"destinations[0].escalation[0]", "empty"},
		{"level repeated", "destinations:\n  - {name: s, platform: slack, channel: C1, escalation: [S1, S2, S1]}\n",
			"destinations[0].escalation[2]", "already an earlier level"},
		{"too many levels", "destinations:\n  - {name: s, platform: slack, channel: C1, escalation: [S1, S2, S3, S4, S5, S6]}\n",
			"destinations[0].escalation", "at most 5"},
		{"escalation not a list", "destinations:\n  - {name: s, platform: slack, channel: C1, escalation: S1}\n",
			"destinations[0].escalation", "want a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "chatops.yaml", tt.yaml), tokens())
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ps), err)
			}
			if ps[0].Path != tt.wantPath || !strings.Contains(ps[0].Msg, tt.wantMsg) {
				t.Errorf("problem %q, want path %q and a message containing %q", ps[0], tt.wantPath, tt.wantMsg)
			}
		})
	}
}

// The shipped Bakery-IA file holds the guide's response times and pages
// on-call, then the leads.
func TestBakeryIALifecycle(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "deploy", "kubernetes", "base", "bakery-ia.yaml"), tokens())
	if err != nil {
		t.Fatal(err)
	}
	dl := cfg.Deadlines()
	if dl.For(bot.P0) != 0 || dl.For(bot.P1) != 15*time.Minute || dl.For(bot.P2) != time.Hour || dl.For(bot.P3) != 4*time.Hour {
		t.Errorf("deadlines %v, want the guide's 0/15m/1h/4h", dl)
	}
	if cfg.Incidents.EscalationInterval != 15*time.Minute {
		t.Errorf("escalation interval %s", cfg.Incidents.EscalationInterval)
	}
	want := map[string][2]string{
		"slack-incidents":   {"S0ONCALL", "S0PLATFORMLEADS"},
		"discord-incidents": {"100000000000000002", "100000000000000004"},
		"slack-alerts":      {"", ""},
	}
	for _, d := range cfg.ChatDestinations() {
		w, ok := want[d.Name]
		if !ok {
			continue
		}
		if got := [2]string{d.EscalationMention(1), d.EscalationMention(3)}; got != w {
			t.Errorf("%s pages %v at levels 1 and 3, want %v", d.Name, got, w)
		}
	}
}
