package e2e

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// TestIncidentGraph: with prometheus.url set, a new incident's thread gets
// a PNG chart of its alert's expression, drawn from a real Prometheus's
// data, after its root (and its runbook): uploaded into the Slack thread
// (thread_ts) and attached in the Discord thread. The query goes to the
// configured Prometheus, not to the generatorURL's host. With Prometheus
// stopped, the next incident's thread gets one line saying so.
func TestIncidentGraph(t *testing.T) {
	// Three pods' load over the last hour (written into the TSDB before
	// it starts) and now (scraped every second).
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{
		Pods:    []string{"orders-service-7d9f-a", "orders-service-7d9f-b", "orders-service-7d9f-c"},
		History: time.Hour,
		Load: func(pod string, at time.Time) float64 {
			p := float64(pod[len(pod)-1] - 'a')
			return 0.45 + 0.15*p + 0.25*math.Sin(float64(at.Unix())/600+2*p)
		},
	})

	cfg := newBotConfig(t, harness.SQLite)
	// The shipped configuration, with Slack's slash commands over HTTP
	// so the test can type /ops graph.
	shipped, err := os.ReadFile(cfg.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(shipped), "slack_mode: socket", "slack_mode: http", 1)
	if conf == string(shipped) {
		t.Fatal("the shipped configuration no longer says slack_mode: socket")
	}
	cfg.WriteConfig(t, t.TempDir(), conf)
	secret := "graph-secret-" + harness.RandHex(8)
	cfg.Env = append(cfg.Env, "CHATOPS_PROMETHEUS_URL="+prom.URL, "CHATOPS_SLACK_SIGNING_SECRET="+secret)
	bot := harness.StartBot(t, cfg)
	am := harness.StartAlertmanager(t, bot.WebhookURL(), cfg.WebhookToken)

	// The generatorURL names another host: only its g0.expr is used.
	expr := prom.Metric + ` > 0.9`
	alert := harness.PostableAlert{
		Labels: map[string]string{"alertname": "HighErrorRate", "service": "orders-service", "severity": "critical",
			"namespace": "bakery-ia"},
		Annotations:  map[string]string{"summary": "orders-service errors above 90%"},
		StartsAt:     harness.RFC3339(time.Now().Add(-20 * time.Second)),
		GeneratorURL: "http://prometheus.invalid:1/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1",
	}
	am.PostAlerts(t, alert)
	inc := bot.WaitForIncident(t, "the HighErrorRate incident", harness.GroupIs("HighErrorRate", "orders-service"),
		func(i harness.Incident) bool { return i.Status == "open" })
	marker := fmt.Sprintf("chatops:incident:%d:", inc.ID)

	// Slack: the chart is uploaded into the thread, after the root and the runbook.
	slackRoot := waitSlackRoot(t, cfg.Slack, slackIncidents, marker, "P1")
	var file slackstandin.File
	harness.Eventually(t, "the chart uploaded into the Slack thread", func() (bool, string) {
		for _, f := range cfg.Slack.Files(slackIncidents) {
			if f.ThreadTS == slackRoot.TS {
				file = f
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d files in %s", len(cfg.Slack.Files(slackIncidents)), slackIncidents)
	})
	checkChart(t, "slack", file.Content)
	if !strings.HasSuffix(file.Name, ".png") || !strings.Contains(file.InitialComment, "HighErrorRate") {
		t.Errorf("slack file %q, comment %q", file.Name, file.InitialComment)
	}
	replies := cfg.Slack.Replies(slackIncidents, slackRoot.TS)
	if len(replies) == 0 || !strings.Contains(slackContent(replies[0]), "unbook") || replies[0].PostedAt.After(file.SharedAt) {
		t.Errorf("the runbook reply did not come before the chart (%d replies)", len(replies))
	}
	if file.SharedAt.Before(slackRoot.PostedAt) {
		t.Errorf("chart shared at %s, before its root at %s", file.SharedAt, slackRoot.PostedAt)
	}

	// Discord: a message with the PNG attached, in the incident's thread.
	discordRoot, thread := waitDiscordRoot(t, cfg.Discord, discordIncidents, marker, "P1")
	var att discordstandin.Attachment
	var attMsg discordstandin.Message
	harness.Eventually(t, "the chart attached in the Discord thread", func() (bool, string) {
		for _, m := range cfg.Discord.Messages(thread) {
			for _, a := range m.Attachments {
				if strings.HasSuffix(a.Filename, ".png") {
					att, attMsg = a, m
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d messages in thread %s", len(cfg.Discord.Messages(thread)), thread)
	})
	if att.ContentType != "image/png" {
		t.Errorf("discord attachment content type %q", att.ContentType)
	}
	if attMsg.Created.Before(discordRoot.Created) {
		t.Errorf("chart before its root")
	}
	checkChart(t, "discord", att.Content)
	if p := os.Getenv("CHATOPS_GRAPH_PNG"); p != "" { // to look at it
		if err := os.WriteFile(p, file.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Posted once: a later change to the incident brings no second chart.
	time.Sleep(2 * time.Second)
	n := 0
	for _, f := range cfg.Slack.Files(slackIncidents) {
		if f.ThreadTS == slackRoot.TS {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d charts in the Slack thread, want 1", n)
	}

	// /ops graph #id --range 30m answers with the chart, uploaded where it
	// was asked; a service with no CPU metrics says so in one line.
	ask := func(text string) slackRequest {
		form := cfg.Slack.SlashCommandForm(slack.SlashCommand{ChannelID: slackIncidents, ChannelName: "incidents",
			UserID: slackUser, UserName: "ana", Text: text})
		body := []byte(form.Encode())
		r := slackRequest{body: body, hdr: slackstandin.Sign(secret, time.Now(), body), responseURL: form.Get("response_url")}
		before := commandsAnswered(t, bot)
		if code, resp := postSigned(t, bot, "/slack/commands", r.hdr, r.body); code != 200 {
			t.Fatalf("/ops %s: %d %s", text, code, resp)
		}
		waitAnswered(t, bot, before+1)
		return r
	}
	filesBefore := len(cfg.Slack.Files(slackIncidents))
	r := ask(fmt.Sprintf("graph #%d --range 30m", inc.ID))
	files := cfg.Slack.Files(slackIncidents)
	if len(files) != filesBefore+1 {
		t.Fatalf("/ops graph uploaded %d files, want 1", len(files)-filesBefore)
	}
	checkChart(t, "/ops graph", files[len(files)-1].Content)
	if resps := cfg.Slack.Responses(r.responseURL); len(resps) != 1 || !strings.Contains(resps[0].Text, "over the last 30m") {
		t.Errorf("/ops graph answered %+v", resps)
	}
	r = ask("graph orders-service")
	if resps := cfg.Slack.Responses(r.responseURL); len(resps) != 1 || !strings.Contains(resps[0].Text, "graph unavailable: no data") {
		t.Errorf("/ops graph orders-service answered %+v", resps)
	}
	r = ask("graph ../etc")
	if resps := cfg.Slack.Responses(r.responseURL); len(resps) != 1 || !strings.Contains(resps[0].Text, "neither an incident number nor a service name") {
		t.Errorf("/ops graph ../etc answered %+v", resps)
	}
	if n := len(cfg.Slack.Files(slackIncidents)); n != filesBefore+1 {
		t.Errorf("%d more files after the failed graphs", n-filesBefore-1)
	}

	// Prometheus stopped: the next incident's thread says so in one line.
	prom.Stop()
	down := alert
	down.Labels = map[string]string{"alertname": "HighErrorRate", "service": "forecasting-service", "severity": "critical", "namespace": "bakery-ia"}
	am.PostAlerts(t, down)
	inc2 := bot.WaitForIncident(t, "the second HighErrorRate incident", harness.GroupIs("HighErrorRate", "forecasting-service"),
		func(i harness.Incident) bool { return i.Status == "open" })
	root2 := waitSlackRoot(t, cfg.Slack, slackIncidents, fmt.Sprintf("chatops:incident:%d:", inc2.ID), "P1")
	harness.Eventually(t, "the one-line failure in the Slack thread", func() (bool, string) {
		var texts []string
		for _, r := range cfg.Slack.Replies(slackIncidents, root2.TS) {
			c := slackContent(r)
			if strings.Contains(c, "graph unavailable: Prometheus") {
				return true, ""
			}
			texts = append(texts, c)
		}
		return false, strings.Join(texts, " | ")
	})
	for _, f := range cfg.Slack.Files(slackIncidents) {
		if f.ThreadTS == root2.TS {
			t.Errorf("a chart was uploaded with Prometheus down")
		}
	}
}

// checkChart decodes a chart: a PNG of 1000×480 pixels, 5 kB to 1 MiB.
func checkChart(t *testing.T, where string, b []byte) {
	t.Helper()
	if len(b) < 5<<10 || len(b) > 1<<20 {
		t.Fatalf("%s: chart of %d bytes", where, len(b))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", where, err)
	}
	if r := img.Bounds(); r.Dx() != 1000 || r.Dy() != 480 {
		t.Errorf("%s: chart of %dx%d, want 1000x480", where, r.Dx(), r.Dy())
	}
}
