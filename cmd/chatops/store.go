package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
)

func migrateCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	grant := fs.String("grant", "", "after migrating, give the PostgreSQL `ROLE` serve runs as what it needs and no more (see --print-grants)")
	printGrants := fs.String("print-grants", "", "print the SQL that --grant would run for `ROLE` (schema public) and exit; touches no database")
	return func(ctx context.Context, inv invocation) error {
		if *grant != "" && *printGrants != "" {
			return usagef("--grant and --print-grants: give one")
		}
		if *printGrants != "" {
			return printGrantStatements(inv.stdout, *printGrants)
		}
		if *grant != "" {
			if err := postgres.CheckRoleName(*grant); err != nil {
				return usageError{fmt.Errorf("--grant: %w", err)}
			}
		}
		cfg, err := config.LoadStore(*path, os.Getenv)
		if err != nil {
			return err
		}
		if *grant != "" && !cfg.UsesPostgres() {
			return fmt.Errorf("--grant %s: roles are PostgreSQL's; this configuration uses %s", *grant, storeName(cfg))
		}
		store, where, n, err := openStore(ctx, cfg, nil)
		if err != nil {
			return err
		}
		defer store.Close()
		if _, err = fmt.Fprintf(inv.stdout, "%s: applied %d migrations\n", where, n); err != nil || *grant == "" {
			return err
		}
		stmts, err := postgres.Grant(ctx, cfg.Database.URL.Reveal(), *grant)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(inv.stdout, "%s: role %s may now run serve (%d statements; audit_log: SELECT, INSERT only)\n", where, *grant, len(stmts))
		return err
	}
}

// printGrantStatements writes the grants for role as a SQL script.
func printGrantStatements(w io.Writer, role string) error {
	stmts, err := postgres.GrantStatements(role, "public")
	if err != nil {
		return usageError{fmt.Errorf("--print-grants: %w", err)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- What chatops serve needs as %s, and no more. Run as the owner of the tables, after\n", role)
	b.WriteString("-- chatops migrate, in the bot's database (schema public; change it if the bot uses another).\n")
	b.WriteString("-- audit_log gets SELECT and INSERT only: no UPDATE, DELETE or TRUNCATE, and not owning it,\n")
	b.WriteString("-- the role cannot alter it or disable its triggers. chatops migrate --grant also refuses a\n")
	b.WriteString("-- superuser or a member of the tables' owner, and checks no other path grants more.\n")
	b.WriteString("BEGIN;\n")
	for _, s := range stmts {
		b.WriteString(s + ";\n")
	}
	b.WriteString("COMMIT;\n")
	_, err = io.WriteString(w, b.String())
	return err
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
		if postgres.IsPermissionDenied(err) {
			err = fmt.Errorf("%w (this role may not change the schema: run chatops migrate as the tables' owner first)", err)
		}
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
	return openExisting(ctx, cfg)
}

// openExisting is openExistingStore for a configuration already loaded.
func openExisting(ctx context.Context, cfg config.Config) (*sqlstore.Store, error) {
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

// auditKey is the configured audit key, or nil when none is set.
func auditKey(cfg config.Config) (*bot.AuditKey, error) {
	if cfg.AuditKey == "" {
		return nil, nil
	}
	return bot.NewAuditKey([]byte(cfg.AuditKey.Reveal()))
}

// useAuditKey gives serve's store the configured audit key and checks the
// chain against it before anything is served: a keyed chain needs its key
// (a plain row after keyed ones would break it for good), and with a key
// the chain is marked keyed from now on.
func useAuditKey(ctx context.Context, store *sqlstore.Store, cfg config.Config, log *zap.Logger) error {
	key, err := auditKey(cfg)
	if err != nil {
		return err
	}
	store.UseAuditKey(key)
	marker := bot.AuditRecord{At: time.Now(), Actor: bot.Identity{Platform: "chatops", UserID: "serve", Name: "chatops"},
		Kind: bot.AuditKeyInUse, Action: "audit key", Outcome: "in use",
		Detail: fmt.Sprintf("rows from here on are sealed with HMAC-SHA-256 under %s", key)}
	appended, err := store.PrepareAuditChain(ctx, marker)
	switch {
	case errors.Is(err, bot.ErrAuditKeyNeeded):
		return fmt.Errorf("%w (set %s or %s)", err, config.EnvAuditKey, config.EnvAuditKeyFile)
	case errors.Is(err, bot.ErrWrongAuditKey):
		return fmt.Errorf("%w (the audit key cannot change: set the key the chain was sealed with)", err)
	case err != nil:
		return err
	}
	if key == nil {
		log.Info("audit log sealed with plain SHA-256: set an audit key so that database access alone cannot rewrite it",
			zap.String("component", "audit"))
		return nil
	}
	log.Info("audit log sealed with HMAC-SHA-256", zap.String("component", "audit"),
		zap.String("key_id", key.ID()), zap.Bool("marked", appended))
	return nil
}
