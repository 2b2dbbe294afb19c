package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

var _ bot.CardPoster = (*Client)(nil)

// PostCard posts m as a message of its own (an approval card) in channel,
// inside the thread whose root is thread when thread is not "". It is
// rendered as a thread reply is (renderReply), buttons included, and
// shares the channel's post budget with the incident threads. The ref's
// RootID is the card's ts, its ThreadID the thread ("" outside one).
func (c *Client) PostCard(ctx context.Context, channel, thread string, m bot.Message) (bot.ThreadRef, error) {
	if channel == "" {
		return bot.ThreadRef{}, bot.Permanent(fmt.Errorf("slack %s: card without a channel", methodPostMessage))
	}
	if thread != "" && !slackTSPattern.MatchString(thread) {
		return bot.ThreadRef{}, bot.Permanent(fmt.Errorf("slack %s: card thread %q is not a message ts", methodPostMessage, thread))
	}
	if err := c.hold(ctx, c.channel(channel)); err != nil {
		return bot.ThreadRef{}, err
	}
	opts := renderReply(m).options()
	if thread != "" {
		opts = append(opts, slackapi.MsgOptionTS(thread))
	}
	var gotChannel, ts string
	err := c.call(ctx, methodPostMessage, channel, c.channel(channel), func(ctx context.Context) (err error) {
		gotChannel, ts, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return bot.ThreadRef{}, fmt.Errorf("post card: %w", err)
	}
	if gotChannel == "" {
		gotChannel = channel
	}
	if gotChannel != channel {
		c.alias(channel, gotChannel)
	}
	c.log.Debug("posted card", zap.String("channel", gotChannel), zap.String("ts", ts), zap.String("thread", thread))
	return bot.ThreadRef{Channel: gotChannel, RootID: ts, ThreadID: thread}, nil
}

// EditCard replaces the card at ref with m: its text, its facts and its
// buttons, so a card whose request is closed (m without Buttons) loses
// them. The attachments are always sent, empty when m has none, because
// chat.update keeps the attachments of a message when the field is left
// out.
func (c *Client) EditCard(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	if ref.Channel == "" || !slackTSPattern.MatchString(ref.RootID) {
		return bot.Permanent(fmt.Errorf("slack %s: card ref %+v has no channel or message ts", methodUpdate, ref))
	}
	if err := c.hold(ctx, c.update); err != nil {
		return err
	}
	p := renderReply(m)
	opts := p.options()
	if len(p.attachments) == 0 {
		opts = append(opts, slackapi.MsgOptionAttachments([]slackapi.Attachment{}...))
	}
	err := c.call(ctx, methodUpdate, ref.Channel, c.update, func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, ref.Channel, ref.RootID, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("edit card %s: %w", ref.RootID, err)
	}
	return nil
}
