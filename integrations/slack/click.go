package slack

import (
	"context"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// notAvailable answers a click while no bot.ClickHandler is configured.
var notAvailable = bot.Answer{Title: "Buttons are not available.", Private: true}

// onInteraction acts on a verified interaction payload (HTTP or Socket
// Mode): a button click (block_actions) becomes a bot.Click for the
// configured bot.ClickHandler; other kinds (shortcuts, modals) are not
// used by chatops and are only acknowledged. A click that does not say
// who clicked, on which message, or where to answer is dropped: without
// those nothing could be checked or answered.
//
// Identity.Groups stays empty: Slack does not send a person's user groups
// with a click, and the bot asks Groups (a bot.GroupLookup) when it needs
// them.
func (in *Inbound) onInteraction(ctx context.Context, cb *slackapi.InteractionCallback, now time.Time) {
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
	switch {
	case !slackID.MatchString(channel):
		in.log.Info("interaction refused: no channel")
		return
	case !slackTSPattern.MatchString(cb.Container.MessageTs):
		in.log.Info("interaction refused: not a click on a message")
		return
	case ba.ActionID == "" || len(ba.ActionID) > maxActionID:
		in.log.Info("interaction refused: no usable action_id")
		return
	}
	click := bot.Click{
		User:       bot.Identity{Platform: platform, UserID: cb.User.ID, Name: cb.User.Name},
		Platform:   platform,
		Channel:    channel,
		Thread:     thread,
		MessageID:  cb.Container.MessageTs,
		ButtonID:   ba.ActionID,
		Value:      ba.Value,
		ReceivedAt: now,
	}
	resp := &webhookResponder{in: in, url: cb.ResponseURL, channel: channel, thread: thread, fileBase: fileBase(ba.ActionID)}
	handler := in.cfg.Clicks
	started := in.goRun(ctx, func(ctx context.Context) {
		if handler == nil {
			if err := resp.Respond(ctx, notAvailable); err != nil {
				in.log.Warn("button answer not delivered", zap.Error(err))
			}
			return
		}
		click.User = in.named(ctx, click.User)
		handler.HandleClick(ctx, click, resp)
	})
	if !started {
		in.log.Info("click dropped: shutting down", zap.String("channel", channel), zap.String("button", ba.ActionID))
	}
}
