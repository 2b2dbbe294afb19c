package slack

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/bakewise/chatops/bot"
)

// Slack's limits on what one message may hold. Lengths are counted in bytes
// of the escaped text, which is never less than the characters (or UTF-16
// units) Slack counts, so a message within them is never rejected.
const (
	maxHeaderText      = 150
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxContextElements = 10
	maxContextText     = 3000
	maxBlocks          = 50
	maxActionElements  = 25
	maxFallbackText    = 4000
	maxButtonText      = 75
	maxActionID        = 255
)

// What a root shows at most, below Slack's limits: the notification preview
// and the summary should be read at a glance.
const (
	maxSummaryText = 1000
	maxAlertLine   = 500
)

// metadataEventType names the message metadata that carries the marker.
const metadataEventType = "chatops_incident"

var severityEmoji = map[bot.Severity]string{
	bot.P0: "🟥",
	bot.P1: "🔴",
	bot.P2: "🟠",
	bot.P3: "🔵",
}

const (
	resolvedEmoji      = "✅"
	unknownEmoji       = "⚪"
	firingAlertEmoji   = "🔥"
	resolvedAlertEmoji = "✅"
)

// payload is one chat.postMessage or chat.update body, rendered.
type payload struct {
	text        string
	blocks      []slackapi.Block
	attachments []slackapi.Attachment
	metadata    *slackapi.SlackMetadata
}

// options are the slack-go message options that send p. Text is escaped
// already; link unfurling is off so a runbook link does not grow into a
// preview card under every root.
func (p payload) options() []slackapi.MsgOption {
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(p.text, false),
		slackapi.MsgOptionBlocks(p.blocks...),
		slackapi.MsgOptionDisableLinkUnfurl(),
		slackapi.MsgOptionDisableMediaUnfurl(),
	}
	if len(p.attachments) > 0 {
		opts = append(opts, slackapi.MsgOptionAttachments(p.attachments...))
	}
	if p.metadata != nil {
		opts = append(opts, slackapi.MsgOptionMetadata(*p.metadata))
	}
	return opts
}

// renderRoot lays out an incident's root: the headline (emoji, title) and
// the facts as top-level blocks, so they stay visible even where Slack
// folds attachments; summary, alerts, links, marker and buttons in one
// attachment whose side bar carries the severity colour. The marker rides in
// the message metadata for FindRoot, and at the end of the fallback text for
// when metadata is not returned.
func renderRoot(m bot.Message) payload {
	emoji := statusEmoji(m)
	headline := emoji + " " + m.Title
	if m.Status == bot.IncidentResolved {
		headline = emoji + " Resolved · " + m.Title
	}
	mention := mentionOf(m.Mention)

	var top []slackapi.Block
	top = append(top, slackapi.NewHeaderBlock(
		plainText(fit(headline, maxHeaderText)),
		slackapi.HeaderBlockOptionBlockID("incident-header"),
	))
	if facts := factsBlock(m.Fields, mention); facts != nil {
		top = append(top, facts)
	}

	var inner []slackapi.Block
	if s := summaryText(m.Summary, m.Description); s != "" {
		inner = append(inner, slackapi.NewSectionBlock(mrkdwn(s), nil, nil, slackapi.SectionBlockOptionBlockID("incident-summary")))
	}
	if s := alertsText(m.Alerts, m.MoreAlerts); s != "" {
		inner = append(inner, slackapi.NewSectionBlock(mrkdwn(s), nil, nil, slackapi.SectionBlockOptionBlockID("incident-alerts")))
	}
	if s := linksText(m.Links); s != "" {
		inner = append(inner, slackapi.NewSectionBlock(mrkdwn(s), nil, nil, slackapi.SectionBlockOptionBlockID("incident-links")))
	}
	if m.Marker != "" {
		inner = append(inner, slackapi.NewContextBlock("incident-marker", mrkdwn(fit(m.Marker, maxContextText))))
	}
	if b := actionsBlock(m.Buttons); b != nil {
		inner = append(inner, b)
	}

	p := payload{
		text:   rootFallback(m, emoji, mention),
		blocks: top,
	}
	if len(inner) > 0 {
		p.attachments = []slackapi.Attachment{{
			Color:  fmt.Sprintf("#%06X", m.Color&0xFFFFFF),
			Blocks: slackapi.Blocks{BlockSet: inner},
		}}
	}
	if m.Marker != "" {
		p.metadata = &slackapi.SlackMetadata{
			EventType:    metadataEventType,
			EventPayload: map[string]any{"marker": m.Marker},
		}
	}
	return p
}

// renderReply lays out a thread reply, and a card (PostCard, EditCard):
// the title and what changed, one line each, then the buttons. A message
// with Fields (an approval card: action, target, requester) shows them side
// by side in an attachment whose side bar carries m.Color, with the
// buttons below them; an incident reply has no Fields and keeps its plain
// layout.
func renderReply(m bot.Message) payload {
	emoji := statusEmoji(m)
	title := "*" + fit(emoji+" "+m.Title, maxHeaderText) + "*"
	if mention := mentionOf(m.Mention); mention != "" {
		// An escalation reminder: shown where the root shows its
		// mention, in the blocks, not only in the notification text.
		title = mention + " " + title
	}
	more := m.MoreLines
	var lines []string
	for _, l := range m.Lines {
		lines = append(lines, "• "+fitDates(l, maxAlertLine))
	}
	body, left := fitLines(title, lines, maxSectionText-len(moreText(1<<30, "change")))
	more += left
	if more > 0 {
		body += "\n" + moreText(more, "change")
	}
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(body), nil, nil, slackapi.SectionBlockOptionBlockID("reply"))}
	fallback := fitPrefixed(mentionOf(m.Mention), emoji+" "+m.Title+": "+strings.Join(m.Lines, "; "), maxFallbackText)
	p := payload{text: fallback, blocks: blocks}

	actions := actionsBlock(m.Buttons)
	if facts := factsBlock(m.Fields, ""); facts != nil {
		// Slack shows attachments under the blocks: the buttons go in the
		// attachment too, so they stay last.
		inner := []slackapi.Block{facts}
		if actions != nil {
			inner = append(inner, actions)
		}
		p.attachments = []slackapi.Attachment{{
			Color:    fmt.Sprintf("#%06X", m.Color&0xFFFFFF),
			Fallback: fallback,
			Blocks:   slackapi.Blocks{BlockSet: inner},
		}}
		return p
	}
	if actions != nil {
		p.blocks = append(p.blocks, actions)
	}
	return p
}

func statusEmoji(m bot.Message) string {
	if m.Status == bot.IncidentResolved {
		return resolvedEmoji
	}
	if e, ok := severityEmoji[m.Severity]; ok {
		return e
	}
	return unknownEmoji
}

// subteamID is what a Slack user group id looks like; anything else in the
// configuration is not rendered, so no configured string can become an
// @channel.
var subteamID = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)

// mentionOf is the user-group mention for id, or "" when there is none.
func mentionOf(id string) string {
	if id == "" || !subteamID.MatchString(id) {
		return ""
	}
	return "<!subteam^" + id + ">"
}

// factsBlock shows the fields side by side, the mention above them.
func factsBlock(fields []bot.Field, mention string) slackapi.Block {
	if len(fields) == 0 && mention == "" {
		return nil
	}
	var objs []*slackapi.TextBlockObject
	for i, f := range fields {
		if len(objs) == maxSectionFields-1 && len(fields) > maxSectionFields {
			objs = append(objs, mrkdwn(moreText(len(fields)-i, "field")))
			break
		}
		name := "*" + fit(f.Name, 100) + "*\n"
		value := f.Value
		if value == "" {
			value = "-"
		}
		objs = append(objs, mrkdwn(name+fitDates(value, maxFieldText-len(name))))
	}
	var text *slackapi.TextBlockObject
	if mention != "" {
		text = mrkdwn(mention)
	}
	return slackapi.NewSectionBlock(text, objs, nil, slackapi.SectionBlockOptionBlockID("incident-facts"))
}

func summaryText(summary, description string) string {
	var b strings.Builder
	if summary != "" {
		b.WriteString("*" + fit(summary, maxSummaryText) + "*")
	}
	if description != "" {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(fit(description, maxSectionText-b.Len()))
	}
	return b.String()
}

// alertsText lists the alerts that fit in one section and says how many
// more there are: the ones the message model left out plus the ones cut
// here. Whole lines are dropped, never half of one.
func alertsText(alerts []bot.AlertLine, more int) string {
	if len(alerts) == 0 && more == 0 {
		return ""
	}
	lines := make([]string, len(alerts))
	for i, a := range alerts {
		e := firingAlertEmoji
		if a.Status == bot.AlertResolved {
			e = resolvedAlertEmoji
		}
		lines[i] = e + " " + fit(a.Text, maxAlertLine)
	}
	body, left := fitLines("*Alerts*", lines, maxSectionText-len(moreText(1<<30, "alert")))
	more += left
	if more > 0 {
		body += "\n" + moreText(more, "alert")
	}
	return body
}

// fitLines joins head and as many lines as fit in n bytes, in order, and
// returns how many lines it left out.
func fitLines(head string, lines []string, n int) (string, int) {
	var b strings.Builder
	b.WriteString(head)
	for i, l := range lines {
		if b.Len()+1+len(l) > n {
			return b.String(), len(lines) - i
		}
		b.WriteString("\n")
		b.WriteString(l)
	}
	return b.String(), 0
}

func moreText(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("_…and 1 more %s_", noun)
	}
	return fmt.Sprintf("_…and %d more %ss_", n, noun)
}

// linksText renders the links that are plain web addresses. A link that
// does not fit is left out rather than broken.
func linksText(links []bot.Link) string {
	const prefix, sep = "🔗 ", " · "
	var b strings.Builder
	for _, l := range links {
		u := linkURL(l.URL)
		if u == "" {
			continue
		}
		s := "<" + u + "|" + fit(strings.ReplaceAll(l.Text, "|", "/"), 100) + ">"
		if b.Len() == 0 {
			s = prefix + s
		} else {
			s = sep + s
		}
		if b.Len()+len(s) > maxSectionText {
			continue
		}
		b.WriteString(s)
	}
	return b.String()
}

// linkURL makes an alert's URL safe inside <url|text>: http(s) only, the
// control characters escaped and "|" (which would end the address)
// percent-encoded.
func linkURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	s := strings.ReplaceAll(u.String(), "|", "%7C")
	return escape(s)
}

// actionsBlock renders the buttons Slack can take: at most 25, ids unique
// and within Slack's length, labels clipped.
func actionsBlock(buttons []bot.Button) slackapi.Block {
	var els []slackapi.BlockElement
	seen := map[string]bool{}
	for i, b := range buttons {
		if len(els) == maxActionElements {
			break
		}
		id := b.ID
		if id == "" {
			id = fmt.Sprintf("chatops-button-%d", i)
		}
		if len(id) > maxActionID || seen[id] {
			// A clipped id would act on the wrong thing; a duplicate is
			// rejected by Slack with the whole message.
			continue
		}
		seen[id] = true
		label := b.Label
		if label == "" {
			label = id
		}
		el := slackapi.NewButtonBlockElement(id, "", plainText(fit(label, maxButtonText)))
		if b.Danger {
			el.Style = slackapi.StyleDanger
		}
		els = append(els, el)
	}
	if len(els) == 0 {
		return nil
	}
	return slackapi.NewActionBlock("incident-actions", els...)
}

// rootFallback is the notification text: the mention first, then the
// headline, the status and the summary, and the marker at the end.
func rootFallback(m bot.Message, emoji, mention string) string {
	var b strings.Builder
	b.WriteString(emoji + " " + m.Title)
	for _, f := range m.Fields {
		if f.Name == "Status" {
			b.WriteString(" · " + f.Value)
			break
		}
	}
	if m.Summary != "" {
		b.WriteString(" · " + m.Summary)
	}
	marker := ""
	if m.Marker != "" {
		marker = "\n" + escape(m.Marker)
	}
	return fitPrefixed(mention, b.String(), maxFallbackText-len(marker)) + marker
}

// fitPrefixed is mention + " " + the escaped, clipped body within n bytes.
func fitPrefixed(mention, body string, n int) string {
	if mention == "" {
		return fit(body, n)
	}
	return mention + " " + fit(body, n-len(mention)-1)
}

func plainText(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, true, false)
}

// mrkdwn text is verbatim: Slack then does not turn names in it into
// links or mentions on its own; only the <...> sequences we write count.
func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, true)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape neutralises Slack's control characters so text taken from alerts
// cannot form a <!channel>, <@user> or link of its own. Times are written
// in UTC (bot.PlainTimes): escaped text never carries markup of ours.
func escape(s string) string { return escaper.Replace(bot.PlainTimes(s)) }

// date is t as Slack's date markup, which each reader sees in their own
// time zone ("today 17:20"), with the UTC text as its fallback. It is the
// one place Slack's times are written; mrkdwn renders it, plain_text does
// not (fitDates).
func date(t time.Time, _ bot.TimeStyle) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), bot.UTCText(t))
}

// escapeDates is escape for mrkdwn text, with its times as Slack dates.
func escapeDates(s string) string { return bot.ExpandTimes(s, escaper.Replace, date) }

// fitDates is fit for mrkdwn text: its times as Slack dates when the whole
// text fits in n bytes; otherwise clipped as fit does, times in UTC.
func fitDates(s string, n int) string {
	if e := escapeDates(strings.ToValidUTF8(s, "\uFFFD")); len(e) <= n {
		return e
	}
	return fit(s, n)
}

const ellipsis = "…"

// fit escapes s and shortens it to at most n bytes, with an ellipsis:
// never inside a character or an escape, and at a word boundary when one
// lies in the second half of what is kept.
func fit(s string, n int) string {
	if n <= 0 {
		return ""
	}
	s = bot.PlainTimes(strings.ToValidUTF8(s, "\uFFFD"))
	if e := escape(s); len(e) <= n {
		return e
	}
	room := n - len(ellipsis)
	if room <= 0 {
		return ""
	}
	cut, size := 0, 0
	for i, r := range s {
		w := escapedLen(r)
		if size+w > room {
			break
		}
		size += w
		cut = i + utf8.RuneLen(r)
	}
	if !isSpace(s[cut]) {
		if sp := strings.LastIndexAny(s[:cut], " \n\t"); sp >= cut/2 {
			cut = sp
		}
	}
	return escape(strings.TrimRight(s[:cut], " \n\t")) + ellipsis
}

func escapedLen(r rune) int {
	switch r {
	case '&':
		return len("&amp;")
	case '<', '>':
		return len("&lt;")
	}
	return utf8.RuneLen(r)
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' }
