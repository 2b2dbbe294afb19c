package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Socket Mode limits.
const (
	// maxSocketMessage bounds one websocket message from Slack; an
	// envelope is a few KB.
	maxSocketMessage = 1 << 20
	// ackTimeout bounds queueing one ack.
	ackTimeout = 5 * time.Second
)

// RunSocketMode receives commands over Socket Mode (no public endpoint):
// slash commands, app mentions and button clicks arrive as envelopes on a
// websocket that slack-go's socketmode client opens with the app-level
// token (xapp-…) and reopens when it drops or Slack asks. Every envelope
// is acknowledged at once, with at most the small "Working on it…" as its
// payload (Slack drops acks of 20 KB or more); answers go through the
// response_url or chat.postMessage, as over HTTP. It returns when ctx
// ends (ctx.Err()) or when the connection cannot be made at all (a bad
// token).
func (in *Inbound) RunSocketMode(ctx context.Context, appToken string) error {
	if !strings.HasPrefix(appToken, "xapp-") {
		return errors.New("slack socket mode: the app-level token must start with xapp-")
	}
	c := in.client
	api := slackapi.New(c.cfg.Token,
		slackapi.OptionAppLevelToken(appToken),
		slackapi.OptionAPIURL(c.cfg.APIURL),
		slackapi.OptionHTTPClient(&http.Client{Timeout: c.cfg.CallTimeout}),
	)
	sm := socketmode.New(api,
		socketmode.OptionReadLimit(maxSocketMessage),
		socketmode.OptionLog(zap.NewStdLog(in.log)),
	)
	in.botUserID() // learn it now if it is still unknown

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sm.RunContext(runCtx) }()
	for {
		select {
		case <-ctx.Done():
			cancel()
			<-runErr
			return ctx.Err()
		case err := <-runErr:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("slack socket mode: %w", scrubURL(err))
		case evt := <-sm.Events:
			in.onSocketEvent(runCtx, sm, evt)
		}
	}
}

// onSocketEvent handles one event of the socketmode client. An envelope
// (a command, an event, a click) gets a request id and a span of its own,
// as an HTTP request would.
func (in *Inbound) onSocketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	now := time.Now()
	if evt.Request != nil {
		var span trace.Span
		ctx, span = telemetry.StartKind(telemetry.WithRequestID(ctx, bot.NewRequestID()),
			"slack socket_mode envelope", trace.SpanKindConsumer,
			attribute.String("slack.envelope.type", bot.Clip(string(evt.Type), 32)))
		defer span.End()
	}
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		in.log.Debug("socket mode connecting")
	case socketmode.EventTypeConnected:
		in.log.Info("socket mode connected")
	case socketmode.EventTypeConnectionError:
		var err error = errors.New("unknown")
		if e, ok := evt.Data.(*slackapi.ConnectionErrorEvent); ok {
			err = scrubURL(e.ErrorObj)
		}
		in.log.Warn("socket mode connection failed; retrying", zap.Error(err))
	case socketmode.EventTypeInvalidAuth:
		in.log.Error("socket mode: the app-level token was refused")
	case socketmode.EventTypeHello, socketmode.EventTypeDisconnect:
		in.log.Debug("socket mode", zap.String("event", string(evt.Type)))

	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slackapi.SlashCommand)
		if !ok {
			in.ack(ctx, sm, evt.Request, nil)
			return
		}
		in.ack(ctx, sm, evt.Request, in.onSocketSlashCommand(ctx, evt.Request, sc, now))

	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			in.ack(ctx, sm, evt.Request, nil)
			return
		}
		if err := in.onEvent(ctx, ev, now); err != nil {
			// Not acknowledged: Slack delivers it again.
			telemetry.Logger(ctx, in.log).Warn("event not handled; Slack will deliver it again", zap.Error(err))
			return
		}
		in.ack(ctx, sm, evt.Request, nil)

	case socketmode.EventTypeInteractive:
		in.ack(ctx, sm, evt.Request, nil)
		cb, ok := evt.Data.(slackapi.InteractionCallback)
		if !ok || !in.firstEnvelope(ctx, evt.Request, now) {
			return
		}
		in.onInteraction(ctx, &cb, now)

	case socketmode.EventTypeErrorBadMessage:
		// Acknowledge what can be, so Slack does not send it again.
		if e, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(e.Message, &env) == nil && env.EnvelopeID != "" {
				in.ack(ctx, sm, &socketmode.Request{EnvelopeID: env.EnvelopeID}, nil)
			}
			in.log.Info("socket mode envelope not understood", zap.Error(e.Cause))
		}
	default:
		in.log.Debug("socket mode event ignored", zap.String("event", string(evt.Type)))
	}
}

// onSocketSlashCommand starts a slash command that came over Socket Mode
// and returns the ack's payload.
func (in *Inbound) onSocketSlashCommand(ctx context.Context, req *socketmode.Request, sc slackapi.SlashCommand, now time.Time) any {
	if err := in.checkSlashCommand(sc); err != nil {
		telemetry.Logger(ctx, in.log).Info("slash command refused", zap.String("reason", err.Error()))
		return nil
	}
	if !in.firstEnvelope(ctx, req, now) {
		return nil
	}
	payload, err := in.onSlashCommand(ctx, sc, now)
	if err != nil {
		return map[string]string{"response_type": slackapi.ResponseTypeEphemeral, "text": "chatops is restarting; try again in a minute."}
	}
	return payload
}

// firstEnvelope reports whether an envelope is new: Slack redelivers one
// it thinks was not acknowledged. When the guard cannot tell, no.
func (in *Inbound) firstEnvelope(ctx context.Context, req *socketmode.Request, now time.Time) bool {
	if req == nil || req.EnvelopeID == "" {
		return false
	}
	first, err := in.guard.FirstSeen(ctx, "slack:envelope:"+guardKeyPart(req.EnvelopeID), now, now.Add(eventRetryWindow))
	if err != nil {
		in.log.Warn("replay guard unavailable: socket mode envelope dropped", zap.Error(err))
		return false
	}
	return first
}

// ack acknowledges an envelope. The socketmode client refuses a payload
// of 20 KB or more; ours are never close.
func (in *Inbound) ack(ctx context.Context, sm *socketmode.Client, req *socketmode.Request, payload any) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		in.log.Warn("socket mode ack not sent", zap.String("envelope_id", req.EnvelopeID), zap.Error(err))
	}
}

// Assert the answer paths implement the router's Responder.
var (
	_ bot.Responder = (*webhookResponder)(nil)
	_ bot.Responder = (*threadResponder)(nil)
)
