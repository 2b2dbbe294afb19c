package slackstandin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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

// BlockAction is a person clicking a button in a message. Build one from
// a message the bot posted with Message.Click.
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

// SignedBlockAction is a's click as Slack posts it to the interactivity
// URL: the form body (payload=<block_actions JSON>) and its headers, signed
// with secret at at. An empty a.ResponseURL gets a fresh one on this
// server. Tests that spoil or replay a click start from it.
func (s *Server) SignedBlockAction(secret string, at time.Time, a *BlockAction) (body []byte, header http.Header) {
	body = []byte(s.BlockActionForm(a).Encode())
	return body, Sign(secret, at, body)
}

// clickTimeout bounds SendBlockAction's request: Slack gives up on an
// interaction that is not acknowledged within 3 seconds.
const clickTimeout = 3 * time.Second

// SendBlockAction plays a person clicking a button, as Slack delivers it:
// it signs a with secret now and posts it to interactionsURL (the bot's
// POST /slack/interactions, a full URL), and returns the bot's HTTP status
// (200 once the click is acknowledged, 401 for a bad signature or a
// replay). The bot answers through a.ResponseURL, which is filled when
// empty: read its answers with Responses(a.ResponseURL) after Wait.
//
//	card := srv.Replies(channel, rootTS)[0]
//	click := card.Click("U0BOB", "bob", card.ActionIDs()[0])
//	status, err := srv.SendBlockAction(ctx, botURL+"/slack/interactions", secret, click)
func (s *Server) SendBlockAction(ctx context.Context, interactionsURL, secret string, a *BlockAction) (int, error) {
	body, header := s.SignedBlockAction(secret, time.Now(), a)
	ctx, cancel := context.WithTimeout(ctx, clickTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, interactionsURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("slack stand-in: click: %w", err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("slack stand-in: click: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// Button is a button of a message the bot posted, as its blocks (or its
// attachments' blocks) hold it.
type Button struct {
	ActionID, BlockID, Value, Text string
	// Style is "danger", "primary" or "" (default).
	Style string
}

// Buttons lists the message's buttons in order: those of its top-level
// blocks, then those in its attachments. A card whose request is closed
// has none.
func (m Message) Buttons() []Button {
	var out []Button
	collect := func(raw json.RawMessage) {
		// Elements are decoded one by one only in actions blocks: other
		// blocks' elements differ in shape (a context element's text is a
		// string, a button's an object).
		var blocks []struct {
			Type     string            `json:"type"`
			BlockID  string            `json:"block_id"`
			Elements []json.RawMessage `json:"elements"`
		}
		if json.Unmarshal(raw, &blocks) != nil {
			return
		}
		for _, b := range blocks {
			if b.Type != "actions" {
				continue
			}
			for _, el := range b.Elements {
				var e struct {
					Type     string `json:"type"`
					ActionID string `json:"action_id"`
					Value    string `json:"value"`
					Style    string `json:"style"`
					Text     struct {
						Text string `json:"text"`
					} `json:"text"`
				}
				if json.Unmarshal(el, &e) == nil && e.Type == "button" {
					out = append(out, Button{ActionID: e.ActionID, BlockID: b.BlockID, Value: e.Value, Text: e.Text.Text, Style: e.Style})
				}
			}
		}
	}
	collect(m.Blocks)
	var atts []struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	if json.Unmarshal(m.Attachments, &atts) == nil {
		for _, a := range atts {
			collect(a.Blocks)
		}
	}
	return out
}

// ActionIDs are the action_ids of the message's buttons, in order.
func (m Message) ActionIDs() []string {
	var ids []string
	for _, b := range m.Buttons() {
		ids = append(ids, b.ActionID)
	}
	return ids
}

// Click is user (id and name) clicking the button actionID of m, as a
// BlockAction for SendBlockAction: the channel, the message's ts, its
// thread and the button's block and value are taken from m. A button m
// does not have is clicked all the same (with no block id), so a test can
// play a forged click.
func (m Message) Click(user, userName, actionID string) *BlockAction {
	a := &BlockAction{User: user, UserName: userName, Channel: m.Channel, MessageTS: m.TS, ThreadTS: m.ThreadTS, ActionID: actionID}
	for _, b := range m.Buttons() {
		if b.ActionID == actionID {
			a.BlockID, a.Value = b.BlockID, b.Value
			break
		}
	}
	return a
}
