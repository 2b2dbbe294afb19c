package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
)

// memGuard is the store's replay guard in memory.
type memGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func (g *memGuard) FirstSeen(_ context.Context, key string, now, expires time.Time) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return false, g.err
	}
	if exp, ok := g.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	g.seen[key] = expires
	return true, nil
}

// services is what the cluster would offer for autocomplete: more than
// 25, a duplicate and one too long for a choice.
var services = func() []string {
	out := []string{"orders-service", "orchestrator-service", "auth-service", "gateway", "orders-service", strings.Repeat("x", 101)}
	for i := range 40 {
		out = append(out, fmt.Sprintf("svc-%02d", i))
	}
	return out
}()

// fakeCompleter offers every service whatever the prefix, so the
// filtering under test is the inbound side's.
type fakeCompleter struct {
	mu      sync.Mutex
	asked   []string
	sources []string
}

func (f *fakeCompleter) Complete(_ context.Context, source, prefix string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, prefix)
	f.sources = append(f.sources, source)
	return services, nil
}

// noFlush wraps a handler as the HTTP API's instrumentation does: its
// writer cannot flush.
func noFlush(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(struct{ http.ResponseWriter }{w}, r)
	})
}

// harness plays Discord: it signs interactions, posts them to the HTTP
// endpoint or hands them to the gateway handler, and delivers HTTP
// acknowledgements to the REST stand-in, where the answers land.
type harness struct {
	t      *testing.T
	sd     *discordstandin.Server
	in     *Inbound
	router *command.Router
	guard  *memGuard
	key    ed25519.PrivateKey
	srv    *httptest.Server
	logs   *logsRun
	comp   *fakeCompleter
	logged *observer.ObservedLogs

	mu     sync.Mutex
	tokens []string
}

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func newHarness(t *testing.T, edit func(*InboundConfig)) *harness {
	t.Helper()
	core, logged := observer.New(zapcore.DebugLevel)
	h := &harness{
		t:      t,
		sd:     newStandin(t),
		guard:  &memGuard{seen: map[string]time.Time{}},
		key:    testKey,
		logs:   &logsRun{},
		comp:   &fakeCompleter{},
		logged: logged,
	}
	client := newClient(t, h.sd, nil)
	router, err := command.NewRouter(pinnedTable(t, testIncidents(t), h.logs), command.Config{Root: "ops", Channels: []string{testChannel}}, zap.New(core), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.router = router
	cfg := InboundConfig{PublicKey: testKey.Public().(ed25519.PublicKey), AppID: testApp, GuildIDs: []string{testGuild}, Completer: h.comp}
	if edit != nil {
		edit(&cfg)
	}
	h.in = NewInbound(cfg, h.router, h.guard, client, zap.New(core))
	h.srv = httptest.NewServer(noFlush(h.in.Handler()))
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.checkLogs)
	return h
}

// checkLogs fails the test when any log line holds a secret: an
// interaction token, the bot token or a signature.
func (h *harness) checkLogs() {
	h.mu.Lock()
	secrets := append([]string{testToken}, h.tokens...)
	h.mu.Unlock()
	for _, e := range h.logged.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, s := range secrets {
			if strings.Contains(line, s) {
				h.t.Errorf("log line %q holds a secret", line)
			}
		}
	}
}

// wait lets every command deliver its answer (Shutdown waits for them).
func (h *harness) wait() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.in.Shutdown(ctx); err != nil {
		h.t.Fatalf("commands still running: %v", err)
	}
}

// interaction is one interaction as Discord sends it.
type interaction struct {
	ID, Token string
	Body      []byte
}

type ixSpec struct {
	typ discordgo.InteractionType
	// channel is where it is used; parent, when set, makes it a thread
	// of that channel.
	channel, parent string
	data            map[string]any
}

func (h *harness) newInteraction(s ixSpec) interaction {
	h.t.Helper()
	if s.channel == "" {
		s.channel = testChannel
	}
	id, token := h.sd.NewInteraction(testApp, s.channel)
	h.mu.Lock()
	h.tokens = append(h.tokens, token)
	h.mu.Unlock()
	ch := map[string]any{"id": s.channel, "type": 0, "name": "ops-room", "parent_id": "1700000000000000001"} // a category
	if s.parent != "" {
		ch = map[string]any{"id": s.channel, "type": 11, "name": "incident thread", "parent_id": s.parent}
	}
	v := map[string]any{
		"id": id, "application_id": testApp, "type": int(s.typ), "token": token, "version": 1,
		"guild_id": testGuild, "channel_id": s.channel, "channel": ch,
		"member": map[string]any{
			"user":  map[string]any{"id": testUser, "username": "ana", "global_name": "Ana Ops"},
			"roles": []string{testOperator}, "nick": "Ana",
		},
		"locale": "en-US",
	}
	if s.data != nil {
		v["data"] = s.data
	}
	body, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return interaction{ID: id, Token: token, Body: body}
}

// slashCommand builds the data of /ops <path> with options.
func slashCommand(path string, options ...map[string]any) map[string]any {
	words := strings.Fields(path)
	leaf := []map[string]any{}
	leaf = append(leaf, options...)
	var opts []map[string]any
	switch len(words) {
	case 1:
		opts = []map[string]any{{"type": 1, "name": words[0], "options": leaf}}
	case 2:
		opts = []map[string]any{{"type": 2, "name": words[0], "options": []map[string]any{{"type": 1, "name": words[1], "options": leaf}}}}
	}
	return map[string]any{"id": "1800000000000000008", "name": "ops", "type": 1, "options": opts}
}

func option(name string, typ discordgo.ApplicationCommandOptionType, value any) map[string]any {
	return map[string]any{"name": name, "type": int(typ), "value": value}
}

func focusedOption(name, value string) map[string]any {
	return map[string]any{"name": name, "type": 3, "value": value, "focused": true}
}

// signed is an HTTP request as Discord signs it; the fields let tests
// spoil it.
type signed struct {
	body      []byte
	signed    []byte // what was signed, when not body
	ts        string
	sig       string
	noSig     bool
	noTS      bool
	key       ed25519.PrivateKey
	method    string
	upperCase bool
}

func (h *harness) sign(body []byte, at time.Time) signed {
	return signed{body: body, ts: strconv.FormatInt(at.Unix(), 10)}
}

func (h *harness) send(r signed) (int, []byte) {
	h.t.Helper()
	key := r.key
	if key == nil {
		key = h.key
	}
	msg := r.signed
	if msg == nil {
		msg = r.body
	}
	sig := r.sig
	if sig == "" {
		sig = hex.EncodeToString(ed25519.Sign(key, append([]byte(r.ts), msg...)))
	}
	if r.upperCase {
		sig = strings.ToUpper(sig)
	}
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, h.srv.URL+"/discord/interactions", bytes.NewReader(r.body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if !r.noSig {
		req.Header.Set("X-Signature-Ed25519", sig)
	}
	if !r.noTS {
		req.Header.Set("X-Signature-Timestamp", r.ts)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// postHTTP sends ix over HTTP, checks the answer came at once, and hands
// the acknowledgement to the stand-in as Discord would.
func (h *harness) postHTTP(ix interaction) discordgo.InteractionResponse {
	h.t.Helper()
	start := time.Now()
	status, body := h.send(h.sign(ix.Body, time.Now()))
	if took := time.Since(start); took > time.Second {
		h.t.Errorf("acknowledged after %s: Discord gives up at 3 s", took)
	}
	if status != http.StatusOK {
		h.t.Fatalf("HTTP %d: %s", status, body)
	}
	var resp discordgo.InteractionResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		h.t.Fatalf("answer %s: %v", body, err)
	}
	if resp.Type != discordgo.InteractionResponsePong {
		h.forward(ix, body)
	}
	return resp
}

// forward delivers an HTTP acknowledgement to the stand-in.
func (h *harness) forward(ix interaction, body []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.sd.URL()+"interactions/"+ix.ID+"/"+ix.Token+"/callback", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		out, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("stand-in refused the acknowledgement %s: %d %s", body, resp.StatusCode, out)
	}
}

// gateway hands ix to the gateway handler as discordgo would.
func (h *harness) gateway(ix interaction) {
	h.t.Helper()
	var ic discordgo.InteractionCreate
	if err := json.Unmarshal(ix.Body, &ic); err != nil {
		h.t.Fatal(err)
	}
	h.in.onGatewayEvent(nil, &discordgo.Event{Operation: 0, Type: "INTERACTION_CREATE", RawData: ix.Body, Struct: &ic})
}

func (h *harness) interactionState(ix interaction) discordstandin.Interaction {
	h.t.Helper()
	st, ok := h.sd.Interaction(ix.ID)
	if !ok {
		h.t.Fatalf("interaction %s unknown to the stand-in", ix.ID)
	}
	return st
}

func embedOf(t *testing.T, m *discordstandin.Message) discordgo.MessageEmbed {
	t.Helper()
	if m == nil {
		t.Fatal("no message")
	}
	es := embedsOf(t, *m)
	if len(es) != 1 {
		t.Fatalf("%d embeds, want 1 (%s)", len(es), m.Embeds)
	}
	return es[0]
}

func (h *harness) noInteractionCalls() {
	h.t.Helper()
	for _, route := range []string{discordstandin.RouteInteractionCallback, discordstandin.RouteEditOriginal, discordstandin.RouteFollowup, discordstandin.RouteDeleteOriginal} {
		if n := h.sd.Calls(route); n != 0 {
			h.t.Errorf("%d calls on %s", n, route)
		}
	}
}

func logsCommand() map[string]any {
	return slashCommand("logs", option("service", discordgo.ApplicationCommandOptionString, "orders-service"),
		option("tail", discordgo.ApplicationCommandOptionInteger, 5))
}

// Every request that fails verification is refused with a bare 401 (or
// 413, 405) before anything in it is acted on: the command never runs and
// Discord hears nothing.
func TestHTTPVerification(t *testing.T) {
	_, otherKey, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name   string
		spoil  func(h *harness, r *signed)
		status int
	}{
		{"bad signature", func(h *harness, r *signed) { r.key = otherKey }, http.StatusUnauthorized},
		{"signature not hex", func(h *harness, r *signed) { r.sig = strings.Repeat("zz", 64) }, http.StatusUnauthorized},
		{"short signature", func(h *harness, r *signed) { r.sig = "abcd" }, http.StatusUnauthorized},
		{"missing signature", func(h *harness, r *signed) { r.noSig = true }, http.StatusUnauthorized},
		{"missing timestamp", func(h *harness, r *signed) { r.noTS = true }, http.StatusUnauthorized},
		{"timestamp not a number", func(h *harness, r *signed) { r.ts = "12:00" }, http.StatusUnauthorized},
		{"stale timestamp (6 min)", func(h *harness, r *signed) { r.ts = strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10) }, http.StatusUnauthorized},
		{"future timestamp (6 min)", func(h *harness, r *signed) { r.ts = strconv.FormatInt(time.Now().Add(6*time.Minute).Unix(), 10) }, http.StatusUnauthorized},
		{"tampered body", func(h *harness, r *signed) {
			r.signed = r.body
			r.body = bytes.Replace(r.body, []byte(`"tail"`), []byte(`"TAIL"`), 1)
		}, http.StatusUnauthorized},
		{"timestamp changed after signing", func(h *harness, r *signed) {
			r.sig = hex.EncodeToString(ed25519.Sign(h.key, append([]byte(r.ts), r.body...)))
			r.ts = strconv.FormatInt(time.Now().Add(-time.Second).Unix()-1, 10)
		}, http.StatusUnauthorized},
		{"replay guard down", func(h *harness, r *signed) { h.guard.err = fmt.Errorf("database is down") }, http.StatusUnauthorized},
		{"oversize body", func(h *harness, r *signed) {
			r.body = append(bytes.TrimSuffix(r.body, []byte("}")), []byte(`,"pad":"`+strings.Repeat("p", MaxInteractionBody)+`"}`)...)
		}, http.StatusRequestEntityTooLarge},
		{"GET", func(h *harness, r *signed) { r.method = http.MethodGet }, http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
			r := h.sign(ix.Body, time.Now())
			tc.spoil(h, &r)
			status, body := h.send(r)
			if status != tc.status {
				t.Errorf("HTTP %d %s, want %d", status, body, tc.status)
			}
			if tc.status == http.StatusUnauthorized && strings.TrimSpace(string(body)) != "unauthorized" {
				t.Errorf("401 says %q: want no detail", body)
			}
			h.wait()
			if ran := h.logs.ran(); len(ran) != 0 {
				t.Errorf("the command ran %d times", len(ran))
			}
			h.noInteractionCalls()
		})
	}
}

// A replayed request, byte for byte or with its signature's hex in
// another case, is refused; the command runs once.
func TestHTTPReplayRefused(t *testing.T) {
	h := newHarness(t, nil)
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	r := h.sign(ix.Body, time.Now())
	status, body := h.send(r)
	if status != http.StatusOK {
		t.Fatalf("first: HTTP %d %s", status, body)
	}
	h.forward(ix, body)
	if status, _ := h.send(r); status != http.StatusUnauthorized {
		t.Errorf("replay: HTTP %d, want 401", status)
	}
	r.upperCase = true
	if status, _ := h.send(r); status != http.StatusUnauthorized {
		t.Errorf("replay with an upper-case signature: HTTP %d, want 401", status)
	}
	h.wait()
	if n := len(h.logs.ran()); n != 1 {
		t.Errorf("the command ran %d times, want once", n)
	}
}

// signatureRespellings are ways to write a signed request's headers
// again. Those the verifier accepts (the hex in any case; spaces around a
// value, which the HTTP server trims) are the same signed request and
// must be refused as a replay; the rest change what was signed (the
// timestamp's text is part of it) or are malformed, and are refused
// before the replay guard.
var signatureRespellings = []struct {
	name    string
	respell func(sig, ts string) (string, string)
	replay  bool
}{
	{"byte for byte", func(sig, ts string) (string, string) { return sig, ts }, true},
	{"hex in upper case", func(sig, ts string) (string, string) { return strings.ToUpper(sig), ts }, true},
	{"hex in mixed case", func(sig, ts string) (string, string) { return mixedCase(sig), ts }, true},
	{"spaces around both", func(sig, ts string) (string, string) { return "  " + sig + " \t", "\t" + ts + "  " }, true},
	{"upper-case hex with spaces", func(sig, ts string) (string, string) { return " " + strings.ToUpper(sig) + " ", ts }, true},
	{"timestamp with leading zeros", func(sig, ts string) (string, string) { return sig, "00" + ts }, false},
	{"timestamp with a plus sign", func(sig, ts string) (string, string) { return sig, "+" + ts }, false},
	{"upper-case hex, timestamp with a leading zero", func(sig, ts string) (string, string) { return strings.ToUpper(sig), "0" + ts }, false},
	{"space inside the timestamp", func(sig, ts string) (string, string) { return sig, ts[:3] + " " + ts[3:] }, false},
}

// mixedCase writes s's letters in alternating case.
func mixedCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		if i%2 == 0 && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// A command or a click that ran, sent again over HTTP with its headers
// spelled every other way, is refused with a bare 401 each time (as a
// replay when the verifier accepts the spelling) and does not run again;
// a different, valid request still runs.
func TestHTTPReplayInAnotherSpellingRefused(t *testing.T) {
	for _, kind := range []string{"command", "click"} {
		t.Run(kind, func(t *testing.T) {
			rec := newClickRecorder()
			h := newHarness(t, withClicks(rec))
			newIx := func(n int) interaction {
				if kind == "click" {
					return h.newClick(discordstandin.Click{CustomID: fmt.Sprintf("approval:%d:approve:n0nce", n)})
				}
				return h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
			}
			ix := newIx(7)
			r := h.sign(ix.Body, time.Now())
			r.sig = hex.EncodeToString(ed25519.Sign(h.key, append([]byte(r.ts), ix.Body...)))
			status, body := h.send(r)
			if status != http.StatusOK {
				t.Fatalf("original: HTTP %d %s", status, body)
			}
			h.forward(ix, body)
			for _, v := range signatureRespellings {
				replays := h.logged.FilterMessage("replayed interaction refused").Len()
				again := r
				again.sig, again.ts = v.respell(r.sig, r.ts)
				if status, body := h.send(again); status != http.StatusUnauthorized || strings.TrimSpace(string(body)) != "unauthorized" {
					t.Errorf("%s: HTTP %d %q, want a bare 401", v.name, status, body)
					continue
				}
				if asReplay := h.logged.FilterMessage("replayed interaction refused").Len() > replays; asReplay != v.replay {
					t.Errorf("%s: refused as a replay: %t, want %t", v.name, asReplay, v.replay)
				}
			}
			other := newIx(8)
			status, body = h.send(h.sign(other.Body, time.Now()))
			if status != http.StatusOK {
				t.Fatalf("a different request: HTTP %d %s, want 200", status, body)
			}
			h.forward(other, body)
			h.wait()
			ran := len(h.logs.ran())
			if kind == "click" {
				ran = len(rec.got())
			}
			if ran != 2 {
				t.Errorf("ran %d times, want twice (the original and the different request)", ran)
			}
		})
	}
}

func TestHTTPPing(t *testing.T) {
	h := newHarness(t, nil)
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionPing})
	resp := h.postHTTP(ix)
	if resp.Type != discordgo.InteractionResponsePong {
		t.Errorf("type %d, want PONG", resp.Type)
	}
	h.noInteractionCalls()
}

// A command is deferred publicly at once; its answer then replaces the
// deferral, in the channel, pinging no one.
func TestHTTPCommandDeferredThenEdited(t *testing.T) {
	h := newHarness(t, nil)
	h.logs.block = make(chan struct{})
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	resp := h.postHTTP(ix) // answered while the command is still running
	if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource || (resp.Data != nil && resp.Data.Flags != 0) {
		t.Fatalf("acknowledged with %+v, want a public deferral (type 5)", resp)
	}
	st := h.interactionState(ix)
	if st.Original == nil || st.Original.Flags&discordstandin.FlagLoading == 0 {
		t.Fatalf("original %+v: want the loading message", st.Original)
	}
	close(h.logs.block)
	h.wait()

	st = h.interactionState(ix)
	e := embedOf(t, st.Original)
	if e.Title != "orders-service: last 5 lines" || !strings.Contains(e.Description, "request 5 served") {
		t.Errorf("answer %+v", e)
	}
	if st.Original.Ephemeral() || st.Original.Flags&discordstandin.FlagLoading != 0 {
		t.Errorf("flags %d: want a public, loaded message", st.Original.Flags)
	}
	if am := allowedOf(t, *st.Original); len(am.Parse) != 0 {
		t.Errorf("allowed_mentions %+v: want none", am)
	}
	if msgs := h.sd.Messages(testChannel); len(msgs) != 1 || msgs[0].ID != st.Original.ID {
		t.Errorf("channel holds %d messages, want the answer alone", len(msgs))
	}
	ran := h.logs.ran()
	if len(ran) != 1 {
		t.Fatalf("ran %d times", len(ran))
	}
	want := bot.Command{Platform: "discord", Channel: testChannel, Text: "logs",
		User:    bot.Identity{Platform: "discord", UserID: testUser, Name: "Ana", Groups: []string{testOperator}},
		Options: map[string]string{"service": "orders-service", "tail": "5"}}
	got := ran[0]
	if got.Platform != want.Platform || got.Channel != want.Channel || got.Thread != "" || got.Text != want.Text ||
		fmt.Sprint(got.User) != fmt.Sprint(want.User) || fmt.Sprint(got.Options) != fmt.Sprint(want.Options) || got.ReceivedAt.IsZero() {
		t.Errorf("command %+v\nwant    %+v", got, want)
	}
}

// Private answers are ephemeral, whichever way the deferral went.
func TestPrivateAnswers(t *testing.T) {
	cases := []struct {
		name string
		spec ixSpec
		cfg  func(*InboundConfig)
		// deferPrivately: the deferral is ephemeral from the start.
		deferPrivately bool
		private        bool
		title          string
	}{
		{name: "whoami defers ephemerally", spec: ixSpec{data: slashCommand("whoami")}, deferPrivately: true, private: true, title: "You are Ana"},
		{name: "help defers ephemerally", spec: ixSpec{data: slashCommand("help")}, deferPrivately: true, private: true, title: "Commands (/ops help <command> for details)"},
		{name: "refused channel defers ephemerally", spec: ixSpec{channel: otherChannel, data: logsCommand()}, deferPrivately: true, private: true},
		{name: "unknown command defers ephemerally", spec: ixSpec{data: map[string]any{"id": "1", "name": "oldops", "type": 1}}, deferPrivately: true, private: true},
		{name: "not found: public deferral, private answer", spec: ixSpec{data: slashCommand("incident show", option("id", discordgo.ApplicationCommandOptionInteger, 999))}, private: true, title: "No incident #999."},
		{name: "usage error: public deferral, private answer", spec: ixSpec{data: slashCommand("logs", option("service", discordgo.ApplicationCommandOptionString, "orders-service"), option("tail", discordgo.ApplicationCommandOptionInteger, 5000))}, private: true, title: "tail: 5000 is outside 1..2000"},
		{name: "public answer after an ephemeral deferral", spec: ixSpec{data: slashCommand("incident list")}, cfg: func(c *InboundConfig) { c.EphemeralCommands = []string{"incident list"} }, deferPrivately: true, title: "2 open incidents"},
	}
	for _, tc := range cases {
		for _, mode := range []string{"http", "gateway"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				h := newHarness(t, tc.cfg)
				tc.spec.typ = discordgo.InteractionApplicationCommand
				ix := h.newInteraction(tc.spec)
				if mode == "http" {
					h.postHTTP(ix)
				} else {
					h.gateway(ix)
				}
				st := h.interactionState(ix)
				if len(st.Callbacks) != 1 || st.Callbacks[0].Type != discordstandin.ResponseDeferred {
					t.Fatalf("callbacks %+v: want one deferral", st.Callbacks)
				}
				if got := st.Callbacks[0].Flags&discordstandin.FlagEphemeral != 0; got != tc.deferPrivately {
					t.Errorf("ephemeral deferral = %v, want %v", got, tc.deferPrivately)
				}
				h.wait()
				st = h.interactionState(ix)
				if st.FollowupsAsEdit != 0 {
					t.Errorf("%d follow-ups were swallowed into the deferred message", st.FollowupsAsEdit)
				}
				var answer *discordstandin.Message
				if tc.private == tc.deferPrivately {
					answer = st.Original
					if len(st.Followups) != 0 {
						t.Errorf("%d follow-ups, want the original edited", len(st.Followups))
					}
				} else {
					if len(st.Followups) != 1 || !st.OriginalDeleted {
						t.Fatalf("%d follow-ups, original deleted %v: want the answer as a follow-up and the placeholder gone", len(st.Followups), st.OriginalDeleted)
					}
					answer = &st.Followups[0]
				}
				if answer == nil {
					t.Fatal("no answer")
				}
				if answer.Ephemeral() != tc.private {
					t.Errorf("answer ephemeral = %v, want %v", answer.Ephemeral(), tc.private)
				}
				e := embedOf(t, answer)
				if tc.title != "" && e.Title != tc.title {
					t.Errorf("title %q, want %q", e.Title, tc.title)
				}
				// A private answer never shows in the channel.
				for _, m := range h.sd.Messages(ix.channel()) {
					if tc.private {
						t.Errorf("channel shows %q %s", m.Content, m.Embeds)
					}
				}
			})
		}
	}
}

func (ix interaction) channel() string {
	var v struct {
		ChannelID string `json:"channel_id"`
	}
	_ = json.Unmarshal(ix.Body, &v)
	return v.ChannelID
}

// A command typed in an incident thread runs for the thread's parent
// channel (the allow-list's) with the thread named, and its answer lands
// in the thread.
func TestCommandInThread(t *testing.T) {
	for _, mode := range []string{"http", "gateway"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, nil)
			ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, channel: testThread, parent: testChannel, data: logsCommand()})
			if mode == "http" {
				h.postHTTP(ix)
			} else {
				h.gateway(ix)
			}
			h.wait()
			ran := h.logs.ran()
			if len(ran) != 1 {
				t.Fatalf("ran %d times", len(ran))
			}
			if ran[0].Channel != testChannel || ran[0].Thread != testThread {
				t.Errorf("channel %q thread %q, want the parent %s and the thread %s", ran[0].Channel, ran[0].Thread, testChannel, testThread)
			}
			msgs := h.sd.Messages(testThread)
			if len(msgs) != 1 || len(h.sd.Messages(testChannel)) != 0 {
				t.Fatalf("%d answers in the thread, %d in the channel: want the answer in the thread", len(msgs), len(h.sd.Messages(testChannel)))
			}
			if e := embedsOf(t, msgs[0]); len(e) != 1 || !strings.HasPrefix(e[0].Title, "orders-service") {
				t.Errorf("answer %s", msgs[0].Embeds)
			}
		})
	}
	// A thread of a channel where commands are not accepted is refused.
	h := newHarness(t, nil)
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, channel: testThread, parent: otherChannel, data: logsCommand()})
	h.postHTTP(ix)
	h.wait()
	if len(h.logs.ran()) != 0 {
		t.Error("ran in a thread of a channel that is not allowed")
	}
	if st := h.interactionState(ix); st.Original == nil || !st.Original.Ephemeral() {
		t.Error("the refusal is not ephemeral")
	}
}

// A 2,000-line answer goes as a file on the edit (multipart).
func TestLongAnswerAttached(t *testing.T) {
	h := newHarness(t, nil)
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: slashCommand("logs",
		option("service", discordgo.ApplicationCommandOptionString, "orders-service"),
		option("tail", discordgo.ApplicationCommandOptionInteger, 2000))})
	h.postHTTP(ix)
	h.wait()
	st := h.interactionState(ix)
	if st.Original == nil || len(st.Original.Attachments) != 1 {
		t.Fatalf("original %+v: want one attachment", st.Original)
	}
	f := st.Original.Attachments[0]
	if f.Filename != "logs-orders-service.txt" || strings.Count(string(f.Content), "\n") != 2000 {
		t.Errorf("file %s with %d lines", f.Filename, strings.Count(string(f.Content), "\n"))
	}
	if e := embedOf(t, st.Original); !strings.Contains(e.Description, "logs-orders-service.txt") {
		t.Errorf("description %q does not point at the file", e.Description)
	}
}

func TestAutocomplete(t *testing.T) {
	cases := []struct {
		name   string
		spec   ixSpec
		cfg    func(*InboundConfig)
		want   []string
		asked  bool
		maxLen int
	}{
		{name: "prefix", spec: ixSpec{data: slashCommand("logs", focusedOption("service", "or"))}, want: []string{"orders-service", "orchestrator-service"}, asked: true},
		{name: "case-insensitive prefix", spec: ixSpec{data: slashCommand("logs", focusedOption("service", "AUTH"))}, want: []string{"auth-service"}, asked: true},
		{name: "at most 25", spec: ixSpec{data: slashCommand("logs", focusedOption("service", ""))}, asked: true, maxLen: 25},
		{name: "argument without a source", spec: ixSpec{data: slashCommand("logs", focusedOption("container", "a"))}, want: []string{}},
		{name: "channel not allowed", spec: ixSpec{channel: otherChannel, data: slashCommand("logs", focusedOption("service", "or"))}, want: []string{}},
		{name: "no completer", spec: ixSpec{data: slashCommand("logs", focusedOption("service", "or"))}, cfg: func(c *InboundConfig) { c.Completer = nil }, want: []string{}},
		{name: "completer fails", spec: ixSpec{data: slashCommand("logs", focusedOption("service", "or"))}, cfg: func(c *InboundConfig) {
			c.Completer = CompleterFunc(func(context.Context, string, string) ([]string, error) { return nil, fmt.Errorf("cluster unreachable") })
		}, want: []string{}},
		{name: "in a thread", spec: ixSpec{channel: testThread, parent: testChannel, data: slashCommand("logs", focusedOption("service", "gate"))}, want: []string{"gateway"}, asked: true},
	}
	for _, tc := range cases {
		for _, mode := range []string{"http", "gateway"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				h := newHarness(t, tc.cfg)
				tc.spec.typ = discordgo.InteractionApplicationCommandAutocomplete
				ix := h.newInteraction(tc.spec)
				var raw json.RawMessage
				if mode == "http" {
					status, body := h.send(h.sign(ix.Body, time.Now()))
					if status != http.StatusOK {
						t.Fatalf("HTTP %d", status)
					}
					raw = body
				} else {
					h.gateway(ix)
					st := h.interactionState(ix)
					if len(st.Callbacks) != 1 || !st.Callbacks[0].Accepted || st.Callbacks[0].Type != discordstandin.ResponseAutocomplete {
						t.Fatalf("callbacks %+v", st.Callbacks)
					}
					raw, _ = json.Marshal(map[string]any{"type": 8, "data": json.RawMessage(st.Callbacks[0].Data)})
				}
				var resp struct {
					Type int `json:"type"`
					Data struct {
						Choices []discordgo.ApplicationCommandOptionChoice `json:"choices"`
					} `json:"data"`
				}
				if err := json.Unmarshal(raw, &resp); err != nil || resp.Type != 8 {
					t.Fatalf("answer %s: %v", raw, err)
				}
				if !bytes.Contains(raw, []byte(`"choices":[`)) {
					t.Errorf("answer %s: choices must be present, even empty", raw)
				}
				var names []string
				for _, c := range resp.Data.Choices {
					names = append(names, c.Name)
					if c.Value != c.Name {
						t.Errorf("choice %+v: value differs from name", c)
					}
				}
				if tc.maxLen > 0 {
					if len(names) != tc.maxLen {
						t.Errorf("%d choices, want %d", len(names), tc.maxLen)
					}
				} else if strings.Join(names, ",") != strings.Join(tc.want, ",") {
					t.Errorf("choices %q, want %q", names, tc.want)
				}
				if asked := len(h.comp.asked) > 0; asked != tc.asked {
					t.Errorf("completer asked = %v, want %v", asked, tc.asked)
				} else if asked && h.comp.sources[0] != "service" {
					t.Errorf("source %q, want service", h.comp.sources[0])
				}
				h.wait()
				if len(h.logs.ran()) != 0 {
					t.Error("autocomplete ran the command")
				}
			})
		}
	}
}

// Beyond MaxInFlight, or once shutting down, a command is answered at
// once that chatops is busy, and does not run.
func TestBusyAndShutdown(t *testing.T) {
	h := newHarness(t, func(c *InboundConfig) { c.MaxInFlight = 1 })
	h.logs.block = make(chan struct{})
	first := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	if resp := h.postHTTP(first); resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource {
		t.Fatalf("first: %+v", resp)
	}
	second := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	resp := h.postHTTP(second)
	if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data == nil ||
		resp.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(resp.Data.Content, "busy") {
		t.Errorf("second: %+v, want an ephemeral busy answer", resp)
	}
	close(h.logs.block)
	h.wait()
	third := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	if resp := h.postHTTP(third); resp.Type != discordgo.InteractionResponseChannelMessageWithSource {
		t.Errorf("after shutdown: %+v, want a refusal", resp)
	}
	if n := len(h.logs.ran()); n != 1 {
		t.Errorf("ran %d times, want once", n)
	}
}

// On the gateway a command runs only when its acknowledgement landed: not
// when another replica answered first, nor when it came too late.
func TestGatewayRunsOnlyWhatItAcknowledged(t *testing.T) {
	t.Run("acknowledged elsewhere", func(t *testing.T) {
		h := newHarness(t, nil)
		ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
		h.forward(ix, []byte(`{"type":5}`))
		h.gateway(ix)
		h.wait()
		if len(h.logs.ran()) != 0 {
			t.Error("ran a command another replica acknowledged")
		}
	})
	t.Run("too late", func(t *testing.T) {
		h := newHarness(t, nil)
		ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
		h.sd.AgeInteraction(ix.ID, 4*time.Second)
		h.gateway(ix)
		h.wait()
		if len(h.logs.ran()) != 0 {
			t.Error("ran a command whose acknowledgement Discord refused")
		}
	})
	t.Run("ping and other events are ignored", func(t *testing.T) {
		h := newHarness(t, nil)
		h.in.onGatewayEvent(nil, &discordgo.Event{Type: "GUILD_CREATE", RawData: []byte(`{}`)})
		h.in.onGatewayEvent(nil, &discordgo.Event{Type: "INTERACTION_CREATE", RawData: []byte(`{}`)})
		h.noInteractionCalls()
	})
}

// Interactions chatops does not use (a modal submitted) get a polite
// ephemeral answer.
func TestOtherInteractions(t *testing.T) {
	h := newHarness(t, nil)
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionModalSubmit, data: map[string]any{"custom_id": "form", "components": []any{}}})
	resp := h.postHTTP(ix)
	if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data == nil ||
		resp.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(resp.Data.Content, "not something chatops handles") {
		t.Errorf("%+v", resp)
	}
}

// An answer that cannot be delivered is logged without the token.
func TestUndeliveredAnswerHidesToken(t *testing.T) {
	h := newHarness(t, nil)
	h.sd.FailNext(discordstandin.RouteEditOriginal, 10, discordstandin.ServerError{})
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	h.postHTTP(ix)
	h.wait()
	if h.logged.FilterMessage("command answer not delivered").Len() == 0 {
		t.Error("the failed delivery was not logged")
	}
	// checkLogs (at cleanup) looks for the token in every line.
}

func TestParsePublicKey(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	got, err := ParsePublicKey(" " + hex.EncodeToString(pub) + "\n")
	if err != nil || !got.Equal(pub) {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"", "abcd", strings.Repeat("zz", 32), hex.EncodeToString(pub) + "00"} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Without a key the endpoint refuses everything.
	h := newHarness(t, func(c *InboundConfig) { c.PublicKey = nil })
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionPing})
	if status, _ := h.send(h.sign(ix.Body, time.Now())); status != http.StatusUnauthorized {
		t.Errorf("HTTP %d without a key, want 401", status)
	}
}

// The gateway asks for the Guilds intent alone, keeps trying while Discord
// cannot be reached, and returns when its context ends. (The connection
// itself, resumes and heartbeats: test/e2e/defaultmodes_test.go.)
func TestRunGatewayRetriesUntilCancelled(t *testing.T) {
	h := newHarness(t, nil)
	h.sd.SetDown(true) // GET /gateway answers 503
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.in.RunGateway(ctx, nil)
	if err != context.DeadlineExceeded {
		t.Errorf("returned %v, want the context's error", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("returned after %s", took)
	}
	if got := h.in.client.s.Identify.Intents; got != discordgo.IntentsGuilds {
		t.Errorf("intents %b, want Guilds alone", got)
	}
	if h.logged.FilterMessage("gateway not reachable; trying again").Len() == 0 {
		t.Error("the failed attempt was not logged")
	}
}

// An interaction for another application is refused.
func TestOtherApplicationRefused(t *testing.T) {
	h := newHarness(t, func(c *InboundConfig) { c.AppID = "1300000000000000999" })
	ix := h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()})
	if status, _ := h.send(h.sign(ix.Body, time.Now())); status != http.StatusBadRequest {
		t.Errorf("HTTP %d, want 400", status)
	}
	h.gateway(ix)
	h.wait()
	if len(h.logs.ran()) != 0 {
		t.Error("ran another application's command")
	}
	h.noInteractionCalls()
}
