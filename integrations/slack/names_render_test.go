package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

// hostileName is a display name that tries every trick: broadcasts,
// mentions, formatting, code, a bidi override, and a thousand characters.
var hostileName = "<!channel> <@here> *bold* `code` _i_ ~s~ \u202eevil\u202c " + strings.Repeat("x", 1000)

func TestHostileNameOnRoot(t *testing.T) {
	d := preview(t, loadGroup(t, "service-down-firing.json"))
	at := d.OpenedAt.Add(3 * time.Minute)
	d.AckedAt, d.AckedBy = &at, bot.Identity{UserID: "U0EVE", Name: hostileName}.Display()
	req := sentRoot(t, outbox.RootMessage(d, testDest))
	if got := pings(t, req); len(got) != 0 {
		t.Errorf("a display name became Slack markup: %v", got)
	}
	blocks := req.Form["blocks"] + req.Form["attachments"]
	if strings.Contains(blocks, "\u202e") || strings.Contains(blocks, "\\u202e") {
		t.Error("the bidi override reached Slack")
	}
	var field string
	for _, s := range textsOf(t, req) {
		if strings.HasPrefix(s, "*Acknowledged*") {
			field = s
		}
	}
	if !strings.Contains(field, "&lt;!channel&gt; &lt;@here&gt;") || !strings.Contains(field, "…") {
		t.Errorf("acknowledged field = %q, want the name escaped and clipped", field)
	}
	if n := len([]rune(bot.PersonName(hostileName))); n > bot.MaxNameRunes {
		t.Errorf("name kept %d runes, want at most %d", n, bot.MaxNameRunes)
	}
	// The time after the name is still Slack's date markup.
	if !ourDate.MatchString(field[strings.LastIndex(field, " at ")+len(" at "):]) {
		t.Errorf("acknowledged field = %q, want it to end with the date markup", field)
	}
}

func TestDateMarkup(t *testing.T) {
	at := time.Date(2026, 12, 5, 17, 20, 59, 0, time.UTC)
	if got, want := date(at, bot.TimeAt), "<!date^1796491259^{date_short_pretty} {time}|2026-12-05 17:20 UTC>"; got != want {
		t.Errorf("date = %q, want %q", got, want)
	}
	// Text around a time is escaped; the time is markup.
	if got, want := fitDates("<b> & "+bot.At(at), 500), "&lt;b&gt; &amp; "+date(at, bot.TimeAt); got != want {
		t.Errorf("fitDates = %q, want %q", got, want)
	}
	// Text that must be clipped falls back to UTC text: a cut markup
	// would show as garbage.
	long := strings.Repeat("word ", 100) + bot.At(at)
	if got := fitDates(long, 100); strings.Contains(got, "<!date") || !strings.HasSuffix(got, "…") {
		t.Errorf("clipped fitDates = %q, want plain clipped text", got)
	}
	// A time inside the part kept is clipped as the UTC text it becomes,
	// within the bound.
	if got := fitDates(bot.At(at)+strings.Repeat(" word", 100), 100); len(got) > 100 || !strings.HasPrefix(got, "2026-12-05 17:20 UTC word") {
		t.Errorf("clipped fitDates = %q (%d bytes), want UTC text within 100 bytes", got, len(got))
	}
	// Places that show no markup: header, buttons, notification text.
	m := bot.Message{Title: "at " + bot.At(at), Lines: []string{"acked at " + bot.At(at)},
		Fields: []bot.Field{{Name: "Expires", Value: bot.AtAgo(at)}}, Buttons: []bot.Button{{ID: "b", Label: bot.At(at)}}}
	p := renderRoot(m)
	if strings.Contains(p.text, "<!date") || !strings.Contains(p.text, "2026-12-05 17:20 UTC") {
		t.Errorf("notification text = %q, want UTC text", p.text)
	}
	b, _ := json.Marshal(p.blocks)
	var header struct {
		Text struct{ Text string } `json:"text"`
	}
	var raw []json.RawMessage
	_ = json.Unmarshal(b, &raw)
	_ = json.Unmarshal(raw[0], &header)
	if !strings.HasSuffix(header.Text.Text, " at 2026-12-05 17:20 UTC") {
		t.Errorf("header (plain_text) = %q, want UTC text", header.Text.Text)
	}
	if !strings.Contains(string(b), `\u003c!date^1796491259^`) && !strings.Contains(string(b), `<!date^1796491259^`) {
		t.Errorf("fields lack the date markup: %s", b)
	}
	r := renderReply(m)
	if !strings.Contains(r.text, "acked at 2026-12-05 17:20 UTC") {
		t.Errorf("reply notification = %q, want UTC text", r.text)
	}
	rb, _ := json.Marshal(r.blocks)
	if !strings.Contains(string(rb), "acked at \\u003c!date^1796491259^") {
		t.Errorf("reply blocks lack the date markup: %s", rb)
	}
	// A code block shows no markup.
	am := renderAnswer(bot.Answer{Pre: "opened " + bot.At(at)}, renderOptions{})
	ab, _ := json.Marshal(am.payload().blocks)
	if strings.Contains(string(ab), "date^") || !strings.Contains(string(ab), "opened 2026-12-05 17:20 UTC") {
		t.Errorf("code block = %s, want UTC text", ab)
	}
	// Nor does a file.
	big := renderAnswer(bot.Answer{Pre: strings.Repeat("opened "+bot.At(at)+"\n", 500)}, renderOptions{})
	if len(big.files) != 1 || !strings.HasPrefix(string(big.files[0].Content), "opened 2026-12-05 17:20 UTC\n") {
		t.Errorf("the attached file does not start with the UTC text: %d files", len(big.files))
	}
}
