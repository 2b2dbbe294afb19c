package discordstandin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// TestKey is an Ed25519 key for tests, fixed so that runs repeat: sign
// interactions with it (SignInteraction, SendClick) and give the bot its
// public half (TestPublicKeyHex, as the developer portal shows it).
var TestKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x5a}, ed25519.SeedSize))

// TestPublicKeyHex is TestKey's public key in hex, for the bot's
// configuration (discord.ParsePublicKey reads it).
var TestPublicKeyHex = hex.EncodeToString(TestKey.Public().(ed25519.PublicKey))

// SignInteraction returns the headers Discord sends with an HTTP
// interaction: X-Signature-Ed25519 over timestamp + body, signed with key
// at at, and the JSON content type.
func SignInteraction(key ed25519.PrivateKey, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	return http.Header{
		"Content-Type":          {"application/json"},
		"X-Signature-Ed25519":   {hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...)))},
		"X-Signature-Timestamp": {ts},
	}
}

// ComponentButton is the component_type of a button, the only component
// chatops renders; ComponentStringSelect is a select menu, for tests of
// what the bot refuses.
const (
	ComponentButton       = 2
	ComponentStringSelect = 3
)

// Click is a person clicking a button of a message the bot posted, as
// Discord sends it to the bot (a message component interaction, type 3).
// Build one from a message the stand-in holds with Message.Click.
type Click struct {
	// AppID is the application the interaction is for; GuildID the guild
	// (defaults: DefaultAppID, DefaultGuildID).
	AppID, GuildID string
	// Channel is where the message is: a channel, or a thread id when
	// Parent is set (the thread's channel).
	Channel, Parent string
	// User is who clicked, with their name and guild role ids (which the
	// bot reads as groups).
	User, UserName string
	Roles          []string
	// Nick is the member's nickname in the guild ("" for none);
	// GlobalName the name they chose for all of Discord (default:
	// UserName).
	Nick, GlobalName string
	// MessageID is the clicked message; CustomID the button's custom_id.
	MessageID, CustomID string
	// ComponentType defaults to ComponentButton.
	ComponentType int
}

// Defaults of a Click.
const (
	DefaultAppID   = "1300000000000000003"
	DefaultGuildID = "1400000000000000004"
)

// ClickInteraction makes the stand-in expect c's interaction (as
// NewInteraction does, so the bot's responses to it are recorded under
// its id) and returns its id, token and JSON body, unsigned.
func (s *Server) ClickInteraction(c Click) (id, token string, body []byte) {
	if c.AppID == "" {
		c.AppID = DefaultAppID
	}
	if c.GuildID == "" {
		c.GuildID = DefaultGuildID
	}
	if c.ComponentType == 0 {
		c.ComponentType = ComponentButton
	}
	if c.Roles == nil {
		c.Roles = []string{}
	}
	if c.GlobalName == "" {
		c.GlobalName = c.UserName
	}
	var nick any // Discord sends null for a member without a nickname
	if c.Nick != "" {
		nick = c.Nick
	}
	id, token = s.NewInteraction(c.AppID, c.Channel)
	ch := map[string]any{"id": c.Channel, "type": 0, "name": "ops"}
	if c.Parent != "" {
		ch = map[string]any{"id": c.Channel, "type": 11, "name": "incident thread", "parent_id": c.Parent}
	}
	body, _ = json.Marshal(map[string]any{
		"id": id, "application_id": c.AppID, "type": 3, "token": token, "version": 1,
		"guild_id": c.GuildID, "channel_id": c.Channel, "channel": ch,
		"member": map[string]any{
			"user":  map[string]any{"id": c.User, "username": c.UserName, "global_name": c.GlobalName},
			"roles": c.Roles,
			"nick":  nick,
		},
		"message": map[string]any{"id": c.MessageID, "channel_id": c.Channel, "type": 0, "author": map[string]any{"id": BotUserID}},
		"data":    map[string]any{"custom_id": c.CustomID, "component_type": c.ComponentType},
		"locale":  "en-US",
	})
	return id, token, body
}

// ClickResult is what SendClick saw.
type ClickResult struct {
	// ID is the interaction's id: Interaction(ID) shows the bot's
	// acknowledgement and its answers (edits of the deferral, follow-ups).
	ID string
	// Status and Body are the bot's HTTP answer: 200 and the initial
	// response (a deferral, type 5, ephemeral) for a click it takes; 401
	// for a bad signature, a stale timestamp or a replay.
	Status int
	Body   []byte
}

// clickTimeout bounds SendClick's request: Discord gives up on an
// interaction that is not answered within 3 seconds.
const clickTimeout = AckWindow

// SendClick plays Discord delivering c to the bot's HTTP interactions
// endpoint (a full URL, the bot's POST /discord/interactions): it signs the
// interaction with key now, posts it, and hands a 200 answer to this
// stand-in's callback route, as Discord takes the initial response from
// the HTTP answer; the bot's later answers (edits, follow-ups) then land
// here too. Wait for them through Interaction(result.ID).
//
//	card := srv.Messages(threadID)[0]
//	click := card.Click("1600000000000000006", "ana", []string{roleID}, card.CustomIDs()[0])
//	click.Parent = channelID // the card is in a thread of channelID
//	res, err := srv.SendClick(ctx, botURL+"/discord/interactions", discordstandin.TestKey, click)
func (s *Server) SendClick(ctx context.Context, endpoint string, key ed25519.PrivateKey, c Click) (ClickResult, error) {
	id, token, body := s.ClickInteraction(c)
	res := ClickResult{ID: id}
	ctx, cancel := context.WithTimeout(ctx, clickTimeout)
	defer cancel()
	status, answer, err := postJSON(ctx, endpoint, SignInteraction(key, time.Now(), body), body)
	if err != nil {
		return res, fmt.Errorf("discord stand-in: click: %w", err)
	}
	res.Status, res.Body = status, answer
	if status != http.StatusOK {
		return res, nil
	}
	callback := s.URL() + "interactions/" + id + "/" + token + "/callback"
	cbStatus, cbBody, err := postJSON(ctx, callback, http.Header{"Content-Type": {"application/json"}}, answer)
	if err != nil {
		return res, fmt.Errorf("discord stand-in: click: deliver the acknowledgement: %w", err)
	}
	if cbStatus != http.StatusNoContent {
		return res, fmt.Errorf("discord stand-in: click: acknowledgement %s refused: HTTP %d %s", answer, cbStatus, cbBody)
	}
	return res, nil
}

// maxAnswer bounds what postJSON reads of an answer.
const maxAnswer = 1 << 20

func postJSON(ctx context.Context, url string, h http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, out, err
}

// Button is a button of a message the stand-in holds.
type Button struct {
	CustomID, Label string
	// Style is Discord's: 1 primary, 2 secondary, 3 success, 4 danger.
	Style int
}

// Buttons lists the message's buttons, row by row; a card whose request
// is closed has none.
func (m Message) Buttons() []Button {
	var rows []struct {
		Components []struct {
			Type     int    `json:"type"`
			CustomID string `json:"custom_id"`
			Label    string `json:"label"`
			Style    int    `json:"style"`
		} `json:"components"`
	}
	if json.Unmarshal(m.Components, &rows) != nil {
		return nil
	}
	var out []Button
	for _, r := range rows {
		for _, c := range r.Components {
			if c.Type == ComponentButton {
				out = append(out, Button{CustomID: c.CustomID, Label: c.Label, Style: c.Style})
			}
		}
	}
	return out
}

// CustomIDs are the custom_ids of the message's buttons, in order.
func (m Message) CustomIDs() []string {
	var ids []string
	for _, b := range m.Buttons() {
		ids = append(ids, b.CustomID)
	}
	return ids
}

// Click is user (id, name, guild role ids) clicking the button customID
// of m, in m's channel; set Parent when m is in a thread. A custom_id m
// does not carry is clicked all the same, so a test can play a forged
// click.
func (m Message) Click(user, userName string, roles []string, customID string) Click {
	return Click{Channel: m.ChannelID, User: user, UserName: userName, Roles: roles, MessageID: m.ID, CustomID: customID}
}
