package slackstandin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// Who the stand-in's workspace is, as inbound requests name it.
const (
	// BotUserID is the bot's user id: auth.test answers it, and app
	// mentions mention it.
	BotUserID = botUserID
	// TeamID is the workspace id inbound requests carry.
	TeamID = teamID
	// AppID is the app id inbound requests and the Socket Mode hello carry.
	AppID = "A0CHATOPS"
)

// Sign returns the headers Slack sends with body, signed with secret at
// ts (v0: HMAC-SHA256 over "v0:<ts>:<body>"), and a form content type.
// Set Content-Type yourself for a JSON body.
func Sign(secret string, ts time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", stamp)
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}

// SlashCommandForm is the form Slack posts for cmd. Empty fields get the
// stand-in's values: command "/ops", the workspace and app ids, a trigger
// id, and a fresh response_url on this server (read it back with
// form.Get("response_url")).
func (s *Server) SlashCommandForm(cmd slack.SlashCommand) url.Values {
	s.fillSlashCommand(&cmd)
	return url.Values{
		"token":        {"legacy-verification-token"},
		"team_id":      {cmd.TeamID},
		"team_domain":  {cmd.TeamDomain},
		"channel_id":   {cmd.ChannelID},
		"channel_name": {cmd.ChannelName},
		"user_id":      {cmd.UserID},
		"user_name":    {cmd.UserName},
		"command":      {cmd.Command},
		"text":         {cmd.Text},
		"response_url": {cmd.ResponseURL},
		"trigger_id":   {cmd.TriggerID},
		"api_app_id":   {cmd.APIAppID},
	}
}

func (s *Server) fillSlashCommand(cmd *slack.SlashCommand) {
	if cmd.Command == "" {
		cmd.Command = "/ops"
	}
	if cmd.TeamID == "" {
		cmd.TeamID, cmd.TeamDomain = teamID, "stand-in"
	}
	if cmd.APIAppID == "" {
		cmd.APIAppID = AppID
	}
	if cmd.ResponseURL == "" {
		cmd.ResponseURL = s.NewResponseURL()
	}
	if cmd.TriggerID == "" {
		s.mu.Lock()
		cmd.TriggerID = s.newID("trigger-")
		s.mu.Unlock()
	}
}

// AppMention is a person mentioning the bot in a channel or a thread.
type AppMention struct {
	Channel string
	User    string
	// Text is the message as typed, "<@U0CHATOPS> logs orders-service";
	// Slack escapes &, < and > in what the person typed, so give them
	// escaped ("&lt;") as Slack would.
	Text string
	// ThreadTS is the thread's root ts, "" for a message in the channel.
	ThreadTS string
	// EventID is the event's id (default: a fresh one). A retry carries
	// the same id.
	EventID string
	// BotID is set when another bot mentions ours.
	BotID string
}

// MentionEvent is an app mention as Slack delivers it: the Events API
// callback body, its event id, and the ts of the mentioning message.
type MentionEvent struct {
	Body    []byte
	EventID string
	TS      string
}

// AppMentionEvent records m as the person's message in the channel (so an
// answer can thread under it) and returns the event_callback Slack would
// send for it, for the HTTP events endpoint or PushEvent.
func (s *Server) AppMentionEvent(m AppMention) MentionEvent {
	s.mu.Lock()
	msg := &Message{Channel: m.Channel, TS: s.nextTS(), ThreadTS: m.ThreadTS, User: m.User, Text: m.Text, PostedAt: time.Now()}
	s.messages[m.Channel] = append(s.messages[m.Channel], msg)
	if m.EventID == "" {
		m.EventID = s.newID("Ev")
	}
	s.notify()
	s.mu.Unlock()

	inner := map[string]any{
		"type":     "app_mention",
		"user":     m.User,
		"text":     m.Text,
		"ts":       msg.TS,
		"channel":  m.Channel,
		"event_ts": msg.TS,
	}
	if m.ThreadTS != "" {
		inner["thread_ts"] = m.ThreadTS
	}
	if m.BotID != "" {
		inner["bot_id"] = m.BotID
	}
	body, _ := json.Marshal(map[string]any{
		"token":        "legacy-verification-token",
		"team_id":      teamID,
		"api_app_id":   AppID,
		"type":         "event_callback",
		"event_id":     m.EventID,
		"event_time":   time.Now().Unix(),
		"event":        inner,
		"authed_users": []string{botUserID},
	})
	return MentionEvent{Body: body, EventID: m.EventID, TS: msg.TS}
}

// AddUserMessage records a person's message, as if they had typed it.
func (s *Server) AddUserMessage(channel, user, text, threadTS string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Channel: channel, TS: s.nextTS(), ThreadTS: threadTS, User: user, Text: text, PostedAt: time.Now()}
	s.messages[channel] = append(s.messages[channel], m)
	s.notify()
	return m.clone()
}

// URLVerificationBody is the challenge Slack sends when the events URL is
// configured.
func URLVerificationBody(challenge string) []byte {
	b, _ := json.Marshal(map[string]string{"token": "legacy-verification-token", "type": "url_verification", "challenge": challenge})
	return b
}

// BlockAction is a person clicking a button in a message.
type BlockAction struct {
	User, UserName string
	Channel        string
	// MessageTS is the message holding the button; ThreadTS its thread.
	MessageTS, ThreadTS string
	ActionID, BlockID   string
	Value               string
	// ResponseURL defaults to a fresh one on this server.
	ResponseURL string
}

// BlockActionPayload is the interaction payload (JSON) Slack sends for a,
// filling an empty ResponseURL in a.
func (s *Server) BlockActionPayload(a *BlockAction) []byte {
	if a.ResponseURL == "" {
		a.ResponseURL = s.NewResponseURL()
	}
	s.mu.Lock()
	trigger := s.newID("trigger-")
	s.mu.Unlock()
	now := strconv.FormatInt(time.Now().Unix(), 10) + ".000100"
	container := map[string]any{"type": "message", "message_ts": a.MessageTS, "channel_id": a.Channel, "is_ephemeral": false}
	if a.ThreadTS != "" {
		container["thread_ts"] = a.ThreadTS
	}
	b, _ := json.Marshal(map[string]any{
		"type":         "block_actions",
		"team":         map[string]string{"id": teamID, "domain": "stand-in"},
		"user":         map[string]string{"id": a.User, "username": a.UserName, "name": a.UserName, "team_id": teamID},
		"api_app_id":   AppID,
		"token":        "legacy-verification-token",
		"container":    container,
		"trigger_id":   trigger,
		"channel":      map[string]string{"id": a.Channel, "name": "incidents"},
		"message":      map[string]string{"type": "message", "ts": a.MessageTS, "thread_ts": a.ThreadTS},
		"response_url": a.ResponseURL,
		"actions": []map[string]any{{
			"type":      "button",
			"action_id": a.ActionID,
			"block_id":  a.BlockID,
			"value":     a.Value,
			"action_ts": now,
			"text":      map[string]any{"type": "plain_text", "text": a.ActionID, "emoji": true},
		}},
	})
	return b
}

// BlockActionForm is the form Slack posts to the interactivity URL for a.
func (s *Server) BlockActionForm(a *BlockAction) url.Values {
	return url.Values{"payload": {string(s.BlockActionPayload(a))}}
}
