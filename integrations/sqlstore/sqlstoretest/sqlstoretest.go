// Package sqlstoretest opens fresh, migrated stores for tests: SQLite in the
// test's temporary directory, or PostgreSQL in a database of its own that
// is dropped when the test ends. The behaviour tests of bot's services open
// their store with Open, which picks the kind from CHATOPS_TEST_STORE, so
// the same suites run on both stores (CI runs them twice); the
// conformance suite opens both kinds itself.
//
// A PostgreSQL that cannot be reached fails the test: it never skips.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/storetest"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
)

// Store kinds, as CHATOPS_TEST_STORE names them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// EnvStore names the store kind Open gives ("sqlite", the default, or
// "postgres"); EnvPostgresURL the PostgreSQL server's admin URL.
const (
	EnvStore       = "CHATOPS_TEST_STORE"
	EnvPostgresURL = "CHATOPS_TEST_PG_URL"
)

// setupTimeout bounds creating or dropping a test database.
const setupTimeout = 30 * time.Second

// Kind is the store kind CHATOPS_TEST_STORE asks for.
func Kind(t testing.TB) string {
	switch k := os.Getenv(EnvStore); k {
	case "", SQLite:
		return SQLite
	case Postgres:
		return Postgres
	default:
		t.Fatalf("%s=%q: want %s or %s", EnvStore, k, SQLite, Postgres)
		return ""
	}
}

// Open is a fresh, migrated store of the kind CHATOPS_TEST_STORE asks for,
// closed when the test ends.
func Open(t testing.TB) *sqlstore.Store {
	t.Helper()
	b := OpenKind(t, Kind(t))
	return b.Store.(*sqlstore.Store)
}

// OpenKind is a fresh, migrated store of kind with raw access to its
// database, closed when the test ends.
func OpenKind(t testing.TB, kind string) storetest.Backend {
	t.Helper()
	switch kind {
	case SQLite:
		return openSQLite(t)
	case Postgres:
		return openPostgres(t)
	}
	t.Fatalf("unknown store kind %q", kind)
	return storetest.Backend{}
}

func openSQLite(t testing.TB) storetest.Backend {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chatops.db")
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	migrate(t, s)
	// The file opened a second time, behind the store's back, as anyone
	// who can write it could.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return storetest.Backend{
		Store: s,
		Exec: func(ctx context.Context, query string, args ...any) error {
			_, err := raw.ExecContext(ctx, query, args...)
			return err
		},
		Unguard: []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`},
	}
}

func openPostgres(t testing.TB) storetest.Backend {
	t.Helper()
	dbURL := PostgresDatabase(t)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL, MaxConns: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	migrate(t, s)
	// A connection of its own, as an attacker with the owner's rights
	// would have: nothing it does passes through the store.
	raw, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(context.Background()) })
	return storetest.Backend{
		Store: s,
		Exec: func(ctx context.Context, query string, args ...any) error {
			_, err := raw.Exec(ctx, query, args...)
			return err
		},
		Unguard: []string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`},
	}
}

func migrate(t testing.TB, s *sqlstore.Store) {
	t.Helper()
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// PostgresAdminURL reaches the machine's PostgreSQL server: CHATOPS_TEST_PG_URL,
// or the local server with trust authentication.
func PostgresAdminURL() string {
	if v := os.Getenv(EnvPostgresURL); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// PostgresDatabase creates an empty database for one test, drops it (with
// FORCE) when the test ends, and returns its URL.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admin, err := pgx.Connect(ctx, PostgresAdminURL())
	if err != nil {
		t.Fatalf("PostgreSQL is required (set %s): %v", EnvPostgresURL, err)
	}
	defer admin.Close(context.Background())
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "chatops_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		c, err := pgx.Connect(ctx, PostgresAdminURL())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Case is a test that needs a store of its own.
type Case struct {
	Name string
	Run  func(t *testing.T, s bot.Store)
}

// RunCases runs each case as a subtest on a fresh store of the kind
// CHATOPS_TEST_STORE asks for.
func RunCases(t *testing.T, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, Open(t)) })
	}
}
