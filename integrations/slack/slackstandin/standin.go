// Package slackstandin is a stand-in for the Slack Web API methods chatops
// calls, for tests of any package: chat.postMessage, chat.update and
// conversations.history (with message metadata), on top of slack-go's
// slacktest server. It keeps every channel's messages, counts calls, can
// enforce Slack's per-channel post rate, and injects faults (429, 500,
// slow answers, and "processed, then the connection dropped"), and can play
// a Slack outage (SetDown).
//
// For the inbound side it also plays Slack sending: signed slash commands,
// app mentions and button clicks (Sign, SlashCommandForm, AppMentionEvent,
// BlockActionForm), response_url endpoints that record what they receive
// (NewResponseURL, Responses), chat.postEphemeral, the file upload sequence
// (files.getUploadURLExternal, the upload, files.completeUploadExternal),
// and Socket Mode: apps.connections.open hands out a ws:// URL on this
// server whose websocket says hello, carries the envelopes a test pushes
// (PushSlashCommand, PushAppMention, PushBlockAction) and records the
// acks. SendBlockAction plays a person clicking a button of a message the
// bot posted (an approval card): it signs the click and posts it to the
// bot's interactivity URL. usergroups.list answers the user groups set
// with SetUserGroups, users.info the people set with SetUsers.
//
// It listens on loopback only and never talks to Slack.
package slackstandin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Method names the stand-in owns: Calls counts them and FailNext can
// disturb them. Other methods answer as slacktest does, uncounted.
const (
	MethodPostMessage = "chat.postMessage"
	MethodUpdate      = "chat.update"
	MethodHistory     = "conversations.history"
	MethodAuthTest    = "auth.test"
	// Inbound side: answers and Socket Mode.
	MethodPostEphemeral   = "chat.postEphemeral"
	MethodGetUploadURL    = "files.getUploadURLExternal"
	MethodCompleteUpload  = "files.completeUploadExternal"
	MethodConnectionsOpen = "apps.connections.open"
)

// Message is one message as the stand-in holds it, with its latest content.
type Message struct {
	Channel string
	TS      string
	// User is the person a user's message (AddUserMessage) is from, or
	// the person an ephemeral message is shown to; "" for the bot's posts.
	User string
	// ThreadTS is the root's ts for a reply, "" for a root.
	ThreadTS string
	Text     string
	// Blocks and Attachments are the JSON the client sent (nil if none).
	Blocks      json.RawMessage
	Attachments json.RawMessage
	// Metadata is the message metadata (zero if none).
	Metadata slack.SlackMetadata
	// Edits counts chat.update calls applied to the message.
	Edits int
	// PostedAt is when the stand-in recorded the post.
	PostedAt time.Time
}

// IsRoot reports whether m starts a thread (is not a reply).
func (m Message) IsRoot() bool { return m.ThreadTS == "" }

// Server is a running stand-in. All methods are safe for concurrent use.
type Server struct {
	st   *slacktest.Server
	done chan struct{}

	mu        sync.Mutex
	closed    bool
	lastTS    int64 // microseconds since the epoch of the last ts handed out
	messages  map[string][]*Message
	calls     map[string]int
	faults    map[string][]Fault
	rateLimit float64
	// arrivals holds every request of an owned method, per method and
	// channel (arrivalKey), answered or not.
	arrivals    map[string][]time.Time
	accepted    map[string][]time.Time // posts that were recorded, per channel
	down        bool                   // SetDown: every call answers 503
	rateLimited map[string]int         // 429 answers given, per method
	faultFunc   FaultFunc              // SetFaultFunc

	// changed is closed and replaced whenever recorded state changes, so
	// Wait can block until a condition holds.
	changed    chan struct{}
	nextID     int
	ephemerals map[string][]*Message // chat.postEphemeral, per channel
	responses  map[string]*responseURL
	uploads    map[string]*upload // files.getUploadURLExternal, by file id
	files      map[string][]File  // shared files, per channel
	sock       socketState
	userGroups []UserGroup     // SetUserGroups
	users      map[string]User // SetUsers
}

// New starts a stand-in on a loopback port.
func New() *Server {
	s := &Server{
		done:        make(chan struct{}),
		messages:    map[string][]*Message{},
		calls:       map[string]int{},
		faults:      map[string][]Fault{},
		arrivals:    map[string][]time.Time{},
		accepted:    map[string][]time.Time{},
		rateLimited: map[string]int{},

		changed:    make(chan struct{}),
		ephemerals: map[string][]*Message{},
		responses:  map[string]*responseURL{},
		uploads:    map[string]*upload{},
		files:      map[string][]File{},
		sock:       newSocketState(),
	}
	s.st = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/"+MethodPostMessage, s.method(MethodPostMessage, s.postMessage))
		c.Handle("/"+MethodUpdate, s.method(MethodUpdate, s.update))
		c.Handle("/"+MethodHistory, s.method(MethodHistory, s.history))
		c.Handle("/"+MethodAuthTest, s.method(MethodAuthTest, s.authTest))
		c.Handle("/"+MethodPostEphemeral, s.method(MethodPostEphemeral, s.postEphemeral))
		c.Handle("/"+MethodGetUploadURL, s.method(MethodGetUploadURL, s.getUploadURL))
		c.Handle("/"+MethodCompleteUpload, s.method(MethodCompleteUpload, s.completeUpload))
		c.Handle("/"+MethodConnectionsOpen, s.method(MethodConnectionsOpen, s.connectionsOpen))
		c.Handle("/"+MethodUserGroupsList, s.method(MethodUserGroupsList, s.userGroupsList))
		c.Handle("/"+MethodUsersInfo, s.method(MethodUsersInfo, s.usersInfo))
		c.Handle(uploadPath, s.receiveUpload)
		c.Handle(responsePath, s.receiveResponse)
		c.Handle(socketPath, s.socket)
		// Anything slacktest does not know either: Slack's answer to an
		// unknown method, so a typo fails loudly.
		c.Handle("/", s.method("unknown", func(w http.ResponseWriter, r *http.Request, _ *request) {
			writeJSON(w, slackError("unknown_method"))
		}))
	})
	s.st.Start()
	return s
}

// URL is the Web API base URL to give the client (slack.OptionAPIURL,
// Config.APIURL); it ends in "/".
func (s *Server) URL() string { return s.st.GetAPIURL() }

// Close stops the server; slow answers still pending give up.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.closeSockets()
	s.st.Stop()
}

// Wait blocks until cond holds or ctx ends. cond is checked now and again
// each time the stand-in records something (a post, an edit, an ephemeral
// message, a response_url post, a file, a Socket Mode connection or ack);
// it may call the Server's methods.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify wakes the Waits. The caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// newID is a fresh id with prefix. The caller holds s.mu.
func (s *Server) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s%07d", prefix, s.nextID)
}

// Messages returns channel's messages, roots and replies, in the order
// they were posted.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		out = append(out, m.clone())
	}
	return out
}

// Roots returns channel's thread roots in order.
func (s *Server) Roots(channel string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.IsRoot() {
			out = append(out, m)
		}
	}
	return out
}

// Replies returns the replies in the thread of rootTS, in order.
func (s *Server) Replies(channel, rootTS string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.ThreadTS == rootTS {
			out = append(out, m)
		}
	}
	return out
}

// Channels returns the channels that hold messages, sorted.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for c, ms := range s.messages {
		if len(ms) > 0 {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Calls returns how many requests method received, faulted or not.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (m *Message) clone() Message {
	c := *m
	c.Blocks = slices.Clone(m.Blocks)
	c.Attachments = slices.Clone(m.Attachments)
	return c
}

// nextTS hands out a ts that is unique and increasing even within one
// second: the current time in microseconds, or one more than the last.
// It stays close to the clock so conversations.history's oldest works.
// The caller holds s.mu.
func (s *Server) nextTS() string {
	now := time.Now().UnixMicro()
	if now <= s.lastTS {
		now = s.lastTS + 1
	}
	s.lastTS = now
	return fmt.Sprintf("%d.%06d", now/1e6, now%1e6)
}

// find returns the message with ts in channel. The caller holds s.mu.
func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// request is a parsed Web API call.
type request struct {
	form    map[string][]string
	channel string
}

func (r *request) get(key string) string {
	if v := r.form[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (r *request) has(key string) bool { _, ok := r.form[key]; return ok }

func tokenOf(r *http.Request, req *request) string {
	if t := req.get("token"); t != "" {
		return t
	}
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

type slackErrorBody struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func slackError(code string) slackErrorBody { return slackErrorBody{OK: false, Error: code} }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
