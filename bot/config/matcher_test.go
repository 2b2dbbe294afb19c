package config

import (
	"strconv"
	"strings"
	"testing"
)

// routesWith is a file whose third route matches on the one given matcher
// entry, written as a YAML double-quoted string so any character can go in.
func routesWith(entry string) string {
	return "destinations:\n  - {name: s, platform: slack, channel: C1}\nroutes:\n" +
		"  - {severities: [P0], destinations: [s]}\n" +
		"  - {severities: [P1], destinations: [s]}\n" +
		"  - match: [" + strconv.Quote(entry) + "]\n    destinations: [s]\n"
}

func TestMatcherProblems(t *testing.T) {
	tests := []struct {
		name, entry string
		want        []string // substrings of the problem at routes[2].match[0]
	}{
		{"no operator", `service`, []string{`matcher "service"`, "expected an operator"}},
		{"bad regex", `service=~"("`, []string{"error parsing regexp: missing closing )"}},
		{"unterminated quote", `service="gateway`, []string{"unescaped double quote"}},
		{"braces", `{service="gateway"}`, []string{"unexpected open or close brace"}},
		{"too long", "service=" + strings.Repeat("x", maxMatcherLen), []string{"longer than 1024 bytes"}},

		// Valid for the old parser, refused by Alertmanager's: the problem
		// gives the old reading in Alertmanager's syntax.
		{"bare regex ending in a brace", `id=~[0-9]{3}`,
			[]string{"unexpected open or close brace", "chatops used to read it as `id=~\"[0-9]{3}\"`: write that instead"}},
		{"quote inside a bare value", `service=gate"way`,
			[]string{"unescaped double quote", "chatops used to read it as `service=\"gate\\\"way\"`"}},

		// Valid for both, read differently: the problem names both
		// readings and how to write each.
		{"tab escape", `msg="a\tb"`, []string{
			`read differently since chatops uses Alertmanager's parser: the value is now "a\\tb", it was "a\tb" (Go notation)`,
			"write `msg=\"a\\\\tb\"` to keep the new reading, or the YAML string \"msg=\\\"a\\tb\\\"\" for the old one"}},
		{"unicode escape", `city="Logro\u00f1o"`, []string{
			`the value is now "Logro\\u00f1o", it was "Logroño"`,
			"or `city=\"Logroño\"` for the old one"}},
		{"bare value with an escaped backslash", `path=C:\\temp`, []string{
			`the value is now "C:\\temp", it was "C:\\\\temp"`,
			"write `path=\"C:\\\\temp\"` to keep the new reading, or `path=\"C:\\\\\\\\temp\"` for the old one"}},
		{"bare value with an escaped newline", `msg=a\nb`, []string{
			`the value is now "a\nb", it was "a\\nb"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "chatops.yaml", routesWith(tc.entry)), tokens())
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Path != "routes[2].match[0]" {
				t.Fatalf("problems:\n%v\nwant one at routes[2].match[0]", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(ps[0].Msg, w) {
					t.Errorf("problem %q\nwant it to contain %q", ps[0].Msg, w)
				}
			}
		})
	}
}

// TestMatcherSuggestionsLoad writes each spelling a problem above offers
// and checks it loads and matches what it promised.
func TestMatcherSuggestionsLoad(t *testing.T) {
	tests := []struct {
		entry string
		label string
		value string
	}{
		{`id=~"[0-9]{3}"`, "id", "123"},
		{`service="gate\"way"`, "service", `gate"way`},
		{`msg="a\\tb"`, "msg", `a\tb`},
		{"msg=\"a\tb\"", "msg", "a\tb"},
		{`city="Logroño"`, "city", "Logroño"},
		{`city="Logro\\u00f1o"`, "city", `Logro\u00f1o`},
		{`path="C:\\temp"`, "path", `C:\temp`},
		{`path="C:\\\\temp"`, "path", `C:\\temp`},
		// What only Alertmanager's parser accepts loads too.
		{`service.name="gateway"`, "service.name", "gateway"},
		{`"service name"=gateway`, "service name", "gateway"},
		{`code=~"5\d\d"`, "code", "503"},
	}
	for _, tc := range tests {
		t.Run(tc.entry, func(t *testing.T) {
			cfg, err := Load(writeFile(t, "chatops.yaml", routesWith(tc.entry)), tokens())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			ms := cfg.IncidentRoutes()[2].Matchers
			if len(ms) != 1 || !ms[0].Matches(map[string]string{tc.label: tc.value}) {
				t.Errorf("matchers %v, want one matching %s=%q", ms, tc.label, tc.value)
			}
		})
	}
}

func TestMatcherCount(t *testing.T) {
	yaml := "severity:\n  rules:\n    - severity: P1\n      match: [" +
		strings.Repeat(`"a=b", `, maxMatchersRule) + "\"a=b\"]\n"
	_, err := Load(writeFile(t, "chatops.yaml", yaml), tokens())
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Path != "severity.rules[0].match" || !strings.Contains(ps[0].Msg, "33 matchers: at most 32") {
		t.Errorf("problems:\n%v\nwant one at severity.rules[0].match", err)
	}
}
