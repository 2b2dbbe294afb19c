package discordstandin

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

const app = "1300000000000000003"

// call makes a request without the bot token: interaction routes are
// authorized by the token in their path.
func call(t *testing.T, s *Server, method, path, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out
}

func jsonCall(t *testing.T, s *Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	return call(t, s, method, path, "application/json", []byte(body))
}

func code(out map[string]any) int {
	c, _ := out["code"].(float64)
	return int(c)
}

func TestInteractionLifecycle(t *testing.T) {
	s := newServer(t)
	id, token := s.NewInteraction(app, channel)
	cb := "interactions/" + id + "/" + token + "/callback"
	orig := "webhooks/" + app + "/" + token + "/messages/@original"
	hook := "webhooks/" + app + "/" + token + "?wait=true"

	if st, out := jsonCall(t, s, http.MethodPatch, orig, `{"content":"early"}`); st != http.StatusNotFound || code(out) != codeUnknownWebhook {
		t.Errorf("edit before the acknowledgement: %d %v", st, out)
	}
	if st, out := jsonCall(t, s, http.MethodPost, "interactions/"+id+"/wrong-token/callback", `{"type":5}`); st != http.StatusNotFound || code(out) != codeUnknownInteraction {
		t.Errorf("wrong token: %d %v", st, out)
	}
	if st, _ := jsonCall(t, s, http.MethodPost, cb, `{"type":5}`); st != http.StatusNoContent {
		t.Fatalf("deferral: %d", st)
	}
	if st, out := jsonCall(t, s, http.MethodPost, cb, `{"type":5}`); st != http.StatusBadRequest || code(out) != codeAlreadyAcknowledged {
		t.Errorf("second acknowledgement: %d %v", st, out)
	}
	if ms := s.Messages(channel); len(ms) != 1 || ms[0].Flags&FlagLoading == 0 {
		t.Fatalf("channel %+v: want the loading message", ms)
	}
	// The first follow-up after a deferral edits the loading message and
	// keeps it public, whatever it asks.
	if st, out := jsonCall(t, s, http.MethodPost, hook, `{"content":"secret","flags":64}`); st != http.StatusOK || out["id"] != s.Messages(channel)[0].ID {
		t.Errorf("follow-up after the deferral: %d %v", st, out)
	}
	ix, _ := s.Interaction(id)
	if ix.FollowupsAsEdit != 1 || ix.Original.Ephemeral() || ix.Original.Content != "secret" || len(ix.Followups) != 0 {
		t.Errorf("interaction %+v: want the follow-up swallowed into a public original", ix)
	}
	// Later follow-ups are messages of their own; ephemeral ones stay out
	// of the channel.
	if st, _ := jsonCall(t, s, http.MethodPost, hook, `{"content":"private","flags":64}`); st != http.StatusOK {
		t.Errorf("ephemeral follow-up: %d", st)
	}
	if st, _ := jsonCall(t, s, http.MethodPost, "webhooks/"+app+"/"+token, `{"content":"public"}`); st != http.StatusNoContent {
		t.Errorf("follow-up without wait: %d", st)
	}
	ix, _ = s.Interaction(id)
	if len(ix.Followups) != 2 || !ix.Followups[0].Ephemeral() || ix.Followups[1].Ephemeral() {
		t.Errorf("follow-ups %+v", ix.Followups)
	}
	if ms := s.Messages(channel); len(ms) != 2 || ms[1].Content != "public" {
		t.Errorf("channel %+v: want the original and the public follow-up", ms)
	}
	if st, _ := jsonCall(t, s, http.MethodDelete, orig, ""); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	if st, out := jsonCall(t, s, http.MethodPatch, orig, `{"content":"x"}`); st != http.StatusNotFound || code(out) != codeUnknownMessage {
		t.Errorf("edit after delete: %d %v", st, out)
	}
	if ix, _ := s.Interaction(id); !ix.OriginalDeleted || len(s.Messages(channel)) != 1 {
		t.Errorf("delete left %d messages", len(s.Messages(channel)))
	}
	if st, _ := jsonCall(t, s, http.MethodPost, "webhooks/1300000000000000999/"+token, `{"content":"x"}`); st != http.StatusNotFound {
		t.Errorf("another application's webhook: %d", st)
	}
}

func TestInteractionTiming(t *testing.T) {
	s := newServer(t)
	id, token := s.NewInteraction(app, channel)
	s.AgeInteraction(id, AckWindow+time.Second)
	if st, out := jsonCall(t, s, http.MethodPost, "interactions/"+id+"/"+token+"/callback", `{"type":5}`); st != http.StatusNotFound || code(out) != codeUnknownInteraction {
		t.Errorf("late acknowledgement: %d %v", st, out)
	}
	if ix, _ := s.Interaction(id); ix.Acknowledged() || len(ix.Callbacks) != 1 {
		t.Errorf("%+v", ix)
	}

	id, token = s.NewInteraction(app, channel)
	jsonCall(t, s, http.MethodPost, "interactions/"+id+"/"+token+"/callback", `{"type":5,"data":{"flags":64}}`)
	s.AgeInteraction(id, TokenLifetime+time.Second)
	if st, out := jsonCall(t, s, http.MethodPatch, "webhooks/"+app+"/"+token+"/messages/@original", `{"content":"x"}`); st != http.StatusNotFound || code(out) != codeUnknownWebhook {
		t.Errorf("edit after 15 minutes: %d %v", st, out)
	}
	if ms := s.Messages(channel); len(ms) != 0 {
		t.Errorf("an ephemeral deferral shows in the channel: %+v", ms)
	}
}

func TestInteractionCallbackKinds(t *testing.T) {
	many := `{"type":8,"data":{"choices":[` + strings.TrimSuffix(strings.Repeat(`{"name":"a","value":"a"},`, 26), ",") + `]}}`
	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"pong is not a callback", `{"type":1}`, http.StatusBadRequest},
		{"message", `{"type":4,"data":{"content":"hi","flags":64}}`, http.StatusNoContent},
		{"empty message", `{"type":4,"data":{"content":""}}`, http.StatusBadRequest},
		{"autocomplete", `{"type":8,"data":{"choices":[{"name":"orders-service","value":"orders-service"}]}}`, http.StatusNoContent},
		{"26 choices", many, http.StatusBadRequest},
		{"choice too long", `{"type":8,"data":{"choices":[{"name":"` + strings.Repeat("x", 101) + `","value":"x"}]}}`, http.StatusBadRequest},
		{"bad JSON", `{`, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			id, token := s.NewInteraction(app, channel)
			if st, out := jsonCall(t, s, http.MethodPost, "interactions/"+id+"/"+token+"/callback", tc.body); st != tc.status {
				t.Errorf("%d %v, want %d", st, out, tc.status)
			}
		})
	}
}

func TestInteractionFiles(t *testing.T) {
	s := newServer(t)
	id, token := s.NewInteraction(app, channel)
	jsonCall(t, s, http.MethodPost, "interactions/"+id+"/"+token+"/callback", `{"type":5}`)
	upload := func(size int) (int, map[string]any) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		p, _ := w.CreateFormField("payload_json")
		p.Write([]byte(`{"content":"","embeds":[{"title":"logs"}]}`))
		f, _ := w.CreateFormFile("files[0]", "logs-orders-service.txt")
		f.Write(bytes.Repeat([]byte("l\n"), size/2))
		w.Close()
		return call(t, s, http.MethodPatch, "webhooks/"+app+"/"+token+"/messages/@original", w.FormDataContentType(), b.Bytes())
	}
	if st, out := upload(2000); st != http.StatusOK {
		t.Fatalf("upload: %d %v", st, out)
	}
	ix, _ := s.Interaction(id)
	if len(ix.Original.Attachments) != 1 || ix.Original.Attachments[0].Filename != "logs-orders-service.txt" || len(ix.Original.Attachments[0].Content) != 2000 {
		t.Errorf("attachments %+v", ix.Original.Attachments)
	}
	if st, out := upload(limitFileSize + 2); st != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize file: %d %v", st, out)
	}
}

func TestBulkOverwrite(t *testing.T) {
	const guild = "1400000000000000004"
	path := "applications/" + app + "/guilds/" + guild + "/commands"
	sub := func(name string, opts string) string {
		return `{"type":1,"name":"` + name + `","description":"d","options":[` + opts + `]}`
	}
	cmd := func(opts string) string { return `[{"name":"ops","description":"ops","options":[` + opts + `]}]` }
	var many []string
	for i := range 26 {
		many = append(many, sub("c"+strings.Repeat("x", i), ""))
	}
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"subcommands and a group", cmd(sub("logs", `{"type":3,"name":"service","description":"s","required":true,"autocomplete":true},{"type":4,"name":"tail","description":"t","min_value":1,"max_value":2000}`) +
			`,{"type":2,"name":"incident","description":"i","options":[` + sub("show", `{"type":4,"name":"id","description":"i","required":true}`) + `]}`), true},
		{"upper-case name", cmd(sub("Logs", "")), false},
		{"long description", cmd(`{"type":1,"name":"x","description":"` + strings.Repeat("d", 101) + `"}`), false},
		{"26 subcommands", cmd(strings.Join(many, ",")), false},
		{"required after optional", cmd(sub("logs", `{"type":3,"name":"a","description":"a"},{"type":3,"name":"b","description":"b","required":true}`)), false},
		{"group in a subcommand", cmd(sub("logs", `{"type":2,"name":"g","description":"g","options":[]}`)), false},
		{"mixed levels", cmd(sub("logs", "") + `,{"type":3,"name":"a","description":"a"}`), false},
		{"duplicate names", cmd(sub("logs", "") + "," + sub("logs", "")), false},
		{"autocomplete on a boolean", cmd(sub("logs", `{"type":5,"name":"p","description":"p","autocomplete":true}`)), false},
		{"bounds beyond 2^53", cmd(sub("x", `{"type":4,"name":"id","description":"i","max_value":1e16}`)), false},
		{"too many characters", cmd(strings.Join(func() []string {
			var out []string
			for i := range 25 {
				out = append(out, `{"type":1,"name":"c`+strings.Repeat("x", i)+`","description":"`+strings.Repeat("d", 100)+`","options":[`+
					strings.TrimSuffix(strings.Repeat(`{"type":3,"name":"o","description":"`+strings.Repeat("d", 100)+`"},`, 1), ",")+`]}`)
			}
			return out
		}(), ",")), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			a := do(t, s, http.MethodPut, path, tc.body)
			if (a.status == http.StatusOK) != tc.ok {
				t.Fatalf("HTTP %d %v, want ok=%v", a.status, a.body, tc.ok)
			}
			got := s.RegisteredCommands(app, guild)
			if tc.ok != (got != nil) {
				t.Errorf("recorded %s", got)
			}
			if tc.ok && (len(a.list) != 1 || a.list[0]["id"] == nil || a.list[0]["guild_id"] != guild) {
				t.Errorf("answer %v: want the commands with ids", a.list)
			}
		})
	}
	s := newServer(t)
	if st, _ := jsonCall(t, s, http.MethodPut, path, `[]`); st != http.StatusUnauthorized {
		t.Errorf("registration without the bot token: %d", st)
	}
}
