package slackstandin

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Who the stand-in's token belongs to.
const (
	botUserID = "U0CHATOPS"
	botID     = "B0CHATOPS"
	teamID    = "T0STANDIN"
)

// History page sizes, as Slack bounds them.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 999
)

type errorWithMessages struct {
	OK               bool   `json:"ok"`
	Error            string `json:"error"`
	ResponseMetadata struct {
		Messages []string `json:"messages"`
	} `json:"response_metadata"`
}

func writeProblem(w http.ResponseWriter, code, msg string) {
	e := errorWithMessages{Error: code}
	e.ResponseMetadata.Messages = []string{"[ERROR] " + msg}
	writeJSON(w, e)
}

// content is the message content a post or an edit carries.
type content struct {
	text        string
	blocks      json.RawMessage
	attachments json.RawMessage
	metadata    *slack.SlackMetadata
}

// readContent takes the content fields of req; an absent field stays nil.
// It answers the client itself and returns false when they are invalid.
func readContent(w http.ResponseWriter, req *request) (content, bool) {
	c := content{text: req.get("text")}
	if req.has("blocks") {
		c.blocks = json.RawMessage(req.get("blocks"))
	}
	if req.has("attachments") {
		c.attachments = json.RawMessage(req.get("attachments"))
	}
	if code, msg := checkContent(c.text, c.blocks, c.attachments); code != "" {
		writeProblem(w, code, msg)
		return c, false
	}
	if req.has("metadata") {
		var md slack.SlackMetadata
		if err := json.Unmarshal([]byte(req.get("metadata")), &md); err != nil || md.EventType == "" {
			writeProblem(w, "invalid_metadata_format", "metadata needs event_type and event_payload")
			return c, false
		}
		c.metadata = &md
	}
	return c, true
}

func (c content) empty() bool {
	return c.text == "" && len(c.blocks) <= len("[]") && len(c.attachments) <= len("[]")
}

// postMessage handles chat.postMessage: a root, or a reply when thread_ts
// is given. A reply is recorded with the thread_ts it was sent, so a test
// sees a reply threaded under a reply's ts for what it is.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	if req.channel == "" {
		writeJSON(w, slackError("channel_not_found"))
		return
	}
	c, ok := readContent(w, req)
	if !ok {
		return
	}
	if c.empty() {
		writeJSON(w, slackError("no_text"))
		return
	}

	s.mu.Lock()
	now := time.Now()
	if s.overRate(req.channel, now) {
		s.rateLimited[MethodPostMessage]++
		s.mu.Unlock()
		tooMany(w, time.Second)
		return
	}
	thread := req.get("thread_ts")
	if thread != "" && s.find(req.channel, thread) == nil {
		s.mu.Unlock()
		writeJSON(w, slackError("thread_not_found"))
		return
	}
	m := &Message{
		Channel:     req.channel,
		TS:          s.nextTS(),
		ThreadTS:    thread,
		Text:        c.text,
		Blocks:      c.blocks,
		Attachments: c.attachments,
		PostedAt:    now,
	}
	if c.metadata != nil {
		m.Metadata = *c.metadata
	}
	s.messages[req.channel] = append(s.messages[req.channel], m)
	s.accepted[req.channel] = append(s.accepted[req.channel], now)
	s.notify()
	body := struct {
		OK      bool            `json:"ok"`
		Channel string          `json:"channel"`
		TS      string          `json:"ts"`
		Message json.RawMessage `json:"message"`
	}{true, req.channel, m.TS, wireMessage(m, true)}
	s.mu.Unlock()
	writeJSON(w, body)
}

// update handles chat.update: the fields sent replace the message's, the
// others stay, as Slack does.
func (s *Server) update(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	c, ok := readContent(w, req)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.messages[req.channel]; !known {
		writeJSON(w, slackError("channel_not_found"))
		return
	}
	m := s.find(req.channel, req.get("ts"))
	if m == nil {
		writeJSON(w, slackError("message_not_found"))
		return
	}
	if req.has("text") {
		m.Text = c.text
	}
	if c.blocks != nil {
		m.Blocks = c.blocks
	}
	if c.attachments != nil {
		m.Attachments = c.attachments
	}
	if c.metadata != nil {
		m.Metadata = *c.metadata
	}
	if m.Text == "" && len(m.Blocks) <= len("[]") && len(m.Attachments) <= len("[]") {
		writeJSON(w, slackError("no_text"))
		return
	}
	m.Edits++
	s.notify()
	writeJSON(w, struct {
		OK      bool            `json:"ok"`
		Channel string          `json:"channel"`
		TS      string          `json:"ts"`
		Text    string          `json:"text"`
		Message json.RawMessage `json:"message"`
	}{true, req.channel, m.TS, m.Text, wireMessage(m, true)})
}

// history handles conversations.history: the channel's roots (replies are
// not in a channel's history), newest first, between oldest and latest,
// paged by an opaque cursor. Metadata is returned only when asked for with
// include_all_metadata.
func (s *Server) history(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	if req.channel == "" {
		writeJSON(w, slackError("channel_not_found"))
		return
	}
	inclusive := truthy(req.get("inclusive"))
	oldest, okOld := parseTS(req.get("oldest"))
	latest, okLat := parseTS(req.get("latest"))
	if (req.get("oldest") != "" && !okOld) || (req.get("latest") != "" && !okLat) {
		writeJSON(w, slackError("invalid_ts_oldest"))
		return
	}
	limit := defaultHistoryLimit
	if v, err := strconv.Atoi(req.get("limit")); err == nil && v > 0 {
		limit = min(v, maxHistoryLimit)
	}
	offset := 0
	if cur := req.get("cursor"); cur != "" {
		o, ok := parseCursor(cur)
		if !ok {
			writeJSON(w, slackError("invalid_cursor"))
			return
		}
		offset = o
	}
	withMeta := truthy(req.get("include_all_metadata"))

	s.mu.Lock()
	var roots []*Message
	all := s.messages[req.channel]
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if !m.IsRoot() {
			continue
		}
		ts, _ := parseTS(m.TS)
		if req.get("oldest") != "" && (ts < oldest || (ts == oldest && !inclusive)) {
			continue
		}
		if req.get("latest") != "" && (ts > latest || (ts == latest && !inclusive)) {
			continue
		}
		roots = append(roots, m)
	}
	var page []json.RawMessage
	end := min(offset+limit, len(roots))
	for _, m := range roots[min(offset, end):end] {
		page = append(page, wireMessage(s.withReplies(m), withMeta))
	}
	s.mu.Unlock()

	resp := struct {
		OK               bool              `json:"ok"`
		Messages         []json.RawMessage `json:"messages"`
		HasMore          bool              `json:"has_more"`
		PinCount         int               `json:"pin_count"`
		ResponseMetadata struct {
			NextCursor string `json:"next_cursor"`
		} `json:"response_metadata"`
	}{OK: true, Messages: page, HasMore: end < len(roots)}
	if resp.Messages == nil {
		resp.Messages = []json.RawMessage{}
	}
	if resp.HasMore {
		resp.ResponseMetadata.NextCursor = makeCursor(end)
	}
	writeJSON(w, resp)
}

func (s *Server) authTest(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	writeJSON(w, map[string]any{
		"ok": true, "url": s.URL(), "team": "stand-in", "user": "chatops",
		"team_id": teamID, "user_id": botUserID, "bot_id": botID,
	})
}

// threadedRoot is a root as history shows it, with its thread's counts.
type threadedRoot struct {
	*Message
	replies     int
	latestReply string
}

// withReplies counts m's replies. The caller holds s.mu.
func (s *Server) withReplies(m *Message) threadedRoot {
	tr := threadedRoot{Message: m}
	for _, o := range s.messages[m.Channel] {
		if o.ThreadTS == m.TS {
			tr.replies++
			tr.latestReply = o.TS
		}
	}
	return tr
}

// wireMessage is a message as the Web API shows it.
func wireMessage(v any, withMeta bool) json.RawMessage {
	var (
		m  *Message
		tr threadedRoot
	)
	switch x := v.(type) {
	case *Message:
		m = x
	case threadedRoot:
		m, tr = x.Message, x
	}
	out := map[string]any{
		"type":    "message",
		"subtype": "bot_message",
		"ts":      m.TS,
		"text":    m.Text,
		"user":    botUserID,
		"bot_id":  botID,
		"team":    teamID,
	}
	if m.User != "" {
		// A person's message.
		delete(out, "subtype")
		delete(out, "bot_id")
		out["user"] = m.User
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	} else if tr.replies > 0 {
		out["thread_ts"] = m.TS
		out["reply_count"] = tr.replies
		out["latest_reply"] = tr.latestReply
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.Attachments != nil {
		out["attachments"] = m.Attachments
	}
	if m.Edits > 0 {
		out["edited"] = map[string]string{"user": botUserID, "ts": m.TS}
	}
	if withMeta && m.Metadata.EventType != "" {
		out["metadata"] = m.Metadata
	}
	b, _ := json.Marshal(out)
	return b
}

// parseTS reads "seconds[.micros]" into microseconds.
func parseTS(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	var micros int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		if micros, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return 0, false
		}
	}
	return secs*1e6 + micros, true
}

func truthy(s string) bool { return s == "1" || s == "true" }

const cursorPrefix = "offset:"

func makeCursor(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(offset)))
}

func parseCursor(c string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), cursorPrefix))
	return n, err == nil && n >= 0
}
