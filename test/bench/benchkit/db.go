package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CheckPGURL checks that the -pg-url value parses and names a loopback
// host or a unix socket.
func CheckPGURL(pgURL string) error {
	pc, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return fmt.Errorf("-pg-url: %w", err)
	}
	if !strings.HasPrefix(pc.Host, "/") && !Loopback(pc.Host) {
		return fmt.Errorf("-pg-url host %q is not loopback or a unix socket: this benchmark only talks to 127.0.0.1", pc.Host)
	}
	return nil
}

// CreateDB creates the database name through adminURL and returns the
// URL of the new database.
func CreateDB(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL (%s): %w", Redact(adminURL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDB drops the database name (forcing its connections closed),
// giving up after 30 seconds.
func DropDB(adminURL, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Redact is the URL s with its password hidden.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
