package discord

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
)

// How a command's answer is laid out.
const (
	// Preformatted text longer than maxPreLines lines or maxPreInline
	// characters goes into a file: a wall of monospace helps no one in a
	// channel. The message then shows its last previewLines lines, each
	// cut at previewWidth characters.
	maxPreLines  = 40
	maxPreInline = 3000
	previewLines = 15
	previewWidth = 160
	// maxAttachment keeps a file under Discord's 10 MiB upload limit; a
	// longer output keeps its end (the newest log lines).
	maxAttachment = 8 << 20
	maxFileName   = 64
	// maxTitleLine is the longest single line that stays an embed title;
	// a longer one reads better as text.
	maxTitleLine = maxEmbedTitle
)

// answerMessage is a bot.Answer in Discord's terms: one embed, maybe
// files, never a ping.
type answerMessage struct {
	embed   *discordgo.MessageEmbed
	files   []bot.File
	private bool
	// components are the answer's buttons in rows.
	components []discordgo.MessageComponent
}

// noMentions stops every ping: an answer quotes names and ids people typed
// or that came from the cluster, and must not notify anyone.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// discordFiles gives fresh readers on every call, so a call tried again
// sends the whole file again.
func (m answerMessage) discordFiles() []*discordgo.File {
	out := make([]*discordgo.File, 0, len(m.files))
	for _, f := range m.files {
		out = append(out, &discordgo.File{Name: f.Name, ContentType: contentType(f.Name), Reader: bytes.NewReader(f.Content)})
	}
	return out
}

// edit replaces the interaction's original response with the answer.
func (m answerMessage) edit() *discordgo.WebhookEdit {
	content := ""
	embeds := []*discordgo.MessageEmbed{m.embed}
	e := &discordgo.WebhookEdit{Content: &content, Embeds: &embeds, AllowedMentions: noMentions(), Files: m.discordFiles()}
	if len(m.components) > 0 {
		e.Components = &m.components
	}
	return e
}

// followup sends the answer as a new message, ephemeral when private.
func (m answerMessage) followup() *discordgo.WebhookParams {
	p := &discordgo.WebhookParams{
		Embeds:          []*discordgo.MessageEmbed{m.embed},
		Components:      m.components,
		AllowedMentions: noMentions(),
		Files:           m.discordFiles(),
	}
	if m.private {
		p.Flags = discordgo.MessageFlagsEphemeral
	}
	return p
}

// renderAnswer lays an answer out as one embed within Discord's limits:
// the title's first line as the embed title, the rest of it and the lines
// as the description, the fields inline, and the preformatted text in a
// code block, or, when long, in a file named after base (the command and
// its positional arguments: "logs-orders-service.txt") with its end shown.
func renderAnswer(a bot.Answer, base string) answerMessage {
	m := answerMessage{private: a.Private}
	// Buttons Discord would refuse are left out (renderButtons); an
	// answer has no place to report them, and its ids are ours.
	if len(a.Buttons) > 0 {
		m.components, _ = renderButtons(a.Buttons, nil)
	} else {
		m.components = []discordgo.MessageComponent{}
	}
	title, rest := splitTitle(a.Title)
	var text []string
	if rest != "" {
		text = append(text, rest)
	}
	for _, l := range a.Lines {
		text = append(text, strings.TrimRight(l, "\n"))
	}

	fields := renderFields(a.Fields, nil, maxEmbedTotal-textLen(title)-descriptionReserve)
	used := textLen(title)
	for _, f := range fields {
		used += textLen(f.Name) + textLen(f.Value)
	}
	budget := min(maxEmbedDesc, maxEmbedTotal-used)

	var block string
	// A code block shows no markup: its times are UTC text.
	if pre := strings.TrimRight(bot.PlainTimes(a.Pre), "\n"); strings.TrimSpace(pre) != "" {
		lines := strings.Split(pre, "\n")
		block = codeBlock(pre)
		if len(lines) > maxPreLines || textLen(pre) > maxPreInline || textLen(block) > budget-1 {
			name := fileName(base, ".txt")
			m.files = append(m.files, bot.File{Name: name, Content: keepEnd([]byte(pre+"\n"), maxAttachment)})
			block = previewTail(lines, name, budget/2)
		}
	}
	if a.File != nil && len(a.File.Content) > 0 {
		name := fileName(strings.TrimSuffix(a.File.Name, path.Ext(a.File.Name)), path.Ext(a.File.Name))
		m.files = append(m.files, bot.File{Name: name, Content: keepEnd(a.File.Content, maxAttachment)})
	}

	textBudget := budget
	if block != "" {
		textBudget -= textLen(block) + 1
	}
	desc, _ := fitLines("", clipLines(text), len(text), max(textBudget, 0), "line", "lines")
	desc = strings.TrimPrefix(desc, "\n")
	if block != "" {
		if desc != "" {
			desc += "\n"
		}
		desc += block
	}
	if title == "" && desc == "" && len(fields) == 0 {
		title = "Done."
	}
	m.embed = &discordgo.MessageEmbed{
		Type:        discordgo.EmbedTypeRich,
		Title:       title,
		Description: desc,
		Color:       a.Color,
		Fields:      fields,
	}
	return m
}

// splitTitle keeps the title's first line as the embed title and returns
// the rest as text. A title that mentions a channel or a person goes to
// the text whole: Discord shows mentions only there.
func splitTitle(t string) (title, rest string) {
	t = strings.TrimSpace(t)
	first, more, _ := strings.Cut(t, "\n")
	if strings.Contains(first, "<#") || strings.Contains(first, "<@") || textLen(first) > maxTitleLine {
		return "", t
	}
	// An embed title shows no markup: its times are UTC text.
	return bot.PlainTimes(strings.TrimSpace(first)), strings.TrimSpace(more)
}

// clipLines keeps each text line to a field's length, so one long line
// cannot crowd out the rest.
func clipLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = clipTimes(l, maxFieldValue, plain)
	}
	return out
}

// codeBlock wraps text in a ``` block; a ``` inside it is broken with a
// zero-width space so it cannot end the block early.
func codeBlock(s string) string {
	return "```\n" + strings.ReplaceAll(s, "```", "``\u200b`") + "\n```"
}

// previewTail is the end of a long output, as much as fits in budget, and
// where the rest is.
func previewTail(lines []string, file string, budget int) string {
	n := min(previewLines, len(lines))
	for ; n > 0; n-- {
		tail := make([]string, n)
		for i, l := range lines[len(lines)-n:] {
			tail[i] = clip(l, previewWidth)
		}
		block := fmt.Sprintf("Showing the last %d of %d lines; all of them are in %s.\n%s", n, len(lines), file, codeBlock(strings.Join(tail, "\n")))
		if textLen(block) <= budget {
			return block
		}
	}
	return fmt.Sprintf("%d lines: all of them are in %s.", len(lines), file)
}

// keepEnd cuts b to its last n bytes, at a line start when there is one.
func keepEnd(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return b
}

// fileName makes a safe attachment name from base: lower-case letters,
// digits, dots, dashes and underscores, at most maxFileName characters,
// with ext.
func fileName(base, ext string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(base) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_'
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-.")
	var e strings.Builder
	for _, r := range strings.ToLower(ext) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			e.WriteRune(r)
		}
	}
	ext = ""
	if e.Len() > 0 && e.Len() <= 10 {
		ext = "." + e.String()
	}
	if len(name) > maxFileName-len(ext) {
		name = strings.TrimRight(name[:maxFileName-len(ext)], "-.")
	}
	if name == "" {
		name = "output"
	}
	return name + ext
}
