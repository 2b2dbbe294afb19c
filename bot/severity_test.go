package bot

import (
	"testing"
	"time"
)

func mustRule(t *testing.T, sev Severity, specs ...string) SeverityRule {
	t.Helper()
	r := SeverityRule{Severity: sev}
	for _, s := range specs {
		m, err := ParseMatcher(s)
		if err != nil {
			t.Fatalf("ParseMatcher(%q): %v", s, err)
		}
		r.Matchers = append(r.Matchers, m)
	}
	return r
}

func TestClassify(t *testing.T) {
	c := Classifier{Rules: []SeverityRule{
		mustRule(t, P0, `alertname=~"ServiceDown|HighErrorRate"`, `service=~"gateway|auth-service"`),
		mustRule(t, P1, `alertname="ServiceDown"`),
		mustRule(t, P3, `alertname!~"Certificate.*"`, `team="batch"`),
	}}
	tests := []struct {
		name   string
		labels map[string]string
		want   Severity
	}{
		{"first rule", map[string]string{"alertname": "ServiceDown", "service": "gateway"}, P0},
		{"regex is anchored", map[string]string{"alertname": "ServiceDownX", "service": "gateway"}, P3},
		{"second rule", map[string]string{"alertname": "ServiceDown", "service": "orders-service"}, P1},
		{"negative regex rule", map[string]string{"alertname": "Foo", "team": "batch", "severity": "critical"}, P3},
		{"priority label", map[string]string{"alertname": "Foo", "priority": "p0", "severity": "warning"}, P0},
		{"bad priority falls through", map[string]string{"alertname": "Foo", "priority": "urgent", "severity": "critical"}, P1},
		{"critical", map[string]string{"alertname": "Foo", "severity": "critical"}, P1},
		{"warning", map[string]string{"alertname": "Foo", "severity": "Warning"}, P2},
		{"info", map[string]string{"alertname": "Foo", "severity": "info"}, P3},
		{"none", map[string]string{"alertname": "Foo"}, P3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Classify(tc.labels); got != tc.want {
				t.Fatalf("Classify(%v) = %s, want %s", tc.labels, got, tc.want)
			}
		})
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in      string
		labels  map[string]string
		match   bool
		wantErr bool
	}{
		{in: `service="gateway"`, labels: map[string]string{"service": "gateway"}, match: true},
		{in: `service=gateway`, labels: map[string]string{"service": "gateway"}, match: true},
		{in: ` service != "gateway" `, labels: map[string]string{"service": "orders"}, match: true},
		{in: `service!="gateway"`, labels: map[string]string{}, match: true},
		{in: `service=""`, labels: map[string]string{}, match: true},
		{in: `service=~"gate.*"`, labels: map[string]string{"service": "gateway"}, match: true},
		{in: `service!~"gate.*"`, labels: map[string]string{"service": "gateway"}, match: false},
		{in: `msg="a \"quoted\" value"`, labels: map[string]string{"msg": `a "quoted" value`}, match: true},
		{in: `service=~"("`, wantErr: true},
		{in: `service`, wantErr: true},
		{in: `service="unterminated`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			m, err := ParseMatcher(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && m.Matches(tc.labels) != tc.match {
				t.Fatalf("%s matches %v = %v, want %v", m, tc.labels, !tc.match, tc.match)
			}
		})
	}
}

func TestDeadlinesFor(t *testing.T) {
	custom := Deadlines{P1: 5 * time.Minute}
	tests := []struct {
		name string
		dl   Deadlines
		sev  Severity
		want time.Duration
	}{
		{"P0 immediately", nil, P0, 0},
		{"P1 15m", nil, P1, 15 * time.Minute},
		{"P2 1h", nil, P2, time.Hour},
		{"P3 4h", nil, P3, 4 * time.Hour},
		{"configured", custom, P1, 5 * time.Minute},
		{"missing from the map falls back", custom, P2, time.Hour},
		{"no severity yet is treated as P3", nil, SeverityUnknown, 4 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.dl.For(tt.sev); got != tt.want {
				t.Errorf("For(%s) = %s, want %s", tt.sev, got, tt.want)
			}
		})
	}
}
