package discord

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
)

// Discord's limits on what a message may carry. Discord counts characters;
// textLen counts UTF-16 code units, which is never less, so a message that
// fits by our count fits by theirs.
const (
	maxContent        = 2000
	maxEmbedTitle     = 256
	maxEmbedDesc      = 4096
	maxEmbedFields    = 25
	maxFieldName      = 256
	maxFieldValue     = 1024
	maxFooter         = 2048
	maxEmbedTotal     = 6000
	maxThreadName     = 100
	maxButtonsPerRow  = 5
	maxActionRows     = 5
	maxCustomID       = 100
	maxButtonLabel    = 80
	maxSnowflakeChars = 20
)

// What we allow one piece of text before the alert list gets its share.
const (
	maxSummary     = 256
	maxDescription = 1024
	maxReplyLine   = 300
	// descriptionReserve is kept free for the description when fields are
	// laid out, so a message always says what is wrong, not only its labels.
	descriptionReserve = 1500
)

const ellipsis = "…"

// rendered is a bot.Message in Discord's terms: the parts shared by a new
// message and an edit of it.
type rendered struct {
	content    string
	embeds     []*discordgo.MessageEmbed
	components []discordgo.MessageComponent
	mentions   *discordgo.MessageAllowedMentions
	threadName string
	// problems are things the renderer had to leave out because they
	// could not be sent at all (an invalid role id, a button without id).
	problems []string
}

func (r rendered) send() *discordgo.MessageSend {
	return &discordgo.MessageSend{
		Content:         r.content,
		Embeds:          r.embeds,
		Components:      r.components,
		AllowedMentions: r.mentions,
	}
}

// edit replaces everything the message shows: content (cleared when empty,
// so a resolved root loses its mention line), embeds and buttons.
func (r rendered) edit(channel, id string) *discordgo.MessageEdit {
	content, embeds, components := r.content, r.embeds, r.components
	if embeds == nil {
		// An empty list, not null: the edit removes embeds the message had.
		embeds = []*discordgo.MessageEmbed{}
	}
	e := discordgo.NewMessageEdit(channel, id)
	e.Content = &content
	e.Embeds = &embeds
	e.Components = &components
	e.AllowedMentions = r.mentions
	return e
}

// severityEmoji marks a message at a glance; a resolved incident is green
// whatever its severity was.
func severityEmoji(sev bot.Severity, status bot.IncidentStatus) string {
	if status == bot.IncidentResolved {
		return "✅"
	}
	switch sev {
	case bot.P0:
		return "🟥"
	case bot.P1:
		return "🔴"
	case bot.P2:
		return "🟠"
	case bot.P3:
		return "🔵"
	}
	return "⚪"
}

func alertEmoji(a bot.AlertLine, sev bot.Severity) string {
	if a.Status == bot.AlertResolved {
		return "✅"
	}
	return severityEmoji(sev, bot.IncidentOpen)
}

// renderRoot renders an incident's root message: one embed (title, fields,
// summary, description, alert list, links, the marker in the footer), the
// role mention in the content, and the buttons.
func renderRoot(m bot.Message) rendered {
	var r rendered
	emoji := severityEmoji(m.Severity, m.Status)
	title := clip(emoji+" "+oneLine(m.Title), maxEmbedTitle)
	footer := clip(m.Marker, maxFooter)

	fields := renderFields(m.Fields, m.Links, maxEmbedTotal-textLen(title)-textLen(footer)-descriptionReserve)
	used := textLen(title) + textLen(footer)
	for _, f := range fields {
		used += textLen(f.Name) + textLen(f.Value)
	}
	desc := renderDescription(m, min(maxEmbedDesc, maxEmbedTotal-used))

	embed := &discordgo.MessageEmbed{
		Type:        discordgo.EmbedTypeRich,
		Title:       title,
		Description: desc,
		Color:       m.Color,
		Fields:      fields,
	}
	if footer != "" {
		embed.Footer = &discordgo.MessageEmbedFooter{Text: footer}
	}
	r.embeds = []*discordgo.MessageEmbed{embed}
	r.threadName = clip(oneLine(m.Title), maxThreadName)
	if r.threadName == "" {
		r.threadName = "incident"
	}

	r.mentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
	if m.Mention != "" {
		if isSnowflake(m.Mention) {
			r.content = clip("<@&"+m.Mention+"> "+emoji+" "+oneLine(m.Title), maxContent)
			r.mentions.Roles = []string{m.Mention}
		} else {
			r.problems = append(r.problems, fmt.Sprintf("mention %q is not a Discord role id: not mentioned", m.Mention))
		}
	}
	r.components, r.problems = renderButtons(m.Buttons, r.problems)
	return r
}

// renderReply renders a thread reply, and a card (PostCard, EditCard), as
// plain text: a bold title, one line per change and how many were left
// out, then the buttons. A message with Fields (an approval card: action,
// target, requester) shows them in an embed whose side carries m.Color;
// an incident reply has no Fields and stays plain text. A reply pings
// nobody but an escalation reminder's role.
func renderReply(m bot.Message) rendered {
	var r rendered
	head := "**" + severityEmoji(m.Severity, m.Status) + " " + clip(escapeMarkdown(oneLine(m.Title)), maxEmbedTitle) + "**"
	lines := make([]string, 0, len(m.Lines))
	for _, l := range m.Lines {
		lines = append(lines, "• "+clipTimes(oneLine(l), maxReplyLine, escapeMarkdown))
	}
	r.mentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
	if m.Mention != "" {
		// An escalation reminder pages its level's role, and only it.
		if isSnowflake(m.Mention) {
			head = "<@&" + m.Mention + "> " + head
			r.mentions.Roles = []string{m.Mention}
		} else {
			r.problems = append(r.problems, fmt.Sprintf("mention %q is not a Discord role id: not mentioned", m.Mention))
		}
	}
	r.content, _ = fitLines(head, lines, len(m.Lines)+m.MoreLines, maxContent, "change", "changes")
	if len(m.Fields) > 0 {
		r.embeds = []*discordgo.MessageEmbed{{
			Type:   discordgo.EmbedTypeRich,
			Color:  m.Color,
			Fields: renderFields(m.Fields, nil, maxEmbedTotal),
		}}
	}
	r.components, r.problems = renderButtons(m.Buttons, r.problems)
	return r
}

// renderFields lays out the short facts as inline fields and the links as
// one last field, within Discord's count and size limits and within budget
// characters in all. Fields that do not fit are counted in a last field.
func renderFields(in []bot.Field, links []bot.Link, budget int) []*discordgo.MessageEmbedField {
	linkField := renderLinks(links)
	slots := maxEmbedFields
	if linkField != nil {
		slots--
		budget -= textLen(linkField.Name) + textLen(linkField.Value)
	}
	var out []*discordgo.MessageEmbedField
	for i, f := range in {
		ef := &discordgo.MessageEmbedField{
			Name:   nonEmpty(clip(oneLine(f.Name), maxFieldName)),
			Value:  nonEmpty(clipTimes(f.Value, maxFieldValue, escapeMarkdown)),
			Inline: true,
		}
		size := textLen(ef.Name) + textLen(ef.Value)
		rest := len(in) - i
		if (rest > 1 && len(out) == slots-1) || size > budget-40 {
			out = append(out, &discordgo.MessageEmbedField{Name: "More", Value: fmt.Sprintf("%d more fields not shown", rest), Inline: true})
			break
		}
		budget -= size
		out = append(out, ef)
	}
	if linkField != nil {
		out = append(out, linkField)
	}
	return out
}

// renderLinks writes the links as Markdown in one field. A link that would
// not fit whole is left out: a cut URL is worse than none.
func renderLinks(links []bot.Link) *discordgo.MessageEmbedField {
	var parts []string
	size := 0
	for _, l := range links {
		if l.URL == "" {
			continue
		}
		p := "[" + escapeLinkText(l.Text) + "](" + escapeLinkURL(l.URL) + ")"
		if size+textLen(p)+3 > maxFieldValue {
			continue
		}
		parts = append(parts, p)
		size += textLen(p) + 3
	}
	if len(parts) == 0 {
		return nil
	}
	return &discordgo.MessageEmbedField{Name: "Links", Value: strings.Join(parts, " · ")}
}

// renderDescription is the summary in bold, the description, then the alert
// list, all within budget characters, saying how many alerts were left out.
func renderDescription(m bot.Message, budget int) string {
	var head []string
	if s := strings.TrimSpace(m.Summary); s != "" {
		head = append(head, "**"+clip(oneLine(s), maxSummary)+"**")
	}
	if d := strings.TrimSpace(m.Description); d != "" && d != strings.TrimSpace(m.Summary) {
		head = append(head, clip(d, maxDescription))
	}
	top := strings.Join(head, "\n")
	total := len(m.Alerts) + m.MoreAlerts
	if total == 0 {
		return clip(top, budget)
	}
	if top != "" {
		top += "\n\n"
	}
	top += "**Alerts**"
	lines := make([]string, 0, len(m.Alerts))
	for _, a := range m.Alerts {
		lines = append(lines, alertEmoji(a, m.Severity)+" "+clip(escapeMarkdown(oneLine(a.Text)), maxFieldValue))
	}
	if textLen(top)+textLen(moreLine(total, "alert", "alerts"))+2 > budget {
		// Only a huge summary could do this: keep the count, cut the prose.
		top = clip(top, max(0, budget-textLen(moreLine(total, "alert", "alerts"))-2))
	}
	out, _ := fitLines(top, lines, total, budget, "alert", "alerts")
	return out
}

// fitLines joins head and as many lines as fit in budget characters, then
// says how many of total items were left out. It returns the text and that
// number.
func fitLines(head string, lines []string, total, budget int, one, many string) (string, int) {
	var b strings.Builder
	b.WriteString(head)
	size := textLen(head)
	shown := 0
	for _, l := range lines {
		left := total - shown - 1
		need := 1 + textLen(l)
		if left > 0 {
			need += 1 + textLen(moreLine(left, one, many))
		}
		if size+need > budget {
			break
		}
		b.WriteString("\n")
		b.WriteString(l)
		size += 1 + textLen(l)
		shown++
	}
	left := total - shown
	if left > 0 {
		b.WriteString("\n")
		b.WriteString(moreLine(left, one, many))
	}
	return b.String(), left
}

func moreLine(n int, one, many string) string {
	if n == 1 {
		return "…and 1 more " + one
	}
	return fmt.Sprintf("…and %d more %s", n, many)
}

// renderButtons puts buttons in rows of five. A button Discord would reject
// (no id, an id over 100 characters or used twice) or beyond the last row
// is left out and
// reported, so one bad button does not lose the whole message.
func renderButtons(in []bot.Button, problems []string) ([]discordgo.MessageComponent, []string) {
	var rows []discordgo.MessageComponent
	var row []discordgo.MessageComponent
	dropped := 0
	seen := map[string]bool{}
	for _, b := range in {
		if b.ID == "" || len(b.ID) > maxCustomID || seen[b.ID] || len(rows) == maxActionRows {
			dropped++
			continue
		}
		seen[b.ID] = true
		label := clip(oneLine(b.Label), maxButtonLabel)
		if label == "" {
			label = clip(b.ID, maxButtonLabel)
		}
		style := discordgo.SecondaryButton
		if b.Danger {
			style = discordgo.DangerButton
		}
		row = append(row, discordgo.Button{Label: label, Style: style, CustomID: b.ID})
		if len(row) == maxButtonsPerRow {
			rows = append(rows, discordgo.ActionsRow{Components: row})
			row = nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, discordgo.ActionsRow{Components: row})
	}
	if dropped > 0 {
		problems = append(problems, fmt.Sprintf("%d buttons left out (empty, duplicate or over-long id, or more than %d)", dropped, maxActionRows*maxButtonsPerRow))
	}
	if rows == nil {
		rows = []discordgo.MessageComponent{}
	}
	return rows, problems
}

// textLen is s's length as Discord may count it: UTF-16 code units.
func textLen(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// clip shortens s to at most n characters (textLen), ending with an
// ellipsis. It cuts at the last space when that keeps at least half of the
// room, so words are not split; only a long unbroken token is cut inside.
func clip(s string, n int) string {
	s = bot.PlainTimes(s)
	if textLen(s) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	limit := n - textLen(ellipsis)
	cut, size := 0, 0 // cut: byte length of the longest prefix of at most limit units
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if size+w > limit {
			break
		}
		size += w
		cut = i + utf8.RuneLen(r)
	}
	if next, _ := utf8.DecodeRuneInString(s[cut:]); !unicode.IsSpace(next) {
		if sp := strings.LastIndexFunc(s[:cut], unicode.IsSpace); sp > 0 && textLen(s[:sp]) >= limit/2 {
			cut = sp
		}
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + ellipsis
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func nonEmpty(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// escapeMarkdown keeps text taken from alert labels or people's names from
// turning into formatting (a label value with * or _ in it, a stray
// backtick) or into markup that shows something else (<t:0:R>, <@id>,
// <#channel>). allowed_mentions stops every ping we did not ask for
// anyway. Times are written in UTC (bot.PlainTimes): escaped text carries
// no markup of ours.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, "<", `\<`)

func escapeMarkdown(s string) string { return markdownEscaper.Replace(bot.PlainTimes(s)) }

// timestamp is t as Discord's timestamp markup, which each reader sees in
// their own time zone and language: "5 December 2026 17:20", and with
// bot.TimeAtAgo "(3 minutes ago)" after it, kept current by the client.
// It is the one place Discord's times are written; message content,
// embed descriptions and field values render it, titles, footers, field
// names and code blocks do not (clipTimes).
func timestamp(t time.Time, style bot.TimeStyle) string {
	u := t.Unix()
	if style == bot.TimeAtAgo {
		return fmt.Sprintf("<t:%d:f> (<t:%d:R>)", u, u)
	}
	return fmt.Sprintf("<t:%d:f>", u)
}

// clipTimes is clip for text where Discord renders markup: the text
// between times through text (an escaper), times as timestamps, when all
// of it fits in n characters; otherwise clipped as clip does, times in
// UTC.
func clipTimes(s string, n int, text func(string) string) string {
	if r := bot.ExpandTimes(s, text, timestamp); textLen(r) <= n {
		return r
	}
	return clip(text(bot.PlainTimes(s)), n)
}

func plain(s string) string { return s }

var linkTextEscaper = strings.NewReplacer("[", "(", "]", ")")

func escapeLinkText(s string) string { return linkTextEscaper.Replace(oneLine(s)) }

// escapeLinkURL keeps a URL from closing the Markdown link early.
var linkURLEscaper = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20")

func escapeLinkURL(s string) string { return linkURLEscaper.Replace(s) }

// isSnowflake reports whether s looks like a Discord id.
func isSnowflake(s string) bool {
	if s == "" || len(s) > maxSnowflakeChars {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
