package discord

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/alertmanager"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current rendering")

// fixtureDir is the repository's Alertmanager fixtures (test/fixtures);
// tests run in the package folder.
var fixtureDir = filepath.Join("..", "..", "test", "fixtures", "alertmanager")

const (
	testChannel = "1100000000000000001"
	testRole    = "1200000000000000002"
)

// testClassifier is the Bakery-IA rule that makes the gateway P0, so the
// goldens show more than one severity.
func testClassifier(t *testing.T) bot.Classifier {
	t.Helper()
	m, err := bot.ParseMatcher(`service=~"gateway|auth-service"`)
	if err != nil {
		t.Fatal(err)
	}
	crit, err := bot.ParseMatcher(`severity="critical"`)
	if err != nil {
		t.Fatal(err)
	}
	return bot.Classifier{Rules: []bot.SeverityRule{{Name: "edge down", Matchers: []bot.Matcher{m, crit}, Severity: bot.P0}}}
}

func loadGroup(t *testing.T, name string) bot.AlertGroup {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, name+".json"))
	if err != nil {
		t.Fatalf("fixture %s: %v (the fixtures live in test/fixtures/alertmanager)", name, err)
	}
	defer f.Close()
	g, err := alertmanager.Decode(f)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return g
}

// preview applies groups to one incident, each at the time it describes.
func preview(t *testing.T, groups ...bot.AlertGroup) bot.IncidentDetail {
	t.Helper()
	return incident.Preview(testClassifier(t), groups...)
}

var (
	opened = time.Date(2026, 11, 20, 2, 14, 30, 0, time.UTC)
	later  = opened.Add(17*time.Minute + 10*time.Second)
)

func dest(mention string) bot.Destination {
	return bot.Destination{Name: "incidents", Platform: Platform, Channel: testChannel, Mention: mention}
}

// stormGroup is one alert group of n alerts on n pods, with wordy
// summaries, as a cluster-wide failure produces.
func stormGroup(n int) bot.AlertGroup {
	g := bot.AlertGroup{
		Receiver:          "chatops",
		GroupKey:          `{}:{alertname="PodCrashLooping"}`,
		Status:            bot.AlertFiring,
		GroupLabels:       map[string]string{"alertname": "PodCrashLooping"},
		CommonLabels:      map[string]string{"alertname": "PodCrashLooping", "namespace": "bakery-ia", "severity": "critical"},
		CommonAnnotations: map[string]string{"runbook_url": "https://runbooks.bakery-ia.example/pod-crash-looping"},
		ExternalURL:       "http://alertmanager.bakery-ia.svc:9093",
	}
	for i := range n {
		pod := fmt.Sprintf("orders-service-7c9f8d6b5-%05d", i)
		g.Alerts = append(g.Alerts, bot.Alert{
			Fingerprint: fmt.Sprintf("%016x", i+1),
			Status:      bot.AlertFiring,
			Labels:      map[string]string{"alertname": "PodCrashLooping", "namespace": "bakery-ia", "pod": pod, "severity": "critical"},
			Annotations: map[string]string{
				"summary":     pod + " is restarting over and over again: back-off restarting failed container app, exit code 137 (OOMKilled) after allocating beyond the limit",
				"description": "The container has restarted more than 5 times in the last 10 minutes.",
			},
			StartsAt:     opened.Add(time.Duration(i) * time.Second),
			GeneratorURL: "http://prometheus.bakery-ia.svc:9090/graph?g0.expr=kube_pod_container_status_restarts_total",
		})
	}
	return g
}

// goldenRequests is what one message costs on the wire, keyed by route.
type goldenRequests struct {
	CreateMessage *discordgo.MessageSend `json:"POST /channels/{channel}/messages"`
	StartThread   *discordgo.ThreadStart `json:"POST /channels/{channel}/messages/{message}/threads,omitempty"`
}

func rootRequests(m bot.Message) goldenRequests {
	r := renderRoot(m)
	return goldenRequests{CreateMessage: r.send(), StartThread: threadStart(r.threadName, DefaultAutoArchive)}
}

func replyRequests(m bot.Message) goldenRequests {
	return goldenRequests{CreateMessage: renderReply(m).send()}
}

func TestGoldens(t *testing.T) {
	type goldenCase struct {
		name string
		msg  bot.Message
		root bool
	}
	var cases []goldenCase
	fixtures, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in %s (%v)", fixtureDir, err)
	}
	for _, f := range fixtures {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		d := preview(t, loadGroup(t, name))
		cases = append(cases, goldenCase{"root-" + name, outbox.RootMessage(d, dest("")), true})
	}

	down := preview(t, loadGroup(t, "service-down-firing"), loadGroup(t, "service-down-resolved"))
	downOpen := preview(t, loadGroup(t, "service-down-firing"))
	memory := preview(t, loadGroup(t, "high-memory-two-pods"), loadGroup(t, "high-memory-one-resolved"))
	memoryFirst := preview(t, loadGroup(t, "high-memory-two-pods"))
	storm := preview(t, stormGroup(300))
	cases = append(cases,
		goldenCase{"root-service-down-firing-then-resolved", outbox.RootMessage(down, dest(testRole)), true},
		goldenCase{"reply-service-down-resolved", outbox.ReplyMessage(down, dest(testRole), down.Timeline[len(downOpen.Timeline):]), false},
		goldenCase{"root-high-memory-then-one-resolved", outbox.RootMessage(memory, dest("")), true},
		goldenCase{"reply-high-memory-one-resolved", outbox.ReplyMessage(memory, dest(""), memory.Timeline[len(memoryFirst.Timeline):]), false},
		goldenCase{"reply-storm-opened", outbox.ReplyMessage(storm, dest(testRole), storm.Timeline), false},
		goldenCase{"root-storm-300-alerts", outbox.RootMessage(storm, dest(testRole)), true},
		goldenCase{"root-p1-mention", outbox.RootMessage(downOpen, dest(testRole)), true},
		goldenCase{"root-acknowledged", outbox.RootMessage(acked(downOpen, "Ana Ruiz"), dest("")), true},
	)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req goldenRequests
			if tc.root {
				req = rootRequests(tc.msg)
				if !hasMarker(&discordgo.Message{Embeds: req.CreateMessage.Embeds}, tc.msg.Marker) {
					t.Errorf("marker %q not in the embed footer", tc.msg.Marker)
				}
			} else {
				req = replyRequests(tc.msg)
			}
			checkLimits(t, req.CreateMessage)
			checkMentions(t, req.CreateMessage, tc.msg.Mention)
			checkGolden(t, tc.name, req)
		})
	}
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./integrations/discord/ -update)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("%s differs from the rendering (run with -update if the change is intended):\n%s", path, buf.String())
	}
}

// checkLimits asserts every limit Discord puts on a message.
func checkLimits(t *testing.T, m *discordgo.MessageSend) {
	t.Helper()
	if n := textLen(m.Content); n > maxContent {
		t.Errorf("content is %d characters, limit %d", n, maxContent)
	}
	if len(m.Embeds) > 10 {
		t.Errorf("%d embeds, limit 10", len(m.Embeds))
	}
	total := 0
	for _, e := range m.Embeds {
		limit(t, "title", e.Title, maxEmbedTitle)
		limit(t, "description", e.Description, maxEmbedDesc)
		total += textLen(e.Title) + textLen(e.Description)
		if len(e.Fields) > maxEmbedFields {
			t.Errorf("%d fields, limit %d", len(e.Fields), maxEmbedFields)
		}
		for _, f := range e.Fields {
			limit(t, "field name", f.Name, maxFieldName)
			limit(t, "field value", f.Value, maxFieldValue)
			if strings.TrimSpace(f.Name) == "" || strings.TrimSpace(f.Value) == "" {
				t.Errorf("empty field %+v: Discord rejects it", f)
			}
			total += textLen(f.Name) + textLen(f.Value)
		}
		if e.Footer != nil {
			limit(t, "footer", e.Footer.Text, maxFooter)
			total += textLen(e.Footer.Text)
		}
	}
	if total > maxEmbedTotal {
		t.Errorf("embeds total %d characters, limit %d", total, maxEmbedTotal)
	}
	if len(m.Components) > maxActionRows {
		t.Errorf("%d action rows, limit %d", len(m.Components), maxActionRows)
	}
	for _, c := range m.Components {
		row := c.(discordgo.ActionsRow)
		if len(row.Components) > maxButtonsPerRow || len(row.Components) == 0 {
			t.Errorf("row of %d buttons, want 1..%d", len(row.Components), maxButtonsPerRow)
		}
		for _, b := range row.Components {
			btn := b.(discordgo.Button)
			if btn.CustomID == "" || len(btn.CustomID) > maxCustomID {
				t.Errorf("button custom_id %q: want 1..%d characters", btn.CustomID, maxCustomID)
			}
			limit(t, "button label", btn.Label, maxButtonLabel)
		}
	}
}

func limit(t *testing.T, what, s string, n int) {
	t.Helper()
	if textLen(s) > n {
		t.Errorf("%s is %d characters, limit %d: %q", what, textLen(s), n, s)
	}
}

// checkMentions asserts nothing but the role may ping.
func checkMentions(t *testing.T, m *discordgo.MessageSend, role string) {
	t.Helper()
	am := m.AllowedMentions
	if am == nil || am.Parse == nil || len(am.Parse) != 0 || len(am.Users) != 0 || am.RepliedUser {
		t.Fatalf("allowed_mentions %+v: want parse [] and no users", am)
	}
	b, _ := json.Marshal(am)
	if !strings.Contains(string(b), `"parse":[]`) {
		t.Errorf("allowed_mentions %s: parse must be sent as []", b)
	}
	switch {
	case role == "" && len(am.Roles) != 0:
		t.Errorf("roles %v allowed, want none", am.Roles)
	case role != "" && (len(am.Roles) != 1 || am.Roles[0] != role):
		t.Errorf("roles %v allowed, want exactly [%s]", am.Roles, role)
	case role != "" && !strings.HasPrefix(m.Content, "<@&"+role+">"):
		t.Errorf("content %q does not start with the role mention", m.Content)
	}
}

var moreAlerts = regexp.MustCompile(`…and (\d+) more alerts?$`)

// shownAndLeftOut counts the alert lines in a description and the number
// its last line says were left out.
func shownAndLeftOut(t *testing.T, desc string) (shown, left int) {
	t.Helper()
	_, list, ok := strings.Cut(desc, "**Alerts**\n")
	if !ok {
		t.Fatalf("no alert list in %q", desc)
	}
	lines := strings.Split(list, "\n")
	if m := moreAlerts.FindStringSubmatch(lines[len(lines)-1]); m != nil {
		left, _ = strconv.Atoi(m[1])
		lines = lines[:len(lines)-1]
	}
	return len(lines), left
}

func TestStormSummarised(t *testing.T) {
	d := preview(t, stormGroup(300))
	m := outbox.RootMessage(d, dest(testRole))
	req := rootRequests(m)
	checkLimits(t, req.CreateMessage)
	shown, left := shownAndLeftOut(t, req.CreateMessage.Embeds[0].Description)
	if shown+left != 300 || shown == 0 {
		t.Errorf("%d alerts shown and %d said left out, want 300 in all", shown, left)
	}
}

// A message far beyond every Discord limit still renders within them, and
// says how many alerts it left out.
func TestOversizedMessageFitsLimits(t *testing.T) {
	long := strings.Repeat("word ", 2000)
	m := bot.Message{
		Marker:      "chatops:incident:7:incidents",
		Title:       "P0 · #7 " + long,
		Severity:    bot.P0,
		Status:      bot.IncidentOpen,
		Color:       bot.Color(bot.P0, bot.IncidentOpen),
		Summary:     long,
		Description: long,
		MoreAlerts:  1000,
		Mention:     testRole,
		Links:       []bot.Link{{Text: "Source", URL: "http://prometheus/" + strings.Repeat("x", 2000)}, {Text: "Runbook", URL: "https://runbooks/a(b)"}},
	}
	for i := range 40 {
		m.Fields = append(m.Fields, bot.Field{Name: fmt.Sprintf("label%d %s", i, long), Value: long})
	}
	for i := range 300 {
		m.Alerts = append(m.Alerts, bot.AlertLine{Status: bot.AlertFiring, Text: fmt.Sprintf("Alert%d 🔥 %s", i, long)})
	}
	for i := range 40 {
		m.Buttons = append(m.Buttons, bot.Button{ID: fmt.Sprintf("ack:%d", i), Label: long})
	}
	m.Buttons = append(m.Buttons, bot.Button{ID: strings.Repeat("x", 101)}, bot.Button{ID: ""}, bot.Button{ID: "ack:1"})
	r := renderRoot(m)
	checkLimits(t, r.send())
	checkMentions(t, r.send(), testRole)
	shown, left := shownAndLeftOut(t, r.embeds[0].Description)
	if shown+left != 1300 {
		t.Errorf("%d shown + %d left out, want 1300", shown, left)
	}
	fields := r.embeds[0].Fields
	if last := fields[len(fields)-1]; last.Name != "Links" || !strings.Contains(last.Value, "[Runbook](https://runbooks/a%28b%29)") || strings.Contains(last.Value, "Source") {
		t.Errorf("links field %+v: want the runbook (parentheses escaped) and not the over-long source", last)
	}
	if textLen(r.threadName) > maxThreadName {
		t.Errorf("thread name is %d characters", textLen(r.threadName))
	}
	if len(r.problems) == 0 {
		t.Error("dropped buttons not reported")
	}
	rr := renderReply(bot.Message{Title: long, Lines: strings.Split(strings.Repeat(long+"\n", 30), "\n"), MoreLines: 5})
	checkLimits(t, rr.send())
	if !strings.Contains(rr.content, "more changes") {
		t.Errorf("reply does not say how many changes were left out")
	}
}

func TestMentionNeedsARoleID(t *testing.T) {
	r := renderRoot(bot.Message{Title: "x", Mention: "@here"})
	if r.content != "" || len(r.mentions.Roles) != 0 || len(r.problems) != 1 {
		t.Errorf("content %q roles %v problems %v: an invalid role id must not be sent", r.content, r.mentions.Roles, r.problems)
	}
}

func TestClip(t *testing.T) {
	cases := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"fits", "hello world", 11, "hello world"},
		{"word boundary", "hello wonderful world", 18, "hello wonderful…"},
		{"long token", "abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"},
		{"far boundary", "a bcdefghijklmnopqrstuvwxyz", 10, "a bcdefgh…"},
		{"emoji count double", "🔥🔥🔥🔥", 5, "🔥🔥…"},
		{"multibyte", "ééééé ééééé", 8, "ééééé…"},
		{"zero", "abc", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := clip(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if textLen(got) > tc.n {
				t.Errorf("clip(%q, %d) is %d long", tc.in, tc.n, textLen(got))
			}
		})
	}
}

// acked is d acknowledged by name four minutes after it opened.
func acked(d bot.IncidentDetail, name string) bot.IncidentDetail {
	at := d.OpenedAt.Add(4 * time.Minute)
	d.AckedAt, d.AckedBy = &at, name
	return d
}
