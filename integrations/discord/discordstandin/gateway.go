package discordstandin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The gateway side: GET /gateway and /gateway/bot answer a ws:// URL on
// this server, where the stand-in speaks Discord's gateway protocol as a
// bot sees it: HELLO with a heartbeat interval, IDENTIFY (the bot token and
// the Guilds intent, nothing else), heartbeats and their ACKs, READY with a
// session id and a resume URL, dispatches with sequence numbers, RESUME
// (missed dispatches replayed after the client's sequence, then RESUMED)
// and INVALID_SESSION. Tests deliver interactions to every session with
// DeliverInteraction, drop connections (DropGateway), stop acknowledging
// heartbeats (SetHeartbeatAcks) and invalidate sessions
// (InvalidateSessions); the bot's answers land on the interaction routes
// as for HTTP interactions.

// RouteGateway is GET /gateway and GET /gateway/bot, for Calls and FailNext.
const RouteGateway = "gateway"

// gatewayPath is where the stand-in serves the gateway's websocket.
const gatewayPath = "/gateway-ws"

// Gateway opcodes.
const (
	opDispatch        = 0
	opHeartbeat       = 1
	opIdentify        = 2
	opResume          = 6
	opInvalidSession  = 9
	opHello           = 10
	opHeartbeatAck    = 11
	gatewayAPIVersion = "10"
)

// Gateway close codes the stand-in uses, as Discord does.
const (
	CloseDecodeError          = 4002
	CloseNotAuthenticated     = 4003
	CloseAuthenticationFailed = 4004
	CloseAlreadyAuthenticated = 4005
	CloseInvalidSeq           = 4007
	CloseInvalidAPIVersion    = 4012
	CloseInvalidIntents       = 4013
	CloseDisallowedIntents    = 4014
)

// IntentGuilds is the one intent a chatops bot identifies with; the
// privileged ones (members, presences, message content) are refused.
const (
	IntentGuilds     = 1 << 0
	privilegedIntent = 1<<1 | 1<<8 | 1<<15
)

// Gateway limits and defaults. Discord's heartbeat interval is about 41 s;
// the stand-in's is short so that a missed ACK shows within seconds (a
// discordgo client reconnects after five intervals without one).
const (
	DefaultHeartbeatInterval = time.Second
	// ResumeWindow is how long a session whose connection dropped stays
	// resumable, keeping what is dispatched to it meanwhile.
	ResumeWindow = time.Minute
	// maxReplay bounds the dispatches a session keeps for a RESUME.
	maxReplay = 1000
	// maxGatewayMessage bounds one message from the client (an IDENTIFY
	// is well under 4 KB; Discord allows 4096 bytes).
	maxGatewayMessage   = 4096
	gatewayWriteTimeout = 5 * time.Second
)

// Identify is an IDENTIFY the gateway received (the token is not kept).
type Identify struct {
	Intents int
	// Accepted is false when the gateway closed the connection instead
	// of answering READY.
	Accepted  bool
	SessionID string // the session READY started, when accepted
	At        time.Time
}

// Resume is a RESUME the gateway received.
type Resume struct {
	SessionID string
	Seq       int64
	// Accepted is true when the session resumed; then Replayed counts the
	// dispatches sent again. False: INVALID_SESSION was the answer.
	Accepted bool
	Replayed int
	At       time.Time
}

// GatewaySession is a session as the gateway holds it.
type GatewaySession struct {
	ID string
	// Seq is the sequence number of the last dispatch sent (or kept for
	// a RESUME) on this session.
	Seq       int64
	Connected bool
	// Invalid sessions cannot be resumed (InvalidateSessions).
	Invalid bool
}

type dispatch struct {
	seq  int64
	typ  string
	data json.RawMessage
}

type gwSession struct {
	id      string
	seq     int64
	sent    []dispatch
	conn    *gwConn
	invalid bool
	dropped time.Time // when its connection went away
}

type gwConn struct {
	ws      *websocket.Conn
	session *gwSession // nil until IDENTIFY or RESUME succeeds
	once    sync.Once
}

// gatewayState is guarded by Server.gw; a write to a connection happens
// under it too, so that dispatches go out in sequence order.
type gatewayState struct {
	token       string // "" accepts any non-empty token
	interval    time.Duration
	noAcks      bool
	sessions    map[string]*gwSession
	conns       map[*gwConn]bool
	connections int
	heartbeats  int
	identifies  []Identify
	resumes     []Resume
}

func newGatewayState() gatewayState {
	return gatewayState{interval: DefaultHeartbeatInterval, sessions: map[string]*gwSession{}, conns: map[*gwConn]bool{}}
}

// frame is one gateway payload.
type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s"`
	T  *string         `json:"t"`
}

func parseGatewayRoute(method, path string) (request, bool) {
	if method != http.MethodGet {
		return request{}, false
	}
	switch path {
	case apiPrefix + "gateway":
		// GET /gateway needs no token, as on Discord.
		return request{route: RouteGateway, gatewayRoute: true, tokenInPath: true}, true
	case apiPrefix + "gateway/bot":
		return request{route: RouteGateway, gatewayRoute: true}, true
	}
	return request{}, false
}

// handleGatewayRoute answers GET /gateway and /gateway/bot.
func (s *Server) handleGatewayRoute(w http.ResponseWriter, r *http.Request) {
	url := "ws://" + r.Host + gatewayPath
	if strings.HasSuffix(r.URL.Path, "/bot") {
		writeJSON(w, http.StatusOK, map[string]any{"url": url, "shards": 1,
			"session_start_limit": map[string]any{"total": 1000, "remaining": 999, "reset_after": 86400000, "max_concurrency": 1}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": url})
}

// SetGatewayToken makes the gateway accept only token (with or without
// its "Bot " prefix) in IDENTIFY and RESUME; by default any non-empty
// token is accepted.
func (s *Server) SetGatewayToken(token string) {
	s.gw.Lock()
	defer s.gw.Unlock()
	s.gwst.token = strings.TrimPrefix(token, "Bot ")
}

// SetHeartbeatInterval sets the interval HELLO announces to connections
// opened from now on.
func (s *Server) SetHeartbeatInterval(d time.Duration) {
	s.gw.Lock()
	defer s.gw.Unlock()
	s.gwst.interval = d
}

// SetHeartbeatAcks turns the gateway's HEARTBEAT_ACKs off (a gateway that
// went silent while its connection stays open) or back on.
func (s *Server) SetHeartbeatAcks(on bool) {
	s.gw.Lock()
	defer s.gw.Unlock()
	s.gwst.noAcks = !on
}

// gatewaySocket serves one gateway connection.
func (s *Server) gatewaySocket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("encoding") != "json" && q.Get("encoding") != "" {
		http.Error(w, "only encoding=json is served", http.StatusBadRequest)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(maxGatewayMessage)
	c := &gwConn{ws: ws}
	s.gw.Lock()
	if s.gwClosed {
		s.gw.Unlock()
		ws.Close()
		return
	}
	s.gwst.conns[c] = true
	s.gwst.connections++
	interval := s.gwst.interval
	if v := q.Get("v"); v != "9" && v != gatewayAPIVersion {
		s.closeWith(c, CloseInvalidAPIVersion, "Invalid API version")
	} else {
		s.send(c, frame{Op: opHello, D: mustJSON(map[string]any{"heartbeat_interval": interval.Milliseconds()})})
	}
	s.gw.Unlock()
	defer s.gatewayGone(c)

	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			s.gw.Lock()
			s.closeWith(c, CloseDecodeError, "Error while decoding payload.")
			s.gw.Unlock()
			return
		}
		s.gw.Lock()
		s.onFrame(c, f)
		s.gw.Unlock()
	}
}

// onFrame handles one payload from the client (under s.gw).
func (s *Server) onFrame(c *gwConn, f frame) {
	switch f.Op {
	case opHeartbeat:
		s.gwst.heartbeats++
		if !s.gwst.noAcks {
			s.send(c, frame{Op: opHeartbeatAck})
		}
	case opIdentify:
		s.identify(c, f.D)
	case opResume:
		s.resume(c, f.D)
	default:
		if c.session == nil {
			s.closeWith(c, CloseNotAuthenticated, "Not authenticated.")
		}
		// Presence and voice updates: nothing chatops sends.
	}
}

func (s *Server) tokenOK(token string) bool {
	token = strings.TrimPrefix(token, "Bot ")
	return token != "" && (s.gwst.token == "" || token == s.gwst.token)
}

func (s *Server) identify(c *gwConn, raw json.RawMessage) {
	var d struct {
		Token   string `json:"token"`
		Intents *int   `json:"intents"`
	}
	rec := Identify{At: time.Now()}
	defer func() { s.gwst.identifies = append(s.gwst.identifies, rec) }()
	if err := json.Unmarshal(raw, &d); err != nil || d.Intents == nil {
		s.closeWith(c, CloseDecodeError, "Error while decoding payload.")
		return
	}
	rec.Intents = *d.Intents
	switch {
	case c.session != nil:
		s.closeWith(c, CloseAlreadyAuthenticated, "Already authenticated.")
		return
	case !s.tokenOK(d.Token):
		s.closeWith(c, CloseAuthenticationFailed, "Authentication failed.")
		return
	case *d.Intents&privilegedIntent != 0:
		s.closeWith(c, CloseDisallowedIntents, "Disallowed intent(s).")
		return
	case *d.Intents != IntentGuilds:
		s.closeWith(c, CloseInvalidIntents, "Invalid intent(s).")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	sess := &gwSession{id: hex.EncodeToString(b[:]), conn: c}
	s.gwst.sessions[sess.id] = sess
	c.session = sess
	rec.Accepted, rec.SessionID = true, sess.id
	s.dispatch(sess, "READY", mustJSON(map[string]any{
		"v":                  10,
		"user":               map[string]any{"id": BotUserID, "username": "chatops", "bot": true},
		"guilds":             []any{},
		"session_id":         sess.id,
		"resume_gateway_url": "ws://" + s.srv.Listener.Addr().String() + gatewayPath,
		"application":        map[string]any{"id": DefaultAppID, "flags": 0},
	}))
}

func (s *Server) resume(c *gwConn, raw json.RawMessage) {
	var d struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		s.closeWith(c, CloseDecodeError, "Error while decoding payload.")
		return
	}
	rec := Resume{SessionID: d.SessionID, Seq: d.Seq, At: time.Now()}
	defer func() { s.gwst.resumes = append(s.gwst.resumes, rec) }()
	if c.session != nil {
		s.closeWith(c, CloseAlreadyAuthenticated, "Already authenticated.")
		return
	}
	if !s.tokenOK(d.Token) {
		s.closeWith(c, CloseAuthenticationFailed, "Authentication failed.")
		return
	}
	sess := s.gwst.sessions[d.SessionID]
	if d.Seq < 0 || sess != nil && d.Seq > sess.seq {
		s.closeWith(c, CloseInvalidSeq, "Invalid seq.")
		return
	}
	if sess == nil || sess.invalid || s.expired(sess, time.Now()) || len(sess.sent) > 0 && d.Seq < sess.sent[0].seq-1 {
		// Not resumable (unknown, invalidated, expired, or missed more
		// than is kept): the client must IDENTIFY again.
		s.send(c, frame{Op: opInvalidSession, D: json.RawMessage("false")})
		return
	}
	if old := sess.conn; old != nil && old != c {
		old.session = nil
		s.drop(old)
	}
	sess.conn, c.session = c, sess
	rec.Accepted = true
	for _, m := range sess.sent {
		if m.seq > d.Seq {
			s.write(c, m)
			rec.Replayed++
		}
	}
	s.dispatch(sess, "RESUMED", json.RawMessage("{}"))
}

// expired reports whether a session lost its connection longer than
// ResumeWindow ago (under s.gw).
func (s *Server) expired(sess *gwSession, now time.Time) bool {
	return sess.conn == nil && !sess.dropped.IsZero() && now.Sub(sess.dropped) > ResumeWindow
}

// dispatch sends event typ with the session's next sequence number, or
// keeps it for a RESUME when the session has no connection (under s.gw).
func (s *Server) dispatch(sess *gwSession, typ string, data json.RawMessage) {
	sess.seq++
	m := dispatch{seq: sess.seq, typ: typ, data: data}
	sess.sent = append(sess.sent, m)
	if len(sess.sent) > maxReplay {
		sess.sent = slices.Delete(sess.sent, 0, len(sess.sent)-maxReplay)
	}
	if sess.conn != nil {
		s.write(sess.conn, m)
	}
}

func (s *Server) write(c *gwConn, m dispatch) {
	seq, typ := m.seq, m.typ
	s.send(c, frame{Op: opDispatch, D: m.data, S: &seq, T: &typ})
}

// send writes one payload (under s.gw); a failed write drops the
// connection.
func (s *Server) send(c *gwConn, f frame) {
	_ = c.ws.SetWriteDeadline(time.Now().Add(gatewayWriteTimeout))
	if err := c.ws.WriteJSON(f); err != nil {
		s.drop(c)
	}
}

// closeWith closes a connection with a gateway close code (under s.gw).
func (s *Server) closeWith(c *gwConn, code int, reason string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(gatewayWriteTimeout))
	s.drop(c)
}

// drop ends a connection without a close frame, as a network failure
// does; its session stays resumable (under s.gw).
func (s *Server) drop(c *gwConn) {
	c.once.Do(func() { _ = c.ws.Close() })
	if sess := c.session; sess != nil && sess.conn == c {
		sess.conn = nil
		sess.dropped = time.Now()
	}
}

func (s *Server) gatewayGone(c *gwConn) {
	s.gw.Lock()
	defer s.gw.Unlock()
	s.drop(c)
	delete(s.gwst.conns, c)
}

// DropGateway ends every gateway connection abruptly (no close frame), as
// a network failure would; the sessions stay resumable.
func (s *Server) DropGateway() {
	s.gw.Lock()
	defer s.gw.Unlock()
	for c := range s.gwst.conns {
		s.drop(c)
	}
}

// InvalidateSessions makes every session unresumable and sends
// INVALID_SESSION (d=false) on each open connection: the client must
// IDENTIFY again for a new session.
func (s *Server) InvalidateSessions() {
	s.gw.Lock()
	defer s.gw.Unlock()
	for _, sess := range s.gwst.sessions {
		sess.invalid = true
		if c := sess.conn; c != nil {
			sess.conn, c.session = nil, nil
			s.send(c, frame{Op: opInvalidSession, D: json.RawMessage("false")})
		}
	}
}

// DeliverInteraction dispatches INTERACTION_CREATE with body (an
// interaction's JSON, as ClickInteraction or NewInteraction's caller
// makes it) to every live session: at once on an open connection, or
// kept for the RESUME of one that dropped within ResumeWindow. It returns
// how many sessions it went to. Discord itself sends an interaction to
// one session; sending it to all plays a duplicate delivery.
func (s *Server) DeliverInteraction(body []byte) int {
	s.gw.Lock()
	defer s.gw.Unlock()
	now := time.Now()
	n := 0
	for id, sess := range s.gwst.sessions {
		if sess.invalid || s.expired(sess, now) {
			delete(s.gwst.sessions, id)
			continue
		}
		s.dispatch(sess, "INTERACTION_CREATE", slices.Clone(body))
		n++
	}
	return n
}

// closeGateway ends every connection for good (Close).
func (s *Server) closeGateway() {
	s.gw.Lock()
	defer s.gw.Unlock()
	s.gwClosed = true
	for c := range s.gwst.conns {
		s.drop(c)
	}
}

// GatewayConnections counts the gateway connections opened so far.
func (s *Server) GatewayConnections() int {
	s.gw.Lock()
	defer s.gw.Unlock()
	return s.gwst.connections
}

// Heartbeats counts the heartbeats received.
func (s *Server) Heartbeats() int {
	s.gw.Lock()
	defer s.gw.Unlock()
	return s.gwst.heartbeats
}

// Identifies returns the IDENTIFYs received, in order.
func (s *Server) Identifies() []Identify {
	s.gw.Lock()
	defer s.gw.Unlock()
	return slices.Clone(s.gwst.identifies)
}

// Resumes returns the RESUMEs received, in order.
func (s *Server) Resumes() []Resume {
	s.gw.Lock()
	defer s.gw.Unlock()
	return slices.Clone(s.gwst.resumes)
}

// GatewaySessions returns the sessions the gateway holds, connected ones
// first.
func (s *Server) GatewaySessions() []GatewaySession {
	s.gw.Lock()
	defer s.gw.Unlock()
	var out []GatewaySession
	for _, sess := range s.gwst.sessions {
		out = append(out, GatewaySession{ID: sess.id, Seq: sess.seq, Connected: sess.conn != nil, Invalid: sess.invalid})
	}
	slices.SortFunc(out, func(a, b GatewaySession) int {
		if a.Connected != b.Connected {
			if a.Connected {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ConnectedSessions counts the sessions with an open, identified or
// resumed connection.
func (s *Server) ConnectedSessions() int {
	n := 0
	for _, sess := range s.GatewaySessions() {
		if sess.Connected {
			n++
		}
	}
	return n
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
