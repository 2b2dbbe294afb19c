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

	"github.com/bakewise/chatops/bot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Timeouts for the store behind one request.
const (
	readTimeout  = 5 * time.Second
	readyTimeout = 2 * time.Second
)

// Listing limits.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Reader is what the API needs from the store.
type Reader interface {
	ListIncidents(ctx context.Context, f bot.IncidentFilter) ([]bot.Incident, error)
	GetIncident(ctx context.Context, id int64) (bot.IncidentDetail, error)
	Ready(ctx context.Context) error
}

// Config is the API's security.
type Config struct {
	Token string
}

// Mount is another package's handler at a method and path.
type Mount struct {
	Pattern string // e.g. "POST /v1/alertmanager"
	Handler http.Handler
}

// New builds the whole HTTP handler: the API, health, metrics and the mounts.
func New(cfg Config, store Reader, mounts []Mount, gatherer prometheus.Gatherer, reg prometheus.Registerer, log *zap.Logger) http.Handler {
	a := &api{store: store, token: sha256.Sum256([]byte(cfg.Token)), log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/incidents", a.authed(a.list))
	mux.HandleFunc("GET /v1/incidents/{id}", a.authed(a.get))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	for _, m := range mounts {
		mux.Handle(m.Pattern, m.Handler)
	}
	return instrument(mux, reg)
}

type api struct {
	store Reader
	token [32]byte
	log   *zap.Logger
}

func (a *api) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		const prefix = "Bearer "
		ok := false
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			d := sha256.Sum256([]byte(h[len(prefix):]))
			ok = subtle.ConstantTimeCompare(d[:], a.token[:]) == 1
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
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to "+strconv.Itoa(maxLimit))
			return
		}
		f.Limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	incs, err := a.store.ListIncidents(ctx, f)
	if err != nil {
		a.storeError(w, "list incidents", err)
		return
	}
	if incs == nil {
		incs = []bot.Incident{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "incident id must be a positive integer")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	d, err := a.store.GetIncident(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no incident "+strconv.FormatInt(id, 10))
		return
	}
	if err != nil {
		a.storeError(w, "get incident", err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.store.Ready(ctx); err != nil {
		a.log.Warn("not ready", zap.Error(err))
		writeText(w, http.StatusServiceUnavailable, "store not ready")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

func (a *api) storeError(w http.ResponseWriter, what string, err error) {
	a.log.Error(what, zap.Error(err))
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
		reg.MustRegister(hist)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := mux.Handler(r)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		if pattern == "" {
			pattern = "unmatched"
		}
		hist.WithLabelValues(pattern, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
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
