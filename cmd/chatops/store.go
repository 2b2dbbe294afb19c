package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

func migrateCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	return func(ctx context.Context, inv invocation) error {
		cfg, err := config.LoadStore(*path, os.Getenv)
		if err != nil {
			return err
		}
		store, where, n, err := openStore(ctx, cfg, nil)
		if err != nil {
			return err
		}
		defer store.Close()
		_, err = fmt.Fprintf(inv.stdout, "%s: applied %d migrations\n", where, n)
		return err
	}
}

// openStore opens the configured store and applies its pending migrations;
// it returns the store, a description of where it is, and how many
// migrations it applied.
func openStore(ctx context.Context, cfg config.Config, reg prometheus.Registerer) (*sqlstore.Store, string, int, error) {
	where := storeName(cfg)
	s, err := dial(ctx, cfg, reg)
	if err != nil {
		return nil, where, 0, err
	}
	n, err := s.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, where, n, err
	}
	return s, where, n, nil
}

// openExistingStore opens the configured store for the commands that read
// it. Unlike serve and migrate it changes nothing: no migration is applied,
// and a missing SQLite file is an error rather than a new, empty database.
func openExistingStore(ctx context.Context, path string) (*sqlstore.Store, error) {
	cfg, err := config.LoadStore(path, os.Getenv)
	if err != nil {
		return nil, err
	}
	if db := cfg.SQLitePath(); !cfg.UsesPostgres() {
		if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sqlite %s: no database (chatops migrate creates it)", db)
		} else if err != nil {
			return nil, fmt.Errorf("sqlite %s: %w", db, err)
		}
	}
	s, err := dial(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	if err := s.Ready(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w (run chatops migrate with this version first)", err)
	}
	return s, nil
}

func dial(ctx context.Context, cfg config.Config, reg prometheus.Registerer) (*sqlstore.Store, error) {
	if cfg.UsesPostgres() {
		return postgres.Open(ctx, postgres.Config{URL: cfg.Database.URL.Reveal(), MaxConns: cfg.Database.MaxConns}, reg)
	}
	return sqlite.Open(ctx, cfg.SQLitePath(), reg)
}

// storeName says which store cfg names, without its credentials.
func storeName(cfg config.Config) string {
	if cfg.UsesPostgres() {
		return "postgres"
	}
	return "sqlite " + cfg.SQLitePath()
}
