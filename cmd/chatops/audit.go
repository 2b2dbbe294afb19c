package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
)

// audit runs "chatops audit verify|export": the auditor's side of the log,
// run by hand or from a cron job, against the same database as serve.
func audit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr)
	case "export":
		return auditExport(ctx, args[1:], stdout, stderr)
	}
	return errUsage
}

// errUsage asks run to print the usage and exit 2; errFlags to exit 2 only,
// since the flag package has already said what was wrong.
var (
	errUsage = errors.New("usage")
	errFlags = errors.New("bad flags")
)

// parseFlags parses a subcommand's flags, turning a mistake into errFlags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return errFlags
	}
	return err
}

// auditVerify streams the whole log through the chain verifier. The last
// hash it prints is worth keeping elsewhere: the chain alone cannot show
// that rows were cut off its end, a recorded last hash can.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (none: defaults)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	store, err := openAuditStore(ctx, *path)
	if err != nil {
		return err
	}
	defer store.Close()
	var (
		v    bot.ChainVerifier
		last string
	)
	err = store.AuditRecords(ctx, time.Time{}, func(r bot.AuditRecord) error {
		if err := v.Next(r); err != nil {
			return err
		}
		last = r.Hash
		return nil
	})
	var ce *bot.ChainError
	if errors.As(err, &ce) {
		return fmt.Errorf("audit log verification failed after %d good rows: %w", v.Verified(), ce)
	}
	if err != nil {
		return err
	}
	if last == "" {
		last = "(none)"
	}
	fmt.Fprintf(stdout, "audit log verified: %d rows, last hash %s\n", v.Verified(), last)
	return nil
}

// auditExport writes the rows at or after --since as JSON lines, one
// bot.AuditRecord each, in sequence order.
func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (none: defaults)")
	sinceFlag := fs.String("since", "", "export rows at or after this RFC 3339 time, or this long ago (24h); none: all")
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return err
	}
	store, err := openAuditStore(ctx, *path)
	if err != nil {
		return err
	}
	defer store.Close()
	if *out == "" || *out == "-" {
		w := bufio.NewWriter(stdout)
		n, err := writeAudit(ctx, store, since, w)
		if err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		fmt.Fprintf(stderr, "exported %d audit rows\n", n)
		return nil
	}
	n, err := writeAuditFile(ctx, store, since, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d audit rows to %s\n", n, *out)
	return nil
}

// parseSince reads --since: an RFC 3339 time, or a positive duration back
// from now; "" is the whole log.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-11-20T02:14:05Z) or a positive duration (24h)", s)
	}
	return now.Add(-d), nil
}

// writeAuditFile writes the export beside its destination and renames it
// into place once complete, so a failed export never leaves a file that
// looks whole. Audit rows name people: the file is private to its owner.
func writeAuditFile(ctx context.Context, store *sqlstore.Store, since time.Time, path string) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("audit export: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("audit export: %w", err)
	}
	w := bufio.NewWriter(tmp)
	if n, err = writeAudit(ctx, store, since, w); err != nil {
		return n, err
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("audit export: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return n, fmt.Errorf("audit export: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return n, fmt.Errorf("audit export: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, fmt.Errorf("audit export: %w", err)
	}
	return n, nil
}

func writeAudit(ctx context.Context, store *sqlstore.Store, since time.Time, w io.Writer) (int64, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var n int64
	err := store.AuditRecords(ctx, since, func(r bot.AuditRecord) error {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("audit export: row %d: %w", r.Seq, err)
		}
		n++
		return nil
	})
	return n, err
}

// openAuditStore opens the configured store for reading the audit log.
// Unlike serve and migrate it changes nothing: no migration is applied, and
// a missing SQLite file is an error rather than a new, empty database.
func openAuditStore(ctx context.Context, path string) (*sqlstore.Store, error) {
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	var s *sqlstore.Store
	if cfg.UsesPostgres() {
		s, err = postgres.Open(ctx, postgres.Config{URL: cfg.Database.URL.Reveal(), MaxConns: cfg.Database.MaxConns}, nil)
	} else {
		db := cfg.SQLitePath()
		if _, serr := os.Stat(db); serr != nil {
			return nil, fmt.Errorf("sqlite %s: no database: %w", db, serr)
		}
		s, err = sqlite.Open(ctx, db, nil)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Ready(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w (run chatops migrate with this version first)", err)
	}
	return s, nil
}
