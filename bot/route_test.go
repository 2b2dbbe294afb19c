package bot

import (
	"fmt"
	"testing"
)

func TestEscalationMention(t *testing.T) {
	tests := []struct {
		name   string
		d      Destination
		levels int
		want   []string // levels 1, 2, 3
	}{
		{"nobody", Destination{}, 0, []string{"", "", ""}},
		{"mention only", Destination{Mention: "S1"}, 1, []string{"S1", "S1", "S1"}},
		{"two levels, stays at the last", Destination{Mention: "S1", Escalation: []string{"S1", "S2"}}, 2, []string{"S1", "S2", "S2"}},
		{"escalation without mention", Destination{Escalation: []string{"S9"}}, 1, []string{"S9", "S9", "S9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := tt.d.EscalationLevels(); n != tt.levels {
				t.Errorf("EscalationLevels = %d, want %d", n, tt.levels)
			}
			for i, want := range tt.want {
				if got := tt.d.EscalationMention(i + 1); got != want {
					t.Errorf("level %d: %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	m, _ := ParseMatcher(`service="gateway"`)
	rs := Routes{
		{Severities: []Severity{P0, P1}, Destinations: []string{"incidents"}, Continue: true},
		{Matchers: []Matcher{m}, Destinations: []string{"gateway-team", "incidents"}},
		{Destinations: []string{"alerts"}},
	}
	tests := []struct {
		name string
		inc  Incident
		want string
	}{
		{"P1 gateway continues into the team route", Incident{Severity: P1, CommonLabels: map[string]string{"service": "gateway"}}, "[incidents gateway-team]"},
		{"P1 elsewhere falls to the catch-all", Incident{Severity: P1, CommonLabels: map[string]string{"service": "orders"}}, "[incidents alerts]"},
		{"P2 gateway stops at the team route", Incident{Severity: P2, CommonLabels: map[string]string{"service": "gateway"}}, "[gateway-team incidents]"},
		{"P3 catch-all", Incident{Severity: P3}, "[alerts]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rs.Destinations(&tc.inc); fmt.Sprint(got) != tc.want {
				t.Fatalf("Destinations = %v, want %s", got, tc.want)
			}
		})
	}
}
