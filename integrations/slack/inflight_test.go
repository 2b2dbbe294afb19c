package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/policy"
)

// TestInFlightBound: with MaxInFlight commands running, the next slash
// command is answered at once, privately, that the bot is busy, and never
// runs.
func TestInFlightBound(t *testing.T) {
	srv := slackstandin.New()
	t.Cleanup(srv.Close)
	client, err := New(Config{Token: testToken, APIURL: srv.URL(), PerChannelRate: 1000, Burst: 1000, UpdateRate: 1000}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	entered, unblock := make(chan string, 8), make(chan struct{})
	specs := []bot.CommandSpec{{Name: "slow", Summary: "waits", Role: policy.Viewer,
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			entered <- inv.Command.User.UserID
			select {
			case <-unblock:
			case <-ctx.Done():
			}
			return bot.Answer{Title: "done"}, nil
		}}}
	router, err := command.NewRouter(specs, command.Config{Root: "ops", Channels: []string{testChannel}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The bot user id is given: learning it would take a place.
	in := NewInbound(InboundConfig{SigningSecret: testSecret, BotUserID: slackstandin.BotUserID, ResponseURLPrefixes: []string{srv.URL() + "response/"}, MaxInFlight: 2},
		router, newMemoryGuard(), client, zap.NewNop())
	f := &inboundFixture{srv: srv, in: in, mux: http.NewServeMux()}
	f.mux.Handle("POST /slack/commands", in.Commands())
	released := false
	t.Cleanup(func() {
		if !released {
			close(unblock)
		}
		f.drain(t)
	})

	send := func(user string) (map[string]string, string) {
		t.Helper()
		form := srv.SlashCommandForm(slackapi.SlashCommand{ChannelID: testChannel, UserID: user, Text: "slow"})
		rec := f.signed("/slack/commands", []byte(form.Encode()))
		var ack map[string]string
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &ack) != nil {
			t.Fatalf("%s: status %d %s", user, rec.Code, rec.Body)
		}
		return ack, form.Get("response_url")
	}
	for _, user := range []string{"U1", "U2"} {
		if ack, _ := send(user); ack["text"] != "Working on it…" {
			t.Fatalf("%s: immediate answer %v", user, ack)
		}
		<-entered
	}
	ack, ru := send("U3")
	if ack["response_type"] != "ephemeral" || ack["text"] != "chatops is busy with other commands; try again in a moment." {
		t.Fatalf("third command's immediate answer %v; want the private busy answer", ack)
	}

	close(unblock)
	released = true
	f.drain(t)
	select {
	case u := <-entered:
		t.Fatalf("the refused command of %s ran", u)
	default:
	}
	if n := len(srv.Responses(ru)); n != 0 {
		t.Errorf("the refused command was answered %d times through its response_url", n)
	}
}
