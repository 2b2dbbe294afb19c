package discord

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
)

var safeFileName = regexp.MustCompile(`^[a-z0-9._-]+$`)

type captureResponder struct{ a bot.Answer }

func (c *captureResponder) Respond(_ context.Context, a bot.Answer) error {
	c.a = a
	return nil
}

// answerGolden is what an answer costs on the wire: the edit of the
// deferred response, whether it is private, and the files (described,
// not copied).
type answerGolden struct {
	Private bool                   `json:"private"`
	Edit    *discordgo.WebhookEdit `json:"PATCH /webhooks/{app}/{token}/messages/@original"`
	Files   []goldenFile           `json:"files,omitempty"`
}

type goldenFile struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
	Lines int    `json:"lines"`
	First string `json:"first"`
	Last  string `json:"last"`
}

func goldenOf(m answerMessage) answerGolden {
	g := answerGolden{Private: m.private, Edit: m.edit()}
	for _, f := range m.files {
		lines := strings.Split(strings.TrimRight(string(f.Content), "\n"), "\n")
		g.Files = append(g.Files, goldenFile{Name: f.Name, Bytes: len(f.Content), Lines: len(lines), First: lines[0], Last: lines[len(lines)-1]})
	}
	return g
}

func testUserIdentity() bot.Identity {
	return bot.Identity{Platform: Platform, UserID: testUser, Name: "Ana", Groups: []string{testOperator}}
}

// TestAnswerGoldens renders the router's answers to real commands, as the
// deferred response's edit, within Discord's limits.
func TestAnswerGoldens(t *testing.T) {
	router := newRouter(t, pinnedTable(t, testIncidents(t), nil))
	cases := []struct {
		name    string
		text    string
		options map[string]string
		private bool
		files   int
	}{
		{name: "help", text: "help", private: true},
		{name: "help-logs", text: "help", options: map[string]string{"command": "logs"}, private: true},
		{name: "usage-error", text: "logs", options: map[string]string{"service": "orders-service", "tail": "5000"}, private: true},
		{name: "whoami", text: "whoami", private: true},
		{name: "incident-list", text: "incident list"},
		{name: "incident-show", text: "incident show", options: map[string]string{"id": "13"}},
		{name: "incident-show-unknown", text: "incident show", options: map[string]string{"id": "999"}, private: true},
		{name: "logs-20-lines", text: "logs", options: map[string]string{"service": "orders-service", "tail": "20"}},
		{name: "logs-2000-lines", text: "logs", options: map[string]string{"service": "orders-service", "tail": "2000"}, files: 1},
		{name: "refused-channel", text: "whoami", private: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := bot.Command{Platform: Platform, User: testUserIdentity(), Channel: testChannel, Text: tc.text, Options: tc.options, ReceivedAt: time.Now()}
			if tc.name == "refused-channel" {
				cmd.Channel = otherChannel
			}
			var c captureResponder
			router.Handle(context.Background(), cmd, &c)
			m := renderAnswer(c.a, fileBase(router, cmd))
			if m.private != tc.private {
				t.Errorf("private = %v, want %v", m.private, tc.private)
			}
			if len(m.files) != tc.files {
				t.Errorf("%d files, want %d", len(m.files), tc.files)
			}
			checkAnswerLimits(t, m)
			checkGolden(t, "answer-"+tc.name, goldenOf(m))
		})
	}
}

// checkAnswerLimits asserts Discord's limits on the answer's embed and
// that it pings no one.
func checkAnswerLimits(t *testing.T, m answerMessage) {
	t.Helper()
	checkLimits(t, &discordgo.MessageSend{Embeds: []*discordgo.MessageEmbed{m.embed}})
	if e := m.edit(); e.AllowedMentions == nil || len(e.AllowedMentions.Parse) != 0 {
		t.Errorf("allowed_mentions %+v: want parse []", e.AllowedMentions)
	}
	if m.embed.Title == "" && m.embed.Description == "" && len(m.embed.Fields) == 0 {
		t.Error("empty answer")
	}
	for _, f := range m.files {
		if len(f.Content) > maxAttachment || len(f.Name) > maxFileName || !safeFileName.MatchString(f.Name) {
			t.Errorf("file %q (%d bytes) breaks a limit", f.Name, len(f.Content))
		}
	}
}

// Answers far beyond every limit still render within them.
func TestAnswerOversized(t *testing.T) {
	long := strings.Repeat("word ", 3000)
	a := bot.Answer{
		Title: long + "\nsecond line of the title",
		Pre:   strings.Repeat("x", 100_000) + "\n```\nend",
		File:  &bot.File{Name: "../../etc/Report 1.CSV", Content: []byte(strings.Repeat("a,b\n", 10))},
	}
	for range 100 {
		a.Lines = append(a.Lines, long)
		a.Fields = append(a.Fields, bot.Field{Name: long, Value: long})
	}
	m := renderAnswer(a, "logs orders-service/../x")
	checkAnswerLimits(t, m)
	if len(m.files) != 2 {
		t.Fatalf("%d files, want the preformatted text and the answer's file", len(m.files))
	}
	if !strings.HasPrefix(m.files[0].Name, "logs-orders-service") {
		t.Errorf("preformatted text's file named %q", m.files[0].Name)
	}
	if m.files[1].Name != "etc-report-1.csv" {
		t.Errorf("answer file named %q, want etc-report-1.csv", m.files[1].Name)
	}
}

func TestCodeBlockCannotBeClosedEarly(t *testing.T) {
	m := renderAnswer(bot.Answer{Title: "x", Pre: "a\n```\n@everyone"}, "x")
	d := m.embed.Description
	if strings.Count(d, "```") != 2 || !strings.HasPrefix(d, "```") || !strings.HasSuffix(d, "```") {
		t.Errorf("description %q: the text's ``` must not end the block", d)
	}
}

func TestFileName(t *testing.T) {
	cases := []struct{ base, ext, want string }{
		{"logs-orders-service", ".txt", "logs-orders-service.txt"},
		{"incident show 12", ".txt", "incident-show-12.txt"},
		{"", ".txt", "output.txt"},
		{"../../etc/passwd", "", "etc-passwd"},
		{strings.Repeat("a", 100), ".txt", strings.Repeat("a", 60) + ".txt"},
		{"ÉTÉ logs", ".TXT", "t-logs.txt"},
		{"x", ".t/x?t", "x.txt"},
	}
	for _, tc := range cases {
		if got := fileName(tc.base, tc.ext); got != tc.want {
			t.Errorf("fileName(%q, %q) = %q, want %q", tc.base, tc.ext, got, tc.want)
		}
	}
}
