// Package httpapi is chatops' own HTTP surface: the read API over incidents
// (/v1/incidents), liveness and readiness, Prometheus metrics, and the
// mux that mounts the receivers other packages provide. It reads the store;
// it never writes it.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Timeouts for the store behind one request.
const (
	readTimeout  = 5 * time.Second
	readyTimeout = 2 * time.Second
)

// Listing limits: a page of incidents, alerts or events holds
// defaultLimit items unless ?limit= asks for 1..maxLimit.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Reader is what the API needs from the store: bounded reads only, so no
// request holds more than a page of a storm's incident.
type Reader interface {
	ListIncidents(ctx context.Context, f bot.IncidentFilter) ([]bot.Incident, error)
	IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error)
	AlertPage(ctx context.Context, incidentID int64, after string, limit int) ([]bot.Alert, error)
	EventPage(ctx context.Context, q bot.EventQuery) ([]bot.Event, error)
	Ready(ctx context.Context) error
}

// Config is the API's security.
type Config struct {
	Token string
	// MetricsToken, when set, is the bearer token GET /metrics needs, on
	// whichever listener serves it.
	MetricsToken string
	// SeparateMetrics leaves /metrics off the main handler: NewMetrics
	// serves it on a listener of its own, which the network can keep
	// apart from the public one.
	SeparateMetrics bool
}

// Mount is another package's handler at a method and path.
type Mount struct {
	Pattern string // e.g. "POST /v1/alertmanager"
	Handler http.Handler
}

// New builds the main HTTP handler: the API, health, the mounts, and
// metrics unless cfg.SeparateMetrics puts them on a listener of their own.
func New(cfg Config, store Reader, mounts []Mount, gatherer prometheus.Gatherer, reg prometheus.Registerer, log *zap.Logger) http.Handler {
	a := &api{store: store, token: sha256.Sum256([]byte(cfg.Token)), log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/incidents", bearer(a.token, a.list))
	mux.HandleFunc("GET /v1/incidents/{id}", bearer(a.token, a.get))
	mux.HandleFunc("GET /v1/incidents/{id}/alerts", bearer(a.token, a.alerts))
	mux.HandleFunc("GET /v1/incidents/{id}/timeline", bearer(a.token, a.timeline))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", a.ready)
	if !cfg.SeparateMetrics {
		mux.Handle("GET /metrics", metrics(cfg, gatherer))
	}
	for _, m := range mounts {
		mux.Handle(m.Pattern, m.Handler)
	}
	return instrument(mux, reg)
}

// NewMetrics builds the handler of the metrics listener: GET /metrics and
// nothing else, so that its port exposes no API, webhook or chat endpoint.
// Its requests are timed in the same histogram as the main handler's.
func NewMetrics(cfg Config, gatherer prometheus.Gatherer, reg prometheus.Registerer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics(cfg, gatherer))
	return instrument(mux, reg)
}

// metrics serves the gatherer's metrics, behind cfg.MetricsToken when set.
// The page names every service, destination and route the bot knows, which
// is worth a token wherever the port is reachable beyond the monitoring.
func metrics(cfg Config, gatherer prometheus.Gatherer) http.HandlerFunc {
	h := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	if cfg.MetricsToken == "" {
		return h.ServeHTTP
	}
	return bearer(sha256.Sum256([]byte(cfg.MetricsToken)), h.ServeHTTP)
}

type api struct {
	store Reader
	token [32]byte
	log   *zap.Logger
}

// bearer lets a request through only with "Authorization: Bearer <token>"
// whose SHA-256 is digest, compared in constant time on the digests so
// neither the token's content nor its length leaks through timing.
func bearer(digest [32]byte, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		const prefix = "Bearer "
		ok := false
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			d := sha256.Sum256([]byte(h[len(prefix):]))
			ok = subtle.ConstantTimeCompare(d[:], digest[:]) == 1
		}
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	f := bot.IncidentFilter{Limit: defaultLimit}
	switch s := r.URL.Query().Get("status"); s {
	case "", "open":
		f.Status = bot.IncidentOpen
	case "resolved":
		f.Status = bot.IncidentResolved
	case "all":
	default:
		writeError(w, http.StatusBadRequest, "status must be open, resolved or all")
		return
	}
	p, err := parsePage(r, listIncidents, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// One more than asked: whether a next page exists.
	f.Limit = p.limit + 1
	if p.after != nil {
		f.Before = p.after.ID
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	incs, err := a.store.ListIncidents(ctx, f)
	if err != nil {
		a.storeError(r.Context(), w, "list incidents", err)
		return
	}
	body := map[string]any{"incidents": append([]bot.Incident{}, incs[:min(len(incs), p.limit)]...)}
	if len(incs) > p.limit {
		body["next_cursor"] = cursor{List: listIncidents, ID: incs[p.limit-1].ID}.encode()
	}
	writeJSON(w, http.StatusOK, body)
}

// get answers GET /v1/incidents/{id}: the incident, the first alerts its
// root lists and its newest events, with how many of each it has.
func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	d, err := a.store.IncidentView(ctx, id, detailAlerts, detailEvents)
	if a.readFailed(r.Context(), w, "get incident", id, err) {
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.store.Ready(ctx); err != nil {
		telemetry.Logger(r.Context(), a.log).Warn("not ready", zap.Error(err))
		writeText(w, http.StatusServiceUnavailable, "store not ready")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

func (a *api) storeError(ctx context.Context, w http.ResponseWriter, what string, err error) {
	telemetry.Logger(ctx, a.log).Error(what, zap.Error(err))
	writeError(w, http.StatusServiceUnavailable, "store unavailable")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// instrument records request latency by route pattern (never the raw path,
// which would let callers mint label values) and status code.
func instrument(mux *http.ServeMux, reg prometheus.Registerer) http.Handler {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chatops_http_request_duration_seconds",
		Help:    "HTTP request latency by route and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "code"})
	if reg != nil {
		// The main and the metrics handler share one histogram: the second
		// to register takes the first's.
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(hist); errors.As(err, &are) {
			hist = are.ExistingCollector.(*prometheus.HistogramVec)
		} else if err != nil {
			panic(err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := mux.Handler(r)
		rid := telemetry.RequestIDFrom(r.Header)
		w.Header().Set(telemetry.HeaderRequestID, rid)
		ctx, span := serverSpan(r, pattern)
		r = r.WithContext(telemetry.WithRequestID(ctx, rid))
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		if pattern == "" {
			pattern = "unmatched"
		}
		hist.WithLabelValues(pattern, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
		span.SetAttributes(attribute.Int("http.response.status_code", rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.code))
		}
		span.End()
	})
}

// untraced are the routes without server spans.
var untraced = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// serverSpan starts the server span of r, a child of the caller's trace
// when its traceparent is valid. It is named by the route pattern (never
// the raw path), and it records no header: they carry credentials.
//
// Probes and scrapes get none: they arrive every few seconds and say
// nothing about the bot's work.
func serverSpan(r *http.Request, pattern string) (context.Context, trace.Span) {
	if untraced[pattern] {
		return r.Context(), trace.SpanFromContext(r.Context())
	}
	name := pattern
	if name == "" {
		name = r.Method
	}
	ctx := telemetry.Extract(r.Context(), r.Header)
	attrs := []attribute.KeyValue{attribute.String("http.request.method", r.Method)}
	if pattern != "" {
		attrs = append(attrs, attribute.String("http.route", pattern))
	}
	return telemetry.StartKind(ctx, name, trace.SpanKindServer, attrs...)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

// Unwrap lets http.ResponseController reach the connection (Flush), so a
// handler can acknowledge before it finishes.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
