package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Inbound limits.
const (
	// maxInboundBody bounds a request to the /slack/* endpoints; Slack's
	// payloads are a few KB.
	maxInboundBody = 64 << 10
	// signatureWindow is how far a request's timestamp may be from now:
	// slack.NewSecretsVerifier enforces it, the replay guard remembers a
	// signature for that long after its timestamp.
	signatureWindow = 5 * time.Minute
	// eventRetryWindow is how long an event id is remembered: Slack
	// retries an unacknowledged event for about an hour, signed afresh.
	eventRetryWindow = time.Hour
	// maxCommandLifetime bounds one command's goroutine, answer included.
	maxCommandLifetime = 2 * time.Minute
	// authTestTimeout bounds learning the bot's user id.
	authTestTimeout = 10 * time.Second
	// webAPIRate and webAPIBurst pace the answer calls that do not count
	// against a channel's post budget: chat.postEphemeral and uploads
	// (Tier 4 methods, 100+ a minute).
	webAPIRate  = rate.Limit(100.0 / 60.0)
	webAPIBurst = 10
)

// DefaultResponseURLPrefix is where Slack's response_urls live.
const DefaultResponseURLPrefix = "https://hooks.slack.com/"

// workingOnIt is the immediate answer to a slash command: small, so it
// fits any ack, and only the person who asked sees it.
var workingOnIt = map[string]string{"response_type": slackapi.ResponseTypeEphemeral, "text": "Working on it…"}

// InboundConfig configures the inbound side.
type InboundConfig struct {
	// SigningSecret verifies HTTP requests (v0 signatures). Never logged.
	// Empty: every HTTP request is refused (Socket Mode needs none).
	SigningSecret string
	// BotUserID is the bot's user id (U…), to find its mention in a
	// message; empty: learned with auth.test at start.
	BotUserID string
	// ResponseURLPrefixes are where answers to slash commands and clicks
	// may be posted (default DefaultResponseURLPrefix): a response_url
	// elsewhere is refused.
	ResponseURLPrefixes []string
	// Clicks handles button clicks (approval cards); nil answers every
	// click, privately, that buttons are not available.
	Clicks bot.ClickHandler
	// MaxInFlight bounds the commands and clicks running at once (0:
	// DefaultMaxInFlight); beyond it a slash command is answered "busy"
	// at once.
	MaxInFlight int
	// Names finds the names people see (users.info) for cards and
	// timelines; nil: the name the request carried, or the id.
	Names *Names
}

// DefaultMaxInFlight bounds the commands running at once when
// InboundConfig.MaxInFlight is 0, as Discord's side does: each holds a
// goroutine, a share of memory (a logs answer is megabytes) and API calls.
const DefaultMaxInFlight = 64

// busyNow is the immediate answer to a slash command when MaxInFlight
// commands are running.
var busyNow = map[string]string{"response_type": slackapi.ResponseTypeEphemeral, "text": "chatops is busy with other commands; try again in a moment."}

// String leaves the signing secret out.
func (c InboundConfig) String() string {
	return fmt.Sprintf("slack.InboundConfig{SigningSecret: %s, BotUserID: %q, ResponseURLPrefixes: %q, Clicks: %t}",
		redacted(c.SigningSecret), c.BotUserID, c.ResponseURLPrefixes, c.Clicks != nil)
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "<redacted>"
}

// Inbound receives commands from Slack, over HTTP (Commands, Events,
// Interactions) or Socket Mode (RunSocketMode), and answers them through
// the Client. Every command is acknowledged at once and run by the router
// in its own goroutine, under a context that Shutdown ends.
type Inbound struct {
	cfg    InboundConfig
	router Router
	guard  bot.ReplayGuard
	client *Client
	log    *zap.Logger
	http   *http.Client
	webAPI *throttle

	work *bot.Inflight

	mu        sync.Mutex
	botUser   string
	learning  bool
	learnedAt time.Time
}

// Router is the command router as the inbound side uses it (bot/command).
type Router interface {
	// Root is the command root people type, without the slash.
	Root() string
	// Handle runs cmd and answers through resp.
	Handle(ctx context.Context, cmd bot.Command, resp bot.Responder)
}

// NewInbound returns the inbound side over router, refusing replays
// through guard (the store's, shared by the replicas) and answering
// through client. When cfg.BotUserID is empty it starts learning it.
func NewInbound(cfg InboundConfig, router Router, guard bot.ReplayGuard, client *Client, log *zap.Logger) *Inbound {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.ResponseURLPrefixes) == 0 {
		cfg.ResponseURLPrefixes = []string{DefaultResponseURLPrefix}
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if guard == nil {
		log.Warn("no replay guard: replays are remembered by this process only")
		guard = newMemoryGuard()
	}
	in := &Inbound{
		cfg:    cfg,
		router: router,
		guard:  guard,
		client: client,
		log:    log,
		http: &http.Client{
			Timeout: client.cfg.CallTimeout,
			// A response_url answers; it never sends us elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		webAPI:  newThrottle(webAPIRate, webAPIBurst),
		work:    bot.NewInflight(cfg.MaxInFlight),
		botUser: cfg.BotUserID,
	}
	if in.botUser == "" {
		in.learnBotUserID()
	}
	return in
}

// Shutdown stops taking commands (HTTP answers 503), waits for the ones
// running until ctx ends, then cancels them and waits for them to return.
func (in *Inbound) Shutdown(ctx context.Context) error { return in.work.Shutdown(ctx) }

// goRun runs fn in its own goroutine under the inbound context, unless
// shutting down; it reports whether fn was started. fn's context keeps
// from's request id and span, so what it logs and traces names the
// request (HTTP or Socket Mode) that started it.
func (in *Inbound) goRun(from context.Context, fn func(ctx context.Context)) bool {
	release, ok := in.work.Start()
	if !ok {
		return false
	}
	go func() {
		defer release()
		ctx, cancel := context.WithTimeout(telemetry.Detach(from, in.work.Context()), maxCommandLifetime)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				in.log.Error("command goroutine panicked", zap.Any("panic", p), zap.Stack("stack"))
			}
		}()
		fn(ctx)
	}()
	return true
}

// dispatch runs cmd through the router, answering through resp.
func (in *Inbound) dispatch(ctx context.Context, cmd bot.Command, resp bot.Responder) bool {
	started := in.goRun(ctx, func(ctx context.Context) {
		cmd.User = in.named(ctx, cmd.User)
		in.router.Handle(ctx, cmd, resp)
	})
	if !started && !in.work.Closed() {
		telemetry.Logger(ctx, in.log).Warn("command refused: too many running", zap.String("user", cmd.User.UserID), zap.String("channel", cmd.Channel))
	}
	return started
}

// botUserID is the bot's user id, or "" while it is not known (a failed
// auth.test is tried again a minute later).
func (in *Inbound) botUserID() string {
	in.mu.Lock()
	id, stale := in.botUser, in.botUser == "" && !in.learning && time.Since(in.learnedAt) > time.Minute
	in.mu.Unlock()
	if stale {
		in.learnBotUserID()
	}
	return id
}

// learnBotUserID asks auth.test who the bot is, in the background.
func (in *Inbound) learnBotUserID() {
	in.mu.Lock()
	if in.learning {
		in.mu.Unlock()
		return
	}
	in.learning = true
	in.mu.Unlock()
	started := in.goRun(context.Background(), func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, authTestTimeout)
		defer cancel()
		c := in.client
		start := time.Now()
		resp, err := c.api.AuthTestContext(ctx)
		err = classify(scrubURL(err))
		c.metrics.Observe(platform, methodAuthTest, start, err)
		in.mu.Lock()
		defer in.mu.Unlock()
		in.learning, in.learnedAt = false, time.Now()
		if err != nil {
			in.log.Warn("could not learn the bot's user id (auth.test); mentions are read without it", zap.Error(err))
			return
		}
		in.botUser = resp.UserID
		in.log.Info("bot user id learned", zap.String("bot_user_id", resp.UserID))
	})
	if !started {
		in.mu.Lock()
		in.learning = false
		in.mu.Unlock()
	}
}

// Commands is the handler for POST /slack/commands (slash commands).
func (in *Inbound) Commands() http.Handler { return http.HandlerFunc(in.serveCommand) }

// Events is the handler for POST /slack/events (Events API: the URL
// check and app mentions).
func (in *Inbound) Events() http.Handler { return http.HandlerFunc(in.serveEvent) }

// Interactions is the handler for POST /slack/interactions (button
// clicks).
func (in *Inbound) Interactions() http.Handler { return http.HandlerFunc(in.serveInteraction) }

// verify reads the body once (bounded), checks its signature and
// timestamp, and refuses a request already seen, all before anything in
// it is parsed. On failure it has answered and returns false: 401 with no
// detail for anything about the signature or a replay.
func (in *Inbound) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if in.work.Closed() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return nil, false
	}
	if r.ContentLength > maxInboundBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInboundBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return nil, false
	}
	refuse := func(reason string) ([]byte, bool) {
		in.log.Info("slack request refused", zap.String("path", r.URL.Path), zap.String("reason", reason), zap.String("remote", r.RemoteAddr))
		w.WriteHeader(http.StatusUnauthorized)
		return nil, false
	}
	sv, err := slackapi.NewSecretsVerifier(r.Header, in.cfg.SigningSecret)
	switch {
	case errors.Is(err, slackapi.ErrExpiredTimestamp):
		return refuse("timestamp outside the 5-minute window")
	case errors.Is(err, slackapi.ErrInvalidConfiguration):
		return refuse("no signing secret configured")
	case err != nil:
		return refuse("missing or malformed signature headers")
	}
	_, _ = sv.Write(body)
	if sv.Ensure() != nil {
		return refuse("bad signature")
	}
	key, signedAt, err := replayKey(r.Header)
	if err != nil {
		return refuse("malformed signature headers")
	}
	now := time.Now()
	first, err := in.guard.FirstSeen(r.Context(), key, now, signedAt.Add(signatureWindow))
	if err != nil {
		in.log.Warn("replay guard unavailable: slack request refused", zap.String("path", r.URL.Path), zap.Error(err))
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return nil, false
	}
	if !first {
		return refuse("replay of a request already seen")
	}
	return body, true
}

// serveCommand: verify, parse the form from the verified bytes, answer
// "Working on it…" at once, and run the command in the background.
func (in *Inbound) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := in.verify(w, r)
	if !ok {
		return
	}
	// SlashCommandParse reads the form from the request: give it the
	// bytes that were verified.
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Form, req.PostForm = nil, nil
	sc, err := slackapi.SlashCommandParse(req)
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	if req.PostForm.Get("ssl_check") == "1" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := in.checkSlashCommand(sc); err != nil {
		in.log.Info("slash command refused", zap.String("reason", err.Error()))
		http.Error(w, "malformed slash command", http.StatusBadRequest)
		return
	}
	ack, err := in.onSlashCommand(r.Context(), sc, time.Now())
	if err != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, ack)
}

// onSlashCommand starts a verified, checked slash command and returns
// the immediate answer (the HTTP response, or the Socket Mode ack's
// payload).
func (in *Inbound) onSlashCommand(ctx context.Context, sc slackapi.SlashCommand, now time.Time) (any, error) {
	if sc.Command != "/"+in.router.Root() {
		return map[string]string{
			"response_type": slackapi.ResponseTypeEphemeral,
			"text":          fmt.Sprintf("This bot answers /%s only.", in.router.Root()),
		}, nil
	}
	cmd := slashCommand(sc, now)
	resp := &webhookResponder{in: in, url: sc.ResponseURL, channel: sc.ChannelID, fileBase: fileBase(cmd.Text)}
	if !in.dispatch(ctx, cmd, resp) {
		if in.work.Closed() {
			return nil, errors.New("shutting down")
		}
		return busyNow, nil
	}
	return workingOnIt, nil
}

// serveEvent: verify, then the URL check or an event; an event is
// acknowledged with 200 once it is handed on (or known to be a retry).
func (in *Inbound) serveEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := in.verify(w, r)
	if !ok {
		return
	}
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	switch outer.Type {
	case slackevents.URLVerification:
		writeJSON(w, map[string]string{"challenge": outer.Challenge})
		return
	case slackevents.CallbackEvent:
	default:
		in.log.Debug("event ignored", zap.String("type", outer.Type))
		w.WriteHeader(http.StatusOK)
		return
	}
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		// An event type chatops does not subscribe to: acknowledged, so
		// Slack does not retry it.
		in.log.Debug("event not understood", zap.Error(err))
		w.WriteHeader(http.StatusOK)
		return
	}
	if retry := r.Header.Get("X-Slack-Retry-Num"); retry != "" {
		in.log.Debug("event retried by Slack", zap.String("retry", retry), zap.String("reason", r.Header.Get("X-Slack-Retry-Reason")))
	}
	if err := in.onEvent(r.Context(), ev, time.Now()); err != nil {
		in.log.Warn("event not handled; Slack will retry it", zap.Error(err))
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// onEvent handles a parsed Events API event (HTTP or Socket Mode): app
// mentions become commands, the rest is ignored.
func (in *Inbound) onEvent(ctx context.Context, ev slackevents.EventsAPIEvent, now time.Time) error {
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		return nil
	}
	mention, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok {
		in.log.Debug("event ignored", zap.String("type", ev.InnerEvent.Type))
		return nil
	}
	return in.onMention(ctx, cb.EventID, mention, now)
}

// serveInteraction: verify, parse the payload, acknowledge with 200 and
// act in the background.
func (in *Inbound) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body, ok := in.verify(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	in.onInteraction(r.Context(), &cb, time.Now())
	w.WriteHeader(http.StatusOK)
}

// Slack's signature headers.
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
	// signaturePrefix is the v0 scheme's prefix; slack-go requires it
	// exactly (case-sensitive).
	signaturePrefix = "v0="
)

// replayKey names a verified request by what was verified, not by how
// its headers spell it. slack-go decodes the MAC's hex in any case and
// parses the timestamp with strconv.ParseInt (a leading "+" or zeros
// pass its window check): keyed on the header text, the same signed
// request with its hex in upper case would be new again. The key is the
// timestamp as a decimal number and the MAC's bytes in lower-case hex,
// which is how Slack writes both, so keys stored before this canonical
// form still match. Headers are read with the verifier's own rules, so
// anything it accepts decodes here to the bytes it compared; anything
// else is an error (the request is refused, never keyed loosely).
func replayKey(h http.Header) (key string, signedAt time.Time, err error) {
	hexMAC, ok := strings.CutPrefix(h.Get(headerSignature), signaturePrefix)
	if !ok {
		return "", time.Time{}, errors.New("signature without the v0= prefix")
	}
	mac, err := hex.DecodeString(hexMAC)
	if err != nil || len(mac) != sha256.Size {
		return "", time.Time{}, errors.New("signature is not a hex-encoded HMAC-SHA256")
	}
	ts, err := strconv.ParseInt(h.Get(headerTimestamp), 10, 64)
	if err != nil {
		return "", time.Time{}, errors.New("timestamp is not a number")
	}
	return "slack:" + strconv.FormatInt(ts, 10) + ":" + signaturePrefix + hex.EncodeToString(mac), time.Unix(ts, 0), nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// memoryGuard remembers keys in this process only: the fallback when no
// store-backed guard is given.
type memoryGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newMemoryGuard() *memoryGuard { return &memoryGuard{seen: map[string]time.Time{}} }

func (g *memoryGuard) FirstSeen(_ context.Context, key string, now, expires time.Time) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, exp := range g.seen {
		if !exp.After(now) {
			delete(g.seen, k)
		}
	}
	if exp, ok := g.seen[key]; ok && exp.After(now) {
		return false, nil
	}
	g.seen[key] = expires
	return true, nil
}
