package slack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

const testAppToken = "xapp-1-A0CHATOPS-1-secretappsecret"

// runSocket runs the Socket Mode loop against the fixture's stand-in
// until the test ends, and waits for the connection.
func (f *inboundFixture) runSocket(t *testing.T) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.in.RunSocketMode(ctx, testAppToken) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(waitLimit):
			return errors.New("RunSocketMode did not return after its context ended")
		}
	}
	t.Cleanup(func() { _ = stop() })
	wctx, wcancel := context.WithTimeout(context.Background(), waitLimit)
	defer wcancel()
	if err := f.srv.WaitSocket(wctx, 1); err != nil {
		t.Fatalf("no Socket Mode connection: %v", err)
	}
	return stop
}

func (f *inboundFixture) waitAck(t *testing.T, envelope string) slackstandin.Ack {
	t.Helper()
	f.wait(t, "the ack of "+envelope, func() bool { _, ok := f.srv.AckOf(envelope); return ok })
	a, _ := f.srv.AckOf(envelope)
	if a.Dropped || a.Size >= 20*1024 {
		t.Errorf("ack of %d bytes: Slack drops it", a.Size)
	}
	return a
}

// TestSocketModeSlashCommand: a slash command over the websocket is acked
// at once with "Working on it…" and answered through its response_url.
func TestSocketModeSlashCommand(t *testing.T) {
	f := newInbound(t)
	f.runSocket(t)
	env, cmd, err := f.srv.PushSlashCommand(slackapi.SlashCommand{ChannelID: testChannel, UserID: testUser, UserName: "alice", Text: "health"})
	if err != nil {
		t.Fatal(err)
	}
	ack := f.waitAck(t, env)
	var payload map[string]string
	if err := json.Unmarshal(ack.Payload, &payload); err != nil || payload["text"] != "Working on it…" || payload["response_type"] != "ephemeral" {
		t.Errorf("ack payload %s (%v)", ack.Payload, err)
	}
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(cmd.ResponseURL)) == 1 })
	if r := f.srv.Responses(cmd.ResponseURL)[0]; r.ResponseType != "in_channel" || r.Text != "All healthy" {
		t.Errorf("answer: %+v", r)
	}
	cmds := f.calls.all()
	if len(cmds) != 1 || cmds[0].Text != "health" || cmds[0].User.UserID != testUser || cmds[0].User.Name != "alice" || cmds[0].Channel != testChannel {
		t.Errorf("command: %+v", cmds)
	}
}

// TestSocketModeLongAnswerNeverInTheAck: a 2,000-line answer goes up as a
// file; the ack stays small.
func TestSocketModeLongAnswerNeverInTheAck(t *testing.T) {
	f := newInbound(t)
	f.runSocket(t)
	env, cmd, err := f.srv.PushSlashCommand(slackapi.SlashCommand{ChannelID: testChannel, UserID: testUser, Text: "logs orders-service --tail 2000"})
	if err != nil {
		t.Fatal(err)
	}
	if ack := f.waitAck(t, env); ack.Size > 200 {
		t.Errorf("ack of %d bytes: %s", ack.Size, ack.Payload)
	}
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(cmd.ResponseURL)) == 1 })
	if files := f.srv.Files(testChannel); len(files) != 1 || files[0].Name != "logs-orders-service.txt" {
		t.Errorf("files: %+v", files)
	}
}

// TestSocketModeAppMention: a mention in a thread is acked and answered
// in the thread; Slack's redelivery of the same event is acked and not
// answered again.
func TestSocketModeAppMention(t *testing.T) {
	f := newInbound(t)
	f.runSocket(t)
	root := f.threadRoot(t)
	env, ev, err := f.srv.PushAppMention(slackstandin.AppMention{Channel: testChannel, User: testUser, ThreadTS: root, Text: "<@" + slackstandin.BotUserID + "> health"})
	if err != nil {
		t.Fatal(err)
	}
	if ack := f.waitAck(t, env); ack.Payload != nil {
		t.Errorf("an event's ack carries %s", ack.Payload)
	}
	f.wait(t, "the answer", func() bool { return len(f.botReplies(root)) == 1 })

	again, err := f.srv.PushEvent(ev.Body, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.waitAck(t, again)
	f.drain(t)
	if n := len(f.botReplies(root)); n != 1 {
		t.Errorf("%d answers to one event", n)
	}
	if cmds := f.calls.all(); len(cmds) != 1 || cmds[0].Thread != root || cmds[0].Text != "health" {
		t.Errorf("commands: %+v", cmds)
	}
}

func TestSocketModeBlockAction(t *testing.T) {
	f := newInbound(t)
	f.runSocket(t)
	a := &slackstandin.BlockAction{User: testUser, Channel: testChannel, MessageTS: "1700000000.000100", ActionID: "approve"}
	env, err := f.srv.PushBlockAction(a)
	if err != nil {
		t.Fatal(err)
	}
	f.waitAck(t, env)
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(a.ResponseURL)) == 1 })
	if r := f.srv.Responses(a.ResponseURL)[0]; !strings.Contains(r.Text, "Buttons are not available") {
		t.Errorf("answer: %+v", r)
	}
}

// TestSocketModeClick: a click over the websocket is acked and reaches
// the ClickHandler, and the handler's answer goes to the response_url.
func TestSocketModeClick(t *testing.T) {
	h := newRecordingClicks()
	f := newInbound(t, withClicks(h))
	f.runSocket(t)
	a := &slackstandin.BlockAction{User: testUser, UserName: "alice", Channel: testChannel, MessageTS: "1700000000.000100", ThreadTS: "1700000000.000001", ActionID: "approve", Value: "v"}
	env, err := f.srv.PushBlockAction(a)
	if err != nil {
		t.Fatal(err)
	}
	f.waitAck(t, env)
	select {
	case got := <-h.got:
		if got.Platform != "slack" || got.User.UserID != testUser || got.Channel != testChannel || got.Thread != "1700000000.000001" ||
			got.MessageID != "1700000000.000100" || got.ButtonID != "approve" || got.Value != "v" {
			t.Errorf("click %+v", got)
		}
	case <-time.After(waitLimit):
		t.Fatal("the handler was not called")
	}
	f.wait(t, "the answer", func() bool { return len(f.srv.Responses(a.ResponseURL)) == 1 })
}

// TestSocketModeReconnects: when Slack asks the client to reconnect (to
// refresh the connection, or warning that it will close it) or the
// connection drops, the library opens a new one and commands keep
// working; the loop ends with its context.
func TestSocketModeReconnects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause func(*slackstandin.Server) error
	}{
		{"refresh_requested", func(s *slackstandin.Server) error { return s.PushDisconnectReason(slackstandin.DisconnectRefresh) }},
		{"warning", func(s *slackstandin.Server) error { return s.PushDisconnectReason(slackstandin.DisconnectWarning) }},
		{"dropped", func(s *slackstandin.Server) error { s.DropSocket(); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newInbound(t)
			stop := f.runSocket(t)
			if err := tc.cause(f.srv); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := f.srv.WaitSocket(ctx, 2); err != nil {
				t.Fatalf("no second connection: %v", err)
			}
			env, cmd, err := f.srv.PushSlashCommand(slackapi.SlashCommand{ChannelID: testChannel, UserID: testUser, Text: "health"})
			if err != nil {
				t.Fatal(err)
			}
			f.waitAck(t, env)
			f.wait(t, "the answer", func() bool { return len(f.srv.Responses(cmd.ResponseURL)) == 1 })
			if err := stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("RunSocketMode returned %v, want context.Canceled", err)
			}
		})
	}
}

func TestSocketModeNeedsAnAppToken(t *testing.T) {
	f := newInbound(t)
	if err := f.in.RunSocketMode(context.Background(), testToken); err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("a bot token for Socket Mode: %v", err)
	}
}
