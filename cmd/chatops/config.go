package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/bakewise/chatops/bot/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// serve and config check read the whole configuration; the commands that
// only open the store read its database settings (store.go).

// configFlag declares --config, which every command that reads the
// configuration takes.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "read the configuration from the YAML `FILE` (none: defaults and the environment)")
}

func serveCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	return func(ctx context.Context, _ invocation) error {
		err := withConfig(*path, func(c cliConfig) error { return serve(ctx, c) })
		if errors.Is(err, context.Canceled) {
			return nil // SIGTERM: a clean stop
		}
		return err
	}
}

// withConfig loads and validates the whole configuration and builds the
// logger it asks for.
func withConfig(path string, fn func(cliConfig) error) error {
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // best effort on exit
	return fn(cliConfig{cfg: cfg, log: log})
}

func newLogger(c config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	format := c.Format
	if format == "auto" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	}
	zc := zap.NewProductionConfig()
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	}
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil // never drop a log line about an alert
	return zc.Build()
}

// configCheckCommand validates as serve does; run prints each problem with
// its path.
func configCheckCommand(fs *flag.FlagSet) action {
	path := configFlag(fs)
	return func(_ context.Context, inv invocation) error {
		cfg, err := config.Load(*path, os.Getenv)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(inv.stdout, "configuration OK: store %s, listen %s, %s, %d severity rules, %d destinations, %d routes\n",
			storeName(cfg), cfg.ListenAddr, metricsText(cfg.Metrics), len(cfg.Severity.Rules), len(cfg.Destinations), len(cfg.Routes))
		return err
	}
}

// metricsText says where /metrics is served and whether it needs a token.
func metricsText(m config.Metrics) string {
	where := "metrics on listen_addr"
	if m.ListenAddr != "" {
		where = "metrics on " + m.ListenAddr
	}
	if m.Token == "" {
		return where + " without a token"
	}
	return where + " with a token"
}
