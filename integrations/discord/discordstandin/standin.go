// Package discordstandin is an httptest stand-in for the Discord REST routes
// chatops uses: create, edit, read and list channel messages, start a
// thread from a message, and the interaction side (interactions.go):
// interaction callbacks, edits, deletes and follow-ups of the response
// (JSON or multipart with files), and the bulk overwrite of a guild's
// commands, checked against Discord's rules. It answers with the JSON discordgo expects, checks
// what Discord checks (message limits, button ids, allowed_mentions, thread
// names and archive times), sends X-RateLimit-* headers, and can be told to
// fail: 429 with Retry-After, 500, slow answers, any status, and "processed,
// then the connection dropped", and play an outage (SetDown).
//
// Tests of any package use it: pass URL() as the Discord API base and
// inspect what was posted with Messages, Threads and Calls; announce an
// interaction with NewInteraction and inspect its responses with
// Interaction. Guild members and their roles are what SetMember and
// RemoveMember say (members.go), read as Discord serves them (GET
// /guilds/{guild}/members/{user}), and every channel's guild is
// DefaultGuildID unless SetChannelGuild says otherwise (GET
// /channels/{channel}). The gateway (gateway.go) delivers interactions
// over a websocket as Discord's does: HELLO, IDENTIFY, heartbeats, READY,
// RESUME and INVALID_SESSION. Channel ids must be numeric, as Discord's are; any numeric id is a text channel
// except a message id without a thread (Unknown Channel, as on Discord) and
// channels removed with DeleteChannel. It never contacts anything.
package discordstandin

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Route names, for Calls and FailNext.
const (
	RouteCreateMessage = "create_message" // POST  /channels/{channel}/messages (a thread id posts in the thread)
	RouteEditMessage   = "edit_message"   // PATCH /channels/{channel}/messages/{message}
	RouteGetMessage    = "get_message"    // GET   /channels/{channel}/messages/{message}
	RouteListMessages  = "list_messages"  // GET   /channels/{channel}/messages?after=&before=&limit=
	RouteStartThread   = "start_thread"   // POST  /channels/{channel}/messages/{message}/threads
)

// BotUserID is the author id of every message the stand-in stores.
const BotUserID = "1000000000000000042"

// apiPrefix is where the stand-in serves the API; URL() includes it.
const apiPrefix = "/api/v10/"

// defaultRouteLimit is the per-route, per-channel budget the headers
// announce when SetRouteLimit was not called: generous, and not enforced.
const defaultRouteLimit = 50

// discordEpoch is the first millisecond of 2015, where snowflakes start.
const discordEpoch = 1420070400000

// Message is a message as the stand-in holds it.
type Message struct {
	ID        string
	ChannelID string
	// Content is the latest content (after edits).
	Content string
	// Embeds, Components and AllowedMentions are the latest JSON sent for
	// them ("[]" or "null" when none was sent).
	Embeds          json.RawMessage
	Components      json.RawMessage
	AllowedMentions json.RawMessage
	// MentionRoles and MentionEveryone are who the message pinged when it
	// was created, as Discord works it out from content and
	// allowed_mentions. Edits never ping.
	MentionRoles    []string
	MentionEveryone bool
	Edits           int
	Created         time.Time
	// Flags are the message flags (64 ephemeral, 128 loading: a deferred
	// interaction response not yet edited).
	Flags int
	// Attachments are the files sent with the message (interaction
	// responses and follow-ups), latest first-to-last.
	Attachments []Attachment
}

// Ephemeral reports whether only the person who used the interaction
// sees the message.
func (m Message) Ephemeral() bool { return m.Flags&FlagEphemeral != 0 }

// Thread is a thread channel started from a message; its id is the
// message's.
type Thread struct {
	ID, Parent, Name string
	AutoArchive      int
	Archived         bool
}

// Server is the stand-in. It is safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu         sync.Mutex
	lastID     uint64
	messages   map[string]*message   // by message id
	byChannel  map[string][]*message // in creation order
	threads    map[string]*Thread
	deleted    map[string]bool
	calls      map[string]int
	faults     map[string][]*queuedFault
	faultFunc  FaultFunc // SetFaultFunc
	routeLimit float64   // 0: not enforced
	buckets    map[string]*bucket
	hits       map[string][]time.Time // request times per channel
	// The interaction side (interactions.go).
	interactions map[string]*interaction    // by interaction id
	byToken      map[string]*interaction    // by interaction token
	commands     map[string]json.RawMessage // by app + "/" + guild
	allHits      []time.Time
	routeHits    map[string][]time.Time // request times per routeKey(route, channel)
	down         bool                   // SetDown: every request answers 503
	limited      map[string]int         // 429 answers given, per route
	// The guild side (members.go): role ids by guild and user, and the
	// guild of channels not in DefaultGuildID.
	members      map[string]map[string][]string
	channelGuild map[string]string

	// The gateway side (gateway.go), under its own lock: its writes to a
	// connection happen while holding it.
	gw       sync.Mutex
	gwst     gatewayState
	gwClosed bool
}

type message struct {
	Message
	edited *time.Time
}

// snapshot is a copy of the message that shares nothing with the state.
func (m *message) snapshot() Message {
	c := m.Message
	c.MentionRoles = slices.Clone(m.MentionRoles)
	c.Attachments = slices.Clone(m.Attachments)
	return c
}

// New starts a stand-in on a loopback port.
func New() *Server {
	s := &Server{
		closing:   make(chan struct{}),
		messages:  map[string]*message{},
		byChannel: map[string][]*message{},
		threads:   map[string]*Thread{},
		deleted:   map[string]bool{},
		calls:     map[string]int{},
		faults:    map[string][]*queuedFault{},
		buckets:   map[string]*bucket{},
		hits:      map[string][]time.Time{},
		routeHits: map[string][]time.Time{},
		limited:   map[string]int{},

		interactions: map[string]*interaction{},
		byToken:      map[string]*interaction{},
		commands:     map[string]json.RawMessage{},
		members:      map[string]map[string][]string{},
		channelGuild: map[string]string{},
		gwst:         newGatewayState(),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API base to give the client (Config.APIURL).
func (s *Server) URL() string { return s.srv.URL + apiPrefix }

// Close stops the server; slow answers still pending end at once.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.closeGateway()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Messages returns the messages of a channel or thread, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.byChannel[channel]))
	for _, m := range s.byChannel[channel] {
		out = append(out, m.snapshot())
	}
	return out
}

// Threads maps each thread id to its parent channel.
func (s *Server) Threads() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.threads))
	for id, t := range s.threads {
		out[id] = t.Parent
	}
	return out
}

// Thread returns one thread's details.
func (s *Server) Thread(id string) (Thread, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.threads[id]
	if !ok {
		return Thread{}, false
	}
	return *t, true
}

// ArchiveThread archives a thread, as Discord does after its auto-archive
// time; the next post in it unarchives it.
func (s *Server) ArchiveThread(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.threads[id]; ok {
		t.Archived = true
	}
}

// DeleteChannel makes a channel unknown: every route on it answers 404
// Unknown Channel (code 10003).
func (s *Server) DeleteChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted[id] = true
}

// Calls counts the requests received on route, whatever their answer
// (faults and 429s included).
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// AllCalls counts requests by route.
func (s *Server) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// SetRouteLimit enforces a rate on every route of every channel: requests
// beyond perSecond on one route and channel get 429, and the X-RateLimit-*
// headers announce that budget. 0 turns enforcement off.
func (s *Server) SetRouteLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routeLimit = perSecond
	s.buckets = map[string]*bucket{}
}

// MaxRate is the most requests channel received in any one-second window,
// counting every route on it and every answer (a thread is its own
// channel, except that starting it counts for its parent).
func (s *Server) MaxRate(channel string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maxInWindow(s.hits[channel], time.Second)
}

// MaxGlobalRate is the most requests received in any one-second window,
// all channels together (Discord's global limit is 50/s).
func (s *Server) MaxGlobalRate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maxInWindow(s.allHits, time.Second)
}

// MaxRouteRate is the most requests on route to channel received in any
// one-second window, every answer counted, among those that arrived in
// [from, to) (a zero from or to leaves that end open). An empty route
// counts every route, an empty channel every channel. It is MaxRate and
// MaxGlobalRate for one route and one stretch of time: a benchmark holds
// it against the route limit for the minutes it looks at.
func (s *Server) MaxRouteRate(route, channel string, from, to time.Time) float64 {
	s.mu.Lock()
	var ts []time.Time
	for key, hits := range s.routeHits {
		r, c, _ := strings.Cut(key, " ")
		if (route != "" && r != route) || (channel != "" && c != channel) {
			continue
		}
		for _, t := range hits {
			if (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to)) {
				ts = append(ts, t)
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return maxInWindow(ts, time.Second)
}

func routeKey(route, channel string) string { return route + " " + channel }

// SetDown plays a Discord outage: while down is true every authorized
// request on a known route is counted (Calls, MaxRate, MaxRouteRate) and
// answered 503 with Discord's error JSON; nothing is processed and no
// queued fault is used up. SetDown(false) ends it.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RateLimited counts the 429 answers the stand-in gave on route ("" for
// every route): those of SetRouteLimit and those queued with FailNext.
func (s *Server) RateLimited(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route != "" {
		return s.limited[route]
	}
	n := 0
	for _, v := range s.limited {
		n += v
	}
	return n
}

func maxInWindow(ts []time.Time, w time.Duration) float64 {
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return float64(best)
}

// nextID returns a new snowflake: the time in its top bits, always
// increasing, so "after the snowflake of time t" means "posted after t".
func (s *Server) nextID(now time.Time) string {
	id := uint64(now.UnixMilli()-discordEpoch) << 22
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return strconv.FormatUint(id, 10)
}

func snowflakeLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func sortByID(ms []*message) {
	sort.Slice(ms, func(i, j int) bool { return snowflakeLess(ms[i].ID, ms[j].ID) })
}
