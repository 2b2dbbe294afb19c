package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// Both ways a command reaches the bot (HTTP and Socket Mode) build it
// here, so they cannot drift apart.

// slackID is what Slack's user, channel and team ids look like.
var slackID = regexp.MustCompile(`^[A-Z0-9]{2,32}$`)

// slackTSPattern is a message ts: "1700000000.000100".
var slackTSPattern = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,8}$`)

// leadingMention is a user mention at the start of a message.
var leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]{2,32}(\|[^>]*)?>`)

// textUnescaper undoes Slack's escaping of what a person typed.
var textUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

var errNotACommand = errors.New("not a command for this bot")

// checkSlashCommand validates what the command's answer depends on.
func (in *Inbound) checkSlashCommand(s slackapi.SlashCommand) error {
	switch {
	case !slackID.MatchString(s.UserID):
		return errors.New("slash command: bad user_id")
	case !slackID.MatchString(s.ChannelID):
		return errors.New("slash command: bad channel_id")
	case !in.responseURLAllowed(s.ResponseURL):
		return errors.New("slash command: response_url is not a Slack URL")
	}
	return nil
}

// slashCommand turns a verified slash command into a bot.Command: Text is
// what followed the command root ("/ops logs x" → "logs x").
func slashCommand(s slackapi.SlashCommand, now time.Time) bot.Command {
	return bot.Command{
		Platform:   platform,
		User:       bot.Identity{Platform: platform, UserID: s.UserID, Name: s.UserName},
		Channel:    s.ChannelID,
		Text:       textUnescaper.Replace(strings.TrimSpace(s.Text)),
		ReceivedAt: now,
	}
}

// mentionCommand turns an app mention ("<@BOT> logs orders-service") into
// a bot.Command: the text after the bot's mention (after a leading
// mention when the bot's id is not known yet), an optional "/root"
// dropped. Thread is the thread the mention was typed in ("" outside
// one). A mention by a bot, an edited mention or one without a person or
// a channel is no command (errNotACommand).
func mentionCommand(ev *slackevents.AppMentionEvent, botUserID, root string, now time.Time) (bot.Command, error) {
	switch {
	case ev.BotID != "" || ev.Edited != nil:
		return bot.Command{}, errNotACommand
	case !slackID.MatchString(ev.User) || !slackID.MatchString(ev.Channel) || !slackTSPattern.MatchString(ev.TimeStamp):
		return bot.Command{}, errNotACommand
	case botUserID != "" && ev.User == botUserID:
		return bot.Command{}, errNotACommand
	case ev.ThreadTimeStamp != "" && !slackTSPattern.MatchString(ev.ThreadTimeStamp):
		return bot.Command{}, errNotACommand
	}
	text := ev.Text
	cut := false
	if botUserID != "" {
		if i := strings.Index(text, "<@"+botUserID); i >= 0 {
			if j := strings.IndexByte(text[i:], '>'); j >= 0 {
				text, cut = text[i+j+1:], true
			}
		}
	}
	if !cut {
		text = leadingMention.ReplaceAllString(text, "")
	}
	text = strings.TrimSpace(text)
	if rest, ok := strings.CutPrefix(text, "/"+root); ok && (rest == "" || rest[0] == ' ') {
		text = strings.TrimSpace(rest)
	}
	return bot.Command{
		Platform:   platform,
		User:       bot.Identity{Platform: platform, UserID: ev.User},
		Channel:    ev.Channel,
		Thread:     ev.ThreadTimeStamp,
		Text:       textUnescaper.Replace(text),
		ReceivedAt: now,
	}, nil
}

// replyThread is where the answer to a mention goes: its thread, or a new
// thread under the mention itself.
func replyThread(ev *slackevents.AppMentionEvent) string {
	if ev.ThreadTimeStamp != "" {
		return ev.ThreadTimeStamp
	}
	return ev.TimeStamp
}

// eventKey is the replay guard's key for an event: its id (the same in
// every retry, which Slack signs afresh), or where it was typed when
// Slack sent none. The forms cannot collide: a key part never holds ":",
// the fallback always does. Ids are case-sensitive, so they are not
// folded; the channel and ts were checked by mentionCommand.
func eventKey(eventID string, ev *slackevents.AppMentionEvent) string {
	if eventID != "" {
		return "slack:event:" + guardKeyPart(eventID)
	}
	return "slack:event:" + ev.Channel + ":" + ev.TimeStamp
}

// maxGuardKeyPart bounds an id used verbatim in a replay-guard key. The
// key is a primary key: PostgreSQL cannot index one over about 2.7 KB,
// so a huge id would fail every delivery (and Slack retry it).
const maxGuardKeyPart = 64

// plainKeyPart is an id that may go into a key as it is: Slack's event
// and envelope ids are letters, digits and dashes.
var plainKeyPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// guardKeyPart is id as a replay-guard key part: itself when it is short
// and plain, else "#" and its SHA-256 in hex ("#" is never in a plain
// part, so the forms do not collide).
func guardKeyPart(id string) string {
	if len(id) <= maxGuardKeyPart && plainKeyPart.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "#" + hex.EncodeToString(sum[:])
}

// onMention answers an app mention once, however often Slack delivers it.
// It returns an error only when the replay guard cannot tell (so an HTTP
// delivery is refused and Slack tries again).
func (in *Inbound) onMention(ctx context.Context, eventID string, ev *slackevents.AppMentionEvent, now time.Time) error {
	cmd, err := mentionCommand(ev, in.botUserID(), in.router.Root(), now)
	if err != nil {
		in.log.Debug("app mention ignored", zap.String("reason", err.Error()))
		return nil
	}
	first, err := in.guard.FirstSeen(ctx, eventKey(eventID, ev), now, now.Add(eventRetryWindow))
	if err != nil {
		return err
	}
	if !first {
		in.log.Debug("app mention already answered (a retry)", zap.String("event_id", eventID))
		return nil
	}
	in.dispatch(ctx, cmd, &threadResponder{
		in:       in,
		channel:  ev.Channel,
		thread:   replyThread(ev),
		user:     ev.User,
		fileBase: fileBase(cmd.Text),
	})
	return nil
}
