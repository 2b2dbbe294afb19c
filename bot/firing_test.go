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
