package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bakewise/chatops/test/harness"
)

// With ui.enabled the binary serves the console under /ui/ on its main
// listener, behind the role check: nobody signed in gets the plain 401
// page, with the console's Content-Security-Policy; without it, /ui/ is
// not served at all.
func TestConsoleMounted(t *testing.T) {
	cfg := newBotConfig(t, harness.SQLite)
	cfg.WriteConfig(t, t.TempDir(), "ui:\n  enabled: true\n")
	bot := harness.StartBot(t, cfg)
	resp, err := bot.Client.Get(bot.BaseURL + "/ui/incidents")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("GET /ui/incidents: %d %v, want 401 with the console's CSP", resp.StatusCode, resp.Header)
	}
	bot.Stop(t)

	off := newBotConfig(t, harness.SQLite)
	off.WriteConfig(t, t.TempDir(), "ui:\n  enabled: false\n")
	bot = harness.StartBot(t, off)
	if resp, err = bot.Client.Get(bot.BaseURL + "/ui/incidents"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /ui/incidents with the console off: %d, want 404", resp.StatusCode)
	}
}
