package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/policy"
)

// goldenSpecs mirror the command table's read-only entries (names,
// arguments, summaries), so the router's own help and usage answers look
// as they will in production. The adapter does not import commands: it
// renders whatever answer it is given.
func goldenSpecs() []bot.CommandSpec {
	svc := bot.Arg{Name: "service", Positional: true, Required: true, Help: "the service (deployment)", Complete: "service"}
	none := func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{Title: "ok"}, nil }
	return []bot.CommandSpec{
		{Name: "health", Summary: "Pods in trouble, deployments, nodes, top pods and firing alerts: one screen, worst first", Role: policy.Viewer,
			Args: []bot.Arg{{Name: "service", Positional: true, Help: "one service (a deployment) instead of the whole namespace"}}, Run: none},
		{Name: "logs", Summary: "Recent log lines of a service's pods", Role: policy.Viewer, Run: none, Args: []bot.Arg{
			svc,
			{Name: "tail", Kind: bot.ArgInt, Min: 1, Max: 2000, Help: "lines per pod (default 100, at most 2000)"},
			{Name: "since", Kind: bot.ArgDuration, Min: 1, Max: 86400, Help: "only lines newer than this, e.g. 10m"},
			{Name: "container", Help: "a container other than the first"},
			{Name: "previous", Kind: bot.ArgBool, Help: "the previous (crashed) container's logs"},
			{Name: "grep", Help: "only lines matching this regular expression"},
		}},
		{Name: "history", Summary: "A service's rollout history: revisions with image, change-cause and age", Role: policy.Viewer, Args: []bot.Arg{svc}, Run: none},
		{Name: "status", Summary: "A service's rollout status: updated, ready and available replicas, conditions", Role: policy.Viewer, Args: []bot.Arg{svc}, Run: none},
		{Name: "incident list", Summary: "Open incidents, most urgent first (or --status resolved|all)", Role: policy.Viewer,
			Args: []bot.Arg{{Name: "status", Help: "open (default), resolved or all"}}, Run: none},
		{Name: "incident show", Summary: "One incident: state, alerts and timeline", Role: policy.Viewer,
			Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 53, Help: "the incident number (#12 → 12)"}}, Run: none},
		{Name: "whoami", Summary: "Who the bot thinks you are, and your role", Role: policy.Viewer, Run: none},
	}
}

// captured is a Responder that keeps the answer.
type captured struct{ answers chan bot.Answer }

func (c captured) Respond(_ context.Context, a bot.Answer) error { c.answers <- a; return nil }

// routerAnswer is the router's answer to text typed in an allowed channel.
func routerAnswer(t *testing.T, text string) bot.Answer {
	t.Helper()
	r, err := command.NewRouter(goldenSpecs(), command.Config{Root: "ops", Channels: []string{"C0INCIDENTS"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := captured{answers: make(chan bot.Answer, 1)}
	r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C0INCIDENTS", Text: text, User: bot.Identity{UserID: "U0ALICE"}}, c)
	return <-c.answers
}

// logAnswer is what the logs command answers for n lines from two pods.
func logAnswer(n int) bot.Answer {
	var b strings.Builder
	start := time.Date(2026, 11, 20, 2, 14, 0, 0, time.UTC)
	for i := range n {
		pod := "orders-service-6c9f7d8b5-4xk2p"
		if i%2 == 1 {
			pod = "orders-service-6c9f7d8b5-z8m7q"
		}
		level, msg := "INFO", fmt.Sprintf("GET /api/v1/orders/%d 200 in %dms", 41000+i, 12+i%37)
		if i%97 == 0 {
			level, msg = "ERROR", `db: connection refused: dial tcp 10.0.3.17:5432 <orders-db> & retrying`
		}
		fmt.Fprintf(&b, "%s | %s %-5s %s\n", pod, start.Add(time.Duration(i)*150*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), level, msg)
	}
	return bot.Answer{
		Title: fmt.Sprintf("orders-service logs: %d lines from 2 pods (tail 1000)", n),
		Pre:   b.String(),
		File:  &bot.File{Name: "logs-orders-service.txt", Content: []byte(b.String())},
	}
}

// goldenAnswers are the answers the goldens render: the router's own
// (help, a usage error) and ones shaped like the commands' answers.
func goldenAnswers(t *testing.T) []struct {
	name, text string
	answer     bot.Answer
} {
	opened := time.Date(2026, 11, 20, 2, 14, 0, 0, time.UTC)
	return []struct {
		name, text string
		answer     bot.Answer
	}{
		{"help", "help", routerAnswer(t, "help")},
		{"usage-error", "logs --tail 5000", routerAnswer(t, "logs orders-service --tail 5000")},
		{"whoami", "whoami", bot.Answer{
			Title:   "You are alice",
			Private: true,
			Fields: []bot.Field{
				{Name: "Platform", Value: "slack"},
				{Name: "User id", Value: "U0ALICE"},
				{Name: "Role", Value: "viewer"},
			},
		}},
		{"incident-list", "incident list", bot.Answer{
			Title: "3 open incidents",
			Pre: "#14    P0  open       1 firing  11-20 02:20  ServiceDown · gateway\n" +
				"#12    P1  open       1 firing  11-20 02:14  ServiceDown · orders-service\n" +
				"#13    P2  open       2 firing  11-20 02:16  HighMemoryUsage · forecasting-service <pod>\n",
		}},
		{"incident-show", "incident show 12", bot.Answer{
			Title: "P1 · #12 ServiceDown · orders-service",
			Color: bot.Color(bot.P1, bot.IncidentOpen),
			Fields: []bot.Field{
				{Name: "Status", Value: "open: 1 firing, 0 resolved"},
				{Name: "Opened", Value: opened.Format(time.RFC3339)},
			},
			Pre: "Alerts\n" +
				`  firing   P1 alertname="ServiceDown" service="orders-service" instance="orders-service:8080"` + "\n" +
				"Timeline\n" +
				"  11-20 02:14:00  opened at P1: 1 alert firing\n" +
				"  11-20 02:14:00  ServiceDown service=orders-service firing (P1)\n",
		}},
		{"logs-2000-lines", "logs orders-service --tail 1000", logAnswer(2000)},
		{"alerts", "alerts", alertsAnswer(t)},
	}
}

// TestAnswerGoldens: what a response_url receives for each answer, and
// the files that go up before it. Every message is also posted to the
// stand-in's response_url, which refuses what Slack would.
func TestAnswerGoldens(t *testing.T) {
	srv := slackstandin.New()
	t.Cleanup(srv.Close)
	for _, tc := range goldenAnswers(t) {
		t.Run(tc.name, func(t *testing.T) {
			m := renderAnswer(tc.answer, renderOptions{fileBase: fileBase(tc.text)})
			wm := m.webhook(!tc.answer.Private, "")
			raw, err := json.Marshal(wm)
			if err != nil {
				t.Fatal(err)
			}
			var msg any
			if err := json.Unmarshal(raw, &msg); err != nil {
				t.Fatal(err)
			}
			type fileDoc struct {
				Name      string `json:"name"`
				Bytes     int    `json:"bytes"`
				Lines     int    `json:"lines"`
				FirstLine string `json:"first_line"`
				LastLine  string `json:"last_line"`
			}
			doc := struct {
				Response any       `json:"response_url"`
				Files    []fileDoc `json:"files,omitempty"`
			}{Response: msg}
			for _, f := range m.files {
				content := strings.TrimRight(string(f.Content), "\n")
				lines := strings.Split(content, "\n")
				doc.Files = append(doc.Files, fileDoc{f.Name, len(f.Content), len(lines), lines[0], lines[len(lines)-1]})
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(doc); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "answer-"+tc.name, b.Bytes())

			if err := slackapi.PostWebhook(srv.NewResponseURL(), wm); err != nil {
				t.Errorf("the stand-in refuses the message as Slack would: %v", err)
			}
		})
	}
}

func TestAnswerLogsBecomeOneFile(t *testing.T) {
	m := renderAnswer(logAnswer(2000), renderOptions{fileBase: "logs-orders-service"})
	if len(m.files) != 1 || m.files[0].Name != "logs-orders-service.txt" {
		t.Fatalf("files: %+v", m.files)
	}
	if got := strings.Count(string(m.files[0].Content), "\n"); got != 2000 {
		t.Errorf("file has %d lines, want 2000", got)
	}
	// A short log is shown inline, and its File is not sent as well.
	m = renderAnswer(logAnswer(5), renderOptions{fileBase: "logs-orders-service"})
	if len(m.files) != 0 {
		t.Errorf("a short log went up as a file too: %+v", m.files)
	}
	if !strings.Contains(blocksJSON(t, m), "GET /api/v1/orders/41004") {
		t.Error("the short log is not in the message")
	}
}

func TestAnswerPrivateLongPreShowsItsEnd(t *testing.T) {
	a := logAnswer(2000)
	a.Private = true
	m := renderAnswer(a, renderOptions{fileBase: "logs", noFile: noFilePrivate})
	if len(m.files) != 0 {
		t.Fatalf("a private answer carries files: %+v", m.files)
	}
	js := blocksJSON(t, m)
	if !strings.Contains(js, "/42999 ") || strings.Contains(js, "/41000 ") {
		t.Error("want the newest lines shown, the oldest left out")
	}
	if !strings.Contains(js, "lines are left out: a private answer cannot carry a file") {
		t.Errorf("no note on what is missing: %s", js)
	}
	for _, b := range m.blocks {
		if s, ok := b.(*slackapi.SectionBlock); ok && s.Text != nil && len(s.Text.Text) > maxSectionText {
			t.Errorf("section of %d bytes", len(s.Text.Text))
		}
	}
}

func TestAnswerEscapesWhatCameFromOutside(t *testing.T) {
	a := bot.Answer{
		Title:  "<!channel> pod <@U123> & friends",
		Lines:  []string{"see <https://evil.example|here>", "Commands work in <#C0INCIDENTS>."},
		Fields: []bot.Field{{Name: "<!here>", Value: "<!subteam^S1>"}},
		Pre:    "```\n<!everyone> & more\n```",
	}
	js := blocksJSON(t, renderAnswer(a, renderOptions{fileBase: "x"}))
	for _, bad := range []string{"<!channel>", "<@U123>", "<https://", "<!here>", "<!subteam", "<!everyone>"} {
		if strings.Contains(js, bad) {
			t.Errorf("%s passes unescaped: %s", bad, js)
		}
	}
	if !strings.Contains(js, "<#C0INCIDENTS>") {
		t.Errorf("a channel reference should stay a link: %s", js)
	}
	if strings.Count(js, "```") != 2 {
		t.Errorf("``` in Pre must not end the code block early: %s", js)
	}
}

func TestAnswerTitles(t *testing.T) {
	tests := []struct {
		name, title, want string
	}{
		{"short title is a header", "3 open incidents", `"type":"header"`},
		{"a channel reference needs a section", "Commands work in <#C0INCIDENTS>.", `"text":"*Commands work in <#C0INCIDENTS>.*"`},
		{"usage shows as code", "missing service\nusage: /ops logs <service>", "usage: `/ops logs &lt;service&gt;`"},
		{"too long for a header", strings.Repeat("word ", 40), `"type":"section"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := blocksJSON(t, renderAnswer(bot.Answer{Title: tt.title}, renderOptions{}))
			if !strings.Contains(js, tt.want) {
				t.Errorf("want %s in %s", tt.want, js)
			}
		})
	}
}

func TestAnswerManyFieldsAndLines(t *testing.T) {
	var a bot.Answer
	for i := range 23 {
		a.Fields = append(a.Fields, bot.Field{Name: fmt.Sprintf("f%d", i), Value: "v"})
	}
	for range 200 {
		a.Lines = append(a.Lines, strings.Repeat("x", 100))
	}
	m := renderAnswer(a, renderOptions{})
	var fieldSections int
	for _, b := range m.blocks {
		if s, ok := b.(*slackapi.SectionBlock); ok && len(s.Fields) > 0 {
			fieldSections++
			if len(s.Fields) > maxSectionFields {
				t.Errorf("%d fields in a section", len(s.Fields))
			}
		}
		if s, ok := b.(*slackapi.SectionBlock); ok && s.Text != nil && len(s.Text.Text) > maxSectionText {
			t.Errorf("section of %d bytes", len(s.Text.Text))
		}
	}
	if fieldSections != 3 {
		t.Errorf("%d field sections, want 3", fieldSections)
	}
	var lineSections int
	for _, b := range m.blocks {
		if s, ok := b.(*slackapi.SectionBlock); ok && strings.HasPrefix(s.BlockID, "answer-lines") {
			lineSections++
		}
	}
	if lineSections != maxLineSections {
		t.Errorf("200 long lines took %d sections, want %d", lineSections, maxLineSections)
	}
	if !strings.Contains(blocksJSON(t, m), "more lines_") {
		t.Error("lines left out without saying so")
	}
}

func TestFileBase(t *testing.T) {
	tests := map[string]string{
		"logs orders-service --tail 2000": "logs-orders-service",
		"incident show 12":                "incident-show-12",
		"health":                          "health",
		"":                                "output",
		"logs ../../etc/passwd":           "logs-.._.._etc_passwd",
		"--tail 5":                        "output",
		"LOGS Gateway x y":                "logs-gateway-x",
	}
	for text, want := range tests {
		if got := fileBase(text); got != want {
			t.Errorf("fileBase(%q) = %q, want %q", text, got, want)
		}
	}
}

func blocksJSON(t *testing.T, m answerMessage) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Blocks      []slackapi.Block      `json:"blocks"`
		Attachments []slackapi.Attachment `json:"attachments"`
	}{m.blocks, m.attachments})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	// Undo json's HTML escaping so tests read what Slack reads.
	r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	return r.Replace(buf.String())
}
