package bot

import (
	"strings"
	"testing"
	"time"
)

func TestTimeTokens(t *testing.T) {
	at := time.Date(2026, 12, 5, 17, 20, 31, 0, time.FixedZone("CET", 3600))
	mark := func(t time.Time, s TimeStyle) string {
		return "[" + t.UTC().Format(time.RFC3339) + " " + string(rune(s)) + "]"
	}
	upper := strings.ToUpper
	for _, tc := range []struct {
		name, in, plain, marked string
	}{
		{"at", "acked at " + At(at), "acked at 2026-12-05 16:20 UTC", "ACKED AT [2026-12-05T16:20:31Z a]"},
		{"ago", "started " + AtAgo(at) + ".", "started 2026-12-05 16:20 UTC.", "STARTED [2026-12-05T16:20:31Z r]."},
		{"two", At(at) + "–" + At(at.Add(time.Hour)), "2026-12-05 16:20 UTC–2026-12-05 17:20 UTC", "[2026-12-05T16:20:31Z a]–[2026-12-05T17:20:31Z a]"},
		{"none", "no time <!channel>", "no time <!channel>", "NO TIME <!CHANNEL>"},
		// Forged or broken tokens are text without their delimiters.
		{"unknown style", "x\uFFF9123z\uFFFBy", "x123zy", "X123ZY"},
		{"not a number", "\uFFF912a4a\uFFFB", "12a4a", "12A4A"},
		{"too long", "\uFFF999999999999999a\uFFFB", "99999999999999a", "99999999999999A"},
		{"unclosed", "a\uFFF91a", "a1a", "A1A"},
		{"stray close", "a\uFFFBb", "ab", "AB"},
		{"open twice", "\uFFF9\uFFF90a\uFFFB", "1970-01-01 00:00 UTC", "[1970-01-01T00:00:00Z a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlainTimes(tc.in); got != tc.plain {
				t.Errorf("PlainTimes = %q, want %q", got, tc.plain)
			}
			if got := ExpandTimes(tc.in, upper, mark); got != tc.marked {
				t.Errorf("ExpandTimes = %q, want %q", got, tc.marked)
			}
		})
	}
	if got := UTCText(at); got != "2026-12-05 16:20 UTC" {
		t.Errorf("UTCText = %q", got)
	}
}

func TestPersonName(t *testing.T) {
	long := strings.Repeat("é", 1000)
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"first that reads", []string{"", "  ", "Ana Ruiz", "ana"}, "Ana Ruiz"},
		{"spaces folded", []string{"  Ana \n\t Ruiz  "}, "Ana Ruiz"},
		{"controls and bidi gone", []string{"An\x00a\u202e Ru\u200biz\x1b[31m"}, "Ana Ruiz[31m"},
		{"only invisible", []string{"\u202e\u200b\x07", "bob"}, "bob"},
		{"time token gone", []string{"Eve " + At(time.Unix(0, 0))}, "Eve 0a"},
		{"markup kept for the platform to escape", []string{"<!channel> *x* `y`"}, "<!channel> *x* `y`"},
		{"bounded", []string{long}, strings.Repeat("é", MaxNameRunes-1) + "…"},
		{"exactly the bound", []string{strings.Repeat("a", MaxNameRunes)}, strings.Repeat("a", MaxNameRunes)},
		{"invalid utf-8", []string{"a\xffb"}, "a\uFFFDb"},
		{"none", []string{"", "\u200e"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PersonName(tc.in...); got != tc.want {
				t.Errorf("PersonName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if got := (Identity{UserID: "U1", Name: "\u202e"}).Display(); got != "U1" {
		t.Errorf("Display without a readable name = %q, want the id", got)
	}
	if got := (Identity{UserID: "U1", Name: "Ana"}).Display(); got != "Ana" {
		t.Errorf("Display = %q, want the name alone", got)
	}
}
