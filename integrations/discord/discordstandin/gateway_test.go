package discordstandin

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// toStandIn sends discordgo's REST calls to the stand-in.
type toStandIn struct{ base string }

func (t toStandIn) RoundTrip(r *http.Request) (*http.Response, error) {
	u := r.URL.String()
	if rest, ok := strings.CutPrefix(u, discordgo.EndpointAPI); ok {
		nr, err := http.NewRequestWithContext(r.Context(), r.Method, t.base+rest, r.Body)
		if err != nil {
			return nil, err
		}
		nr.Header = r.Header
		r = nr
	}
	return http.DefaultTransport.RoundTrip(r)
}

// gatewayClient is a discordgo session on the stand-in's gateway that
// records the interactions it receives, by id.
type gatewayClient struct {
	s  *discordgo.Session
	mu sync.Mutex
	ix []string
}

func newGatewayClient(t *testing.T, srv *Server, token string, intents discordgo.Intent) *gatewayClient {
	t.Helper()
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		t.Fatal(err)
	}
	s.Client.Transport = toStandIn{srv.URL()}
	s.Identify.Intents = intents
	s.LogLevel = -1
	c := &gatewayClient{s: s}
	s.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
		c.mu.Lock()
		c.ix = append(c.ix, ic.ID)
		c.mu.Unlock()
	})
	return c
}

func (c *gatewayClient) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ix...)
}

// waitFor polls cond for up to 30 s (generous for a loaded machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deliver(t *testing.T, srv *Server) string {
	t.Helper()
	id, _, body := srv.ClickInteraction(Click{Channel: "1500000000000000005", User: "1600000000000000006", UserName: "ana", MessageID: "1700000000000000007", CustomID: "x"})
	if n := srv.DeliverInteraction(body); n != 1 {
		t.Fatalf("delivered to %d sessions, want 1", n)
	}
	return id
}

// The gateway as discordgo sees it: READY after IDENTIFY with the Guilds
// intent, interactions dispatched, a dropped connection resumed with what
// was missed replayed, an invalidated session identified anew, and a
// gateway that stops acknowledging heartbeats left for a resumed one.
func TestGatewayLifecycle(t *testing.T) {
	srv := New()
	defer srv.Close()
	srv.SetGatewayToken("secret")
	srv.SetHeartbeatInterval(100 * time.Millisecond)
	c := newGatewayClient(t, srv, "secret", discordgo.IntentsGuilds)
	if err := c.s.Open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	defer c.s.Close()
	ids := srv.Identifies()
	if len(ids) != 1 || !ids[0].Accepted || ids[0].Intents != IntentGuilds {
		t.Fatalf("identifies %+v, want one accepted with the Guilds intent", ids)
	}

	first := deliver(t, srv)
	waitFor(t, "the first interaction", func() bool { return len(c.got()) == 1 })
	if c.got()[0] != first {
		t.Fatalf("got %v, want %s", c.got(), first)
	}

	t.Run("resume", func(t *testing.T) {
		srv.DropGateway()
		missed := deliver(t, srv) // kept for the RESUME
		waitFor(t, "a resume", func() bool { return len(srv.Resumes()) == 1 && srv.ConnectedSessions() == 1 })
		r := srv.Resumes()[0]
		if !r.Accepted || r.SessionID != ids[0].SessionID || r.Replayed != 1 {
			t.Fatalf("resume %+v, want session %s resumed with one dispatch replayed", r, ids[0].SessionID)
		}
		waitFor(t, "the missed interaction", func() bool { return len(c.got()) == 2 })
		if got := c.got(); got[1] != missed {
			t.Fatalf("got %v, want %s second (once)", got, missed)
		}
	})

	t.Run("heartbeat ACKs stop", func(t *testing.T) {
		conns := srv.GatewayConnections()
		srv.SetHeartbeatAcks(false)
		waitFor(t, "a new connection", func() bool { return srv.GatewayConnections() > conns })
		srv.SetHeartbeatAcks(true)
		waitFor(t, "the session resumed", func() bool {
			rs := srv.Resumes()
			return len(rs) == 2 && rs[1].Accepted && srv.ConnectedSessions() == 1
		})
		deliver(t, srv)
		waitFor(t, "an interaction on the resumed session", func() bool { return len(c.got()) == 3 })
	})

	t.Run("invalid session", func(t *testing.T) {
		srv.InvalidateSessions()
		waitFor(t, "a new IDENTIFY", func() bool {
			ids := srv.Identifies()
			return len(ids) == 2 && ids[1].Accepted && srv.ConnectedSessions() == 1
		})
		deliver(t, srv)
		waitFor(t, "an interaction on the new session", func() bool { return len(c.got()) == 4 })
	})
}

// IDENTIFY is refused with Discord's close codes: a wrong token, a
// privileged intent, any intent but Guilds.
func TestGatewayRefusesIdentify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		token   string
		intents discordgo.Intent
	}{
		{"wrong token", "other", discordgo.IntentsGuilds},
		{"privileged intent", "secret", discordgo.IntentsGuilds | discordgo.IntentsGuildMembers},
		{"not guilds", "secret", discordgo.IntentsGuildMessages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := New()
			defer srv.Close()
			srv.SetGatewayToken("secret")
			c := newGatewayClient(t, srv, tc.token, tc.intents)
			c.s.ShouldReconnectOnError = false
			_ = c.s.Open() // READY never comes: Open fails or the session closes
			defer c.s.Close()
			waitFor(t, "the IDENTIFY", func() bool { return len(srv.Identifies()) == 1 })
			if id := srv.Identifies()[0]; id.Accepted {
				t.Fatalf("identify %+v accepted", id)
			}
			if n := srv.DeliverInteraction([]byte(`{}`)); n != 0 {
				t.Fatalf("an interaction went to %d sessions, want none", n)
			}
		})
	}
}

// On the wire: HELLO first; a RESUME of a session the gateway does not
// know is answered INVALID_SESSION (d=false) on the same connection, which
// then takes an IDENTIFY; a heartbeat is ACKed; a second IDENTIFY closes
// the connection with 4005.
func TestGatewayWire(t *testing.T) {
	srv := New()
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.srv.Listener.Addr().String()+gatewayPath+"/?v=10&encoding=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	read := func() frame {
		t.Helper()
		var f frame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("read: %v", err)
		}
		return f
	}
	send := func(op int, d string) {
		t.Helper()
		if err := ws.WriteJSON(map[string]any{"op": op, "d": json.RawMessage(d)}); err != nil {
			t.Fatal(err)
		}
	}
	if f := read(); f.Op != opHello || !strings.Contains(string(f.D), `"heartbeat_interval":1000`) {
		t.Fatalf("first payload %+v, want HELLO", f)
	}
	send(opResume, `{"token":"Bot t","session_id":"nope","seq":3}`)
	if f := read(); f.Op != opInvalidSession || string(f.D) != "false" {
		t.Fatalf("after an unknown RESUME: %+v %s, want INVALID_SESSION false", f, f.D)
	}
	send(opIdentify, `{"token":"Bot t","intents":1,"properties":{}}`)
	if f := read(); f.Op != opDispatch || f.T == nil || *f.T != "READY" || f.S == nil || *f.S != 1 {
		t.Fatalf("after IDENTIFY: %+v, want READY seq 1", f)
	}
	send(opHeartbeat, `1`)
	if f := read(); f.Op != opHeartbeatAck {
		t.Fatalf("after a heartbeat: %+v, want HEARTBEAT_ACK", f)
	}
	send(opIdentify, `{"token":"Bot t","intents":1,"properties":{}}`)
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != CloseAlreadyAuthenticated {
		t.Fatalf("a second IDENTIFY: %v, want close %d", err, CloseAlreadyAuthenticated)
	}
}

// GET /gateway needs no token; GET /gateway/bot needs the bot token.
func TestGatewayRoutes(t *testing.T) {
	srv := New()
	defer srv.Close()
	if a := do(t, srv, http.MethodGet, "gateway", ""); a.status != http.StatusOK || !strings.HasPrefix(a.body["url"].(string), "ws://") {
		t.Fatalf("GET /gateway: %d %v", a.status, a.body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"gateway/bot", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /gateway/bot without a token: %d, want 401", resp.StatusCode)
	}
}
