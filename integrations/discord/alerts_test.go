package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/commands"
)

// alertsSpec is the alerts command of the real table, over a night's
// firing alerts (hostile label values included) at bottest.T0.
func alertsSpec(t *testing.T) bot.CommandSpec {
	t.Helper()
	deps := commands.Deps{Firing: &bottest.Firing{Alerts: bottest.SampleFiring(bottest.T0)}, Now: func() time.Time { return bottest.T0 }}
	for _, s := range commands.Table(deps, nil) {
		if s.Name == "alerts" {
			return s
		}
	}
	t.Fatal("commands.Table has no alerts command")
	return bot.CommandSpec{}
}

// TestAnswerAlertsGolden: the alerts answer as the deferred response's
// edit, its Silence buttons in rows Discord takes, label values that try
// to ping or break the code block defused.
func TestAnswerAlertsGolden(t *testing.T) {
	router := newRouter(t, []bot.CommandSpec{alertsSpec(t)})
	cmd := bot.Command{Platform: Platform, User: testUserIdentity(), Channel: testChannel, Text: "alerts", ReceivedAt: time.Now()}
	var c captureResponder
	router.Handle(context.Background(), cmd, &c)
	m := renderAnswer(c.a, fileBase(router, cmd))
	checkAnswerLimits(t, m)
	e := m.edit()
	if e.Components == nil || len(*e.Components) != 1 {
		t.Fatalf("components %+v, want one row of Silence buttons", e.Components)
	}
	row := (*e.Components)[0].(discordgo.ActionsRow)
	if len(row.Components) != 3 {
		t.Errorf("%d buttons, want 3", len(row.Components))
	}
	for _, b := range row.Components {
		id := b.(discordgo.Button).CustomID
		if _, _, ok := bot.ParseSilenceButtonID(id); !ok || len(id) > maxCustomID {
			t.Errorf("button id %q is not a silence button the click handler reads", id)
		}
	}
	if strings.Count(m.embed.Description, "```") != 2 {
		t.Errorf("a label value closed the code block early:\n%s", m.embed.Description)
	}
	checkGolden(t, "answer-alerts", goldenOf(m))

	// The follow-up (an answer of another visibility) carries the same
	// buttons.
	if f := m.followup(); len(f.Components) != 1 {
		t.Errorf("follow-up components %+v, want the row", f.Components)
	}
}

// TestAnswerButtonsWithinLimits: more buttons than Discord takes, and ids
// it would refuse, are left out; the rest fit five to a row, five rows.
func TestAnswerButtonsWithinLimits(t *testing.T) {
	a := bot.Answer{Title: "many"}
	for i := range 40 {
		a.Buttons = append(a.Buttons, bot.Button{ID: "chatops:silence:A" + strings.Repeat("x", i) + ":svc", Label: strings.Repeat("L", 200)})
	}
	a.Buttons = append(a.Buttons, bot.Button{ID: strings.Repeat("y", maxCustomID+1), Label: "too long"})
	rows := renderAnswer(a, "x").components
	if len(rows) != maxActionRows {
		t.Fatalf("%d rows, want %d", len(rows), maxActionRows)
	}
	for _, r := range rows {
		bs := r.(discordgo.ActionsRow).Components
		if len(bs) > maxButtonsPerRow {
			t.Errorf("a row of %d buttons", len(bs))
		}
		for _, b := range bs {
			if btn := b.(discordgo.Button); len(btn.CustomID) > maxCustomID || len(btn.Label) > maxButtonLabel*3 {
				t.Errorf("button %q breaks a limit", btn.CustomID)
			}
		}
	}
	if m := renderAnswer(bot.Answer{Title: "none"}, "x"); m.edit().Components != nil || len(m.followup().Components) != 0 {
		t.Error("an answer without buttons sends components")
	}
}
