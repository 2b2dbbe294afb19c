package bot

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/pkg/labels"
)

// alertmanagerMatcher parses s the way an Alertmanager v0.35 binary started
// without --enable-feature does: its main builds the feature flags from an
// empty list and hands them to compat. It is the oracle ParseMatcher must
// agree with, reached through Alertmanager's own start-up path rather than
// through the parser ParseMatcher picked.
var alertmanagerMatcher = sync.OnceValue(func() func(string) (*labels.Matcher, error) {
	logger := slog.New(slog.DiscardHandler)
	flags, err := featurecontrol.NewFlags(logger, "")
	if err != nil {
		panic(err)
	}
	compat.InitFromFlags(logger, flags)
	return func(s string) (*labels.Matcher, error) { return compat.Matcher(s, "api") }
})

type labelSet = map[string]string

// TestParseMatcherIsAlertmanagers checks, for each input, that chatops
// accepts it exactly when Alertmanager does, reads the same name, operator
// and value, and matches the same label sets. want pins Alertmanager's
// reading so that an upgrade that changes it is noticed here.
func TestParseMatcherIsAlertmanagers(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the matcher as Alertmanager writes it; "" when refused
		match    []labelSet
		miss     []labelSet
	}{
		{"quoted value", `service="gateway"`, `service="gateway"`,
			[]labelSet{{"service": "gateway"}}, []labelSet{{"service": "gateway-2"}, {}}},
		{"bare value", `service=gateway`, `service="gateway"`, []labelSet{{"service": "gateway"}}, nil},
		{"spaces around the operator", ` service != "gateway" `, `service!="gateway"`,
			[]labelSet{{"service": "orders"}, {}}, []labelSet{{"service": "gateway"}}},
		{"spaces around a regex operator", `service =~ "gate.*"`, `service=~"gate.*"`, []labelSet{{"service": "gateway"}}, nil},
		{"negative regex", `service!~"gate.*"`, `service!~"gate.*"`, []labelSet{{}}, []labelSet{{"service": "gateway"}}},
		{"empty quoted value matches a missing label", `team=""`, `team=""`,
			[]labelSet{{}, {"team": ""}}, []labelSet{{"team": "db"}}},
		{"empty bare value", `team=`, `team=""`, []labelSet{{}}, []labelSet{{"team": "db"}}},
		{"not empty", `team!=""`, `team!=""`, []labelSet{{"team": "db"}}, []labelSet{{}}},
		{"regex is anchored", `service=~"gate"`, `service=~"gate"`,
			[]labelSet{{"service": "gate"}}, []labelSet{{"service": "gateway"}, {"service": "northgate"}}},
		{"explicit anchors are harmless", `service=~"^gate.*$"`, `service=~"^gate.*$"`, []labelSet{{"service": "gateway"}}, nil},
		{"regex that matches empty", `service=~".*"`, `service=~".*"`, []labelSet{{}, {"service": "x"}}, nil},
		{"escaped quote", `msg="a \"quoted\" value"`, `msg="a \"quoted\" value"`, []labelSet{{"msg": `a "quoted" value`}}, nil},
		{"escaped backslash", `path="C:\\temp"`, `path="C:\\temp"`, []labelSet{{"path": `C:\temp`}}, nil},
		{"escaped newline", `msg="two\nlines"`, `msg="two\nlines"`, []labelSet{{"msg": "two\nlines"}}, nil},
		// Both parsers accept these and disagree; Alertmanager keeps the
		// classic reading, where only \" \\ and \n are escapes.
		{"tab escape is a backslash and a t", `msg="a\tb"`, `msg="a\\tb"`,
			[]labelSet{{"msg": `a\tb`}}, []labelSet{{"msg": "a\tb"}}},
		{"unicode escape is literal", `city="Logro\u00f1o"`, `city="Logro\\u00f1o"`,
			[]labelSet{{"city": `Logro\u00f1o`}}, []labelSet{{"city": "Logroño"}}},
		// Only the classic parser accepts these: Alertmanager falls back to it.
		{"regex class in quotes", `code=~"5\d\d"`, `code=~"5\\d\\d"`, []labelSet{{"code": "503"}}, []labelSet{{"code": "5xx"}}},
		{"bare regex with a backslash", `code=~5\d\d`, `code=~"5\\d\\d"`, []labelSet{{"code": "503"}}, nil},
		{"bare value with a space", `alertname=Disk full`, `alertname="Disk full"`, []labelSet{{"alertname": "Disk full"}}, nil},
		{"bare value with a comma is one value", `service=a,team=b`, `service="a,team=b"`, []labelSet{{"service": "a,team=b"}}, nil},
		{"bare value with an equals sign", `alertname=a=b`, `alertname="a=b"`, []labelSet{{"alertname": "a=b"}}, nil},
		{"doubled operator is part of the value", `service==x`, `service="=x"`, []labelSet{{"service": "=x"}}, nil},
		{"single quotes are literal", `service='x'`, `service="'x'"`, []labelSet{{"service": "'x'"}}, nil},
		{"trailing backslash", `path=C:\`, `path="C:\\"`, []labelSet{{"path": `C:\`}}, nil},
		{"colon in the name", `job:rate="1"`, `job:rate="1"`, []labelSet{{"job:rate": "1"}}, nil},
		// Only the UTF-8 parser accepts these.
		{"dotted name", `service.name="gateway"`, `service.name="gateway"`, []labelSet{{"service.name": "gateway"}}, nil},
		{"name starting with a digit", `9service="x"`, `9service="x"`, []labelSet{{"9service": "x"}}, nil},
		{"UTF-8 name and value", `panadería="sí"`, `panadería="sí"`, []labelSet{{"panadería": "sí"}}, nil},
		{"quoted name with a space", `"service name"="gateway"`, `"service name"="gateway"`, []labelSet{{"service name": "gateway"}}, nil},
		{"quoted name with an escape", `"a\tb"="x"`, `"a\tb"="x"`, []labelSet{{"a\tb": "x"}}, nil},
		{"quoted plain name", `"service"="gateway"`, `service="gateway"`, []labelSet{{"service": "gateway"}}, nil},
		{"empty quoted name", `""="x"`, `="x"`, nil, []labelSet{{"": ""}, {}}},
		{"UTF-8 bare value", `city=Logroño`, `city="Logroño"`, []labelSet{{"city": "Logroño"}}, nil},

		{"empty", ``, "", nil, nil},
		{"name alone", `service`, "", nil, nil},
		{"no name", `="x"`, "", nil, nil},
		{"words", `alert name is X`, "", nil, nil},
		{"tilde first", `service~="x"`, "", nil, nil},
		{"bang alone", `service!x`, "", nil, nil},
		{"bad regex", `service=~"("`, "", nil, nil},
		{"lookahead is not RE2", `service=~"(?=gate)way"`, "", nil, nil},
		{"unterminated quote", `service="gateway`, "", nil, nil},
		{"text after the closing quote", `service="gate"way`, "", nil, nil},
		{"quote inside a bare value", `service=gate"way`, "", nil, nil},
		{"braces around one matcher", `{service="gateway"}`, "", nil, nil},
		{"bare regex ending in a brace", `id=~[0-9]{3}`, "", nil, nil},
		{"unterminated quoted name", `"service="x"`, "", nil, nil},
		{"quoted name not UTF-8", `"\xff"="x"`, "", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			am, amErr := alertmanagerMatcher()(tc.in)
			m, err := ParseMatcher(tc.in)
			if (err == nil) != (amErr == nil) {
				t.Fatalf("ParseMatcher(%q) error = %v; Alertmanager's error = %v", tc.in, err, amErr)
			}
			if (tc.want != "") != (amErr == nil) {
				t.Fatalf("Alertmanager read %q as %v, %v; the table says %q", tc.in, am, amErr, tc.want)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "matcher ") {
					t.Errorf("error %q does not name the matcher", err)
				}
				return
			}
			if m.Label != am.Name || m.Op != MatchOp(am.Type.String()) || m.Value != am.Value {
				t.Errorf("ParseMatcher(%q) = %q %q %q; Alertmanager reads %q %q %q", tc.in, m.Label, m.Op, m.Value, am.Name, am.Type, am.Value)
			}
			if m.String() != tc.want || am.String() != tc.want {
				t.Errorf("String() = %s, Alertmanager's %s; want %s", m, am, tc.want)
			}
			// Alertmanager writes an empty name unquoted, which neither of
			// its parsers reads back; every other matcher reads back.
			if back, err := ParseMatcher(m.String()); m.Label != "" && (err != nil || back.Label != m.Label || back.Op != m.Op || back.Value != m.Value) {
				t.Errorf("ParseMatcher(%s) = %q %q %q, %v; want it to read back as %q %q %q", m, back.Label, back.Op, back.Value, err, m.Label, m.Op, m.Value)
			}
			for _, ls := range append(append([]labelSet{}, tc.match...), tc.miss...) {
				if got, amGot := m.Matches(ls), am.Matches(ls[am.Name]); got != amGot {
					t.Errorf("%s matches %q = %v; Alertmanager's = %v", m, ls, got, amGot)
				}
			}
			for _, ls := range tc.match {
				if !m.Matches(ls) {
					t.Errorf("%s does not match %q", m, ls)
				}
			}
			for _, ls := range tc.miss {
				if m.Matches(ls) {
					t.Errorf("%s matches %q", m, ls)
				}
			}
		})
	}
}

func TestMatcherLiteral(t *testing.T) {
	lit := Matcher{Label: "service", Op: MatchRegexp, Value: "gate.*"}
	if !lit.Matches(labelSet{"service": "gateway"}) || lit.Matches(labelSet{"service": "northgateway"}) {
		t.Errorf("%s: want it anchored like a parsed one", lit)
	}
	bad := Matcher{Label: "service", Op: MatchRegexp, Value: "("}
	if bad.Matches(labelSet{"service": "("}) {
		t.Errorf("%s: an invalid matcher matched", bad)
	}
	if !MatchAll(nil, labelSet{"a": "b"}) {
		t.Error("MatchAll(nil) = false, want true")
	}
}

func TestNewMatcher(t *testing.T) {
	m, err := NewMatcher("service name", MatchNotRegexp, `gate\d`)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.String(); got != `"service name"!~"gate\\d"` {
		t.Errorf("String() = %s", got)
	}
	if _, err := NewMatcher("service", MatchRegexp, "("); err == nil || !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf("bad regex: error %v", err)
	}
	if _, err := NewMatcher("service", "==", "x"); err == nil {
		t.Error("unknown operator accepted")
	}
}
