// Package sqlite runs the chatops store in an embedded SQLite file (pure Go,
// no cgo) for a single replica: it opens the file with the pragmas that make
// it durable and safe under concurrent requests, owns the SQLite migrations
// and describes the dialect that integrations/sqlstore needs.
//
// SQLite serialises writers itself: every transaction begins IMMEDIATE, so
// two webhooks for one group never interleave, and WAL lets readers go on
// while one writes. It must never be shared by several replicas.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/pressly/goose/v3"
	"github.com/prometheus/client_golang/prometheus"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// busyTimeoutMillis is how long a writer waits for another to finish before
// giving up (and the webhook answers 503, so Alertmanager retries).
const busyTimeoutMillis = 10000

// maxConns bounds the pool: one writer at a time in any case, a few readers.
const maxConns = 8

// Open opens (creating it and its folder if needed) the database file at path
// and returns the store over it. It does not touch the schema: call Migrate.
func Open(ctx context.Context, path string, reg prometheus.Registerer) (*sqlstore.Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create data folder: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
		"journal_mode(WAL)",
		"synchronous(FULL)", // an acknowledged alert survives a power cut, not only a crash
		"foreign_keys(1)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	d := sqlstore.Dialect{
		Name:       "sqlite",
		Migrations: sqlstore.Migrations{Dialect: goose.DialectSQLite3, FS: sub},
	}
	return sqlstore.New(db, d, reg), nil
}
