package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/bot/approval"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/bot/escalation"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/kubernetes"
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

// serve runs the bot. It builds each part from the parts built before it:
// the store; the outbound clients (chat platforms, Alertmanager's API, the
// cluster); the services (the outbox first, since the engine and the
// escalator tell it about new chat work); the commands, the approvals and
// the router; then the inbound side (chat platforms, the webhook, the API).
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

	clients, err := newChatClients(cfg, bot.NewChatMetrics(reg), log)
	if err != nil {
		return err
	}
	bounds := map[string]commands.ScaleBounds{}
	for _, b := range cfg.Approvals.ScaleBounds {
		bounds[b.Service] = commands.ScaleBounds{Min: int32(b.Min), Max: int32(b.Max)}
	}
	deps := commands.Deps{
		Incidents:          store,
		ScaleBounds:        bounds,
		DefaultScaleBounds: commands.ScaleBounds{Min: 0, Max: int32(cfg.Approvals.DefaultScaleMax)},
	}
	if cfg.Alertmanager.URL != "" {
		api, err := alertmanager.NewAPI(cfg.Alertmanager.URL)
		if err != nil {
			return err
		}
		deps.Alerts, deps.Silences = api, api
	}
	var services serviceLister
	klog := log.With(zap.String("component", "kubernetes"))
	if rc, err := kubernetes.RESTConfig(cfg.Kubernetes.Kubeconfig); err != nil {
		klog.Info("cluster commands are off", zap.Error(err))
	} else {
		cluster, err := kubernetes.New(rc, kubernetes.Config{Namespace: cfg.Kubernetes.Namespace,
			AllowedNamespaces: cfg.Kubernetes.AllowedNamespaces}, klog)
		if err != nil {
			return err
		}
		deps.Cluster, services = cluster, cluster
	}

	dispatcher := outbox.New(store, outbox.Config{
		Destinations: cfg.ChatDestinations(),
		Chats:        clients.chats,
		Workers:      cfg.Outbox.Workers,
		Runbooks:     cfg.IncidentRunbooks(),
	}, log.With(zap.String("component", "outbox")), reg)
	if len(cfg.ChatDestinations()) == 0 {
		log.Info("no chat destination configured: incidents are stored but not posted",
			zap.String("component", "outbox"))
	}
	engine := incident.New(store, incident.Config{
		Classifier:   cfg.Classifier(),
		Routes:       cfg.IncidentRoutes(),
		ReopenWindow: cfg.Incidents.ReopenWindow,
		Deadlines:    cfg.Deadlines(),
		Correlation:  cfg.IncidentCorrelation(),
		Outbox:       dispatcher,
	}, log.With(zap.String("component", "engine")), reg)
	deps.Changer = engine
	holder, err := replicaID()
	if err != nil {
		return err
	}
	escalator := escalation.New(store, escalation.Config{
		Destinations: cfg.ChatDestinations(),
		Routes:       cfg.IncidentRoutes(),
		Deadlines:    cfg.Deadlines(),
		Interval:     cfg.Incidents.EscalationInterval,
		Holder:       holder,
		Outbox:       dispatcher,
	}, log.With(zap.String("component", "escalator")), reg)
	// What people do from an incident's thread goes on its timeline.
	timeline := incident.NewTimeline(engine, store, log.With(zap.String("component", "timeline")))
	roles := access.New(cfg.AccessPolicy(), clients.groups)

	// The approvals re-plan and run requests through a table of the
	// destructive commands; the router hands them new requests, and the
	// approve and deny commands of the full table bring them decisions.
	planner, err := command.NewTable(cfg.Commands.Root, commands.Destructive(deps))
	if err != nil {
		return err
	}
	approvals := approval.New(store, roles, planner, approval.Config{
		Rule: cfg.ApprovalRule(), Root: cfg.Commands.Root, Cards: clients.cards, Timeline: timeline,
		BreakGlassChannels: map[string]string{"slack": cfg.Approvals.BreakGlassSlack, "discord": cfg.Approvals.BreakGlassDiscord},
	}, log.With(zap.String("component", "approvals")), reg)
	router, err := command.NewRouter(commands.Table(deps, approvals), command.Config{
		Root: cfg.Commands.Root, Channels: cfg.Commands.Channels,
		Roles: roles, Audit: store, Timeline: timeline, Actions: approvals,
	}, log.With(zap.String("component", "commands")), reg)
	if err != nil {
		return err
	}
	clicks := command.NewButtons(approvals, router, store)
	chat, err := newInbound(cfg, clients, router, clicks, store, services, log)
	if err != nil {
		return err
	}

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
	if err := releaseStartupPages(); err != nil {
		log.Info("start-up pages not released; the resident size stays larger", zap.Error(err))
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runUntilCanceled(gctx, dispatcher.Run) })
	g.Go(func() error { return runUntilCanceled(gctx, escalator.Run) })
	// The outage correlation: Ingest only signals it, so webhooks never wait for it.
	g.Go(func() error { return runUntilCanceled(gctx, engine.RunCorrelation) })
	g.Go(func() error { return approvals.Run(gctx, approval.DefaultSweepInterval) })
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

// runUntilCanceled treats the end of ctx as a clean stop.
func runUntilCanceled(ctx context.Context, fn func(context.Context) error) error {
	if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
