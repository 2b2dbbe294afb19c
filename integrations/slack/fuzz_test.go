package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

// The fuzz targets post bodies signed with the test secret, so what they
// reach is the parsing that follows a verified signature: the slash
// command form, the interaction payload and the Events API callback. The
// router and the click handler only record what reached them; answers
// would go to hooks.slack.com, so nothing answers.

const fuzzBotUser = "U0CHATOPS"

// recorded is what reached the router or the click handler, with the
// responder each was given.
type recorded struct {
	mu     sync.Mutex
	cmds   []bot.Command
	clicks []bot.Click
	resps  []bot.Responder
}

func (r *recorded) Root() string { return "ops" }

func (r *recorded) Handle(_ context.Context, cmd bot.Command, resp bot.Responder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds, r.resps = append(r.cmds, cmd), append(r.resps, resp)
}

func (r *recorded) HandleClick(_ context.Context, c bot.Click, resp bot.Responder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clicks, r.resps = append(r.clicks, c), append(r.resps, resp)
}

// firstGuard has never seen anything: every signed body is new.
type firstGuard struct{}

func (firstGuard) FirstSeen(context.Context, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

// fuzzInbound posts one signed body to path on a fresh Inbound, waits for
// everything it started, and returns the answer and what ran.
type fuzzInbound struct{ client *Client }

func newFuzzInbound(f *testing.F) *fuzzInbound {
	client, err := New(Config{Token: testToken, APIURL: "http://127.0.0.1:9/api/"}, nil, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzInbound{client: client}
}

func (fi *fuzzInbound) post(t *testing.T, path, contentType string, body []byte) (*httptest.ResponseRecorder, *recorded) {
	t.Helper()
	rec := &recorded{}
	in := NewInbound(InboundConfig{SigningSecret: testSecret, BotUserID: fuzzBotUser, Clicks: rec}, rec, firstGuard{}, fi.client, zap.NewNop())
	var h http.Handler
	switch path {
	case "/slack/commands":
		h = in.Commands()
	case "/slack/interactions":
		h = in.Interactions()
	default:
		h = in.Events()
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	for k, v := range slackstandin.Sign(testSecret, time.Now(), body) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := in.Shutdown(ctx); err != nil {
		t.Fatalf("work still running: %v", err)
	}
	if w.Code == http.StatusUnauthorized {
		t.Fatalf("a signed request refused as unsigned: %d", w.Code)
	}
	return w, rec
}

const formType = "application/x-www-form-urlencoded"

// FuzzSlashCommand: whatever the form, the answer is 200 or 400; a
// command reaches the router only from a /ops form naming a person and a
// channel by their ids, once, answered "Working on it…", with its answer
// bound for hooks.slack.com.
func FuzzSlashCommand(f *testing.F) {
	form := func(text string, edit func(url.Values)) []byte {
		v := url.Values{
			"token": {"legacy-verification-token"}, "team_id": {"T0BAKERY"}, "team_domain": {"bakery"},
			"channel_id": {testChannel}, "channel_name": {"incidents"}, "user_id": {testUser}, "user_name": {"alice"},
			"command": {"/ops"}, "text": {text}, "api_app_id": {"A0CHATOPS"}, "trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
			"response_url": {"https://hooks.slack.com/commands/T0BAKERY/1234567890/abcdEFGHijkl"},
		}
		if edit != nil {
			edit(v)
		}
		return []byte(v.Encode())
	}
	for _, text := range []string{"health", "logs orders-service --tail 50", "  incident show 12 ", "silence alertname=ServiceDown 2h a &lt;fix&gt; &amp; more", ""} {
		f.Add(form(text, nil))
	}
	f.Add(form("health", func(v url.Values) { v.Set("command", "/other") }))
	f.Add(form("health", func(v url.Values) { v.Set("user_id", "u0alice") }))
	f.Add(form("health", func(v url.Values) { v.Set("response_url", "https://evil.example/commands/1") }))
	f.Add(form("health", func(v url.Values) { v.Set("ssl_check", "1") }))
	f.Add([]byte("command=%2Fops&text=health;user_id=U1"))
	fi := newFuzzInbound(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w, rec := fi.post(t, "/slack/commands", formType, body)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		working := w.Code == http.StatusOK && strings.Contains(w.Body.String(), "Working on it")
		if len(rec.clicks) != 0 || len(rec.cmds) > 1 || working != (len(rec.cmds) == 1) {
			t.Fatalf("answer %d %q, %d commands ran, %d clicks", w.Code, w.Body, len(rec.cmds), len(rec.clicks))
		}
		if len(rec.cmds) == 0 {
			return
		}
		sent, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("a command ran from a form that does not parse: %v", err)
		}
		cmd := rec.cmds[0]
		if sent.Get("command") != "/ops" {
			t.Fatalf("command %q ran as /ops", sent.Get("command"))
		}
		checkWho(t, cmd.Platform, cmd.User.UserID, cmd.Channel)
		if cmd.User.UserID != sent.Get("user_id") || cmd.Channel != sent.Get("channel_id") || cmd.Thread != "" {
			t.Fatalf("ran as %s in %s/%s, the form says %s in %s", cmd.User.UserID, cmd.Channel, cmd.Thread, sent.Get("user_id"), sent.Get("channel_id"))
		}
		checkText(t, cmd.Text, sent.Get("text"))
		resp, ok := rec.resps[0].(*webhookResponder)
		if !ok {
			t.Fatalf("answered through %T", rec.resps[0])
		}
		checkResponseURL(t, resp.url)
		if resp.channel != cmd.Channel {
			t.Fatalf("answer bound for %s, asked in %s", resp.channel, cmd.Channel)
		}
	})
}

// FuzzInteraction: whatever the payload, the answer is 200 or 400, no
// command runs, and a click reaches the handler only when it names the
// person, the channel and the message it was on by their ids, with a
// usable action_id and an answer bound for hooks.slack.com.
func FuzzInteraction(f *testing.F) {
	payload := func(edit func(map[string]any)) []byte {
		p := map[string]any{
			"type":         "block_actions",
			"team":         map[string]any{"id": "T0BAKERY", "domain": "bakery"},
			"user":         map[string]any{"id": testUser, "username": "alice", "name": "alice", "team_id": "T0BAKERY"},
			"api_app_id":   "A0CHATOPS",
			"token":        "legacy-verification-token",
			"container":    map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": testChannel, "is_ephemeral": false},
			"trigger_id":   "13345224609.738474920.8088930838d88f008e0",
			"channel":      map[string]any{"id": testChannel, "name": "incidents"},
			"message":      map[string]any{"type": "message", "ts": "1700000000.000100"},
			"response_url": "https://hooks.slack.com/actions/T0BAKERY/1234567890/abcdEFGHijkl",
			"actions": []map[string]any{{
				"type": "button", "action_id": "approve:7:3f2a", "block_id": "card", "value": "approve:7:3f2a", "action_ts": "1700000001.000200",
				"text": map[string]any{"type": "plain_text", "text": "Approve", "emoji": true},
			}},
		}
		if edit != nil {
			edit(p)
		}
		b, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		return []byte(url.Values{"payload": {string(b)}}.Encode())
	}
	f.Add(payload(nil))
	f.Add(payload(func(p map[string]any) {
		p["container"].(map[string]any)["thread_ts"] = "1699999999.000050"
	}))
	f.Add(payload(func(p map[string]any) {
		delete(p, "channel")
		p["actions"].([]map[string]any)[0]["action_id"] = "runbook:restart:12"
	}))
	f.Add(payload(func(p map[string]any) { p["type"] = "view_submission" }))
	f.Add(payload(func(p map[string]any) { p["actions"] = []any{} }))
	f.Add(payload(func(p map[string]any) { p["response_url"] = "https://hooks.slack.com.evil.example/x" }))
	f.Add([]byte("payload=%7B%22type%22%3A"))
	fi := newFuzzInbound(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w, rec := fi.post(t, "/slack/interactions", formType, body)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if len(rec.cmds) != 0 || len(rec.clicks) > 1 || len(rec.clicks) == 1 && w.Code != http.StatusOK {
			t.Fatalf("answer %d, %d commands ran, %d clicks", w.Code, len(rec.cmds), len(rec.clicks))
		}
		if len(rec.clicks) == 0 {
			return
		}
		c := rec.clicks[0]
		checkWho(t, c.Platform, c.User.UserID, c.Channel)
		switch {
		case !slackTSPattern.MatchString(c.MessageID):
			t.Fatalf("click on message %q", c.MessageID)
		case c.Thread != "" && !slackTSPattern.MatchString(c.Thread):
			t.Fatalf("click in thread %q", c.Thread)
		case c.ButtonID == "" || len(c.ButtonID) > maxActionID:
			t.Fatalf("button id of %d bytes", len(c.ButtonID))
		}
		resp, ok := rec.resps[0].(*webhookResponder)
		if !ok {
			t.Fatalf("answered through %T", rec.resps[0])
		}
		checkResponseURL(t, resp.url)
		if resp.channel != c.Channel || resp.thread != c.Thread {
			t.Fatalf("answer bound for %s/%s, clicked in %s/%s", resp.channel, resp.thread, c.Channel, c.Thread)
		}
	})
}

// FuzzEvent: whatever the callback, the answer is 200 or 400 (the replay
// guard here never fails); the URL check echoes its challenge; and an app
// mention becomes a command only from a person (not a bot, not chatops
// itself) in a channel named by ids, answered in its thread.
func FuzzEvent(f *testing.F) {
	mention := func(text string, edit func(ev map[string]any)) []byte {
		ev := map[string]any{
			"type": "app_mention", "user": testUser, "text": text, "ts": "1700000000.000200",
			"channel": testChannel, "event_ts": "1700000000.000200",
		}
		if edit != nil {
			edit(ev)
		}
		b, err := json.Marshal(map[string]any{
			"token": "legacy-verification-token", "team_id": "T0BAKERY", "api_app_id": "A0CHATOPS",
			"type": "event_callback", "event_id": "Ev0PV52K21", "event_time": 1700000000,
			"event": ev, "authed_users": []string{fuzzBotUser},
		})
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(mention("<@"+fuzzBotUser+"> logs orders-service", nil))
	f.Add(mention("<@"+fuzzBotUser+"> /ops incident show 12", func(ev map[string]any) { ev["thread_ts"] = "1699999999.000050" }))
	f.Add(mention("hey <@"+fuzzBotUser+"|chatops> health &amp; status", nil))
	f.Add(mention("<@"+fuzzBotUser+"> health", func(ev map[string]any) { ev["bot_id"] = "B0OTHER" }))
	f.Add(mention("<@"+fuzzBotUser+"> health", func(ev map[string]any) { ev["user"] = fuzzBotUser }))
	f.Add(mention("<@"+fuzzBotUser+"> health", func(ev map[string]any) { ev["edited"] = map[string]any{"user": testUser, "ts": "1700000001.000000"} }))
	f.Add(slackstandin.URLVerificationBody("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"message","text":"hi"}}`))
	f.Add([]byte(`{"type":"app_rate_limited","minute_rate_limited":1518467820}`))
	fi := newFuzzInbound(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w, rec := fi.post(t, "/slack/events", "application/json", body)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if len(rec.clicks) != 0 || len(rec.cmds) > 1 {
			t.Fatalf("%d commands ran, %d clicks", len(rec.cmds), len(rec.clicks))
		}
		var outer struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}
		if w.Code == http.StatusOK && json.Unmarshal(body, &outer) == nil && outer.Type == "url_verification" {
			var got map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["challenge"] != outer.Challenge || len(got) != 1 {
				t.Fatalf("URL check answered %q, challenge %q", w.Body, outer.Challenge)
			}
		}
		if len(rec.cmds) == 0 {
			return
		}
		if outer.Type != "event_callback" {
			t.Fatalf("a command ran from an event of type %q", outer.Type)
		}
		cmd := rec.cmds[0]
		checkWho(t, cmd.Platform, cmd.User.UserID, cmd.Channel)
		if cmd.User.UserID == fuzzBotUser {
			t.Fatal("chatops's own mention ran as a command")
		}
		if cmd.Thread != "" && !slackTSPattern.MatchString(cmd.Thread) {
			t.Fatalf("thread %q", cmd.Thread)
		}
		if cmd.Text != strings.TrimSpace(cmd.Text) || strings.HasPrefix(cmd.Text, "/ops ") {
			t.Fatalf("text %q: spaces or the root left in", cmd.Text)
		}
		resp, ok := rec.resps[0].(*threadResponder)
		if !ok {
			t.Fatalf("answered through %T", rec.resps[0])
		}
		if resp.channel != cmd.Channel || !slackTSPattern.MatchString(resp.thread) || cmd.Thread != "" && resp.thread != cmd.Thread {
			t.Fatalf("answer bound for %s/%s, asked in %s/%s", resp.channel, resp.thread, cmd.Channel, cmd.Thread)
		}
	})
}

func checkWho(t *testing.T, platform, user, channel string) {
	t.Helper()
	if platform != "slack" || !slackID.MatchString(user) || !slackID.MatchString(channel) {
		t.Fatalf("ran for %s user %q in channel %q", platform, user, channel)
	}
}

// checkText: the command text is what was typed, trimmed, with Slack's
// escapes of &, < and > undone, never longer.
func checkText(t *testing.T, got, typed string) {
	t.Helper()
	if got != strings.TrimSpace(got) || len(got) > len(typed) {
		t.Fatalf("text %q from %q", got, typed)
	}
}

// checkResponseURL: an answer only ever goes to Slack's hooks host.
func checkResponseURL(t *testing.T, u string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.Host != "hooks.slack.com" || p.User != nil || !strings.HasPrefix(u, DefaultResponseURLPrefix) {
		t.Fatalf("an answer bound for %q", u)
	}
}
