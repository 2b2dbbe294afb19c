package main

import (
	"bufio"
	"context"
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
	"github.com/bakewise/chatops/integrations/sqlstore"
)

// The audit commands are the auditor's side of the log, run by hand or
// from a cron job, against the same database as serve.

// auditVerifyCommand streams the whole log through the chain verifier and
// prints the head it reached. The chain alone cannot show that rows were
// cut off its end; a head recorded elsewhere and given back with --head
// can.
func auditVerifyCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	headFlag := fs.String("head", "", "also fail unless the chain still reaches `SEQ:HASH`, a head printed by an earlier verify and kept where the bot cannot write")
	return func(ctx context.Context, inv invocation) error {
		var v bot.ChainVerifier
		if *headFlag != "" {
			h, err := bot.ParseAuditHead(*headFlag)
			if err != nil {
				return usageError{fmt.Errorf("--head %w", err)}
			}
			v.Recorded = &h
		}
		cfg, err := config.LoadStore(*path, os.Getenv)
		if err != nil {
			return err
		}
		if v.Key, err = auditKey(cfg); err != nil {
			return err
		}
		store, err := openExisting(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		err = bot.VerifyAudit(ctx, store, &v)
		if ce := (*bot.ChainError)(nil); errors.As(err, &ce) {
			hint := ""
			if errors.Is(err, bot.ErrAuditKeyNeeded) {
				hint = fmt.Sprintf(" (set %s or %s to verify keyed rows)", config.EnvAuditKey, config.EnvAuditKeyFile)
			}
			return fmt.Errorf("audit log verification failed after %d good rows: %w%s", v.Verified(), ce, hint)
		}
		if err != nil {
			return err
		}
		return printVerified(inv.stdout, &v)
	}
}

// printVerified writes what verify checked and, on a line of its own, the
// head to record: "head SEQ:HASH", which --head takes back.
func printVerified(w io.Writer, v *bot.ChainVerifier) error {
	plain, keyed := v.Counts()
	var how string
	switch {
	case keyed == 0:
		how = "plain SHA-256"
	case plain == 0:
		how = fmt.Sprintf("keyed, HMAC-SHA-256 under %s", v.Key)
	default:
		how = fmt.Sprintf("rows 1..%d plain SHA-256, rows %d..%d keyed, HMAC-SHA-256 under %s", plain, plain+1, plain+keyed, v.Key)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "audit log verified: %d rows (%s)", v.Verified(), how)
	if h := v.Recorded; h != nil {
		fmt.Fprintf(&b, "; recorded head %d still in the chain", h.Seq)
	}
	if head, ok := v.Last(); ok {
		fmt.Fprintf(&b, "\nhead %s\n", head)
	} else {
		b.WriteString("\nhead none (the log is empty)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// auditExportCommand writes the rows at or after --since as JSON lines, one
// bot.AuditRecord each, in sequence order.
func auditExportCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	sinceFlag := fs.String("since", "", "export the rows at or after `TIME`, an RFC 3339 time or a duration back from now (24h); none: all rows")
	out := fs.String("o", "", "write to `FILE` (readable by its owner only) instead of standard output")
	return func(ctx context.Context, inv invocation) error {
		since, err := parseSince(*sinceFlag, time.Now())
		if err != nil {
			return usageError{err}
		}
		store, err := openExistingStore(ctx, *path)
		if err != nil {
			return err
		}
		defer store.Close()
		if *out == "" || *out == "-" {
			w := bufio.NewWriter(inv.stdout)
			n, err := writeAudit(ctx, store, since, w)
			if err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return fmt.Errorf("audit export: %w", err)
			}
			fmt.Fprintf(inv.stderr, "exported %d audit rows\n", n)
			return nil
		}
		n, err := writeAuditFile(ctx, store, since, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(inv.stderr, "exported %d audit rows to %s\n", n, *out)
		return nil
	}
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
	return bot.ExportAudit(ctx, store, since, w)
}
