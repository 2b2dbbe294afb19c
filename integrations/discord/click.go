package discord

import (
	"context"
	"errors"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

// Answers to a click that cannot be acted on; only the clicker sees them.
const (
	clickUnreadable    = "That button could not be read."
	clickOnlyButtons   = "Only buttons are understood here."
	clicksNotAvailable = "Buttons are not available."
)

// toClick normalizes a message component interaction into a bot.Click:
// who clicked (member roles as groups), where (a thread's parent channel,
// and the thread, as for commands), on which message, which button. Only
// buttons are accepted, and only with a custom_id chatops could have
// rendered (1 to 100 bytes): anything else is not one of its buttons.
func toClick(ix *discordgo.Interaction, ch interactionChannel, now time.Time) (bot.Click, error) {
	data, ok := ix.Data.(discordgo.MessageComponentInteractionData)
	if !ok {
		return bot.Click{}, unreadable(clickUnreadable)
	}
	if data.ComponentType != discordgo.ButtonComponent {
		return bot.Click{}, unreadable(clickOnlyButtons)
	}
	if data.CustomID == "" || len(data.CustomID) > maxCustomID {
		return bot.Click{}, unreadable(clickUnreadable)
	}
	if ix.Message == nil || !isSnowflake(ix.Message.ID) {
		return bot.Click{}, unreadable(clickUnreadable)
	}
	id := identity(ix)
	if id.UserID == "" {
		return bot.Click{}, unreadable("The interaction does not say who you are.")
	}
	channel, thread := where(ix, ch)
	if channel == "" {
		return bot.Click{}, unreadable("The interaction does not say where it was used.")
	}
	return bot.Click{
		User:       id,
		Platform:   Platform,
		Channel:    channel,
		Thread:     thread,
		MessageID:  ix.Message.ID,
		ButtonID:   data.CustomID,
		ReceivedAt: now,
	}, nil
}

// click acknowledges a button click with an ephemeral deferral within
// Discord's 3 s, then hands it to the ClickHandler in a goroutine held by
// the in-flight holder, as a command is run: the handler answers through
// the responder (an edit of the deferral, or a follow-up). A click that
// cannot be read, or with no handler configured, is answered privately at
// once and goes no further.
func (in *Inbound) click(ctx context.Context, ix *discordgo.Interaction, ch interactionChannel, rest *interactionREST, ack ackFunc, overHTTP bool, log *zap.Logger) {
	now := in.now()
	c, err := toClick(ix, ch, now)
	if err != nil {
		var ue *errUnreadable
		msg := clickUnreadable
		if errors.As(err, &ue) {
			msg = ue.msg
		}
		log.Info("click refused", zap.String("reason", msg))
		if err := ack(privateMessage(msg)); err != nil {
			log.Warn("answer not delivered", zap.Error(err))
		}
		return
	}
	handler := in.cfg.Clicks
	if handler == nil {
		if err := ack(privateMessage(clicksNotAvailable)); err != nil {
			log.Warn("answer not delivered", zap.Error(err))
		}
		return
	}
	log = log.With(zap.String("user", c.User.UserID), zap.String("channel", c.Channel), zap.String("message", c.MessageID), zap.String("button", c.ButtonID))
	// Ephemeral: whatever the handler answers to the clicker is theirs
	// alone; what the channel should see goes on the card (EditCard) or
	// as a public answer, which the responder sends as a follow-up.
	in.deferAndRun(ctx, ack, rest, true, overHTTP, "button", now, log,
		func(ctx context.Context, resp *responder) { handler.HandleClick(ctx, c, resp) })
}
