package slackstandin

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// responsePath is where the stand-in's response_urls live.
const responsePath = "/response/"

// Slack's response_url limits: five posts within 30 minutes.
const (
	maxResponses    = 5
	responseURLLife = 30 * time.Minute
	maxResponseBody = 1 << 20
)

// Response is one message posted to a response_url.
type Response struct {
	// ResponseType is "ephemeral" (also when absent, as Slack reads it) or
	// "in_channel".
	ResponseType    string
	Text            string
	Blocks          json.RawMessage
	Attachments     json.RawMessage
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
	PostedAt        time.Time
}

type responseURL struct {
	created time.Time
	posts   []Response
}

// NewResponseURL returns a fresh response_url on this server.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("R")
	s.responses[id] = &responseURL{created: time.Now()}
	return s.URL() + strings.TrimPrefix(responsePath, "/") + TeamID + "/" + id
}

// Responses returns what was posted to responseURL, in order.
func (s *Server) Responses(responseURL string) []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.responses[responseID(responseURL)]
	if r == nil {
		return nil
	}
	out := make([]Response, len(r.posts))
	copy(out, r.posts)
	return out
}

func responseID(u string) string {
	return u[strings.LastIndex(u, "/")+1:]
}

// receiveResponse takes a post to a response_url, as Slack does: JSON,
// at most five posts within 30 minutes, content checked like a message.
func (s *Server) receiveResponse(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResponseBody))
	if err != nil {
		http.Error(w, "too_large", http.StatusRequestEntityTooLarge)
		return
	}
	var m struct {
		ResponseType    string          `json:"response_type"`
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		Attachments     json.RawMessage `json:"attachments"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if code, _ := checkContent(m.Text, nullToNil(m.Blocks), nullToNil(m.Attachments)); code != "" {
		http.Error(w, code, http.StatusBadRequest)
		return
	}
	if m.Text == "" && len(m.Blocks) <= len("[]") && len(m.Attachments) <= len("[]") && !m.DeleteOriginal {
		http.Error(w, "no_text", http.StatusBadRequest)
		return
	}
	if m.ResponseType == "" {
		m.ResponseType = "ephemeral"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.responses[responseID(r.URL.Path)]
	switch {
	case rec == nil, time.Since(rec.created) > responseURLLife:
		http.Error(w, "expired_url", http.StatusNotFound)
		return
	case len(rec.posts) >= maxResponses:
		http.Error(w, "used_url", http.StatusNotFound)
		return
	}
	rec.posts = append(rec.posts, Response{
		ResponseType:    m.ResponseType,
		Text:            m.Text,
		Blocks:          nullToNil(m.Blocks),
		Attachments:     nullToNil(m.Attachments),
		ReplaceOriginal: m.ReplaceOriginal,
		DeleteOriginal:  m.DeleteOriginal,
		ThreadTS:        m.ThreadTS,
		PostedAt:        time.Now(),
	})
	s.notify()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

func nullToNil(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// Ephemerals returns the ephemeral messages shown in channel, in order;
// each one's User is the person who saw it.
func (s *Server) Ephemerals(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.ephemerals[channel]))
	for _, m := range s.ephemerals[channel] {
		out = append(out, m.clone())
	}
	return out
}

// postEphemeral handles chat.postEphemeral: a message only user sees, in
// the channel or in a thread.
func (s *Server) postEphemeral(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	if req.channel == "" {
		writeJSON(w, slackError("channel_not_found"))
		return
	}
	user := req.get("user")
	if user == "" {
		writeJSON(w, slackError("user_not_in_channel"))
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
	defer s.mu.Unlock()
	thread := req.get("thread_ts")
	if thread != "" && s.find(req.channel, thread) == nil {
		writeJSON(w, slackError("thread_not_found"))
		return
	}
	m := &Message{
		Channel:     req.channel,
		TS:          s.nextTS(),
		ThreadTS:    thread,
		User:        user,
		Text:        c.text,
		Blocks:      c.blocks,
		Attachments: c.attachments,
		PostedAt:    time.Now(),
	}
	s.ephemerals[req.channel] = append(s.ephemerals[req.channel], m)
	s.notify()
	writeJSON(w, map[string]any{"ok": true, "message_ts": m.TS})
}
