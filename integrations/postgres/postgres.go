// Package postgres runs the chatops store on PostgreSQL through pgx/v5: it
// opens the pool, owns the PostgreSQL migrations and describes the dialect
// that integrations/sqlstore needs. Several replicas may share one database:
// migrations take a session lock and writers of one alert group serialise on
// a transaction-scoped advisory lock.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/prometheus/client_golang/prometheus"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config says how to reach the database.
type Config struct {
	URL      string
	MaxConns int
}

// Timeouts on the way in: a database that does not answer must not hold
// start-up, or a webhook, for long.
const (
	connectTimeout = 5 * time.Second
	pingTimeout    = 10 * time.Second
	// interactiveConns is the size of the pool for commands' replay checks.
	interactiveConns = 4
)

// Open opens a pool on PostgreSQL and returns the store over it. It does not
// touch the schema: call Migrate.
func Open(ctx context.Context, cfg Config, reg prometheus.Registerer) (*sqlstore.Store, error) {
	pc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message can quote the URL, password included: keep it out.
		return nil, errors.New("postgres: the database URL does not parse")
	}
	pc.ConnectTimeout = connectTimeout
	db := stdlib.OpenDB(*pc)
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = 16
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect to %s/%s: %w", pc.Host, pc.Database, err)
	}
	d, err := dialect()
	if err != nil {
		db.Close()
		return nil, err
	}
	store := sqlstore.New(db, d, reg)
	// A few connections of their own for what people wait on: a command's
	// replay check must not queue behind an alert storm's transactions.
	interactive := stdlib.OpenDB(*pc)
	interactive.SetMaxOpenConns(interactiveConns)
	interactive.SetMaxIdleConns(interactiveConns)
	store.UseInteractivePool(interactive)
	return store, nil
}

// auditLockKey is the advisory lock that appenders of the audit log queue
// on. It is the two-int4 form: PostgreSQL keeps those apart from the
// single-bigint keys the alert-group locks hash into, so no group can ever
// collide with it. 0x63686f70 is "chop".
const auditLockKey = `1667788656, 1`

// dialect is PostgreSQL's: numbered parameters, row locks, an advisory
// lock per alert group so that parallel copies of one notification queue up
// instead of racing to open the same incident, and one for the audit chain.
func dialect() (sqlstore.Dialect, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return sqlstore.Dialect{}, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return sqlstore.Dialect{}, err
	}
	return sqlstore.Dialect{
		Name:           "postgres",
		NumberedParams: true,
		LockGroup:      `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`,
		LockAudit:      `SELECT pg_advisory_xact_lock(` + auditLockKey + `)`,
		ForUpdate:      "FOR UPDATE",
		SkipLocked:     "FOR UPDATE SKIP LOCKED",
		WalkIndexes:    `SET LOCAL enable_bitmapscan = off`,
		WriteCTE:       true,
		Migrations:     sqlstore.Migrations{Dialect: goose.DialectPostgres, FS: sub, Locker: locker},
	}, nil
}
