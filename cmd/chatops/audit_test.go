package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/sqlite"
)

// auditEnv points the CLI at a fresh SQLite data dir and nothing else: the
// commands that read the store need no token.
func auditEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	onlyEnv(t, map[string]string{"CHATOPS_DATA_DIR": dir})
	return dir
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestAuditCLI(t *testing.T) {
	dir := auditEnv(t)
	if code, _, stderr := runCLI(t, "audit", "verify"); code != 1 || !strings.Contains(stderr, "no database") {
		t.Fatalf("verify before any database = %d %q, want 1 and no database", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "chatops.db")); err == nil {
		t.Fatal("verify created a database")
	}
	if code, _, stderr := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate = %d: %s", code, stderr)
	}
	if code, stdout, _ := runCLI(t, "audit", "verify"); code != 0 || !strings.Contains(stdout, "audit log verified: 0 rows") {
		t.Fatalf("verify of an empty log = %d %q", code, stdout)
	}

	// Twenty rows, one a minute, appended as the bot appends them.
	ctx := context.Background()
	path := filepath.Join(dir, "chatops.db")
	store, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Dated an hour ago, so durations back from the real clock select them.
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range 20 {
		err := store.InTx(ctx, func(tx bot.Tx) error {
			return tx.AppendAudit(ctx, bot.AuditRecord{At: t0.Add(time.Duration(i) * time.Minute),
				Actor: bot.Identity{Platform: "slack", UserID: "U1", Name: "alice"}, Kind: bot.AuditCommand,
				Action: "health", Outcome: "allowed", Channel: "C1", Detail: fmt.Sprintf("health orders-service <%d>", i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var all []bot.AuditRecord
	if err := store.AuditRecords(ctx, time.Time{}, func(r bot.AuditRecord) error { all = append(all, r); return nil }); err != nil {
		t.Fatal(err)
	}
	store.Close()

	code, stdout, stderr := runCLI(t, "audit", "verify")
	if want := "audit log verified: 20 rows (plain SHA-256)\nhead 20:" + all[19].Hash + "\n"; code != 0 || stdout != want {
		t.Fatalf("verify = %d %q %q, want 0 and %q", code, stdout, stderr, want)
	}

	exports := []struct {
		name    string
		args    []string
		wantSeq []int64
	}{
		{"everything", nil, seqs(1, 20)},
		{"since a time", []string{"--since", t0.Add(10 * time.Minute).Format(time.RFC3339)}, seqs(11, 20)},
		{"since a time in another zone", []string{"-since", t0.Add(15 * time.Minute).In(time.FixedZone("X", 3600)).Format(time.RFC3339)}, seqs(16, 20)},
		{"since a duration before them", []string{"--since", "2h"}, seqs(1, 20)},
		{"since a duration after them", []string{"--since", "1m"}, nil},
	}
	for _, tc := range exports {
		t.Run("export "+tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"audit", "export"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("export = %d: %s", code, stderr)
			}
			got := decodeLines(t, stdout)
			if fmt.Sprint(seqOf(got)) != fmt.Sprint(tc.wantSeq) {
				t.Fatalf("exported rows %v, want %v", seqOf(got), tc.wantSeq)
			}
			for _, r := range got {
				w := all[r.Seq-1]
				if r.Hash != w.Hash || r.Detail != w.Detail || !r.At.Equal(w.At) || r.Actor.UserID != w.Actor.UserID {
					t.Fatalf("exported row %d = %+v, want %+v", r.Seq, r, w)
				}
			}
			if !strings.Contains(stderr, fmt.Sprintf("exported %d audit rows", len(tc.wantSeq))) {
				t.Fatalf("stderr %q lacks the count", stderr)
			}
		})
	}

	t.Run("export to a file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "audit.jsonl")
		code, stdout, stderr := runCLI(t, "audit", "export", "-o", out)
		if code != 0 || stdout != "" {
			t.Fatalf("export -o = %d, stdout %q, stderr %s", code, stdout, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeLines(t, string(b)); len(got) != 20 || got[19].Hash != all[19].Hash {
			t.Fatalf("file holds %d rows", len(got))
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("export file mode = %v, %v; want 0600", fi.Mode(), err)
		}
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp"))
		if len(left) != 0 {
			t.Fatalf("temporary files left behind: %v", left)
		}
	})

	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad since", []string{"audit", "export", "--since", "yesterday"}, 2, `--since "yesterday"`},
		{"negative since", []string{"audit", "export", "--since", "-5m"}, 2, "positive duration"},
		{"unknown flag", []string{"audit", "verify", "--frob"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"audit", "export", "24h"}, 2, `chatops audit export: unexpected argument "24h"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("%v = %d %q, want %d and %q", tc.args, code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}

	// Someone with write access to the file drops the guard and rewrites
	// row 17: verify fails and names it.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 17`); err == nil {
		t.Fatal("the append-only trigger let an UPDATE through")
	}
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 17`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	code, stdout, stderr = runCLI(t, "audit", "verify")
	want := "audit row 17: content does not match its hash (the row was edited)"
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "after 16 good rows") || strings.Contains(stdout, "verified") {
		t.Fatalf("verify after tampering = %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"24h", now.Add(-24 * time.Hour), false},
		{" 90m ", now.Add(-90 * time.Minute), false},
		{"2026-11-19T08:30:00Z", time.Date(2026, 11, 19, 8, 30, 0, 0, time.UTC), false},
		{"2026-11-19T09:30:00.5+01:00", time.Date(2026, 11, 19, 8, 30, 0, 5e8, time.UTC), false},
		{"0s", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"2026-11-19", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := parseSince(tc.in, now)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %s, %v; want %s, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func seqs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func seqOf(rs []bot.AuditRecord) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

func decodeLines(t *testing.T, s string) []bot.AuditRecord {
	t.Helper()
	var out []bot.AuditRecord
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var r bot.AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}
