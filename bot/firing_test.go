package bot

import (
	"strings"
	"testing"
)

func TestSilenceButtonID(t *testing.T) {
	id, ok := SilenceButtonID("HighErrorRate", "orders-service")
	if !ok || id != "chatops:silence:HighErrorRate:orders-service" {
		t.Fatalf("SilenceButtonID = %q, %v", id, ok)
	}
	if a, s, ok := ParseSilenceButtonID(id); !ok || a != "HighErrorRate" || s != "orders-service" {
		t.Errorf("ParseSilenceButtonID(%q) = %q, %q, %v", id, a, s, ok)
	}
	for _, bad := range [][2]string{
		{"High:Error", "orders-service"}, {"Disk<!channel>", "x"}, {"A", ""}, {"", "svc"}, {"A", "Svc"},
		{"A", "a,alertname=~.+"}, {strings.Repeat("A", 90), "orders-service"},
	} {
		if id, ok := SilenceButtonID(bad[0], bad[1]); ok {
			t.Errorf("SilenceButtonID(%q, %q) = %q, want no button", bad[0], bad[1], id)
		}
	}
	if id, ok := SilenceButtonID(strings.Repeat("A", 100-len("chatops:silence::x")), "x"); !ok || len(id) != 100 {
		t.Errorf("a 100-character id is refused: %q", id)
	}
	if got := SilenceButtonCommand("A", "b"); got != "silence alertname=A,service=b 1h "+SilenceButtonReason {
		t.Errorf("SilenceButtonCommand = %q", got)
	}
}

// FuzzParseSilenceButtonID: an id that reads as a silence button is
// exactly the id its two names make, and the command it stands for is
// the silence command with one matchers word of plain characters and the
// default duration and reason: nothing else from the id reaches it.
func FuzzParseSilenceButtonID(f *testing.F) {
	for _, s := range []string{"chatops:silence:HighErrorRate:orders-service", "chatops:silence:A:b:c", "chatops:silence:A:b 7d x", "chatops:run:logs:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		alert, service, ok := ParseSilenceButtonID(id)
		if !ok {
			return
		}
		if again, _ := SilenceButtonID(alert, service); again != id || len(id) > maxButtonID {
			t.Fatalf("%q reads as (%q, %q), which make %q", id, alert, service, again)
		}
		words := strings.Fields(SilenceButtonCommand(alert, service))
		if len(words) < 4 || words[0] != "silence" || words[2] != SilenceButtonDuration ||
			strings.Join(words[3:], " ") != SilenceButtonReason ||
			strings.Trim(words[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=,") != "" {
			t.Fatalf("%q stands for %q", id, words)
		}
	})
}
