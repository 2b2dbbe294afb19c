package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations is a database's embedded, numbered migration files.
type Migrations struct {
	Dialect goose.Dialect
	// FS holds the .sql files at its root.
	FS fs.FS
	// Locker, when set, makes concurrent migrators (replicas starting
	// together) take turns.
	Locker lock.SessionLocker
}

func (m Migrations) provider(db *sql.DB) (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if m.Locker != nil {
		opts = append(opts, goose.WithSessionLocker(m.Locker))
	}
	return goose.NewProvider(m.Dialect, db, m.FS, opts...)
}

// Up applies every pending migration and returns how many it applied.
func (m Migrations) Up(ctx context.Context, db *sql.DB) (int, error) {
	p, err := m.provider(db)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate: %w", err)
	}
	return len(res), nil
}

// Pending reports whether a migration is yet to be applied. It takes no lock.
func (m Migrations) Pending(ctx context.Context, db *sql.DB) (bool, error) {
	p, err := m.provider(db)
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}
