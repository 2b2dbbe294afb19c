package bot

import (
	"testing"
	"unicode/utf8"
)

// FuzzParseMatcher checks ParseMatcher against Alertmanager's own start-up
// path (alertmanagerMatcher) on any text: it accepts exactly what
// Alertmanager accepts, reads the same name, operator and value, and
// matches a label value as Alertmanager does; and what it accepts, written
// back with String(), reads back to the same matcher when it is valid UTF-8
// and names a label (config check and the silence command suggest and
// store that spelling).
func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{
		`service="gateway"`, `service=gateway`, ` service != "gateway" `, `service =~ "gate.*"`,
		`service!~"gate.*"`, `team=""`, `team=`, `msg="a \"quoted\" value"`, `path="C:\\temp"`,
		`msg="two\nlines"`, `service.name="orders"`, `"team on call"="db"`, `alertname=~\d+`,
		`city="Logro\u00f1o"`, `x="\t"`, `{a="b"}`, `a=b,c=d`, `alertname=~"("`, `=x`, `a=~"[[:alpha:]]"`,
	} {
		f.Add(s, "gateway")
	}
	f.Fuzz(func(t *testing.T, s, value string) {
		m, err := ParseMatcher(s)
		am, amErr := alertmanagerMatcher()(s)
		if (err == nil) != (amErr == nil) {
			t.Fatalf("ParseMatcher(%q): %v; Alertmanager: %v", s, err, amErr)
		}
		if err != nil {
			return
		}
		if m.Label != am.Name || string(m.Op) != am.Type.String() || m.Value != am.Value {
			t.Fatalf("ParseMatcher(%q) = %s %s %q; Alertmanager reads %s %s %q", s, m.Label, m.Op, m.Value, am.Name, am.Type, am.Value)
		}
		ls := map[string]string{m.Label: value}
		if m.Matches(ls) != am.Matches(value) {
			t.Fatalf("%s on %q: chatops %t, Alertmanager %t", m, value, m.Matches(ls), am.Matches(value))
		}
		if m.Matches(map[string]string{}) != am.Matches("") {
			t.Fatalf("%s on a missing label: chatops %t, Alertmanager %t", m, m.Matches(map[string]string{}), am.Matches(""))
		}
		if m.Label == "" {
			// Alertmanager reads `""="x"` but writes it `="x"`, which
			// neither of its parsers reads back; String() writes as
			// Alertmanager does (TestParseMatcherIsAlertmanagers).
			return
		}
		if !utf8.ValidString(s) {
			// Alertmanager keeps invalid UTF-8 in a bare value and turns
			// it into U+FFFD in a quoted one, so such a matcher has no
			// spelling that reads back. None reaches a matcher of ours:
			// YAML refuses invalid UTF-8, the command tokenizer replaces
			// it, and a silence refuses a value that is not UTF-8.
			return
		}
		back, err := ParseMatcher(m.String())
		if err != nil {
			t.Fatalf("%q read as %s, which does not parse: %v", s, m, err)
		}
		if back.Label != m.Label || back.Op != m.Op || back.Value != m.Value {
			t.Fatalf("%q read as %s, which reads back as %s %s %q", s, m, back.Label, back.Op, back.Value)
		}
		built, err := NewMatcher(m.Label, m.Op, m.Value)
		if err != nil || built.String() != m.String() {
			t.Fatalf("NewMatcher(%q, %s, %q) = %v, %v; want %s", m.Label, m.Op, m.Value, built, err, m)
		}
	})
}
