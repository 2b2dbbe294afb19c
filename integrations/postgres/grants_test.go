package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/storetest"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

// adminExec runs statements on the server as the test's superuser, in
// database db ("" for the admin URL's own).
func adminExec(t testing.TB, db string, stmts ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(sqlstoretest.PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	if db != "" {
		u.Path = "/" + db
	}
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("PostgreSQL is required: %v", err)
	}
	defer c.Close(context.Background())
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// newRole creates a LOGIN role of its own for the test and drops it when
// the test ends. Create it before the test's databases: cleanups run last
// first, so the databases (and the role's privileges in them) are gone by
// the time the role is dropped.
func newRole(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	role := prefix + hex.EncodeToString(b)
	if err := adminExec(t, "", "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN"); err != nil {
		t.Fatalf("create role: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(t, "", "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}

// as is dbURL with role as the user.
func as(t testing.TB, dbURL, role string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

func dbName(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// migrated is a fresh database migrated by its owner (the superuser).
func migrated(t *testing.T) string {
	t.Helper()
	dbURL := sqlstoretest.PostgresDatabase(t)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dbURL
}

// openAs opens the store on dbURL as role, as serve would: Migrate (with
// nothing pending) and Ready must work without the owner's rights.
func openAs(t testing.TB, dbURL, role string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: as(t, dbURL, role), MaxConns: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if n, err := s.Migrate(context.Background()); err != nil || n != 0 {
		t.Fatalf("Migrate as %s = %d, %v; want nothing to do", role, n, err)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready as %s: %v", role, err)
	}
	return s
}

// The whole conformance suite passes with the store connected as a
// runtime role holding only the grants: the bot works without owning its
// tables. The attacker's statements still run as the owner.
func TestConformanceAsRuntimeRole(t *testing.T) {
	role := newRole(t, "chatops_rt_")
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		dbURL := migrated(t)
		if _, err := postgres.Grant(context.Background(), dbURL, role); err != nil {
			t.Fatal(err)
		}
		owner, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { owner.Close(context.Background()) })
		return storetest.Backend{
			Store: openAs(t, dbURL, role),
			Exec: func(ctx context.Context, query string, args ...any) error {
				_, err := owner.Exec(ctx, query, args...)
				return err
			},
			Unguard: []string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`},
		}
	})
}

// As the runtime role the audit log can be read and appended to, and
// nothing else: each way of changing, emptying or unguarding it is
// refused by PostgreSQL's privileges, before any trigger.
func TestRuntimeRoleCannotRewriteTheAuditLog(t *testing.T) {
	ctx := context.Background()
	role := newRole(t, "chatops_rt_")
	dbURL := migrated(t)
	stmts, err := postgres.Grant(ctx, dbURL, role)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(stmts, "GRANT SELECT, INSERT ON TABLE "+`"audit_log"`+" TO "+pgx.Identifier{role}.Sanitize()) {
		t.Fatalf("the statements run do not grant audit_log read and append alone: %q", stmts)
	}
	s := openAs(t, dbURL, role)
	for i := range 3 {
		err := s.AppendAudit(ctx, bot.AuditRecord{At: time.Now(), Kind: bot.AuditCommand, Action: "health", Outcome: "allowed", Detail: string(rune('a' + i))})
		if err != nil {
			t.Fatalf("AppendAudit as %s: %v", role, err)
		}
	}
	conn, err := pgx.Connect(ctx, as(t, dbURL, role))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 2`,
		`DELETE FROM audit_log WHERE seq = 3`,
		`TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
		`ALTER TABLE audit_log DISABLE TRIGGER ALL`,
		`DROP TRIGGER audit_log_append_only ON audit_log`,
		`CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END; $$`,
		`ALTER TABLE audit_log OWNER TO ` + pgx.Identifier{role}.Sanitize(),
		`DROP TABLE audit_log`,
		`CREATE TRIGGER t BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
	} {
		_, err := conn.Exec(ctx, q)
		if !postgres.IsPermissionDenied(err) || strings.Contains(err.Error(), "append-only") {
			t.Errorf("as the runtime role, %s = %v; want PostgreSQL's permission refusal", q, err)
		}
	}
	n := 0
	if err := s.AuditRecords(ctx, time.Time{}, func(bot.AuditRecord) error { n++; return nil }); err != nil || n != 3 {
		t.Fatalf("after the refused statements: %d rows, %v; want 3", n, err)
	}

	// A migration the runtime role would have to apply is refused for
	// what it is, so serve can say to run chatops migrate as the owner.
	if err := adminExec(t, dbName(t, dbURL), `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	rs, err := postgres.Open(ctx, postgres.Config{URL: as(t, dbURL, role)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if _, err := rs.Migrate(ctx); !postgres.IsPermissionDenied(err) {
		t.Fatalf("a pending migration as the runtime role = %v; want a permission refusal", err)
	}
}

// Grant refuses a role that could lift the guards whatever it is granted,
// and a role that keeps a forbidden privilege through PUBLIC; it cuts back
// a role that was given too much.
func TestGrantRefusesPowerfulRoles(t *testing.T) {
	ctx := context.Background()
	member := newRole(t, "chatops_own_")
	plain := newRole(t, "chatops_rt_")
	dbURL := migrated(t)
	db := dbName(t, dbURL)
	if err := adminExec(t, "", "GRANT postgres TO "+pgx.Identifier{member}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role, want string
	}{
		{"postgres", "is a superuser"},
		{member, `is, or is a member of, "postgres", the owner of audit_log`},
		{"chatops_no_such_role", `role "chatops_no_such_role" does not exist`},
		{"pg_read_all_data", "reserved"},
		{"public", "reserved"},
	} {
		if _, err := postgres.Grant(ctx, dbURL, tc.role); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Grant(%s) = %v; want %q", tc.role, err, tc.want)
		}
	}

	// Too much beforehand: Grant takes it back.
	if err := adminExec(t, db, "GRANT ALL ON audit_log TO "+pgx.Identifier{plain}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Grant(ctx, dbURL, plain); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, as(t, dbURL, plain))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `TRUNCATE audit_log`); !postgres.IsPermissionDenied(err) || strings.Contains(err.Error(), "append-only") {
		t.Fatalf("TRUNCATE after Grant cut the role back = %v; want a permission refusal", err)
	}

	// Through PUBLIC: nothing Grant revokes from the role can remove it,
	// so it refuses and changes nothing.
	if err := adminExec(t, db, "GRANT UPDATE ON audit_log TO PUBLIC"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Grant(ctx, dbURL, plain); err == nil || !strings.Contains(err.Error(), "still holds UPDATE on audit_log through PUBLIC") {
		t.Fatalf("Grant with UPDATE granted to PUBLIC = %v; want a refusal", err)
	}
}

// Every table and id sequence the migrations create is in the grants, so
// a new table cannot leave serve without access, nor be granted by
// accident to anyone.
func TestGrantsCoverTheSchema(t *testing.T) {
	dbURL := migrated(t)
	stmts, err := postgres.GrantStatements("chatops_app", "public")
	if err != nil {
		t.Fatal(err)
	}
	var granted, seqs []string
	for _, s := range stmts {
		if what, ok := strings.CutPrefix(s, "GRANT "); ok {
			if _, rest, ok := strings.Cut(what, " ON TABLE "); ok {
				granted = append(granted, strings.Trim(strings.TrimSuffix(rest, ` TO "chatops_app"`), `"`))
			}
			if rest, ok := strings.CutPrefix(what, "USAGE ON SEQUENCE "); ok {
				for _, q := range strings.Split(strings.TrimSuffix(rest, ` TO "chatops_app"`), ", ") {
					seqs = append(seqs, strings.Trim(q, `"`))
				}
			}
		}
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	names := func(q string) []string {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tables := names(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	// Sequences the runtime role draws from: those of the bot's tables,
	// not goose's own.
	sequences := names(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname NOT LIKE 'goose%'`)
	slices.Sort(granted)
	slices.Sort(tables)
	slices.Sort(seqs)
	slices.Sort(sequences)
	if !slices.Equal(granted, tables) {
		t.Errorf("grants name tables %v; the schema has %v", granted, tables)
	}
	if !slices.Equal(seqs, sequences) {
		t.Errorf("grants name sequences %v; the schema has %v", seqs, sequences)
	}
}

func TestCheckRoleName(t *testing.T) {
	for _, ok := range []string{"chatops_app", "Chatops App", "ops-bot"} {
		if err := postgres.CheckRoleName(ok); err != nil {
			t.Errorf("CheckRoleName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "public", "PUBLIC", "current_user", "pg_monitor", strings.Repeat("a", 64), "a\x00b", "a\nb"} {
		if err := postgres.CheckRoleName(bad); err == nil {
			t.Errorf("CheckRoleName(%q) accepted", bad)
		}
	}
}
