package slackstandin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

// socketPath is the stand-in's Socket Mode websocket.
const socketPath = "/socket"

// Socket Mode as Slack runs it: acks of 20 KB or more are dropped; Slack
// pings the connection now and then.
const (
	maxAckBytes        = 20 * 1024
	socketPingInterval = 5 * time.Second
	socketWriteTimeout = 5 * time.Second
)

// Ack is a Socket Mode acknowledgement the stand-in received.
type Ack struct {
	EnvelopeID string
	// Payload is the ack's payload (nil when none).
	Payload json.RawMessage
	// Size is the ack's size on the wire; Dropped is true when it was 20
	// KB or more, which Slack drops as if it had never been sent.
	Size    int
	Dropped bool
	At      time.Time
}

type socketState struct {
	tickets     map[string]bool
	live        map[*socketConn]bool
	current     *socketConn
	connections int
	acks        []Ack
	noPings     bool
}

func newSocketState() socketState {
	return socketState{tickets: map[string]bool{}, live: map[*socketConn]bool{}}
}

type socketConn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
	once sync.Once
}

func (c *socketConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(socketWriteTimeout))
	return c.ws.WriteJSON(v)
}

func (c *socketConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// connectionsOpen handles apps.connections.open: it takes an app-level
// token (xapp-) only, and answers a one-time ws:// URL on this server.
func (s *Server) connectionsOpen(w http.ResponseWriter, r *http.Request, req *request) {
	tok := tokenOf(r, req)
	switch {
	case tok == "":
		writeJSON(w, slackError("not_authed"))
		return
	case !strings.HasPrefix(tok, "xapp-"):
		writeJSON(w, slackError("not_allowed_token_type"))
		return
	}
	s.mu.Lock()
	ticket := s.newID("ticket-")
	s.sock.tickets[ticket] = true
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "url": "ws://" + s.st.ServerAddr + socketPath + "?ticket=" + ticket})
}

// socket is the Socket Mode websocket: hello, then the envelopes tests
// push, while it records the acks.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.sock.tickets[ticket] && !s.closed
	delete(s.sock.tickets, ticket)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &socketConn{ws: ws, done: make(chan struct{})}
	defer c.close()

	s.mu.Lock()
	s.sock.live[c] = true
	s.sock.current = c
	s.sock.connections++
	s.mu.Unlock()

	err = c.write(map[string]any{
		"type":            "hello",
		"num_connections": 1,
		"debug_info":      map[string]any{"host": "stand-in", "build_number": 1, "approximate_connection_time": 3600},
		"connection_info": map[string]string{"app_id": AppID},
	})
	s.mu.Lock()
	s.notify() // connected, and said hello
	s.mu.Unlock()
	if err != nil {
		return
	}

	go func() {
		t := time.NewTicker(socketPingInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.mu.Lock()
				off := s.sock.noPings
				s.mu.Unlock()
				if off {
					continue
				}
				_ = ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(socketWriteTimeout))
			case <-c.done:
				return
			}
		}
	}()

	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.sock.acks = append(s.sock.acks, Ack{
			EnvelopeID: ack.EnvelopeID,
			Payload:    nullToNil(ack.Payload),
			Size:       len(data),
			Dropped:    len(data) >= maxAckBytes,
			At:         time.Now(),
		})
		s.notify()
		s.mu.Unlock()
	}

	s.mu.Lock()
	delete(s.sock.live, c)
	if s.sock.current == c {
		s.sock.current = nil
	}
	s.notify()
	s.mu.Unlock()
}

// closeSockets ends every Socket Mode connection (Close).
func (s *Server) closeSockets() {
	s.mu.Lock()
	var cs []*socketConn
	for c := range s.sock.live {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
}

// SocketConnections counts the Socket Mode connections opened so far
// (a reconnect counts again).
func (s *Server) SocketConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sock.connections
}

// LiveSockets counts the Socket Mode connections open now.
func (s *Server) LiveSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sock.live)
}

// SocketConnected reports whether a Socket Mode connection is open.
func (s *Server) SocketConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sock.current != nil
}

// Acks returns the acks received, in order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ack, len(s.sock.acks))
	copy(out, s.sock.acks)
	return out
}

// AckOf returns the ack of envelope id, if one arrived.
func (s *Server) AckOf(envelopeID string) (Ack, bool) {
	for _, a := range s.Acks() {
		if a.EnvelopeID == envelopeID {
			return a, true
		}
	}
	return Ack{}, false
}

// ErrNoSocket is returned by a push when no Socket Mode client is
// connected.
var ErrNoSocket = errors.New("slackstandin: no Socket Mode connection")

// push sends one envelope on the newest connection and returns its id.
func (s *Server) push(typ string, payload any, retryAttempt int, acceptsResponse bool) (string, error) {
	s.mu.Lock()
	c := s.sock.current
	id := s.newID("envelope-")
	s.mu.Unlock()
	if c == nil {
		return "", ErrNoSocket
	}
	return id, c.write(envelope(id, typ, payload, retryAttempt, acceptsResponse))
}

// envelope is a Socket Mode envelope as Slack sends it.
func envelope(id, typ string, payload any, retryAttempt int, acceptsResponse bool) map[string]any {
	env := map[string]any{
		"type":                     typ,
		"envelope_id":              id,
		"payload":                  payload,
		"accepts_response_payload": acceptsResponse,
		"retry_attempt":            retryAttempt,
		"retry_reason":             "",
	}
	if retryAttempt > 0 {
		env["retry_reason"] = "timeout"
	}
	return env
}

// PushSlashCommandEverywhere delivers cmd as one envelope (one id) on
// every open connection, as a duplicate delivery to several replicas
// would be; it returns the envelope id, the command and how many
// connections it was written to. Slack itself sends an envelope to one
// connection.
func (s *Server) PushSlashCommandEverywhere(cmd slack.SlashCommand) (string, slack.SlashCommand, int) {
	s.fillSlashCommand(&cmd)
	s.mu.Lock()
	id := s.newID("envelope-")
	var cs []*socketConn
	for c := range s.sock.live {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	n := 0
	for _, c := range cs {
		if c.write(envelope(id, "slash_commands", cmd, 0, true)) == nil {
			n++
		}
	}
	return id, cmd, n
}

// PushSlashCommand delivers cmd over Socket Mode (empty fields filled as
// SlashCommandForm fills them; the response_url is in the returned
// command) and returns the envelope id.
func (s *Server) PushSlashCommand(cmd slack.SlashCommand) (string, slack.SlashCommand, error) {
	s.fillSlashCommand(&cmd)
	id, err := s.push("slash_commands", cmd, 0, true)
	return id, cmd, err
}

// PushAppMention records m as the person's message and delivers its
// event over Socket Mode; it returns the envelope id and the event.
func (s *Server) PushAppMention(m AppMention) (string, MentionEvent, error) {
	ev := s.AppMentionEvent(m)
	id, err := s.PushEvent(ev.Body, 0)
	return id, ev, err
}

// PushEvent delivers an Events API callback body (AppMentionEvent's)
// over Socket Mode, as a retry when retryAttempt > 0.
func (s *Server) PushEvent(body []byte, retryAttempt int) (string, error) {
	return s.push("events_api", json.RawMessage(body), retryAttempt, false)
}

// PushBlockAction delivers a button click over Socket Mode.
func (s *Server) PushBlockAction(a *BlockAction) (string, error) {
	return s.push("interactive", json.RawMessage(s.BlockActionPayload(a)), 0, true)
}

// Reasons Slack gives in a disconnect message: it is about to recycle the
// connection (refresh_requested), or it will close it in 10 seconds
// (warning).
const (
	DisconnectRefresh = "refresh_requested"
	DisconnectWarning = "warning"
)

// PushDisconnect asks the client to reconnect, as Slack does before it
// recycles a connection.
func (s *Server) PushDisconnect() error { return s.PushDisconnectReason(DisconnectRefresh) }

// PushDisconnectReason sends a disconnect message with reason.
func (s *Server) PushDisconnectReason(reason string) error {
	s.mu.Lock()
	c := s.sock.current
	s.mu.Unlock()
	if c == nil {
		return ErrNoSocket
	}
	return c.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]string{"host": "stand-in"}})
}

// DropSocket ends every Socket Mode connection abruptly, as a network
// failure would; the client must open a new one.
func (s *Server) DropSocket() { s.closeSockets() }

// SetSocketPings turns the server's websocket pings off (a connection
// that went silent: the client must give up on it) or back on.
func (s *Server) SetSocketPings(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sock.noPings = !on
}

// WaitSocket waits until a Socket Mode client has opened its n-th
// connection and it is open.
func (s *Server) WaitSocket(ctx context.Context, n int) error {
	return s.Wait(ctx, func() bool { return s.SocketConnections() >= n && s.SocketConnected() })
}
