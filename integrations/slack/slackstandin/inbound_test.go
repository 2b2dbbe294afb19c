package slackstandin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func TestSignVerifies(t *testing.T) {
	body := []byte("text=health")
	h := Sign("secret", time.Now(), body)
	sv, err := slack.NewSecretsVerifier(h, "secret")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		t.Fatalf("slack-go refuses the stand-in's signature: %v", err)
	}
}

func TestResponseURL(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	u := s.NewResponseURL()
	for i := range maxResponses {
		if err := slack.PostWebhook(u, &slack.WebhookMessage{Text: "answer", ResponseType: "in_channel"}); err != nil {
			t.Fatalf("post %d: %v", i+1, err)
		}
	}
	var sc slack.StatusCodeError
	if err := slack.PostWebhook(u, &slack.WebhookMessage{Text: "sixth"}); !errorAs(err, &sc) || sc.Code != http.StatusNotFound {
		t.Errorf("sixth post: %v, want 404 (used_url)", err)
	}
	got := s.Responses(u)
	if len(got) != maxResponses || got[0].ResponseType != "in_channel" || got[0].Text != "answer" {
		t.Errorf("responses: %+v", got)
	}
	if err := slack.PostWebhook(s.URL()+"response/T0STANDIN/R9999999", &slack.WebhookMessage{Text: "x"}); err == nil {
		t.Error("an unknown response_url accepted a post")
	}
	long := strings.Repeat("x", 151)
	bad := &slack.WebhookMessage{Text: "x", Blocks: &slack.Blocks{BlockSet: []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject("plain_text", long, false, false))}}}
	if err := slack.PostWebhook(s.NewResponseURL(), bad); err == nil {
		t.Error("a header Slack refuses was accepted")
	}
}

func TestEphemeralAndUserMessages(t *testing.T) {
	s, api := newClient(t)
	root := s.AddUserMessage("C1", "U1", "hello", "")
	if _, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("only you", false), slack.MsgOptionTS(root.TS)); err != nil {
		t.Fatal(err)
	}
	e := s.Ephemerals("C1")
	if len(e) != 1 || e[0].User != "U1" || e[0].ThreadTS != root.TS || e[0].Text != "only you" {
		t.Fatalf("ephemerals: %+v", e)
	}
	if len(s.Messages("C1")) != 1 {
		t.Error("an ephemeral message was recorded as a message")
	}
	if _, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001")); err == nil || err.Error() != "thread_not_found" {
		t.Errorf("ephemeral in no thread: %v", err)
	}
}

func TestFileUpload(t *testing.T) {
	s, api := newClient(t)
	root := s.AddUserMessage("C1", "U1", "logs please", "")
	content := strings.Repeat("line\n", 2000)
	f, err := api.UploadFileContext(context.Background(), slack.UploadFileParameters{
		Reader: strings.NewReader(content), FileSize: len(content), Filename: "logs-x.txt", Title: "logs-x.txt",
		Channel: "C1", ThreadTimestamp: root.TS,
	})
	if err != nil {
		t.Fatal(err)
	}
	files := s.Files("C1")
	if len(files) != 1 || files[0].ID != f.ID || files[0].Name != "logs-x.txt" || files[0].ThreadTS != root.TS || string(files[0].Content) != content {
		t.Fatalf("files: %+v", files)
	}
	// The announced length must match.
	_, err = api.UploadFileContext(context.Background(), slack.UploadFileParameters{
		Reader: strings.NewReader("short"), FileSize: 100, Filename: "x.txt", Channel: "C1",
	})
	if err == nil {
		t.Error("an upload shorter than announced was accepted")
	}
}

func TestAppMentionEvent(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	ev := s.AppMentionEvent(AppMention{Channel: "C1", User: "U1", Text: "<@U0CHATOPS> health", ThreadTS: ""})
	parsed, err := slackevents.ParseEvent(json.RawMessage(ev.Body), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := parsed.InnerEvent.Data.(*slackevents.AppMentionEvent)
	cb, _ := parsed.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok || m.User != "U1" || m.Channel != "C1" || m.TimeStamp != ev.TS || cb == nil || cb.EventID != ev.EventID {
		t.Fatalf("parsed: %+v %+v", parsed, m)
	}
	if msgs := s.Messages("C1"); len(msgs) != 1 || msgs[0].User != "U1" || msgs[0].TS != ev.TS {
		t.Errorf("the mention is not recorded as the person's message: %+v", msgs)
	}
}

func TestBlockActionPayloadParses(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	a := &BlockAction{User: "U1", Channel: "C1", MessageTS: "1.000100", ThreadTS: "1.000001", ActionID: "approve", Value: "7"}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(s.BlockActionPayload(a), &cb); err != nil {
		t.Fatal(err)
	}
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 ||
		cb.ActionCallback.BlockActions[0].ActionID != "approve" || cb.Container.ThreadTs != "1.000001" || cb.ResponseURL != a.ResponseURL {
		t.Fatalf("callback: %+v", cb)
	}
}

// TestSocketMode: slack-go's socketmode client connects with an app
// token, gets the pushed envelopes, and its acks are recorded.
func TestSocketMode(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	if _, _, err := slack.New("xoxb-1", slack.OptionAPIURL(s.URL())).StartSocketModeContext(context.Background()); err == nil || err.Error() != "not_allowed_token_type" {
		t.Errorf("apps.connections.open with a bot token: %v", err)
	}
	api := slack.New("xoxb-1", slack.OptionAppLevelToken("xapp-1"), slack.OptionAPIURL(s.URL()))
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sm.RunContext(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := s.WaitSocket(wctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PushSlashCommand(slack.SlashCommand{ChannelID: "C1", UserID: "U1", Text: "health"}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case evt := <-sm.Events:
			if evt.Type != socketmode.EventTypeSlashCommand {
				continue
			}
			cmd := evt.Data.(slack.SlashCommand)
			if cmd.Text != "health" || cmd.Command != "/ops" || !strings.HasPrefix(cmd.ResponseURL, s.URL()) {
				t.Errorf("command: %+v", cmd)
			}
			big := map[string]string{"text": strings.Repeat("x", 21*1024)}
			if err := sm.Ack(*evt.Request, big); err == nil {
				t.Error("slack-go sent an ack Slack would drop")
			}
			if err := sm.Ack(*evt.Request, map[string]string{"text": "ok"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Wait(wctx, func() bool { _, ok := s.AckOf(evt.Request.EnvelopeID); return ok }); err != nil {
				t.Fatal(err)
			}
			a, _ := s.AckOf(evt.Request.EnvelopeID)
			if !bytes.Contains(a.Payload, []byte(`"ok"`)) || a.Dropped {
				t.Errorf("ack: %+v", a)
			}
			return
		case <-wctx.Done():
			t.Fatal("no slash command event")
		}
	}
}

func errorAs(err error, target *slack.StatusCodeError) bool {
	sc, ok := err.(slack.StatusCodeError)
	if ok {
		*target = sc
	}
	return ok
}
