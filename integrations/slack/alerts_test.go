package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/commands"
)

// alertsAnswer is the real alerts command's answer over a night's firing
// alerts (hostile label values included) at bottest.T0.
func alertsAnswer(t *testing.T) bot.Answer {
	t.Helper()
	deps := commands.Deps{Firing: &bottest.Firing{Alerts: bottest.SampleFiring(bottest.T0)}, Now: func() time.Time { return bottest.T0 }}
	var specs []bot.CommandSpec
	for _, s := range commands.Table(deps, nil) {
		if s.Name == "alerts" {
			specs = append(specs, s)
		}
	}
	r, err := command.NewRouter(specs, command.Config{Root: "ops", Channels: []string{"C0INCIDENTS"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := captured{answers: make(chan bot.Answer, 1)}
	r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C0INCIDENTS", Text: "alerts", User: bot.Identity{UserID: "U0ALICE"}}, c)
	return <-c.answers
}

// TestAnswerAlertsButtons: the Silence buttons become one actions block
// (inside the coloured attachment), with ids the click handler reads, and
// label values that try to ping stay escaped.
func TestAnswerAlertsButtons(t *testing.T) {
	m := renderAnswer(alertsAnswer(t), renderOptions{fileBase: "alerts"})
	var ids []string
	for _, a := range m.attachments {
		for _, b := range a.Blocks.BlockSet {
			if ab, ok := b.(*slackapi.ActionBlock); ok {
				for _, el := range ab.Elements.ElementSet {
					ids = append(ids, el.(*slackapi.ButtonBlockElement).ActionID)
				}
			}
		}
	}
	if len(ids) != 3 {
		t.Fatalf("button ids %v, want 3", ids)
	}
	for _, id := range ids {
		if _, _, ok := bot.ParseSilenceButtonID(id); !ok {
			t.Errorf("button id %q is not a silence button", id)
		}
	}
	js := blocksJSON(t, m)
	for _, bad := range []string{"<!channel>", "<@U0BOSS>"} {
		if strings.Contains(js, bad) {
			t.Errorf("%s passes unescaped", bad)
		}
	}
}

// TestAnswerButtonsWithinSlackLimits: at most 25 buttons, ids within
// Slack's length, none repeated.
func TestAnswerButtonsWithinSlackLimits(t *testing.T) {
	a := bot.Answer{Title: "many"}
	for i := range 30 {
		a.Buttons = append(a.Buttons, bot.Button{ID: "chatops:silence:A" + strings.Repeat("x", i) + ":svc", Label: strings.Repeat("L", 300)})
	}
	a.Buttons = append(a.Buttons, bot.Button{ID: strings.Repeat("y", maxActionID+1)}, a.Buttons[0])
	m := renderAnswer(a, renderOptions{})
	ab := m.blocks[len(m.blocks)-1].(*slackapi.ActionBlock)
	if n := len(ab.Elements.ElementSet); n != maxActionElements {
		t.Errorf("%d buttons, want %d", n, maxActionElements)
	}
	if m := renderAnswer(bot.Answer{Title: "none"}, renderOptions{}); strings.Contains(blocksJSON(t, m), `"actions"`) {
		t.Error("an answer without buttons has an actions block")
	}
}
