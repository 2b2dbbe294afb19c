package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"
)

// HTTP server limits: slow or huge requests must not tie the bot up.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

type cliConfig struct {
	cfg config.Config
	log *zap.Logger
}

func withConfig(name string, args []string, stderr io.Writer, fn func(cliConfig) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (none: defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
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

// openStore opens the configured store and applies its pending migrations;
// it returns the store, a description of where it is, and how many
// migrations it applied.
func openStore(ctx context.Context, cfg config.Config, reg prometheus.Registerer) (*sqlstore.Store, string, int, error) {
	var (
		s     *sqlstore.Store
		where string
		err   error
	)
	if cfg.UsesPostgres() {
		s, err = postgres.Open(ctx, postgres.Config{URL: cfg.Database.URL.Reveal(), MaxConns: cfg.Database.MaxConns}, reg)
		where = "postgres"
	} else {
		s, err = sqlite.Open(ctx, cfg.SQLitePath(), reg)
		where = "sqlite " + cfg.SQLitePath()
	}
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

func migrate(ctx context.Context, c cliConfig, stdout io.Writer) error {
	store, where, n, err := openStore(ctx, c.cfg, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(stdout, "%s: applied %d migrations\n", where, n)
	return nil
}

func serve(ctx context.Context, c cliConfig) error {
	cfg, log := c.cfg, c.log
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store, where, n, err := openStore(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("store ready", zap.String("component", "store"), zap.String("store", where), zap.Int("migrations_applied", n))
	reg.MustRegister(bot.NewStoreCollector(store))

	// The engine notifies the dispatcher, built below with the chat side;
	// nothing calls the engine before serving starts.
	var dispatcher *bot.Dispatcher
	engine := bot.NewEngine(store, bot.EngineConfig{
		Classifier:   cfg.Classifier(),
		Routes:       cfg.IncidentRoutes(),
		ReopenWindow: cfg.Incidents.ReopenWindow,
		Deadlines:    cfg.Deadlines(),
		Correlation:  cfg.IncidentCorrelation(),
		Enqueued:     func() { dispatcher.Notify() },
	}, log.With(zap.String("component", "engine")), reg)

	cards, groups := map[string]bot.CardPoster{}, map[string]bot.GroupLookup{}
	cmds, err := newCommandSide(cfg, store, engine, cards, groups, log, reg)
	if err != nil {
		return err
	}
	clicks := &bot.Buttons{Approvals: cmds.approvals, Router: cmds.router, Incidents: store}
	chat, err := newChatSide(cfg, cmds.router, clicks, cmds.cluster, store, bot.NewChatMetrics(reg), log)
	if err != nil {
		return err
	}
	maps.Copy(cards, chat.cards)
	maps.Copy(groups, chat.groups)
	dispatcher = bot.NewDispatcher(store, bot.DispatcherConfig{
		Destinations: cfg.ChatDestinations(),
		Chats:        chat.chats,
		Workers:      cfg.Outbox.Workers,
		Runbooks:     cfg.IncidentRunbooks(),
	}, log.With(zap.String("component", "outbox")), reg)
	if len(cfg.ChatDestinations()) == 0 {
		log.Info("no chat destination configured: incidents are stored but not posted",
			zap.String("component", "outbox"))
	}
	holder, err := replicaID()
	if err != nil {
		return err
	}
	escalator := bot.NewEscalator(store, bot.EscalatorConfig{
		Destinations: cfg.ChatDestinations(),
		Routes:       cfg.IncidentRoutes(),
		Deadlines:    cfg.Deadlines(),
		Interval:     cfg.Incidents.EscalationInterval,
		Holder:       holder,
		Enqueued:     func() { dispatcher.Notify() },
	}, log.With(zap.String("component", "escalator")), reg)

	if cfg.Webhook.InsecureNoAuth {
		log.Warn("INSECURE: webhook.insecure_no_auth is true: anyone who can reach this port can create incidents",
			zap.String("component", "alertmanager"))
	}
	recv, err := alertmanager.NewReceiver(alertmanager.ReceiverConfig{
		BearerToken:    cfg.Webhook.Token.Reveal(),
		BasicUser:      cfg.Webhook.BasicAuth.Username,
		BasicPassword:  cfg.Webhook.BasicAuth.Password.Reveal(),
		InsecureNoAuth: cfg.Webhook.InsecureNoAuth,
		MaxBodyBytes:   cfg.Webhook.MaxBodyBytes,
	}, engine, log.With(zap.String("component", "alertmanager")), reg)
	if err != nil {
		return err
	}

	mounts := append([]httpapi.Mount{{Pattern: "POST /v1/alertmanager", Handler: recv}}, chat.mounts...)
	handler := httpapi.New(httpapi.Config{Token: cfg.API.Token.Reveal()}, store, mounts,
		reg, reg, log.With(zap.String("component", "http")))
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.With(zap.String("component", "http"))),
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	log.Info("listening", zap.String("component", "http"), zap.String("addr", ln.Addr().String()), zap.String("version", version))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runUntilCanceled(gctx, dispatcher.Run) })
	g.Go(func() error { return runUntilCanceled(gctx, escalator.Run) })
	// The outage correlation: Ingest only signals it, so webhooks never wait for it.
	g.Go(func() error { return runUntilCanceled(gctx, engine.RunCorrelation) })
	g.Go(func() error { return cmds.approvals.Run(gctx, bot.DefaultSweepInterval) })
	for _, run := range chat.run {
		g.Go(func() error { return runUntilCanceled(gctx, run) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: finishing in-flight requests", zap.String("component", "http"))
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		for _, stop := range chat.shutdown {
			if serr := stop(sctx); serr != nil && err == nil {
				err = serr
			}
		}
		return err
	})
	return g.Wait()
}

func configCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (none: defaults)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path, os.Getenv)
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stderr, p.Error())
		}
		fmt.Fprintf(stderr, "%d problems\n", len(ps))
		return 1
	}
	store := "sqlite " + cfg.SQLitePath()
	if cfg.UsesPostgres() {
		store = "postgres"
	}
	fmt.Fprintf(stdout, "configuration OK: store %s, listen %s, %d severity rules, %d destinations, %d routes\n",
		store, cfg.ListenAddr, len(cfg.Severity.Rules), len(cfg.Destinations), len(cfg.Routes))
	return 0
}

// replicaID names this process in the timer lease: the host name (the pod's
// name in Kubernetes) and a random suffix, so that a restarted process
// never mistakes the lease of the one before it for its own.
func replicaID() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "chatops"
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("replica id: %w", err)
	}
	return host + "-" + hex.EncodeToString(b), nil
}
