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
)

// incident runs "chatops incident export": the post-mortem draft of one
// incident, as Markdown, from the same database as serve.
func incident(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		return errUsage
	}
	return incidentExport(ctx, args[1:], stdout, stderr)
}

// incidentExport writes incident <id>'s post-mortem draft. The id may come
// before or after the flags.
func incidentExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("incident export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (none: defaults)")
	out := fs.String("o", "", "write to this file instead of standard output")
	var idArg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		idArg, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if idArg == "" && len(rest) > 0 {
		idArg, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), rest[0])
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(idArg, "#"), 10, 64)
	if idArg == "" || err != nil || id <= 0 {
		return fmt.Errorf("%s: want an incident number (chatops incident export 12), got %q", fs.Name(), idArg)
	}
	store, err := openAuditStore(ctx, *path)
	if err != nil {
		return err
	}
	defer store.Close()
	d, err := store.GetIncident(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		return fmt.Errorf("incident #%d: there is no such incident", id)
	}
	if err != nil {
		return fmt.Errorf("incident #%d: %w", id, err)
	}
	md := bot.PostMortem(d)
	if *out == "" || *out == "-" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := writeFileAtomic(*out, []byte(md)); err != nil {
		return fmt.Errorf("incident #%d: export: %w", id, err)
	}
	fmt.Fprintf(stderr, "wrote the post-mortem draft of incident #%d to %s\n", id, *out)
	return nil
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
