package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/policy"
)

const (
	testSecret  = "8f742231b10e8888abcd99b7e5b1f1d2"
	testChannel = "C0INCIDENTS"
	testUser    = "U0ALICE"
	// waitLimit bounds waiting for an answer that runs in the background.
	waitLimit = 5 * time.Second
)

// calls records the commands that reached a handler of the table.
type calls struct {
	mu   sync.Mutex
	cmds []bot.Command
}

func (c *calls) add(cmd bot.Command) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmds = append(c.cmds, cmd)
}

func (c *calls) all() []bot.Command {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bot.Command(nil), c.cmds...)
}

// testSpecs is a table whose handlers record the commands they run.
func testSpecs(c *calls) []bot.CommandSpec {
	return []bot.CommandSpec{
		{Name: "health", Summary: "health", Role: policy.Viewer, Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
			c.add(inv.Command)
			return bot.Answer{Title: "All healthy", Lines: []string{"18 of 18 deployments ready"}}, nil
		}},
		{Name: "whoami", Summary: "whoami", Role: policy.Viewer, Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
			c.add(inv.Command)
			return bot.Answer{Title: "You are " + inv.Command.User.UserID, Private: true}, nil
		}},
		{Name: "logs", Summary: "logs", Role: policy.Viewer,
			Args: []bot.Arg{{Name: "service", Positional: true, Required: true}, {Name: "tail", Kind: bot.ArgInt, Min: 1, Max: 2000}},
			Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
				c.add(inv.Command)
				return logAnswer(inv.Int("tail", 100)), nil
			}},
	}
}

// failingGuard cannot tell whether it has seen a key (its store is down).
type failingGuard struct{}

func (failingGuard) FirstSeen(context.Context, string, time.Time, time.Time) (bool, error) {
	return false, errors.New("store unavailable")
}

type inboundFixture struct {
	srv   *slackstandin.Server
	in    *Inbound
	calls *calls
	logs  *observer.ObservedLogs
	mux   *http.ServeMux
}

type fixtureOption func(*InboundConfig, *bot.ReplayGuard)

func withGuard(g bot.ReplayGuard) fixtureOption {
	return func(_ *InboundConfig, guard *bot.ReplayGuard) { *guard = g }
}

func withClicks(h bot.ClickHandler) fixtureOption {
	return func(c *InboundConfig, _ *bot.ReplayGuard) { c.Clicks = h }
}

// newInbound is the inbound side over a fresh stand-in, mounted as main
// mounts it, with a table that records the commands reaching it.
func newInbound(t *testing.T, opts ...fixtureOption) *inboundFixture {
	t.Helper()
	srv := slackstandin.New()
	t.Cleanup(srv.Close)
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	client, err := New(Config{Token: testToken, APIURL: srv.URL(), PerChannelRate: 1000, Burst: 1000, UpdateRate: 1000}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	c := &calls{}
	router, err := command.NewRouter(testSpecs(c), command.Config{Root: "ops", Channels: []string{testChannel}}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := InboundConfig{SigningSecret: testSecret, ResponseURLPrefixes: []string{srv.URL() + "response/"}}
	var guard bot.ReplayGuard = newMemoryGuard()
	for _, o := range opts {
		o(&cfg, &guard)
	}
	in := NewInbound(cfg, router, guard, client, log)
	f := &inboundFixture{srv: srv, in: in, calls: c, logs: logs, mux: http.NewServeMux()}
	f.mux.Handle("POST /slack/commands", in.Commands())
	f.mux.Handle("POST /slack/interactions", in.Interactions())
	f.mux.Handle("POST /slack/events", in.Events())
	t.Cleanup(func() {
		f.drain(t)
		for _, e := range logs.All() {
			line := e.Message + " " + fmtFields(e.ContextMap())
			for _, secret := range []string{testSecret, testToken, "xapp-", "v0=", "/response/", "ticket="} {
				if strings.Contains(line, secret) {
					t.Errorf("a log line holds %q: %s", secret, line)
				}
			}
		}
	})
	return f
}

// drain waits for every command started so far to finish.
func (f *inboundFixture) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := f.in.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// post sends body to path with headers, as Slack would.
func (f *inboundFixture) post(path string, body []byte, h http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

// signed posts body signed now with the test secret.
func (f *inboundFixture) signed(path string, body []byte) *httptest.ResponseRecorder {
	return f.post(path, body, headersFor(path, slackstandin.Sign(testSecret, time.Now(), body)))
}

func headersFor(path string, h http.Header) http.Header {
	if path == "/slack/events" {
		h.Set("Content-Type", "application/json")
	}
	return h
}

func (f *inboundFixture) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := f.srv.Wait(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (f *inboundFixture) slashForm(text string) url.Values {
	return f.srv.SlashCommandForm(slackapi.SlashCommand{ChannelID: testChannel, UserID: testUser, UserName: "alice", Text: text})
}

// threadRoot posts an incident root to reply under, as the outbox would.
func (f *inboundFixture) threadRoot(t *testing.T) string {
	t.Helper()
	api := slackapi.New(testToken, slackapi.OptionAPIURL(f.srv.URL()))
	_, ts, err := api.PostMessage(testChannel, slackapi.MsgOptionText("🔴 ServiceDown · orders-service", false))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// endpointBodies are valid requests to each endpoint (they would run
// "health" or click a button).
func (f *inboundFixture) endpointBodies() map[string][]byte {
	return map[string][]byte{
		"/slack/commands":     []byte(f.slashForm("health").Encode()),
		"/slack/events":       f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, Text: "<@" + slackstandin.BotUserID + "> health"}).Body,
		"/slack/interactions": []byte(f.srv.BlockActionForm(&slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approve"}).Encode()),
	}
}

// nothingAnswered: no command ran and Slack saw no answer of any kind.
func (f *inboundFixture) nothingAnswered(t *testing.T, body []byte) {
	t.Helper()
	f.drain(t)
	if got := f.calls.all(); len(got) != 0 {
		t.Errorf("commands reached the router: %+v", got)
	}
	if n := f.srv.Calls(slackstandin.MethodPostMessage) + f.srv.Calls(slackstandin.MethodPostEphemeral); n != 0 {
		t.Errorf("%d messages posted", n)
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		ru := form.Get("response_url")
		if p := form.Get("payload"); p != "" {
			var cb struct {
				ResponseURL string `json:"response_url"`
			}
			_ = json.Unmarshal([]byte(p), &cb)
			ru = cb.ResponseURL
		}
		if ru != "" && len(f.srv.Responses(ru)) != 0 {
			t.Errorf("answered through the response_url: %+v", f.srv.Responses(ru))
		}
	}
}

// TestRefusedBeforeAnyWork: on every endpoint, a request that is
// unsigned, stale, tampered with, signed with another secret or seen
// before is refused with 401 and no detail, and nothing runs.
func TestRefusedBeforeAnyWork(t *testing.T) {
	tests := []struct {
		name string
		send func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder
	}{
		{"unsigned", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			return f.post(path, body, headersFor(path, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}))
		}},
		{"stale (6 min old)", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			return f.post(path, body, headersFor(path, slackstandin.Sign(testSecret, time.Now().Add(-6*time.Minute), body)))
		}},
		{"from the future (6 min ahead)", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			return f.post(path, body, headersFor(path, slackstandin.Sign(testSecret, time.Now().Add(6*time.Minute), body)))
		}},
		{"tampered body", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			h := headersFor(path, slackstandin.Sign(testSecret, time.Now(), body))
			tampered := bytes.Replace(body, []byte("health"), []byte("whoami"), 1)
			if bytes.Equal(tampered, body) {
				tampered = append(bytes.Clone(body), ' ')
			}
			return f.post(path, tampered, h)
		}},
		{"wrong secret", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			return f.post(path, body, headersFor(path, slackstandin.Sign("another-apps-secret", time.Now(), body)))
		}},
		{"timestamp changed after signing", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			h := headersFor(path, slackstandin.Sign(testSecret, time.Now(), body))
			h.Set("X-Slack-Request-Timestamp", fmt.Sprint(time.Now().Unix()-1))
			return f.post(path, body, h)
		}},
		{"malformed signature", func(f *inboundFixture, path string, body []byte) *httptest.ResponseRecorder {
			h := headersFor(path, slackstandin.Sign(testSecret, time.Now(), body))
			h.Set("X-Slack-Signature", "v0=not-hex")
			return f.post(path, body, h)
		}},
	}
	for _, path := range []string{"/slack/commands", "/slack/events", "/slack/interactions"} {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				f := newInbound(t)
				body := f.endpointBodies()[path]
				rec := tt.send(f, path, body)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", rec.Code)
				}
				if rec.Body.Len() != 0 {
					t.Errorf("a refusal carries detail: %q", rec.Body.String())
				}
				f.nothingAnswered(t, body)
			})
		}
	}
}

// TestReplayRefused: the same signed request twice, on every endpoint:
// the second is refused with 401 and runs nothing.
func TestReplayRefused(t *testing.T) {
	for _, path := range []string{"/slack/commands", "/slack/events", "/slack/interactions"} {
		t.Run(path, func(t *testing.T) {
			f := newInbound(t)
			body := f.endpointBodies()[path]
			h := headersFor(path, slackstandin.Sign(testSecret, time.Now(), body))
			if rec := f.post(path, body, h); rec.Code != http.StatusOK {
				t.Fatalf("first: status %d %s", rec.Code, rec.Body)
			}
			rec := f.post(path, body, h)
			if rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0 {
				t.Fatalf("replay: status %d %q, want 401 and no detail", rec.Code, rec.Body)
			}
			f.drain(t)
			want := 1
			if path == "/slack/interactions" {
				want = 0 // a click does not reach the router
			}
			if got := len(f.calls.all()); got != want {
				t.Errorf("%d commands ran, want %d", got, want)
			}
		})
	}
}

// respellings are ways to write a signed request's headers again. Those
// slack-go's verifier accepts (the hex in any case; spaces around a
// value, which the HTTP server trims) are the same signed request and
// must be refused as a replay; the rest change what was signed (the
// timestamp's text is part of it) or are malformed, and are refused
// before the replay guard.
var respellings = []struct {
	name    string
	respell func(sig, ts string) (string, string)
	reason  string
}{
	{"byte for byte", func(sig, ts string) (string, string) { return sig, ts }, reasonReplay},
	{"hex in upper case", func(sig, ts string) (string, string) { return "v0=" + strings.ToUpper(sig[3:]), ts }, reasonReplay},
	{"hex in mixed case", func(sig, ts string) (string, string) { return "v0=" + alternateCase(sig[3:]), ts }, reasonReplay},
	{"spaces around both", func(sig, ts string) (string, string) { return "  " + sig + " \t", "\t" + ts + "  " }, reasonReplay},
	{"upper-case hex with spaces", func(sig, ts string) (string, string) { return " v0=" + strings.ToUpper(sig[3:]) + " ", ts }, reasonReplay},
	{"timestamp with leading zeros", func(sig, ts string) (string, string) { return sig, "00" + ts }, "bad signature"},
	{"timestamp with a plus sign", func(sig, ts string) (string, string) { return sig, "+" + ts }, "bad signature"},
	{"upper-case hex, timestamp with a plus sign", func(sig, ts string) (string, string) { return "v0=" + strings.ToUpper(sig[3:]), "+" + ts }, "bad signature"},
	{"prefix in upper case", func(sig, ts string) (string, string) { return "V0=" + sig[3:], ts }, "missing or malformed signature headers"},
	{"space inside the timestamp", func(sig, ts string) (string, string) { return sig, ts[:3] + " " + ts[3:] }, "missing or malformed signature headers"},
}

const reasonReplay = "replay of a request already seen"

// alternateCase writes s's letters in alternating case.
func alternateCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		if i%2 == 0 && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestReplayInAnotherSpellingRefused: on every endpoint, a signed request
// that ran is sent again, over a real HTTP server, with its headers
// spelled every other way; each copy is refused with 401, for the
// expected reason, and nothing runs again. A different, valid request
// still runs. Keyed on the header text, the upper-case copy passed.
func TestReplayInAnotherSpellingRefused(t *testing.T) {
	for _, path := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
		t.Run(path, func(t *testing.T) {
			clicks := newRecordingClicks()
			f := newInbound(t, withClicks(clicks))
			srv := httptest.NewServer(f.mux)
			t.Cleanup(srv.Close)
			bodies := map[string][2][]byte{
				"/slack/commands": {[]byte(f.slashForm("health").Encode()), []byte(f.slashForm("logs orders-service").Encode())},
				"/slack/interactions": {
					[]byte(f.srv.BlockActionForm(&slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approval:7:approve:n0nce"}).Encode()),
					[]byte(f.srv.BlockActionForm(&slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000200", ActionID: "approval:8:approve:n0nce"}).Encode()),
				},
				"/slack/events": {
					f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, Text: "<@" + slackstandin.BotUserID + "> health"}).Body,
					f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, Text: "<@" + slackstandin.BotUserID + "> whoami"}).Body,
				},
			}[path]
			h := headersFor(path, slackstandin.Sign(testSecret, time.Now(), bodies[0]))
			if code := postOver(t, srv.URL+path, bodies[0], h); code != http.StatusOK {
				t.Fatalf("original: status %d", code)
			}
			for _, v := range respellings {
				sig, ts := v.respell(h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp"))
				copied := h.Clone()
				copied.Set("X-Slack-Signature", sig)
				copied.Set("X-Slack-Request-Timestamp", ts)
				if code := postOver(t, srv.URL+path, bodies[0], copied); code != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", v.name, code)
					continue
				}
				refusals := f.logs.FilterMessage("slack request refused").All()
				if got := refusals[len(refusals)-1].ContextMap()["reason"]; got != v.reason {
					t.Errorf("%s: refused for %q, want %q", v.name, got, v.reason)
				}
			}
			other := headersFor(path, slackstandin.Sign(testSecret, time.Now(), bodies[1]))
			if code := postOver(t, srv.URL+path, bodies[1], other); code != http.StatusOK {
				t.Errorf("a different request: status %d, want 200", code)
			}
			f.drain(t)
			ran := len(f.calls.all())
			if path == "/slack/interactions" {
				ran = len(clicks.got)
			}
			if ran != 2 {
				t.Errorf("ran %d times, want twice (the original and the different request)", ran)
			}
		})
	}
}

// postOver posts body to url with h through a real HTTP client and
// server, so header values reach the handler as the server parses them.
func postOver(t *testing.T, url string, body []byte, h http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestOversizeBody(t *testing.T) {
	for _, path := range []string{"/slack/commands", "/slack/events", "/slack/interactions"} {
		t.Run(path, func(t *testing.T) {
			f := newInbound(t)
			body := append([]byte("text="), bytes.Repeat([]byte("a"), maxInboundBody)...)
			rec := f.post(path, body, headersFor(path, slackstandin.Sign(testSecret, time.Now(), body)))
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", rec.Code)
			}
			// Without a Content-Length, the limit holds while reading.
			req := httptest.NewRequest(http.MethodPost, path, struct{ *bytes.Reader }{bytes.NewReader(body)})
			req.ContentLength = -1
			for k, v := range slackstandin.Sign(testSecret, time.Now(), body) {
				req.Header[k] = v
			}
			rec = httptest.NewRecorder()
			f.mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("chunked: status %d, want 413", rec.Code)
			}
			f.nothingAnswered(t, nil)
		})
	}
}

func TestGuardDownRefuses(t *testing.T) {
	f := newInbound(t, withGuard(failingGuard{}))
	for path, body := range f.endpointBodies() {
		if rec := f.signed(path, body); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", path, rec.Code)
		}
	}
	f.nothingAnswered(t, nil)
}

// TestSlashCommandAnsweredViaResponseURL: "Working on it…" at once, the
// answer in the channel through the response_url.
func TestSlashCommandAnsweredViaResponseURL(t *testing.T) {
	f := newInbound(t)
	form := f.slashForm(" health ")
	start := time.Now()
	rec := f.signed("/slack/commands", []byte(form.Encode()))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	var ack map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &ack); err != nil || ack["response_type"] != "ephemeral" || ack["text"] != "Working on it…" {
		t.Fatalf("immediate answer %s (%v)", rec.Body, err)
	}
	ru := form.Get("response_url")
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(ru)) == 1 })
	t.Logf("answered %s after the request", time.Since(start))
	r := f.srv.Responses(ru)[0]
	if r.ResponseType != "in_channel" || !strings.Contains(string(r.Blocks), "All healthy") || r.Text != "All healthy" {
		t.Errorf("answer: %+v blocks %s", r, r.Blocks)
	}
	cmds := f.calls.all()
	if len(cmds) != 1 {
		t.Fatalf("commands: %+v", cmds)
	}
	got := cmds[0]
	if got.Platform != "slack" || got.User.UserID != testUser || got.User.Name != "alice" || got.User.Platform != "slack" ||
		got.Channel != testChannel || got.Thread != "" || got.Text != "health" || got.ReceivedAt.IsZero() {
		t.Errorf("command: %+v", got)
	}
}

func TestSlashCommandPrivateAnswerIsEphemeral(t *testing.T) {
	f := newInbound(t)
	form := f.slashForm("whoami")
	if rec := f.signed("/slack/commands", []byte(form.Encode())); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	ru := form.Get("response_url")
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(ru)) == 1 })
	if r := f.srv.Responses(ru)[0]; r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "You are "+testUser) {
		t.Errorf("answer: %+v", r)
	}
}

// TestSlashCommandLongOutputGoesUpAsAFile: 2,000 log lines go up as a
// file to the channel; the message says so and shows the last lines.
func TestSlashCommandLongOutputGoesUpAsAFile(t *testing.T) {
	f := newInbound(t)
	form := f.slashForm("logs orders-service --tail 2000")
	if rec := f.signed("/slack/commands", []byte(form.Encode())); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	ru := form.Get("response_url")
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(ru)) == 1 })
	files := f.srv.Files(testChannel)
	if len(files) != 1 || files[0].Name != "logs-orders-service.txt" || files[0].ThreadTS != "" {
		t.Fatalf("files: %+v", files)
	}
	if n := strings.Count(string(files[0].Content), "\n"); n != 2000 {
		t.Errorf("file has %d lines", n)
	}
	r := f.srv.Responses(ru)[0]
	if r.ResponseType != "in_channel" || !strings.Contains(string(r.Blocks), "logs-orders-service.txt") {
		t.Errorf("answer: %+v %s", r, r.Blocks)
	}
}

func TestSlashCommandUploadFailsAnswersWithoutTheFile(t *testing.T) {
	f := newInbound(t)
	f.srv.FailNext(slackstandin.MethodGetUploadURL, 1, slackstandin.SlackError{Code: "not_in_channel"})
	form := f.slashForm("logs orders-service --tail 2000")
	f.signed("/slack/commands", []byte(form.Encode()))
	ru := form.Get("response_url")
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(ru)) == 1 })
	r := f.srv.Responses(ru)[0]
	if !strings.Contains(string(r.Blocks), "the file could not be uploaded (not_in_channel)") || !strings.Contains(string(r.Blocks), "42999") {
		t.Errorf("answer: %s", r.Blocks)
	}
	if len(f.srv.Files(testChannel)) != 0 {
		t.Error("a file was shared")
	}
}

func TestSlashCommandRefusals(t *testing.T) {
	tests := []struct {
		name   string
		cmd    slackapi.SlashCommand
		status int
		ack    string
	}{
		{"another command", slackapi.SlashCommand{Command: "/deploy", Text: "health"}, http.StatusOK, "This bot answers /ops only."},
		{"response_url elsewhere", slackapi.SlashCommand{ResponseURL: "https://attacker.example/hook", Text: "health"}, http.StatusBadRequest, ""},
		{"no user", slackapi.SlashCommand{UserID: "-", Text: "health"}, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInbound(t)
			cmd := tt.cmd
			cmd.ChannelID = testChannel
			if cmd.UserID == "" {
				cmd.UserID = testUser
			} else if cmd.UserID == "-" {
				cmd.UserID = ""
			}
			form := f.srv.SlashCommandForm(cmd)
			rec := f.signed("/slack/commands", []byte(form.Encode()))
			if rec.Code != tt.status || (tt.ack != "" && !strings.Contains(rec.Body.String(), tt.ack)) {
				t.Fatalf("status %d %q", rec.Code, rec.Body)
			}
			f.nothingAnswered(t, []byte(form.Encode()))
		})
	}
}

func TestURLVerification(t *testing.T) {
	f := newInbound(t)
	rec := f.signed("/slack/events", slackstandin.URLVerificationBody("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
	var got map[string]string
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
}

// TestMentionInThreadAnsweredInThread: "@chatops health" inside an
// incident thread is answered in that thread.
func TestMentionInThreadAnsweredInThread(t *testing.T) {
	f := newInbound(t)
	root := f.threadRoot(t)
	ev := f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, ThreadTS: root, Text: "<@" + slackstandin.BotUserID + "> health"})
	if rec := f.signed("/slack/events", ev.Body); rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	f.wait(t, "the answer", func() bool { return len(f.botReplies(root)) == 1 })
	if r := f.botReplies(root)[0]; !strings.Contains(string(r.Blocks), "All healthy") {
		t.Errorf("reply: %+v", r)
	}
	cmds := f.calls.all()
	if len(cmds) != 1 || cmds[0].Thread != root || cmds[0].Channel != testChannel || cmds[0].Text != "health" || cmds[0].User.UserID != testUser {
		t.Errorf("command: %+v", cmds)
	}
}

// botReplies are the bot's replies in the thread of root.
func (f *inboundFixture) botReplies(root string) []slackstandin.Message {
	var out []slackstandin.Message
	for _, m := range f.srv.Replies(testChannel, root) {
		if m.User == "" {
			out = append(out, m)
		}
	}
	return out
}

func TestMentionOutsideThreadStartsOne(t *testing.T) {
	f := newInbound(t)
	ev := f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, Text: "<@" + slackstandin.BotUserID + "> /ops health"})
	f.signed("/slack/events", ev.Body)
	f.wait(t, "the answer", func() bool { return len(f.botReplies(ev.TS)) == 1 })
	if cmds := f.calls.all(); len(cmds) != 1 || cmds[0].Thread != "" || cmds[0].Text != "health" {
		t.Errorf("command: %+v", cmds)
	}
}

// TestMentionPrivateAnswerIsEphemeralInThread: a Private answer to a
// mention is shown to the person only, in the thread.
func TestMentionPrivateAnswerIsEphemeralInThread(t *testing.T) {
	f := newInbound(t)
	root := f.threadRoot(t)
	ev := f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, ThreadTS: root, Text: "<@" + slackstandin.BotUserID + "> whoami"})
	f.signed("/slack/events", ev.Body)
	f.wait(t, "the answer", func() bool { return len(f.srv.Ephemerals(testChannel)) == 1 })
	e := f.srv.Ephemerals(testChannel)[0]
	if e.User != testUser || e.ThreadTS != root || !strings.Contains(e.Text, "You are "+testUser) {
		t.Errorf("ephemeral: %+v", e)
	}
	if n := len(f.botReplies(root)); n != 0 {
		t.Errorf("%d public replies", n)
	}
}

func TestMentionLongOutputGoesUpInTheThread(t *testing.T) {
	f := newInbound(t)
	root := f.threadRoot(t)
	ev := f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, ThreadTS: root, Text: "<@" + slackstandin.BotUserID + "> logs orders-service --tail 2000"})
	f.signed("/slack/events", ev.Body)
	f.wait(t, "the answer", func() bool { return len(f.botReplies(root)) == 1 })
	files := f.srv.Files(testChannel)
	if len(files) != 1 || files[0].ThreadTS != root || files[0].Name != "logs-orders-service.txt" {
		t.Fatalf("files: %+v", files)
	}
}

// TestEventKeyBoundedAndDistinct: an event's replay key stays short
// whatever its id (PostgreSQL cannot index a primary key over about
// 2.7 KB, so a long id would fail every delivery), ids differing only in
// case or length stay apart, and an id never reads as the fallback key
// of a channel and ts.
func TestEventKeyBoundedAndDistinct(t *testing.T) {
	mention := &slackevents.AppMentionEvent{Channel: "C1", TimeStamp: "1700000000.000100"}
	long := strings.Repeat("Ev0ABC", 2000)
	ids := []string{"Ev0ABC", "ev0abc", long, long + "x", "C1:1700000000.000100", "#" + strings.Repeat("a", 64), strings.Repeat("E", maxGuardKeyPart+1)}
	seen := map[string]string{eventKey("", mention): "(no id)"}
	for _, id := range ids {
		k := eventKey(id, mention)
		if len(k) > len("slack:event:#")+64 {
			t.Errorf("id of %d bytes: key of %d bytes", len(id), len(k))
		}
		if other, dup := seen[k]; dup {
			t.Errorf("ids %.20q and %.20q share the key %q", id, other, k)
		}
		seen[k] = id
	}
	if k := eventKey("Ev0ABC", mention); k != "slack:event:Ev0ABC" {
		t.Errorf("a plain id's key is %q, want it as it was stored before", k)
	}
}

// TestEventRetryAnsweredOnce: Slack delivers the same event again (a
// retry, signed afresh): it is acknowledged and not run twice.
func TestEventRetryAnsweredOnce(t *testing.T) {
	f := newInbound(t)
	root := f.threadRoot(t)
	ev := f.srv.AppMentionEvent(slackstandin.AppMention{Channel: testChannel, User: testUser, ThreadTS: root, Text: "<@" + slackstandin.BotUserID + "> health"})
	if rec := f.signed("/slack/events", ev.Body); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	for retry := 1; retry <= 2; retry++ {
		h := headersFor("/slack/events", slackstandin.Sign(testSecret, time.Now().Add(time.Duration(retry)*time.Second), ev.Body))
		h.Set("X-Slack-Retry-Num", fmt.Sprint(retry))
		h.Set("X-Slack-Retry-Reason", "http_timeout")
		if rec := f.post("/slack/events", ev.Body, h); rec.Code != http.StatusOK {
			t.Fatalf("retry %d: status %d", retry, rec.Code)
		}
	}
	f.drain(t)
	if n := len(f.calls.all()); n != 1 {
		t.Errorf("ran %d times", n)
	}
	if n := len(f.botReplies(root)); n != 1 {
		t.Errorf("%d answers", n)
	}
}

func TestMentionsIgnored(t *testing.T) {
	tests := map[string]slackstandin.AppMention{
		"by a bot":       {Channel: testChannel, User: "U0OTHERBOT", BotID: "B0OTHER", Text: "<@" + slackstandin.BotUserID + "> health"},
		"by the bot":     {Channel: testChannel, User: slackstandin.BotUserID, Text: "<@" + slackstandin.BotUserID + "> health"},
		"without a user": {Channel: testChannel, User: "", Text: "<@" + slackstandin.BotUserID + "> health"},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			f := newInbound(t)
			// The bot's id is learned at start: wait for it, so "by the
			// bot" is recognised.
			eventually(t, "auth.test", func() bool { return f.in.botUserID() != "" })
			if rec := f.signed("/slack/events", f.srv.AppMentionEvent(m).Body); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			f.nothingAnswered(t, nil)
		})
	}
}

func TestMentionCommandText(t *testing.T) {
	tests := []struct {
		name, bot, text, want string
	}{
		{"leading mention", "U0CHATOPS", "<@U0CHATOPS> logs orders-service", "logs orders-service"},
		{"mention with a name", "U0CHATOPS", "<@U0CHATOPS|chatops> health", "health"},
		{"mention later in the text", "U0CHATOPS", "hey <@U0CHATOPS> status gateway", "status gateway"},
		{"another mention first", "U0CHATOPS", "<@U0BOB> <@U0CHATOPS> health", "health"},
		{"bot id not known yet", "", "<@U0CHATOPS> health", "health"},
		{"the root typed too", "U0CHATOPS", "<@U0CHATOPS> /ops health", "health"},
		{"Slack's escaping undone", "U0CHATOPS", `<@U0CHATOPS> logs x --grep "a&lt;b&amp;c"`, `logs x --grep "a<b&c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := mentionEvent(tt.text)
			cmd, err := mentionCommand(ev, tt.bot, "ops", time.Now())
			if err != nil || cmd.Text != tt.want {
				t.Errorf("text %q (%v), want %q", cmd.Text, err, tt.want)
			}
		})
	}
}

// TestInteractionNotAvailable: a click is verified, acknowledged and,
// with no ClickHandler, answered privately.
func TestInteractionNotAvailable(t *testing.T) {
	f := newInbound(t)
	a := &slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approve", Value: "42"}
	form := f.srv.BlockActionForm(a)
	rec := f.signed("/slack/interactions", []byte(form.Encode()))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("status %d %q", rec.Code, rec.Body)
	}
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(a.ResponseURL)) == 1 })
	if r := f.srv.Responses(a.ResponseURL)[0]; r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "Buttons are not available") {
		t.Errorf("answer: %+v", r)
	}
}

// recordingClicks is a ClickHandler that records the clicks reaching it
// and answers each privately.
type recordingClicks struct{ got chan bot.Click }

func newRecordingClicks() recordingClicks { return recordingClicks{got: make(chan bot.Click, 16)} }

func (h recordingClicks) HandleClick(ctx context.Context, c bot.Click, resp bot.Responder) {
	h.got <- c
	_ = resp.Respond(ctx, bot.Answer{Title: "Approved", Private: true})
}

// none fails when a click reached the handler.
func (h recordingClicks) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-h.got:
		t.Errorf("a click reached the handler: %+v", c)
	default:
	}
}

// TestClickHandedToClickHandler: a signed click in a thread reaches the
// ClickHandler as a bot.Click naming who, where, which message and which
// button, and its answer goes to the response_url.
func TestClickHandedToClickHandler(t *testing.T) {
	h := newRecordingClicks()
	f := newInbound(t, withClicks(h))
	root := f.threadRoot(t)
	card := "1700000000.000200"
	a := &slackstandin.BlockAction{User: testUser, UserName: "alice", Channel: testChannel, MessageTS: card, ThreadTS: root, ActionID: "approval:7:approve:n0nce", BlockID: "incident-actions", Value: "42"}
	before := time.Now()
	if rec := f.signed("/slack/interactions", []byte(f.srv.BlockActionForm(a).Encode())); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("status %d %q", rec.Code, rec.Body)
	}
	select {
	case got := <-h.got:
		want := bot.Click{
			User:     bot.Identity{Platform: "slack", UserID: testUser, Name: "alice"},
			Platform: "slack", Channel: testChannel, Thread: root, MessageID: card,
			ButtonID: "approval:7:approve:n0nce", Value: "42",
		}
		at := got.ReceivedAt
		got.ReceivedAt = time.Time{}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("click %+v\nwant  %+v", got, want)
		}
		if at.Before(before) || at.After(time.Now()) {
			t.Errorf("ReceivedAt %s, want the time of the request", at)
		}
	case <-time.After(waitLimit):
		t.Fatal("the handler was not called")
	}
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(a.ResponseURL)) == 1 })
	if r := f.srv.Responses(a.ResponseURL)[0]; r.ResponseType != "ephemeral" || r.Text != "Approved" {
		t.Errorf("answer %+v, want the handler's private answer", r)
	}
	if got := f.calls.all(); len(got) != 0 {
		t.Errorf("a click reached the command router: %+v", got)
	}
}

// TestClickOutsideThread: a click on a message in the channel has no
// Thread.
func TestClickOutsideThread(t *testing.T) {
	h := newRecordingClicks()
	f := newInbound(t, withClicks(h))
	a := &slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000300", ActionID: "deny"}
	if rec := f.signed("/slack/interactions", []byte(f.srv.BlockActionForm(a).Encode())); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	select {
	case got := <-h.got:
		if got.Thread != "" || got.MessageID != "1700000000.000300" || got.ButtonID != "deny" || got.Value != "" || len(got.User.Groups) != 0 {
			t.Errorf("click %+v", got)
		}
	case <-time.After(waitLimit):
		t.Fatal("the handler was not called")
	}
}

// TestClickRefusedBeforeHandler: an unsigned, stale, forged or replayed
// click never reaches the ClickHandler, nor is answered.
func TestClickRefusedBeforeHandler(t *testing.T) {
	cases := []struct {
		name string
		send func(t *testing.T, f *inboundFixture, body []byte) *httptest.ResponseRecorder
	}{
		{"unsigned", func(t *testing.T, f *inboundFixture, body []byte) *httptest.ResponseRecorder {
			return f.post("/slack/interactions", body, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		}},
		{"stale (6 min old)", func(t *testing.T, f *inboundFixture, body []byte) *httptest.ResponseRecorder {
			return f.post("/slack/interactions", body, slackstandin.Sign(testSecret, time.Now().Add(-6*time.Minute), body))
		}},
		{"wrong secret", func(t *testing.T, f *inboundFixture, body []byte) *httptest.ResponseRecorder {
			return f.post("/slack/interactions", body, slackstandin.Sign("another-apps-secret", time.Now(), body))
		}},
		{"replayed", func(t *testing.T, f *inboundFixture, body []byte) *httptest.ResponseRecorder {
			h := slackstandin.Sign(testSecret, time.Now(), body)
			// The original goes to another replica sharing the guard.
			key, _, err := replayKey(h)
			if err != nil {
				t.Fatal(err)
			}
			if first, err := f.in.guard.FirstSeen(context.Background(), key, time.Now(), time.Now().Add(time.Minute)); err != nil || !first {
				t.Fatalf("the guard did not take the original: %v", err)
			}
			return f.post("/slack/interactions", body, h)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecordingClicks()
			f := newInbound(t, withClicks(h))
			a := &slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approve"}
			body := []byte(f.srv.BlockActionForm(a).Encode())
			if rec := tc.send(t, f, body); rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0 {
				t.Fatalf("status %d %q, want 401 and no detail", rec.Code, rec.Body)
			}
			f.drain(t)
			h.none(t)
			if n := len(f.srv.Responses(a.ResponseURL)); n != 0 {
				t.Errorf("%d answers through the response_url", n)
			}
		})
	}
	t.Run("the same click twice", func(t *testing.T) {
		h := newRecordingClicks()
		f := newInbound(t, withClicks(h))
		body, hdr := f.srv.SignedBlockAction(testSecret, time.Now(), &slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approve"})
		if rec := f.post("/slack/interactions", body, hdr); rec.Code != http.StatusOK {
			t.Fatalf("first: status %d", rec.Code)
		}
		if rec := f.post("/slack/interactions", body, hdr); rec.Code != http.StatusUnauthorized {
			t.Fatalf("replay: status %d, want 401", rec.Code)
		}
		f.drain(t)
		if n := len(h.got); n != 1 {
			t.Errorf("the handler saw the click %d times, want once", n)
		}
	})
}

// TestClickWithoutWhatItNeedsIsDropped: a signed click that does not say
// who clicked, in which channel, on which message or which button, or
// whose response_url is not Slack's, is acknowledged and dropped.
func TestClickWithoutWhatItNeedsIsDropped(t *testing.T) {
	cases := []struct {
		name string
		edit func(a *slackstandin.BlockAction)
	}{
		{"no user", func(a *slackstandin.BlockAction) { a.User = "" }},
		{"no channel", func(a *slackstandin.BlockAction) { a.Channel = "" }},
		{"no message", func(a *slackstandin.BlockAction) { a.MessageTS = "" }},
		{"no action_id", func(a *slackstandin.BlockAction) { a.ActionID = "" }},
		{"action_id too long", func(a *slackstandin.BlockAction) { a.ActionID = strings.Repeat("a", maxActionID+1) }},
		{"response_url elsewhere", func(a *slackstandin.BlockAction) { a.ResponseURL = "https://attacker.example/hook" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecordingClicks()
			f := newInbound(t, withClicks(h))
			a := &slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approve"}
			tc.edit(a)
			if rec := f.signed("/slack/interactions", []byte(f.srv.BlockActionForm(a).Encode())); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			f.drain(t)
			h.none(t)
		})
	}
}

// TestSendBlockActionPlaysSlack: the stand-in's click helper, fed a card
// the client posted, delivers a click the inbound side verifies and
// hands on, with the card's channel, thread and ts.
func TestSendBlockActionPlaysSlack(t *testing.T) {
	h := newRecordingClicks()
	f := newInbound(t, withClicks(h))
	srv := httptest.NewServer(f.mux)
	t.Cleanup(srv.Close)
	root := f.threadRoot(t)
	ref, err := f.in.client.PostCard(context.Background(), testChannel, root, cardMessage(true))
	if err != nil {
		t.Fatal(err)
	}
	card := f.srv.Replies(testChannel, root)[0]
	if ids := card.ActionIDs(); len(ids) != 2 {
		t.Fatalf("card buttons %q, want two", ids)
	}
	click := card.Click(testUser, "alice", card.ActionIDs()[0])
	status, err := f.srv.SendBlockAction(context.Background(), srv.URL+"/slack/interactions", testSecret, click)
	if err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %v", status, err)
	}
	select {
	case got := <-h.got:
		if got.Channel != testChannel || got.Thread != root || got.MessageID != ref.RootID || got.ButtonID != "approval:7:approve:n0nce" {
			t.Errorf("click %+v", got)
		}
	case <-time.After(waitLimit):
		t.Fatal("the handler was not called")
	}
	if status, err := f.srv.SendBlockAction(context.Background(), srv.URL+"/slack/interactions", "not-the-secret", card.Click(testUser, "alice", "deny")); err != nil || status != http.StatusUnauthorized {
		t.Errorf("a click signed with another secret: status %d, %v", status, err)
	}
}

func TestShutdownRefusesNewWork(t *testing.T) {
	f := newInbound(t)
	f.drain(t)
	for path, body := range f.endpointBodies() {
		if rec := f.signed(path, body); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s after shutdown: status %d", path, rec.Code)
		}
	}
}

func TestInboundConfigStringHidesTheSecret(t *testing.T) {
	s := fmt.Sprint(InboundConfig{SigningSecret: testSecret, BotUserID: "U1"})
	if strings.Contains(s, testSecret) || !strings.Contains(s, "<redacted>") {
		t.Errorf("%s", s)
	}
}

func mentionEvent(text string) *slackevents.AppMentionEvent {
	return &slackevents.AppMentionEvent{Type: "app_mention", User: testUser, Text: text, TimeStamp: "1700000000.000100", Channel: testChannel}
}

// eventually polls cond, for what the stand-in cannot signal.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
