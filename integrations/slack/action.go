package slack

import (
	"context"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// Action is a button click (block_actions), verified.
type Action struct {
	User bot.Identity
	// Channel holds the message with the button; Thread is its thread's
	// root ts ("" outside a thread); MessageTS the message itself.
	Channel, Thread, MessageTS string
	// ActionID is the button's id (bot.Button.ID); Value its value.
	ActionID, BlockID, Value string
	ReceivedAt               time.Time
}

// ActionHandler acts on button clicks (approvals will). It runs after the
// click was acknowledged, under a context that ends on shutdown, and
// answers through resp (ephemeral when the Answer is Private).
type ActionHandler interface {
	HandleAction(ctx context.Context, a Action, resp bot.Responder)
}

// notAvailable answers a click while no ActionHandler is configured.
var notAvailable = bot.Answer{Title: "Buttons are not available yet.", Private: true}

// onInteraction acts on a verified interaction payload: block_actions go
// to the ActionHandler; other kinds (shortcuts, modals) are not used by
// chatops and are only acknowledged.
func (in *Inbound) onInteraction(cb *slackapi.InteractionCallback, now time.Time) {
	if cb.Type != slackapi.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		in.log.Debug("interaction ignored", zap.String("type", string(cb.Type)))
		return
	}
	if !slackID.MatchString(cb.User.ID) || !in.responseURLAllowed(cb.ResponseURL) {
		in.log.Info("interaction refused: no user or no Slack response_url")
		return
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	thread := cb.Container.ThreadTs
	if thread != "" && !slackTSPattern.MatchString(thread) {
		thread = ""
	}
	ba := cb.ActionCallback.BlockActions[0]
	act := Action{
		User:       bot.Identity{Platform: platform, UserID: cb.User.ID, Name: cb.User.Name},
		Channel:    channel,
		Thread:     thread,
		MessageTS:  cb.Container.MessageTs,
		ActionID:   ba.ActionID,
		BlockID:    ba.BlockID,
		Value:      ba.Value,
		ReceivedAt: now,
	}
	resp := &webhookResponder{in: in, url: cb.ResponseURL, channel: channel, thread: thread, fileBase: fileBase(ba.ActionID)}
	handler := in.cfg.Actions
	in.goRun(func(ctx context.Context) {
		if handler == nil {
			if err := resp.Respond(ctx, notAvailable); err != nil {
				in.log.Warn("button answer not delivered", zap.Error(err))
			}
			return
		}
		handler.HandleAction(ctx, act, resp)
	})
}
