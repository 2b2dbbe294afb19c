package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
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
	"github.com/bakewise/chatops/integrations/otlp"
	promgraph "github.com/bakewise/chatops/integrations/prometheus"
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
	tracing, err := otlp.Setup(ctx, os.Getenv, version, log.With(zap.String("component", "tracing")))
	if err != nil {
		return err
	}
	// The spans still buffered go out within the shutdown timeout, counted
	// from the signal, like the rest of the shutdown.
	var stopping atomic.Int64
	context.AfterFunc(ctx, func() { stopping.Store(time.Now().UnixNano()) })
	defer func() {
		left := cfg.ShutdownTimeout
		if at := stopping.Load(); at != 0 {
			left = max(cfg.ShutdownTimeout-time.Since(time.Unix(0, at)), time.Second)
		}
		sctx, cancel := context.WithTimeout(context.Background(), left)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			log.Warn("spans not all exported", zap.String("component", "tracing"), zap.Error(err))
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(buildInfo())

	store, where, n, err := openStore(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("store ready", zap.String("component", "store"), zap.String("store", where), zap.Int("migrations_applied", n))
	if err := useAuditKey(ctx, store, cfg, log); err != nil {
		return err
	}
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
		Severity:           cfg.Classifier(),
		ScaleBounds:        bounds,
		DefaultScaleBounds: commands.ScaleBounds{Min: 0, Max: int32(cfg.Approvals.DefaultScaleMax)},
	}
	if cfg.Alertmanager.URL != "" {
		api, err := alertmanager.NewAPI(cfg.Alertmanager.URL)
		if err != nil {
			return err
		}
		deps.Alerts = loggedAlertCounter{api, log.With(zap.String("component", "alertmanager"))}
		deps.Silences = api
		deps.Firing = api
	}
	var grapher outbox.Grapher
	if cfg.Prometheus.URL != "" {
		pc, err := promgraph.New(promgraph.Config{URL: cfg.Prometheus.URL, Timeout: cfg.Prometheus.Timeout,
			BearerToken: string(cfg.Prometheus.Token), Username: cfg.Prometheus.Username, Password: string(cfg.Prometheus.Password)})
		if err != nil {
			return err
		}
		g := promgraph.NewGrapher(pc, cfg.Kubernetes.Namespace, log.With(zap.String("component", "prometheus")), nil)
		grapher, deps.Graphs = g, g
	}
	var services serviceLister
	klog := log.With(zap.String("component", "kubernetes"))
	if rc, err := kubernetes.RESTConfig(cfg.Kubernetes.Kubeconfig); err != nil {
		klog.Info("cluster commands are off", zap.Error(err))
	} else {
		cluster, err := kubernetes.New(rc, kubernetes.Config{Namespace: cfg.Kubernetes.Namespace,
			AllowedNamespaces: cfg.Kubernetes.AllowedNamespaces, FollowLimit: cfg.Kubernetes.RolloutFollow}, klog)
		if err != nil {
			return err
		}
		deps.Cluster, services = cluster, cluster
	}

	dispatcher := outbox.New(store, outbox.Config{
		Destinations: cfg.ChatDestinations(),
		Chats:        clients.chats,
		Workers:      cfg.Outbox.Workers,
		Lease:        cfg.Outbox.Lease,
		Runbooks:     cfg.IncidentRunbooks(),
		Graph:        grapher,
	}, log.With(zap.String("component", "outbox")), reg)
	if len(cfg.ChatDestinations()) == 0 {
		log.Info("no chat destination configured: incidents are stored but not posted",
			zap.String("component", "outbox"))
	}
	web, err := newWebConsole(cfg, store, log)
	if err != nil {
		return err
	}
	changes := notifiers{dispatcher}
	if web.notify != nil {
		changes = append(changes, web.notify)
	}
	engine := incident.New(store, incident.Config{
		Classifier:   cfg.Classifier(),
		Routes:       cfg.IncidentRoutes(),
		ReopenWindow: cfg.Incidents.ReopenWindow,
		Deadlines:    cfg.Deadlines(),
		Correlation:  cfg.IncidentCorrelation(),
		Outbox:       changes,
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
		Outbox:       changes,
	}, log.With(zap.String("component", "escalator")), reg)
	// What people do from an incident's thread goes on its timeline.
	timeline := incident.NewTimeline(engine, store, log.With(zap.String("component", "timeline")))
	roles := access.NewWith(access.Config{Access: cfg.AccessPolicy(), Lookups: clients.groups, Current: clients.current,
		Log: log.With(zap.String("component", "access"))})

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
		Roles: roles, Audit: store, Timeline: timeline, Actions: approvals, MaxPerUser: cfg.Commands.MaxInFlightPerUser,
		Platforms: clients.platforms(),
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
	webMounts, err := web.mounts(cfg, roles, store, log)
	if err != nil {
		return err
	}
	mounts = append(mounts, webMounts...)
	apiCfg := httpapi.Config{Token: cfg.API.Token.Reveal(), MetricsToken: cfg.Metrics.Token.Reveal(),
		SeparateMetrics: cfg.Metrics.ListenAddr != ""}
	handler := httpapi.New(apiCfg, store, mounts, reg, reg, log.With(zap.String("component", "http")))
	var metricsHandler http.Handler
	if apiCfg.SeparateMetrics {
		metricsHandler = httpapi.NewMetrics(apiCfg, reg, reg)
	}
	listeners, err := listenHTTP(cfg.ListenAddr, handler, cfg.Metrics.ListenAddr, metricsHandler, log)
	if err != nil {
		return err
	}
	for _, l := range listeners {
		log.Info("listening", zap.String("component", l.name), zap.String("addr", l.ln.Addr().String()),
			zap.Bool("metrics_token", apiCfg.MetricsToken != ""), zap.String("version", version))
	}
	if err := releaseStartupPages(); err != nil {
		log.Info("start-up pages not released; the resident size stays larger", zap.Error(err))
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runUntilCanceled(gctx, dispatcher.Run) })
	g.Go(func() error { return runUntilCanceled(gctx, escalator.Run) })
	// The outage correlation: Ingest only signals it, so webhooks never wait for it.
	g.Go(func() error { return runUntilCanceled(gctx, engine.RunCorrelation) })
	g.Go(func() error { return approvals.Run(gctx, approval.DefaultSweepInterval) })
	if web.run != nil {
		g.Go(func() error { return runUntilCanceled(gctx, web.run) })
	}
	for _, run := range chat.run {
		g.Go(func() error { return runUntilCanceled(gctx, run) })
	}
	serveHTTP(gctx, g, listeners, cfg.ShutdownTimeout, chat.shutdown, log)
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

// loggedAlertCounter logs why Alertmanager did not answer: the health
// answer in chat says only that it did not.
type loggedAlertCounter struct {
	commands.AlertCounter
	log *zap.Logger
}

func (c loggedAlertCounter) FiringBySeverity(ctx context.Context, service string) (map[string]int, error) {
	counts, err := c.AlertCounter.FiringBySeverity(ctx, service)
	if err != nil {
		c.log.Warn("count the firing alerts", zap.String("service", service), zap.Error(err))
	}
	return counts, err
}
