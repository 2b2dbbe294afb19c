package discord

import (
	"context"
	"fmt"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

var _ bot.CardPoster = (*Client)(nil)

// PostCard posts m as a message of its own (an approval card) in channel,
// or in the thread channel thread when it is not "", rendered as a thread
// reply is (renderReply), buttons included, through the same limits as
// every other call. Posting in an archived thread unarchives it. The ref
// names where the card is: its Channel is the thread when in one (that is
// where Discord keeps the message, and where EditCard must address it),
// RootID the card's message id, ThreadID the thread or "".
func (c *Client) PostCard(ctx context.Context, channel, thread string, m bot.Message) (bot.ThreadRef, error) {
	target := channel
	if thread != "" {
		target = thread
	}
	if !isSnowflake(target) {
		return bot.ThreadRef{}, bot.Permanent(fmt.Errorf("discord: post card: channel %q, thread %q: not a channel id", channel, thread))
	}
	r := c.render(renderReply(m), target)
	var msg *discordgo.Message
	err := c.call(ctx, "create_message", discordgo.EndpointChannelMessages(target), "post card in channel "+target,
		func(opts ...discordgo.RequestOption) (err error) {
			msg, err = c.s.ChannelMessageSendComplex(target, r.send(), opts...)
			return err
		})
	if err != nil {
		return bot.ThreadRef{}, err
	}
	if msg == nil || msg.ID == "" {
		return bot.ThreadRef{}, fmt.Errorf("discord: post card in channel %s: answer without a message id", target)
	}
	c.log.Debug("posted card", zap.String("channel", target), zap.String("message", msg.ID))
	return bot.ThreadRef{Channel: target, RootID: msg.ID, ThreadID: thread}, nil
}

// EditCard replaces the card at ref with m: its text, its facts and its
// buttons, so a card whose request is closed (m without Buttons) loses
// them.
func (c *Client) EditCard(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	if !isSnowflake(ref.Channel) || !isSnowflake(ref.RootID) {
		return bot.Permanent(fmt.Errorf("discord: edit card: ref %+v has no channel or message id", ref))
	}
	r := c.render(renderReply(m), ref.Channel)
	return c.call(ctx, "edit_message", discordgo.EndpointChannelMessage(ref.Channel, ""),
		"edit card "+ref.RootID+" in channel "+ref.Channel,
		func(opts ...discordgo.RequestOption) error {
			_, err := c.s.ChannelMessageEditComplex(r.edit(ref.Channel, ref.RootID), opts...)
			return err
		})
}
