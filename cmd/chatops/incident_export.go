package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

// incidentExportCommand writes an incident's post-mortem draft, as
// Markdown, from the same database as serve.
func incidentExportCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	out := fs.String("o", "", "write to `FILE` (readable by its owner only) instead of standard output")
	return func(ctx context.Context, inv invocation) error {
		idArg := inv.args[0]
		id, err := strconv.ParseInt(strings.TrimPrefix(idArg, "#"), 10, 64)
		if err != nil || id <= 0 {
			return usagef("want an incident number (chatops incident export 12), got %q", idArg)
		}
		store, err := openExistingStore(ctx, *path)
		if err != nil {
			return err
		}
		defer store.Close()
		// Page by page: a storm's incident is drafted in the memory of a
		// few pages, not of its 60,000 alerts.
		md, err := outbox.ExportPostMortem(ctx, store, id)
		if errors.Is(err, bot.ErrNotFound) {
			return fmt.Errorf("incident #%d: there is no such incident", id)
		}
		if err != nil {
			return fmt.Errorf("incident #%d: %w", id, err)
		}
		if *out == "" || *out == "-" {
			_, err := io.WriteString(inv.stdout, md)
			return err
		}
		if err := writeFileAtomic(*out, []byte(md)); err != nil {
			return fmt.Errorf("incident #%d: export: %w", id, err)
		}
		fmt.Fprintf(inv.stderr, "wrote the post-mortem draft of incident #%d to %s\n", id, *out)
		return nil
	}
}

// writeFileAtomic writes data beside path and renames it into place once
// complete, so a failed export never leaves a file that looks whole. A
// draft names people: the file is private to its owner.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	return os.Rename(tmp.Name(), path)
}
