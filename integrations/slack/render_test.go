package slack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

func TestGoldenFixtureRoots(t *testing.T) {
	for _, name := range []string{
		"certificate-expiring",
		"db-connections-high",
		"gateway-error-rate",
		"high-memory-one-resolved",
		"high-memory-two-pods",
		"service-down-firing",
		"service-down-resolved",
	} {
		t.Run(name, func(t *testing.T) {
			d := preview(t, loadGroup(t, name+".json"))
			req := sentRoot(t, outbox.RootMessage(d, testDest))
			checkLimits(t, req)
			checkGolden(t, "root-"+name, golden(t, req))
		})
	}
}

func TestGoldenSequences(t *testing.T) {
	down := loadGroup(t, "service-down-firing.json")
	up := loadGroup(t, "service-down-resolved.json")
	twoPods := loadGroup(t, "high-memory-two-pods.json")
	oneResolved := loadGroup(t, "high-memory-one-resolved.json")

	cases := []struct {
		name string
		req  func(t *testing.T) request
	}{
		{"root-service-down-then-resolved", func(t *testing.T) request {
			return sentRoot(t, outbox.RootMessage(preview(t, down, up), testDest))
		}},
		{"reply-service-down-then-resolved", func(t *testing.T) request {
			d := preview(t, down, up)
			return sentReply(t, outbox.ReplyMessage(d, testDest, d.Timeline))
		}},
		{"root-high-memory-then-one-resolved", func(t *testing.T) request {
			return sentRoot(t, outbox.RootMessage(preview(t, twoPods, oneResolved), testDest))
		}},
		{"reply-high-memory-then-one-resolved", func(t *testing.T) request {
			d := preview(t, twoPods, oneResolved)
			return sentReply(t, outbox.ReplyMessage(d, testDest, d.Timeline))
		}},
		{"root-300-alerts", func(t *testing.T) request {
			return sentRoot(t, outbox.RootMessage(preview(t, stormGroup(300)), testDest))
		}},
		{"root-p1-mention", func(t *testing.T) request {
			dest := testDest
			dest.Mention = "S0ONCALL"
			m := outbox.RootMessage(preview(t, down), dest)
			if m.Severity != bot.P1 || m.Mention == "" {
				t.Fatalf("want a P1 root with a mention, got %s mention %q", m.Severity, m.Mention)
			}
			return sentRoot(t, m)
		}},
		{"root-acknowledged", func(t *testing.T) request {
			d := preview(t, down)
			at := d.OpenedAt.Add(4 * time.Minute)
			d.AckedAt, d.AckedBy = &at, "Ana Ruiz"
			return sentRoot(t, outbox.RootMessage(d, testDest))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req(t)
			checkLimits(t, req)
			checkGolden(t, tc.name, golden(t, req))
		})
	}
}

func TestRootCarriesMarker(t *testing.T) {
	m := outbox.RootMessage(preview(t, loadGroup(t, "service-down-firing.json")), testDest)
	req := sentRoot(t, m)
	var md struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(req.Form["metadata"]), &md); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if md.EventType != "chatops_incident" || md.EventPayload["marker"] != m.Marker {
		t.Errorf("metadata = %+v, want marker %q", md, m.Marker)
	}
	if !strings.Contains(req.Form["text"], m.Marker) {
		t.Errorf("fallback text lacks the marker: %q", req.Form["text"])
	}
}

func TestMentionOnlyAtTheStart(t *testing.T) {
	dest := testDest
	dest.Mention = "S0ONCALL"
	m := outbox.RootMessage(preview(t, loadGroup(t, "service-down-firing.json")), dest)
	req := sentRoot(t, m)
	if !strings.HasPrefix(req.Form["text"], "<!subteam^S0ONCALL> ") {
		t.Errorf("text does not start with the mention: %q", req.Form["text"])
	}
	if got := pings(t, req); strings.Join(got, ",") != "<!subteam^S0ONCALL>,<!subteam^S0ONCALL>" {
		t.Errorf("pings = %v, want the user group in the text and in the blocks only", got)
	}

	// A mention that is not a user group id is not rendered at all.
	m.Mention = "!channel"
	if got := pings(t, sentRoot(t, m)); len(got) != 0 {
		t.Errorf("pings for a bad mention id: %v", got)
	}
}

func TestAlertTextCannotPing(t *testing.T) {
	g := loadGroup(t, "service-down-firing.json")
	hostile := "<!channel> orders & payments down, tell <@U0BOSS> <!here|here> <#C0GENERAL> <https://evil.example|click>"
	g.CommonAnnotations = map[string]string{"summary": hostile, "description": hostile + " <!everyone>"}
	for i := range g.Alerts {
		g.Alerts[i].Annotations = g.CommonAnnotations
		g.Alerts[i].Labels["pod"] = "<!channel>"
		g.Alerts[i].GeneratorURL = "http://prometheus/graph?x=1&y=<!channel>|<@U0BOSS>"
	}
	g.GroupLabels["service"] = "<!here>"
	d := preview(t, g)

	for name, req := range map[string]request{
		"root":  sentRoot(t, outbox.RootMessage(d, testDest)),
		"reply": sentReply(t, outbox.ReplyMessage(d, testDest, append(d.Timeline, bot.Event{Kind: bot.EventAlertFiring, Detail: hostile}))),
	} {
		if got := pings(t, req); len(got) != 0 {
			t.Errorf("%s: alert text became %v", name, got)
		}
		if !strings.Contains(strings.Join(textsOf(t, req), "\n"), "&lt;!channel&gt; orders &amp; payments") {
			t.Errorf("%s: the annotation is not shown escaped", name)
		}
		checkLimits(t, req)
	}
}

// TestStormWithinLimits: a 300-alert group, and a message built to break
// every limit at once, both render within Slack's limits and say how much
// they left out.
func TestStormWithinLimits(t *testing.T) {
	t.Run("300 alerts through the engine", func(t *testing.T) {
		m := outbox.RootMessage(preview(t, stormGroup(300)), testDest)
		req := sentRoot(t, m)
		checkLimits(t, req)
		if !strings.Contains(req.Form["attachments"], "…and 290 more alerts") {
			t.Errorf("the summary does not say 290 more alerts")
		}
	})

	t.Run("everything too long", func(t *testing.T) {
		m := overlongMessage()
		req := sentRoot(t, m)
		checkLimits(t, req)
		all := req.Form["attachments"]
		shown := strings.Count(all, "alert ")
		re := regexp.MustCompile(`…and (\d+) more alerts`)
		sm := re.FindStringSubmatch(all)
		if sm == nil {
			t.Fatal("no 'and N more alerts'")
		}
		var more int
		fmt.Sscan(sm[1], &more)
		if shown+more != 1000 {
			t.Errorf("shown %d + more %d != 1000 alerts", shown, more)
		}
		if strings.Contains(all, "javascript:") {
			t.Error("a javascript: link was rendered")
		}
		if !strings.Contains(req.Form["blocks"], "…and 21 more fields") {
			t.Error("cut fields are not counted")
		}

		rreq := sentReply(t, overlongReply())
		checkLimits(t, rreq)
		if !regexp.MustCompile(`…and \d+ more changes`).MatchString(rreq.Form["blocks"]) {
			t.Error("the reply does not say how many changes it left out")
		}
	})
}

// overlongMessage breaks every Slack limit at once: 1,000 alerts, 30
// fields, 61 buttons (duplicate ids, one id too long), 41 links, and every
// text far too long.
func overlongMessage() bot.Message {
	long := strings.Repeat("word ", 2000)
	m := bot.Message{
		Marker: "chatops:incident:9:slack-incidents", Title: long, Severity: bot.P0, Status: bot.IncidentOpen,
		Color: 0x8B0000, Summary: long, Description: long, Mention: "S0ONCALL",
	}
	for i := range 30 {
		m.Fields = append(m.Fields, bot.Field{Name: fmt.Sprintf("field %d", i), Value: long})
	}
	for i := range 300 {
		st := bot.AlertFiring
		if i%3 == 0 {
			st = bot.AlertResolved
		}
		m.Alerts = append(m.Alerts, bot.AlertLine{Status: st, Text: fmt.Sprintf("alert %d %s", i, long)})
	}
	m.MoreAlerts = 700
	for i := range 60 {
		m.Buttons = append(m.Buttons, bot.Button{ID: fmt.Sprintf("act-%d", i%40), Label: long})
	}
	m.Buttons = append(m.Buttons, bot.Button{ID: strings.Repeat("x", 300), Label: "too long an id"})
	for i := range 40 {
		m.Links = append(m.Links, bot.Link{Text: long, URL: "https://example.com/" + strings.Repeat("a", 200) + fmt.Sprint(i)})
	}
	m.Links = append(m.Links, bot.Link{Text: "script", URL: "javascript:alert(1)"})

	return m
}

// overlongReply is a reply of 300 long lines and 5 more.
func overlongReply() bot.Message {
	m := overlongMessage()
	long := strings.Repeat("word ", 2000)
	m.Lines = nil
	for i := range 300 {
		m.Lines = append(m.Lines, fmt.Sprintf("change %d %s", i, long))
	}
	m.MoreLines = 5
	return m
}

func TestClipAndFit(t *testing.T) {
	cases := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"fits", "a & b", 20, "a &amp; b"},
		{"word boundary", "alpha beta gamma delta", 15, "alpha beta…"},
		{"no space", strings.Repeat("x", 30), 10, "xxxxxxx…"},
		{"never splits an entity", "aaaa <<<<<<<<", 16, "aaaa…"},
		{"never splits a character", "ééééééééé", 8, "éé…"},
		{"zero", "abc", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fit(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("fit(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if len(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("fit(%q, %d) = %q: too long or broken", tc.in, tc.n, got)
			}
		})
	}
}

// pingRE finds Slack's special sequences: user groups, broadcasts, users,
// channels, and links made from text.
var pingRE = regexp.MustCompile(`<[!@#][^>]*>|<https?:[^>]*>`)

// ourDate is the date markup the renderer writes for a time (date): it
// shows a date, it pings no one.
var ourDate = regexp.MustCompile(`^<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>$`)

// pings returns the mention sequences in everything the request shows,
// except the links the renderer itself makes from Message.Links and its
// dates.
func pings(t *testing.T, req request) []string {
	t.Helper()
	var out []string
	for _, s := range append([]string{req.Form["text"]}, textsOf(t, req)...) {
		for _, m := range pingRE.FindAllString(s, -1) {
			if strings.HasPrefix(m, "<http") && !strings.Contains(m, "evil") || ourDate.MatchString(m) {
				continue
			}
			out = append(out, m)
		}
	}
	return out
}

// textsOf returns every "text" string in the request's blocks and
// attachments.
func textsOf(t *testing.T, req request) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "text" {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, f := range []string{"blocks", "attachments"} {
		if req.Form[f] == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(req.Form[f]), &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(v)
	}
	return out
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type block struct {
	Type     string            `json:"type"`
	Text     *textObject       `json:"text"`
	Fields   []textObject      `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
}

// checkLimits asserts Slack's limits on a request, in bytes (never less
// than the characters Slack counts).
func checkLimits(t *testing.T, req request) {
	t.Helper()
	if n := len(req.Form["text"]); n == 0 || n > maxFallbackText {
		t.Errorf("fallback text: %d bytes", n)
	}
	var blocks []block
	if s := req.Form["blocks"]; s != "" {
		if err := json.Unmarshal([]byte(s), &blocks); err != nil {
			t.Fatalf("blocks: %v", err)
		}
	}
	if s := req.Form["attachments"]; s != "" {
		var atts []struct {
			Color  string  `json:"color"`
			Blocks []block `json:"blocks"`
		}
		if err := json.Unmarshal([]byte(s), &atts); err != nil {
			t.Fatalf("attachments: %v", err)
		}
		for _, a := range atts {
			if !regexp.MustCompile(`^#[0-9A-F]{6}$`).MatchString(a.Color) {
				t.Errorf("attachment colour %q", a.Color)
			}
			blocks = append(blocks, a.Blocks...)
		}
	}
	if len(blocks) > maxBlocks {
		t.Errorf("%d blocks, at most %d", len(blocks), maxBlocks)
	}
	text := func(where string, o *textObject, max int) {
		if o == nil {
			return
		}
		if len(o.Text) == 0 || len(o.Text) > max || !utf8.ValidString(o.Text) {
			t.Errorf("%s: %d bytes (1..%d), valid UTF-8 %v", where, len(o.Text), max, utf8.ValidString(o.Text))
		}
	}
	for i, b := range blocks {
		where := fmt.Sprintf("block %d (%s)", i, b.Type)
		switch b.Type {
		case "header":
			text(where, b.Text, maxHeaderText)
			if b.Text.Type != "plain_text" {
				t.Errorf("%s: header text is %s", where, b.Text.Type)
			}
		case "section":
			text(where, b.Text, maxSectionText)
			if len(b.Fields) > maxSectionFields {
				t.Errorf("%s: %d fields", where, len(b.Fields))
			}
			for j := range b.Fields {
				text(fmt.Sprintf("%s field %d", where, j), &b.Fields[j], maxFieldText)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > maxContextElements {
				t.Errorf("%s: %d elements", where, len(b.Elements))
			}
			for j, e := range b.Elements {
				var o textObject
				_ = json.Unmarshal(e, &o)
				text(fmt.Sprintf("%s element %d", where, j), &o, maxContextText)
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > maxActionElements {
				t.Errorf("%s: %d elements", where, len(b.Elements))
			}
			ids := map[string]bool{}
			for j, e := range b.Elements {
				var btn struct {
					ActionID string     `json:"action_id"`
					Text     textObject `json:"text"`
				}
				_ = json.Unmarshal(e, &btn)
				text(fmt.Sprintf("%s button %d", where, j), &btn.Text, maxButtonText)
				if btn.ActionID == "" || len(btn.ActionID) > maxActionID || ids[btn.ActionID] {
					t.Errorf("%s button %d: action_id %q empty, too long or repeated", where, j, btn.ActionID)
				}
				ids[btn.ActionID] = true
			}
		default:
			t.Errorf("%s: unexpected block type", where)
		}
	}
}
