package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// freshPostgres creates an empty database on the machine's PostgreSQL
// (CHATOPS_TEST_PG_URL, else 127.0.0.1:5432 with trust auth), drops it when
// the test ends and returns its URL. A missing server fails the test: it
// never skips it.
func freshPostgres(t *testing.T) string {
	t.Helper()
	admin, exec := pgAdmin()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "chatops_cli_" + hex.EncodeToString(b)
	if err := exec("CREATE DATABASE " + pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// pgAdmin is the machine's PostgreSQL admin URL (CHATOPS_TEST_PG_URL, else
// 127.0.0.1:5432 with trust auth) and a function that runs one statement
// there on a connection of its own.
func pgAdmin() (admin string, exec func(sql string) error) {
	admin = os.Getenv("CHATOPS_TEST_PG_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	return admin, func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("PostgreSQL is required (set CHATOPS_TEST_PG_URL): %w", err)
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
}

// The commands that only open the store run with the database settings
// and nothing else, on both stores, even beside a configuration that serve
// would refuse; serve and config check still refuse it.
func TestStoreCommandsNeedOnlyTheDatabase(t *testing.T) {
	// cmd/chatops tests run in their folder; the file is config's fixture.
	serveOnly := filepath.Join("..", "..", "bot", "config", "testdata", "serve-only-problems.yaml")
	backends := []struct {
		name  string
		env   func(t *testing.T) map[string]string
		where string
	}{
		{"sqlite", func(t *testing.T) map[string]string { return map[string]string{"CHATOPS_DATA_DIR": t.TempDir()} }, "sqlite "},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"CHATOPS_DATABASE_URL": freshPostgres(t)}
		}, "postgres"},
	}
	steps := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{[]string{"migrate"}, 0, "applied", ""},
		{[]string{"migrate", "--config", serveOnly}, 0, "applied 0 migrations", ""},
		{[]string{"audit", "verify"}, 0, "audit log verified: 0 rows (plain SHA-256)\nhead none (the log is empty)\n", ""},
		{[]string{"audit", "verify", "--config", serveOnly}, 0, "audit log verified: 0 rows", ""},
		{[]string{"audit", "export", "--since", "24h"}, 0, "", "exported 0 audit rows"},
		{[]string{"audit", "export", "--config", serveOnly}, 0, "", "exported 0 audit rows"},
		{[]string{"incident", "export", "1"}, 1, "", "chatops: incident #1: there is no such incident\n"},
		{[]string{"config", "check", "--config", serveOnly}, 1, "", "chatops: configuration: webhook.token_file: "},
		{[]string{"serve"}, 1, "", "chatops: configuration: api: no token"},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			onlyEnv(t, b.env(t))
			for _, s := range steps {
				code, stdout, stderr := runCLI(t, s.args...)
				if code != s.wantCode || !strings.Contains(stdout, s.wantStdout) || !strings.Contains(stderr, s.wantStderr) {
					t.Fatalf("chatops %s = %d\nstdout: %s\nstderr: %s\nwant %d, %q on stdout, %q on stderr",
						strings.Join(s.args, " "), code, stdout, stderr, s.wantCode, s.wantStdout, s.wantStderr)
				}
				if s.args[0] == "migrate" && !strings.HasPrefix(stdout, b.where) {
					t.Errorf("migrate says %q, want it to name the %s store", stdout, b.name)
				}
			}
		})
	}
}

// A failure is one line, "chatops: <error>", and exit 1; configuration
// problems are a line each, with their path.
func TestFailures(t *testing.T) {
	dir := t.TempDir()
	badDB := filepath.Join(dir, "bad-db.yaml")
	if err := os.WriteFile(badDB, []byte("data_dir: ''\ndatabase:\n  max_conns: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantLines []string // stderr, line by line; a line ending in … is a prefix
	}{
		{"audit verify before migrate", []string{"audit", "verify"}, map[string]string{"CHATOPS_DATA_DIR": dir},
			[]string{"chatops: sqlite " + filepath.Join(dir, "chatops.db") + ": no database (chatops migrate creates it)"}},
		{"incident export before migrate", []string{"incident", "export", "3"}, map[string]string{"CHATOPS_DATA_DIR": dir},
			[]string{"chatops: sqlite " + filepath.Join(dir, "chatops.db") + ": no database (chatops migrate creates it)"}},
		{"migrate with no database server", []string{"migrate"},
			map[string]string{"CHATOPS_DATABASE_URL": "postgres://chatops:s3cret-pw@127.0.0.1:1/chatops?sslmode=disable"},
			[]string{"chatops: postgres: connect to 127.0.0.1/chatops: …"}},
		{"a missing configuration file", []string{"audit", "export", "--config", filepath.Join(dir, "absent.yaml")}, nil,
			[]string{"chatops: configuration: read config: open " + filepath.Join(dir, "absent.yaml") + ": …"}},
		{"database settings", []string{"migrate", "--config", badDB}, nil, []string{
			"chatops: configuration: data_dir: empty, and no PostgreSQL URL is configured",
			"chatops: configuration: database.max_conns: 0: want 1..500",
			"chatops: 2 configuration problems",
		}},
		{"serve without credentials", []string{"serve"}, map[string]string{"CHATOPS_DATA_DIR": dir}, []string{
			"chatops: configuration: webhook: no credential: …",
			"chatops: configuration: api: no token: …",
			"chatops: 2 configuration problems",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			onlyEnv(t, tc.env)
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitFail || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 1 and nothing on stdout\nstderr: %s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != len(tc.wantLines) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(tc.wantLines), stderr)
			}
			for i, w := range tc.wantLines {
				if p, ok := strings.CutSuffix(w, "…"); ok && strings.HasPrefix(lines[i], p) || lines[i] == w {
					continue
				}
				t.Errorf("stderr line %d = %q, want %q", i+1, lines[i], w)
			}
			if strings.Contains(stderr, "s3cret-pw") {
				t.Errorf("stderr reveals the database password: %s", stderr)
			}
		})
	}
}
