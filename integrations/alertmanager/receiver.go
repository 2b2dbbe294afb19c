package alertmanager

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultMaxBodyBytes bounds one notification's body.
const DefaultMaxBodyBytes = 1 << 20

// ingestTimeout bounds one notification's transaction. Alertmanager waits
// for the answer and retries on failure, so giving up is safe.
const ingestTimeout = 15 * time.Second

// ReceiverConfig says who may post and how much.
type ReceiverConfig struct {
	// BearerToken and/or BasicUser+BasicPassword; either credential that
	// is configured is accepted.
	BearerToken   string
	BasicUser     string
	BasicPassword string
	// InsecureNoAuth accepts unauthenticated notifications. It must be
	// asked for explicitly.
	InsecureNoAuth bool
	MaxBodyBytes   int64
}

// Ingester is what the receiver needs from the incident engine.
type Ingester interface {
	Ingest(ctx context.Context, g bot.AlertGroup) (bot.IngestResult, error)
}

// Receiver is the http.Handler for POST /v1/alertmanager.
type Receiver struct {
	cfg      ReceiverConfig
	ing      Ingester
	log      *zap.Logger
	bearer   [32]byte
	basic    [32]byte
	webhooks *prometheus.CounterVec
	alerts   prometheus.Counter
}

// NewReceiver checks the configuration and builds the handler.
func NewReceiver(cfg ReceiverConfig, ing Ingester, log *zap.Logger, reg prometheus.Registerer) (*Receiver, error) {
	if cfg.BearerToken == "" && cfg.BasicUser == "" && !cfg.InsecureNoAuth {
		return nil, errors.New("alertmanager receiver: no bearer token or basic auth configured, and insecure_no_auth is not set")
	}
	if (cfg.BasicUser == "") != (cfg.BasicPassword == "") {
		return nil, errors.New("alertmanager receiver: basic auth needs both a username and a password")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	r := &Receiver{
		cfg: cfg, ing: ing, log: log,
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_webhooks_total",
			Help: "Alertmanager notifications received, by outcome: ok, unauthorized, too_large, bad_request, store_error.",
		}, []string{"outcome"}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatops_webhook_alerts_total",
			Help: "Alerts in notifications that were committed.",
		}),
	}
	if cfg.BearerToken != "" {
		r.bearer = sha256.Sum256([]byte(cfg.BearerToken))
	}
	if cfg.BasicUser != "" {
		r.basic = sha256.Sum256([]byte(cfg.BasicUser + ":" + cfg.BasicPassword))
	}
	for _, o := range []string{"ok", "unauthorized", "too_large", "bad_request", "store_error"} {
		r.webhooks.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(r.webhooks, r.alerts)
	}
	return r, nil
}

// authorized compares digests in constant time, so neither the content nor
// the length of a credential leaks through timing.
func (r *Receiver) authorized(req *http.Request) bool {
	if r.cfg.InsecureNoAuth {
		return true
	}
	ok := false
	if r.cfg.BearerToken != "" {
		if tok, found := bearerToken(req); found {
			d := sha256.Sum256([]byte(tok))
			ok = subtle.ConstantTimeCompare(d[:], r.bearer[:]) == 1
		}
	}
	if !ok && r.cfg.BasicUser != "" {
		if u, p, found := req.BasicAuth(); found {
			d := sha256.Sum256([]byte(u + ":" + p))
			ok = subtle.ConstantTimeCompare(d[:], r.basic[:]) == 1
		}
	}
	return ok
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(req *http.Request) (string, bool) {
	const prefix = "bearer "
	h := req.Header.Get("Authorization")
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return h[len(prefix):], true
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.authorized(req) {
		r.webhooks.WithLabelValues("unauthorized").Inc()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if req.ContentLength > r.cfg.MaxBodyBytes {
		r.tooLarge(w)
		return
	}
	body := http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes)
	g, err := Decode(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			r.tooLarge(w)
			return
		}
		r.webhooks.WithLabelValues("bad_request").Inc()
		telemetry.Logger(req.Context(), r.log).Info("notification refused", zap.String("reason", err.Error()), zap.String("remote", req.RemoteAddr))
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), ingestTimeout)
	defer cancel()
	res, err := r.ing.Ingest(ctx, g)
	if err != nil {
		r.webhooks.WithLabelValues("store_error").Inc()
		telemetry.Logger(ctx, r.log).Error("notification not stored; Alertmanager will retry",
			zap.String("group_key", g.GroupKey), zap.Int("alerts", len(g.Alerts)), zap.Error(err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not store the notification; retry"})
		return
	}
	r.webhooks.WithLabelValues("ok").Inc()
	r.alerts.Add(float64(len(g.Alerts)))
	writeJSON(w, http.StatusOK, map[string]any{"incident_id": res.IncidentID})
}

func (r *Receiver) tooLarge(w http.ResponseWriter) {
	r.webhooks.WithLabelValues("too_large").Inc()
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
		"error": fmt.Sprintf("body larger than %d bytes", r.cfg.MaxBodyBytes),
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
