package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
)

// Audit keys for the tests: 64 hex digits, as openssl rand -hex 32 makes.
var (
	testAuditKey  = strings.Repeat("5eed", 16)
	otherAuditKey = strings.Repeat("0ther", 13)
)

// appendRows appends n rows to the SQLite log at path, sealed with key
// when it is set.
func appendRows(t *testing.T, path string, key string, n int) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if key != "" {
		k, err := bot.NewAuditKey([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		store.UseAuditKey(k)
	}
	for i := range n {
		err := store.AppendAudit(ctx, bot.AuditRecord{At: time.Now(), Actor: bot.Identity{Platform: "slack", UserID: "U1", Name: "alice"},
			Kind: bot.AuditCommand, Action: "health", Outcome: "allowed", Detail: fmt.Sprintf("health orders-service <%d>", i)})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// headLine is the head verify printed, as --head takes it.
func headLine(t *testing.T, stdout string) string {
	t.Helper()
	for _, l := range strings.Split(stdout, "\n") {
		if h, ok := strings.CutPrefix(l, "head "); ok {
			return h
		}
	}
	t.Fatalf("verify printed no head line: %q", stdout)
	return ""
}

// The head verify prints goes back in with --head; rows cut off the end
// later leave a chain that verifies alone, and --head shows the loss.
func TestAuditVerifyHead(t *testing.T) {
	dir := auditEnv(t)
	if code, _, stderr := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate = %d: %s", code, stderr)
	}
	path := filepath.Join(dir, "chatops.db")
	appendRows(t, path, "", 20)
	code, stdout, stderr := runCLI(t, "audit", "verify")
	if code != 0 {
		t.Fatalf("verify = %d: %s", code, stderr)
	}
	head := headLine(t, stdout)
	if !strings.HasPrefix(head, "20:") {
		t.Fatalf("head %q, want row 20", head)
	}
	code, stdout, stderr = runCLI(t, "audit", "verify", "--head", head)
	if code != 0 || !strings.Contains(stdout, "recorded head 20 still in the chain") || headLine(t, stdout) != head {
		t.Fatalf("verify --head %s = %d %q %q", head, code, stdout, stderr)
	}

	// The owner lifts the guard and cuts rows 16..20.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER audit_log_no_delete`, `DELETE FROM audit_log WHERE seq > 15`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if code, stdout, _ := runCLI(t, "audit", "verify"); code != 0 || !strings.HasPrefix(headLine(t, stdout), "15:") {
		t.Fatalf("the cut chain alone = %d %q; want it to verify up to row 15", code, stdout)
	}
	code, stdout, stderr = runCLI(t, "audit", "verify", "--head", head)
	want := "chatops: audit log verification failed after 15 good rows: audit row 20: missing: the chain ends at row 15, before the recorded head " + head
	if code != 1 || !strings.Contains(stderr, want) || stdout != "" {
		t.Fatalf("verify --head after the cut = %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
	}

	for _, bad := range []string{"20", "twenty:" + head[3:], "0:" + head[3:], "20:abc"} {
		if code, _, stderr := runCLI(t, "audit", "verify", "--head", bad); code != 2 || !strings.Contains(stderr, "--head") {
			t.Errorf("verify --head %q = %d %q; want 2 naming --head", bad, code, stderr)
		}
	}
}

// Keyed rows verify with the key alone; without it, or with another, verify
// exits 1 and says why. The key never shows in any output.
func TestAuditVerifyKeyed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chatops.db")
	onlyEnv(t, map[string]string{"CHATOPS_DATA_DIR": dir})
	if code, _, stderr := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate = %d: %s", code, stderr)
	}
	appendRows(t, path, "", 2)
	appendRows(t, path, testAuditKey, 3)
	key, err := bot.NewAuditKey([]byte(testAuditKey))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(keyFile, []byte(testAuditKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantCode int
		want     string
	}{
		{"with the key", map[string]string{config.EnvAuditKey: testAuditKey}, 0,
			"audit log verified: 5 rows (rows 1..2 plain SHA-256, rows 3..5 keyed, HMAC-SHA-256 under audit key " + key.ID() + ")\nhead 5:"},
		{"with the key's file", map[string]string{config.EnvAuditKeyFile: keyFile}, 0, "rows 3..5 keyed"},
		{"without the key", nil, 1, "after 2 good rows: audit row 3: sealed with HMAC-SHA-256 under audit key " + key.ID() +
			", and no audit key was given: this row and those after it cannot be verified (set CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE"},
		{"with another key", map[string]string{config.EnvAuditKey: otherAuditKey}, 1, "audit row 3: sealed with audit key " + key.ID() + ", not with the key given"},
		{"with a short key", map[string]string{config.EnvAuditKey: "0123456789abcdef"}, 1,
			"chatops: configuration: CHATOPS_AUDIT_KEY: audit key: 16 bytes, want at least 32"},
		{"with both", map[string]string{config.EnvAuditKey: testAuditKey, config.EnvAuditKeyFile: keyFile}, 1,
			"CHATOPS_AUDIT_KEY: set CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CHATOPS_DATA_DIR": dir}
			for k, v := range tc.env {
				env[k] = v
			}
			onlyEnv(t, env)
			code, stdout, stderr := runCLI(t, "audit", "verify")
			if code != tc.wantCode || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("verify = %d\nstdout %q\nstderr %q\nwant %d and %q", code, stdout, stderr, tc.wantCode, tc.want)
			}
			for _, secret := range []string{testAuditKey, otherAuditKey, "0123456789abcdef"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Fatalf("the key shows in the output: %q %q", stdout, stderr)
				}
			}
		})
	}
}

// serve checks the chain against its key before serving: with a key it
// marks a plain chain keyed, once; without the key, or with another, a
// keyed chain stops it with the reason.
func TestServeChecksTheAuditKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chatops.db")
	open := func() *sqlstore.Store {
		s, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	if err := useAuditKey(ctx, s, config.Config{}, zap.NewNop()); err != nil {
		t.Fatalf("no key, empty log: %v", err)
	}
	appendRows(t, path, "", 2)
	withKey := config.Config{AuditKey: config.Secret(testAuditKey)}
	for range 2 {
		if err := useAuditKey(ctx, open(), withKey, zap.NewNop()); err != nil {
			t.Fatalf("with a key: %v", err)
		}
	}
	var rows []bot.AuditRecord
	if err := s.AuditRecords(ctx, time.Time{}, func(r bot.AuditRecord) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !rows[2].Keyed || rows[2].Kind != bot.AuditKeyInUse {
		t.Fatalf("rows after two starts with a key: %+v; want two plain rows and one keyed marker", rows)
	}
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"without the key", config.Config{}, "this process has no audit key: no audit key given (set CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE)"},
		{"with another key", config.Config{AuditKey: config.Secret(otherAuditKey)}, "the audit key cannot change"},
	} {
		err := useAuditKey(ctx, open(), tc.cfg, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
}
