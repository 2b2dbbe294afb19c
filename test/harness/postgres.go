package harness

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultPGAdminURL is the machine's PostgreSQL (trust auth on loopback)
// as its administrator.
const DefaultPGAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PGAdminURL is where the tests reach PostgreSQL as an administrator:
// CHATOPS_TEST_PG_URL, or DefaultPGAdminURL.
func PGAdminURL() string {
	if u := os.Getenv("CHATOPS_TEST_PG_URL"); u != "" {
		return u
	}
	return DefaultPGAdminURL
}

// CheckPGURL checks that pgURL parses and names a loopback host or a unix
// socket.
func CheckPGURL(pgURL string) error {
	pc, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(pc.Host, "/") && !Loopback(pc.Host) {
		return fmt.Errorf("host %q is not loopback or a unix socket: the harness only talks to 127.0.0.1", pc.Host)
	}
	return nil
}

// Redact is the URL s with its password hidden, for messages.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Database is a PostgreSQL database made for one test or one run.
type Database struct {
	Name string
	URL  string

	adminURL string
}

// NewDatabase creates the database prefix<random> through adminURL and
// drops it (WITH (FORCE): the bot may still hold connections) when t ends.
func NewDatabase(t TB, adminURL, prefix string) *Database {
	t.Helper()
	d := &Database{Name: prefix + RandHex(6), adminURL: adminURL}
	if err := pgExec(context.Background(), adminURL, "CREATE DATABASE "+pgx.Identifier{d.Name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", d.Name, err)
	}
	t.Cleanup(func() {
		if err := d.drop(); err != nil {
			t.Errorf("drop database %s: %v", d.Name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("parse the PostgreSQL admin URL: %v", err)
	}
	u.Path = "/" + d.Name
	d.URL = u.String()
	return d
}

func (d *Database) drop() error {
	return pgExec(context.Background(), d.adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
}

// PGExec runs one statement on the database at dbURL.
func PGExec(t TB, dbURL, sql string, args ...any) {
	t.Helper()
	if err := pgExec(context.Background(), dbURL, sql, args...); err != nil {
		t.Fatalf("%v", err)
	}
}

func pgExec(ctx context.Context, dbURL, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, WaitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL (%s): %w", Redact(dbURL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("PostgreSQL: %s: %w", sql, err)
	}
	return nil
}
