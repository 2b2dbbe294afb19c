package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen_addr: nope\nwebhook:\n  token: inline\nseverity:\n  rules:\n    - match: ['a=~\"(\"']\n      severity: P9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: []string{"chatops dev"}},
		{
			name: "config check names every path", args: []string{"config", "check", "--config", bad},
			env:      map[string]string{"CHATOPS_API_TOKEN": "a"},
			wantCode: 1,
			wantStderr: []string{"listen_addr: ", "webhook.token: secrets are not read", "webhook: no credential",
				"severity.rules[0].match[0]: ", "severity.rules[0].severity: ", "5 configuration problems"},
		},
		{
			name: "config check of the shipped Bakery-IA file", args: []string{"config", "check", "--config", "../../deploy/kubernetes/base/bakery-ia.yaml"},
			env: map[string]string{"CHATOPS_API_TOKEN": "a", "CHATOPS_WEBHOOK_TOKEN": "w",
				"CHATOPS_SLACK_BOT_TOKEN": "xoxb-1", "CHATOPS_DISCORD_BOT_TOKEN": "d"},
			wantCode:   0,
			wantStdout: []string{"configuration OK", "4 severity rules", "3 destinations"},
		},
		{
			name: "serve refuses to start without credentials", args: []string{"serve"},
			env:        map[string]string{"CHATOPS_DATA_DIR": t.TempDir()},
			wantCode:   1,
			wantStderr: []string{"webhook: no credential", "api: no token"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			onlyEnv(t, tc.env)
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), "inline") {
				t.Errorf("output reveals an inline secret")
			}
		})
	}
}
