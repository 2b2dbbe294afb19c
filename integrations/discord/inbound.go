package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Limits and timeouts of the inbound side.
const (
	// MaxInteractionBody bounds an HTTP interaction (Discord's are a few
	// KiB).
	MaxInteractionBody = 64 << 10
	// SignatureWindow is how far X-Signature-Timestamp may be from our
	// clock, either way, and how long a signed request is remembered.
	SignatureWindow = 5 * time.Minute
	// DefaultMaxInFlight bounds the commands running at once; beyond it a
	// command is answered "busy" at once.
	DefaultMaxInFlight = 64
	// ackTimeout bounds the gateway's REST acknowledgement: Discord wants
	// it within 3 s of sending the interaction.
	ackTimeout = 2500 * time.Millisecond
	// completeTimeout bounds the Completer, inside the same 3 s, and
	// guardTimeout the replay guard.
	completeTimeout = 1500 * time.Millisecond
	guardTimeout    = time.Second
	// maxChoices is Discord's limit on autocomplete choices, and
	// maxChoiceText on a choice's name and value.
	maxChoices    = 25
	maxChoiceText = 100
	// gateway reconnection backoff when opening fails.
	gatewayBackoffMin = time.Second
	gatewayBackoffMax = time.Minute
	// signatureHexLen is an Ed25519 signature in hex.
	signatureHexLen = 2 * ed25519.SignatureSize
	// maxTimestampDigits bounds X-Signature-Timestamp (unix seconds).
	maxTimestampDigits = 12
)

// DefaultEphemeralCommands are the commands whose answers are private
// whatever they say, so their deferral is ephemeral from the start.
var DefaultEphemeralCommands = []string{"help", "whoami"}

// Completer offers values for an argument being typed: source is the
// argument's Complete ("service"), prefix what was typed so far.
type Completer interface {
	Complete(ctx context.Context, source, prefix string) ([]string, error)
}

// CompleterFunc is a function that is a Completer.
type CompleterFunc func(ctx context.Context, source, prefix string) ([]string, error)

// Complete calls f.
func (f CompleterFunc) Complete(ctx context.Context, source, prefix string) ([]string, error) {
	return f(ctx, source, prefix)
}

// InboundConfig is the Discord inbound side's setup.
type InboundConfig struct {
	// PublicKey verifies HTTP interactions (ParsePublicKey reads the hex
	// from the developer portal). Without it the HTTP endpoint refuses
	// everything; the gateway does not need it.
	PublicKey ed25519.PublicKey
	// AppID is the application id: interactions for another one are
	// refused (empty: not checked).
	AppID string
	// GuildIDs are the guilds whose interactions are served
	// (discord.guild_ids). An interaction from any other guild, or from a
	// direct message, is refused before anything in it is acted on; with
	// none, every interaction is.
	GuildIDs []string
	// Completer offers autocomplete values; nil: no choices.
	Completer Completer
	// Clicks handles button clicks (approval cards); nil answers every
	// click, privately, that buttons are not available.
	Clicks bot.ClickHandler
	// EphemeralCommands are command names whose answers are always
	// private; nil: DefaultEphemeralCommands.
	EphemeralCommands []string
	// MaxInFlight bounds commands running at once; 0: DefaultMaxInFlight.
	MaxInFlight int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// ParsePublicKey reads an application's public key as the developer portal
// shows it (64 hex digits).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("discord: public_key: want the application's public key, 64 hex digits")
	}
	return ed25519.PublicKey(b), nil
}

// Router is the command router as the inbound side uses it (bot/command).
type Router interface {
	// Root is the command root people type, without the slash.
	Root() string
	// ChannelAllowed reports whether commands are accepted in channel.
	ChannelAllowed(channel string) bool
	// Lookup finds the command a list of words starts with.
	Lookup(words []string) (*bot.CommandSpec, []string)
	// Handle runs cmd and answers through resp.
	Handle(ctx context.Context, cmd bot.Command, resp bot.Responder)
}

// Inbound turns Discord interactions into commands for the router and
// button clicks for the ClickHandler, from the HTTP endpoint (Handler) or
// the gateway (RunGateway), through one path: a verified interaction is
// answered at once (PONG, a deferral, autocomplete choices) and a command
// or a click then runs in a goroutine bounded by the Inbound's context,
// its answer replacing the deferral.
type Inbound struct {
	cfg       InboundConfig
	router    Router
	guard     bot.ReplayGuard
	client    *Client
	log       *zap.Logger
	ephemeral map[string]bool
	guilds    map[string]bool
	now       func() time.Time

	work *bot.Inflight
}

// NewInbound builds the inbound side. client makes the interaction calls;
// guard remembers signed HTTP requests (it may be nil in gateway mode).
func NewInbound(cfg InboundConfig, router Router, guard bot.ReplayGuard, client *Client, log *zap.Logger) *Inbound {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	names := cfg.EphemeralCommands
	if names == nil {
		names = DefaultEphemeralCommands
	}
	in := &Inbound{
		cfg: cfg, router: router, guard: guard, client: client, log: log,
		ephemeral: map[string]bool{},
		guilds:    map[string]bool{},
		now:       cfg.Now,
		work:      bot.NewInflight(cfg.MaxInFlight),
	}
	if in.now == nil {
		in.now = time.Now
	}
	for _, n := range names {
		in.ephemeral[n] = true
	}
	for _, g := range cfg.GuildIDs {
		in.guilds[g] = true
	}
	return in
}

// Shutdown stops taking commands, waits for those running to deliver
// their answers until ctx ends, then cancels the rest.
func (in *Inbound) Shutdown(ctx context.Context) error { return in.work.Shutdown(ctx) }

// ours reports whether an interaction is for the configured application
// (any, when AppID is not set).
func (in *Inbound) ours(ix *discordgo.Interaction) bool {
	if in.cfg.AppID == "" || ix.AppID == in.cfg.AppID {
		return true
	}
	in.log.Warn("interaction for another application ignored", zap.String("interaction", ix.ID), zap.String("application", ix.AppID))
	return false
}

// ackFunc delivers an interaction's initial response: as the HTTP answer,
// or through the callback route on the gateway.
type ackFunc func(resp *discordgo.InteractionResponse) error

// handle is the one path every verified interaction takes.
//
// ctx carries the request's id and span (the HTTP request's, or the
// gateway event's); the work that outlives the acknowledgement keeps them.
func (in *Inbound) handle(ctx context.Context, ix *discordgo.Interaction, ch interactionChannel, rest *interactionREST, ack ackFunc, overHTTP bool) {
	log := telemetry.Logger(ctx, in.log).With(zap.String("interaction", ix.ID))
	if ix.Type != discordgo.InteractionPing && !in.guildServed(ix, ack, log) {
		return
	}
	switch ix.Type {
	case discordgo.InteractionPing:
		if err := ack(&discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}); err != nil {
			log.Warn("PONG not delivered", zap.Error(err))
		}
	case discordgo.InteractionApplicationCommand:
		in.command(ctx, ix, ch, rest, ack, overHTTP, log)
	case discordgo.InteractionApplicationCommandAutocomplete:
		if err := ack(in.autocomplete(ix, ch, log)); err != nil {
			log.Warn("autocomplete choices not delivered", zap.Error(err))
		}
	case discordgo.InteractionMessageComponent:
		in.click(ctx, ix, ch, rest, ack, overHTTP, log)
	default:
		// Modals are not something chatops shows: say so rather than let
		// the interaction fail silently.
		if err := ack(privateMessage("That is not something chatops handles.")); err != nil {
			log.Warn("answer not delivered", zap.Error(err))
		}
	}
}

func privateMessage(text string) *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: text, Flags: discordgo.MessageFlagsEphemeral, AllowedMentions: noMentions()},
	}
}

// command acknowledges an application command with a deferral, then runs
// it. The deferral is ephemeral when the answer is sure to be private: a
// channel where commands are refused, an unknown command (answered with
// help), or one of EphemeralCommands. Otherwise it is public, and a
// private answer takes the detour the responder describes.
func (in *Inbound) command(ctx context.Context, ix *discordgo.Interaction, ch interactionChannel, rest *interactionREST, ack ackFunc, overHTTP bool, log *zap.Logger) {
	now := in.now()
	cmd, err := toCommand(in.router.Root(), ix, ch, now)
	if err != nil {
		var ue *errUnreadable
		msg := "That command could not be read."
		if errors.As(err, &ue) {
			msg = ue.msg
		}
		if err := ack(privateMessage(msg)); err != nil {
			log.Warn("answer not delivered", zap.Error(err))
		}
		return
	}
	log = log.With(zap.String("user", cmd.User.UserID), zap.String("channel", cmd.Channel), zap.String("command", cmd.Text))
	in.deferAndRun(ctx, ack, rest, in.answersPrivately(cmd), overHTTP, fileBase(in.router, cmd), now, log,
		func(ctx context.Context, resp *responder) { in.router.Handle(ctx, cmd, resp) })
}

// deferAndRun acknowledges an interaction with a deferral (ephemeral when
// private) within Discord's 3 s, then runs fn in a goroutine held by the
// in-flight holder, with a responder good for the interaction token's
// lifetime. It refuses, privately, when the bot is busy or stopping.
func (in *Inbound) deferAndRun(from context.Context, ack ackFunc, rest *interactionREST, private, overHTTP bool, base string, now time.Time,
	log *zap.Logger, fn func(ctx context.Context, resp *responder)) {
	release, ok := in.work.Start()
	if !ok {
		if err := ack(privateMessage("chatops is busy or restarting; try again in a moment.")); err != nil {
			log.Warn("answer not delivered", zap.Error(err))
		}
		return
	}
	deferral := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}
	if private {
		deferral.Data = &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}
	}
	if err := ack(deferral); err != nil {
		release()
		// On the gateway a second replica may have acknowledged it first:
		// then the interaction is its to handle.
		if apiCode(err) == codeAlreadyAcknowledged {
			log.Info("interaction acknowledged elsewhere")
		} else {
			log.Warn("interaction not acknowledged", zap.Error(err))
		}
		return
	}
	resp := &responder{
		rest:            rest,
		deferredPrivate: private,
		base:            base,
		expires:         now.Add(tokenLifetime - tokenMargin),
		retryFirstEdit:  overHTTP,
		log:             log,
	}
	go func() {
		defer release()
		ctx, cancel := context.WithDeadline(telemetry.Detach(from, in.work.Context()), resp.expires)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				log.Error("interaction handler panicked", zap.Any("panic", p), zap.Stack("stack"))
			}
		}()
		fn(ctx, resp)
	}()
}

// answersPrivately tells, before running it, whether a command's answer is
// sure to be private.
func (in *Inbound) answersPrivately(cmd bot.Command) bool {
	if !in.router.ChannelAllowed(cmd.Channel) {
		return true
	}
	spec, _ := in.router.Lookup(strings.Fields(cmd.Text))
	return spec == nil || in.ephemeral[spec.Name]
}

// autocomplete offers the Completer's values for the option being typed,
// when its argument names a source: at most 25, each starting with what
// was typed. Anything amiss gives no choices rather than an error.
func (in *Inbound) autocomplete(ix *discordgo.Interaction, ch interactionChannel, log *zap.Logger) *discordgo.InteractionResponse {
	resp := &discordgo.InteractionResponse{
		Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: []*discordgo.ApplicationCommandOptionChoice{}},
	}
	data, ok := ix.Data.(discordgo.ApplicationCommandInteractionData)
	if !ok || in.cfg.Completer == nil || data.Name != in.router.Root() {
		return resp
	}
	if channel, _ := where(ix, ch); !in.router.ChannelAllowed(channel) {
		return resp
	}
	words, leaves := commandPath(data)
	spec, _ := in.router.Lookup(words)
	name, prefix, err := focused(leaves)
	if spec == nil || err != nil {
		return resp
	}
	var arg *bot.Arg
	for i := range spec.Args {
		if optionName(spec.Args[i].Name) == name {
			arg = &spec.Args[i]
		}
	}
	if arg == nil || arg.Complete == "" {
		return resp
	}
	ctx, cancel := context.WithTimeout(in.work.Context(), completeTimeout)
	defer cancel()
	values, err := in.cfg.Completer.Complete(ctx, arg.Complete, prefix)
	if err != nil {
		log.Warn("autocomplete failed", zap.String("source", arg.Complete), zap.Error(err))
		return resp
	}
	seen := map[string]bool{}
	lower := strings.ToLower(prefix)
	for _, v := range values {
		if len(resp.Data.Choices) == maxChoices {
			break
		}
		if v == "" || textLen(v) > maxChoiceText || seen[v] || !strings.HasPrefix(strings.ToLower(v), lower) {
			continue
		}
		seen[v] = true
		var value any = v
		if arg.Kind == bot.ArgInt {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			value = n
		}
		resp.Data.Choices = append(resp.Data.Choices, &discordgo.ApplicationCommandOptionChoice{Name: v, Value: value})
	}
	return resp
}

// Handler serves POST /discord/interactions. A request is refused with a
// bare 401 unless its Ed25519 signature over timestamp + body verifies
// with the application's key, its timestamp is within SignatureWindow of
// our clock, and it was not seen before; all of that before its content
// is read. A body over MaxInteractionBody gets 413.
func (in *Inbound) Handler() http.Handler { return http.HandlerFunc(in.serveHTTP) }

// decodeSignature reads X-Signature-Ed25519 as discordgo.VerifyInteraction
// does (hex in any case, nothing around it) and reports whether it is a
// whole Ed25519 signature.
func decodeSignature(header string) ([]byte, bool) {
	if len(header) != signatureHexLen {
		return nil, false
	}
	sig, err := hex.DecodeString(header)
	return sig, err == nil && len(sig) == ed25519.SignatureSize
}

// replayKey names a verified request by what was verified, never by how
// its headers spell it: the timestamp as a number and the signature's
// bytes in lower-case hex (how Discord writes both, so keys stored before
// this canonical form still match). The hex's case, or any spelling a
// verifier might tolerate, cannot make a replay look new; and Go's
// Ed25519 refuses non-canonical signatures, so one signed request has
// one signature.
func replayKey(signedAt time.Time, sig []byte) string {
	return "discord:" + strconv.FormatInt(signedAt.Unix(), 10) + ":" + hex.EncodeToString(sig)
}

func (in *Inbound) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := in.now()
	sig, sigOK := decodeSignature(r.Header.Get("X-Signature-Ed25519"))
	signedAt, fresh := in.timestamp(r.Header.Get("X-Signature-Timestamp"), now)
	if len(in.cfg.PublicKey) != ed25519.PublicKeySize || !sigOK || !fresh {
		unauthorized(w)
		return
	}
	if r.ContentLength > MaxInteractionBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxInteractionBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !discordgo.VerifyInteraction(r, in.cfg.PublicKey) {
		unauthorized(w)
		return
	}
	if in.guard == nil {
		in.log.Error("no replay guard: HTTP interactions refused")
		unauthorized(w)
		return
	}
	gctx, cancel := context.WithTimeout(r.Context(), guardTimeout)
	first, err := in.guard.FirstSeen(gctx, replayKey(signedAt, sig), now, signedAt.Add(SignatureWindow))
	cancel()
	if err != nil {
		in.log.Error("replay guard unavailable: interaction refused", zap.Error(err))
		unauthorized(w)
		return
	}
	if !first {
		in.log.Warn("replayed interaction refused", zap.String("remote", r.RemoteAddr))
		unauthorized(w)
		return
	}

	var ix discordgo.Interaction
	if err := json.Unmarshal(body, &ix); err != nil {
		http.Error(w, "unreadable interaction", http.StatusBadRequest)
		return
	}
	if !in.ours(&ix) {
		http.Error(w, "not this application's interaction", http.StatusBadRequest)
		return
	}
	answered := false
	ack := func(resp *discordgo.InteractionResponse) error {
		answered = true
		out, err := json.Marshal(responseBody(resp))
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		if _, err := w.Write(out); err != nil {
			return err
		}
		// Out before the command runs, where the writer can flush (a
		// wrapper may not let it; then it goes when serveHTTP returns,
		// right after, and the first edit's retries cover the gap).
		if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	in.handle(r.Context(), &ix, channelOf(body), in.client.forInteraction(&ix), ack, true)
	if !answered {
		http.Error(w, "interaction not answered", http.StatusInternalServerError)
	}
}

// timestamp reads X-Signature-Timestamp (unix seconds) and says whether
// it is within SignatureWindow of now.
func (in *Inbound) timestamp(ts string, now time.Time) (time.Time, bool) {
	if ts == "" || len(ts) > maxTimestampDigits {
		return time.Time{}, false
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	t := time.Unix(secs, 0)
	d := now.Sub(t)
	return t, d <= SignatureWindow && d >= -SignatureWindow
}

func unauthorized(w http.ResponseWriter) {
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// RunGateway receives interactions over the gateway until ctx ends: it
// opens session (nil: the client's own) with only the Guilds intent, no
// privileged one, and handles every INTERACTION_CREATE through the same
// path as HTTP, acknowledging through the callback route. Opening is
// retried with backoff; once open, discordgo reconnects by itself. It
// returns ctx's error.
func (in *Inbound) RunGateway(ctx context.Context, session *discordgo.Session) error {
	if session == nil {
		session = in.client.s
	}
	session.Identify.Intents = discordgo.IntentsGuilds
	remove := session.AddHandler(in.onGatewayEvent)
	defer remove()
	backoff := gatewayBackoffMin
	for {
		err := open(ctx, session)
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.log.Warn("gateway not reachable; trying again", zap.Duration("in", backoff), zap.Error(err))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, gatewayBackoffMax)
	}
	in.log.Info("gateway connected: receiving interactions")
	<-ctx.Done()
	if err := session.Close(); err != nil {
		in.log.Warn("gateway close", zap.Error(err))
	}
	return ctx.Err()
}

// open opens the gateway, giving up when ctx ends: discordgo's Open has
// no deadline of its own (a gateway that never answers would hold
// shutdown). A session opened after giving up is closed.
func open(ctx context.Context, session *discordgo.Session) error {
	opened := make(chan error, 1)
	go func() { opened <- session.Open() }()
	select {
	case err := <-opened:
		return err
	case <-ctx.Done():
		go func() {
			if <-opened == nil {
				session.Close()
			}
		}()
		return ctx.Err()
	}
}

// onGatewayEvent takes the raw dispatch rather than discordgo's typed
// InteractionCreate: the raw JSON holds the channel object (thread or
// not, and its parent) that discordgo's Interaction leaves out.
func (in *Inbound) onGatewayEvent(_ *discordgo.Session, e *discordgo.Event) {
	if e == nil || e.Type != "INTERACTION_CREATE" {
		return
	}
	ic, ok := e.Struct.(*discordgo.InteractionCreate)
	if !ok || ic == nil || ic.Interaction == nil {
		return
	}
	in.handleGateway(ic, e.RawData)
}

// handleGateway handles one interaction from the gateway; raw is its JSON.
//
// Each gives a request id and a span of its own, as an HTTP request would.
func (in *Inbound) handleGateway(ic *discordgo.InteractionCreate, raw []byte) {
	ix := ic.Interaction
	if !in.ours(ix) {
		return
	}
	ctx, span := telemetry.StartKind(telemetry.WithRequestID(context.Background(), bot.NewRequestID()),
		"discord INTERACTION_CREATE", trace.SpanKindConsumer, attribute.Int("discord.interaction.type", int(ix.Type)))
	defer span.End()
	rest := in.client.forInteraction(ix)
	ack := func(resp *discordgo.InteractionResponse) error {
		ctx, cancel := context.WithTimeout(in.work.Context(), ackTimeout)
		defer cancel()
		if err := rest.respond(ctx, resp); err != nil {
			return fmt.Errorf("acknowledge: %w", err)
		}
		return nil
	}
	in.handle(ctx, ix, channelOf(raw), rest, ack, false)
}
