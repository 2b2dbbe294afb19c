package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
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
