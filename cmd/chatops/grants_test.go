package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The grants print without a database, and a mistaken call is refused
// before any is touched.
func TestMigrateGrantFlags(t *testing.T) {
	dir := auditEnv(t)
	code, stdout, stderr := runCLI(t, "migrate", "--print-grants", "chatops_app")
	if code != 0 || stderr != "" {
		t.Fatalf("--print-grants = %d %q", code, stderr)
	}
	for _, want := range []string{
		"BEGIN;\n",
		`GRANT USAGE ON SCHEMA "public" TO "chatops_app";`,
		`GRANT SELECT, INSERT ON TABLE "audit_log" TO "chatops_app";`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "outbox" TO "chatops_app";`,
		"COMMIT;\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--print-grants lacks %q:\n%s", want, stdout)
		}
	}
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "GRANT ") && (strings.Contains(l, "TRUNCATE") || strings.Contains(l, "ALL")) {
			t.Errorf("--print-grants grants too much: %s", l)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "chatops.db")); err == nil {
		t.Fatal("--print-grants created a database")
	}
	for _, tc := range []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"migrate", "--grant", "a", "--print-grants", "a"}, 2, "--grant and --print-grants: give one"},
		{[]string{"migrate", "--print-grants", "public"}, 2, "reserved"},
		{[]string{"migrate", "--grant", "pg_monitor"}, 2, "reserved"},
		{[]string{"migrate", "--grant", "chatops_app"}, 1, "--grant chatops_app: roles are PostgreSQL's; this configuration uses sqlite"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.wantCode || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v = %d %q; want %d and %q", tc.args, code, stderr, tc.wantCode, tc.want)
		}
	}
}

// migrate --grant as the owner, then the store commands as the runtime
// role: it reads the log, and never owned it.
func TestMigrateGrantOnPostgres(t *testing.T) {
	role := createRole(t)
	dbURL := freshPostgres(t)
	onlyEnv(t, map[string]string{"CHATOPS_DATABASE_URL": dbURL})
	code, stdout, stderr := runCLI(t, "migrate", "--grant", role)
	if code != 0 || !strings.Contains(stdout, "postgres: role "+role+" may now run serve") {
		t.Fatalf("migrate --grant = %d %q %q", code, stdout, stderr)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	onlyEnv(t, map[string]string{"CHATOPS_DATABASE_URL": u.String()})
	if code, stdout, stderr := runCLI(t, "audit", "verify"); code != 0 || !strings.Contains(stdout, "audit log verified: 0 rows") {
		t.Fatalf("verify as %s = %d %q %q", role, code, stdout, stderr)
	}
	// The runtime role cannot grant itself: it owns nothing.
	if code, _, stderr := runCLI(t, "migrate", "--grant", role); code != 1 || !strings.Contains(stderr, "permission denied") {
		t.Fatalf("migrate --grant as the runtime role = %d %q; want a refusal", code, stderr)
	}
}

// createRole makes a LOGIN role for the test, dropped when it ends (after
// the databases made after it).
func createRole(t *testing.T) string {
	t.Helper()
	_, exec := pgAdmin()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	role := "chatops_cli_rt_" + hex.EncodeToString(b)
	if err := exec("CREATE ROLE " + pgx.Identifier{role}.Sanitize() + " LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec("DROP ROLE IF EXISTS " + pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}
