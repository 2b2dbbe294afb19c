package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot/incident"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/sqlite"
)

func TestIncidentExportCLI(t *testing.T) {
	dir := auditEnv(t)
	if code, _, stderr := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate = %d: %s", code, stderr)
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "chatops.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)
	now := t0
	e := incident.New(store, incident.Config{Now: func() time.Time { return now }}, zap.NewNop(), nil)
	alert := bot.Alert{Fingerprint: "a1", Status: bot.AlertFiring, StartsAt: t0,
		Labels: map[string]string{"alertname": "ServiceDown", "service": "orders-service", "severity": "critical"}}
	g := bot.AlertGroup{Receiver: "chatops", GroupKey: "orders", Status: bot.AlertFiring, Alerts: []bot.Alert{alert},
		GroupLabels: map[string]string{"alertname": "ServiceDown", "service": "orders-service"}}
	res, err := e.Ingest(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	now = t0.Add(4 * time.Minute)
	if _, err := e.Acknowledge(ctx, res.IncidentID, bot.Identity{Platform: "slack", UserID: "UCAROL", Name: "carol"}, "C1"); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(20 * time.Minute)
	alert.Status, alert.EndsAt = bot.AlertResolved, now
	g.Alerts = []bot.Alert{alert}
	if _, err := e.Ingest(ctx, g); err != nil {
		t.Fatal(err)
	}
	d, err := store.GetIncident(ctx, res.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	want := outbox.PostMortem(d)
	store.Close()
	for _, must := range []string{"# Post-mortem draft: #1 ServiceDown · orders-service", "| Acknowledged | 2026-11-20 02:18:05 UTC by carol (after 4m) |",
		"From 2026-11-20 02:14:05 UTC to 2026-11-20 02:34:05 UTC: 20m.", "## Open questions"} {
		if !strings.Contains(want, must) {
			t.Fatalf("draft lacks %q:\n%s", must, want)
		}
	}

	code, stdout, stderr := runCLI(t, "incident", "export", "1")
	if code != 0 || stdout != want {
		t.Fatalf("export to stdout = %d (%s):\n%s", code, stderr, stdout)
	}
	out := filepath.Join(t.TempDir(), "pm.md")
	if code, _, stderr := runCLI(t, "incident", "export", "--config", "", "-o", out, "#1"); code != 0 || !strings.Contains(stderr, "wrote the post-mortem draft of incident #1") {
		t.Fatalf("export to a file = %d: %s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != want {
		t.Fatalf("file = %q, %v", got, err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("the draft is readable by others: %v", fi.Mode())
	}

	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"incident", "export", "7"}, 1, "incident #7: there is no such incident"},
		{[]string{"incident", "export", "seven"}, 2, `want an incident number (chatops incident export 12), got "seven"`},
		{[]string{"incident", "export"}, 2, "missing <id>"},
		{[]string{"incident", "export", "1", "2"}, 2, `unexpected argument "2"`},
		{[]string{"incident"}, 2, "chatops incident export [flags] <id>"},
		{[]string{"incident", "export", "--bogus"}, 2, "flag provided but not defined"},
	} {
		if code, _, stderr := runCLI(t, tc.args...); code != tc.code || !strings.Contains(stderr, tc.inStderr) {
			t.Errorf("%v = %d %q, want %d and %q", tc.args, code, stderr, tc.code, tc.inStderr)
		}
	}
}
