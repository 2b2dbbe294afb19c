package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

// TestIdentityName: a person is named as the guild shows them: nickname,
// else the name they chose for Discord, else their username; the id is
// kept beside it.
func TestIdentityName(t *testing.T) {
	user := func(global string) *discordgo.User {
		return &discordgo.User{ID: "1600000000000000006", Username: "ana_r", GlobalName: global}
	}
	for _, tc := range []struct {
		name string
		ix   discordgo.Interaction
		want string
	}{
		{"nick", discordgo.Interaction{Member: &discordgo.Member{User: user("Ana Ruiz"), Nick: "Ana (on call)"}}, "Ana (on call)"},
		{"global name", discordgo.Interaction{Member: &discordgo.Member{User: user("Ana Ruiz")}}, "Ana Ruiz"},
		{"username", discordgo.Interaction{Member: &discordgo.Member{User: user("")}}, "ana_r"},
		{"direct message", discordgo.Interaction{User: user("Ana Ruiz")}, "Ana Ruiz"},
		{"invisible nick", discordgo.Interaction{Member: &discordgo.Member{User: user("Ana Ruiz"), Nick: "\u202e\u200b"}}, "Ana Ruiz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := identity(&tc.ix)
			if id.Display() != tc.want || id.UserID != "1600000000000000006" {
				t.Errorf("identity = %+v (display %q), want %q with the id", id, id.Display(), tc.want)
			}
		})
	}
}

func TestTimestampMarkup(t *testing.T) {
	at := time.Date(2026, 12, 5, 17, 20, 59, 0, time.UTC)
	if got := timestamp(at, bot.TimeAt); got != "<t:1796491259:f>" {
		t.Errorf("timestamp = %q", got)
	}
	if got := timestamp(at, bot.TimeAtAgo); got != "<t:1796491259:f> (<t:1796491259:R>)" {
		t.Errorf("timestamp with ago = %q", got)
	}
	m := bot.Message{Title: "expires " + bot.At(at), Marker: "m " + bot.At(at),
		Fields: []bot.Field{{Name: "At " + bot.At(at), Value: "*x* " + bot.AtAgo(at)}},
		Lines:  []string{"acked at " + bot.At(at)}, Buttons: []bot.Button{{ID: "b", Label: bot.At(at)}}}
	r := renderRoot(m)
	e := r.embeds[0]
	// Titles, footers, field names, thread names and buttons show no markup.
	for what, s := range map[string]string{"title": e.Title, "footer": e.Footer.Text, "field name": e.Fields[0].Name,
		"thread": r.threadName, "button": r.components[0].(discordgo.ActionsRow).Components[0].(discordgo.Button).Label} {
		if strings.Contains(s, "<t:") || !strings.Contains(s, "2026-12-05 17:20 UTC") {
			t.Errorf("%s = %q, want UTC text", what, s)
		}
	}
	if got := e.Fields[0].Value; got != `\*x\* <t:1796491259:f> (<t:1796491259:R>)` {
		t.Errorf("field value = %q, want escaped text and the timestamp", got)
	}
	if got := renderReply(m).content; !strings.Contains(got, "• acked at <t:1796491259:f>") {
		t.Errorf("reply = %q, want the timestamp", got)
	}
	// Clipped text falls back to UTC text, never a cut markup.
	if got := clipTimes(strings.Repeat("word ", 100)+bot.At(at), 60, escapeMarkdown); strings.Contains(got, "<t:") || !strings.HasSuffix(got, "…") {
		t.Errorf("clipped = %q", got)
	}
	// A code block shows no markup.
	a := renderAnswer(bot.Answer{Title: "t", Pre: "opened " + bot.At(at), Lines: []string{"line " + bot.At(at)}}, "x")
	if d := a.embed.Description; !strings.Contains(d, "line <t:1796491259:f>") || !strings.Contains(d, "opened 2026-12-05 17:20 UTC") {
		t.Errorf("answer description = %q", d)
	}
}

// TestHostileName: a name is text, whatever it holds.
func TestHostileName(t *testing.T) {
	hostile := "<@here> @everyone <t:0:R> *b* `c` \u202eevil " + strings.Repeat("x", 1000)
	d := preview(t, loadGroup(t, "service-down-firing"))
	at := d.OpenedAt.Add(3 * time.Minute)
	d.AckedAt, d.AckedBy = &at, bot.Identity{UserID: "1", Name: hostile}.Display()
	r := renderRoot(outbox.RootMessage(d, dest("")))
	var got string
	for _, f := range r.embeds[0].Fields {
		if f.Name == "Acknowledged" {
			got = f.Value
		}
	}
	if !strings.HasPrefix(got, `\<@here> @everyone \<t:0:R> \*b\* \`+"`c\\`"+` evil xxx`) || strings.Contains(got, "\u202e") {
		t.Errorf("acknowledged = %q, want the name escaped, without the bidi override", got)
	}
	if !strings.HasSuffix(got, "… at "+timestamp(at, bot.TimeAt)) {
		t.Errorf("acknowledged = %q, want the name clipped and the timestamp after it", got)
	}
	if len(r.mentions.Parse) != 0 || len(r.mentions.Users) != 0 || len(r.mentions.Roles) != 0 {
		t.Errorf("allowed mentions = %+v, want none", r.mentions)
	}
}
