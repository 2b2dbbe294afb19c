package slack

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/bakewise/chatops/bot"
)

// What a command answer shows at most, below Slack's limits.
const (
	// codeFence wraps Pre; a code block must fit one section.
	codeFence    = "```"
	maxPreInline = maxSectionText - 2*len(codeFence) - 2
	// maxAnswerLine clips one of Lines; maxTitleLine the title's first
	// line when it cannot be a header.
	maxAnswerLine = 1000
	maxTitleLine  = 500
	maxFieldName  = 100
	// previewLines and previewBytes bound the last lines shown beside a
	// file, so the message still says what matters at a glance.
	previewLines = 10
	previewBytes = 1500
	// maxFileBytes bounds a file sent with an answer; beyond it the
	// beginning is left out (logs: the newest lines are at the end).
	maxFileBytes = 1 << 20
	// maxFileBase bounds the name a file gets from the command text.
	maxFileBase = 60
)

// Why an answer cannot carry a file: the reason is shown in its place.
const (
	noFilePrivate = "a private answer cannot carry a file"
	noFileUpload  = "the file could not be uploaded"
)

// answerMessage is a command's answer rendered for Slack, and the files to
// upload with it (a Pre too long for a message, or the answer's File).
type answerMessage struct {
	text        string
	blocks      []slackapi.Block
	attachments []slackapi.Attachment
	files       []bot.File
}

// renderOptions shape one rendering of an answer.
type renderOptions struct {
	// fileBase names the file a too-long Pre moves to: "logs-orders-service"
	// gives logs-orders-service.txt.
	fileBase string
	// noFile, when set, is why the answer cannot carry a file: a too-long
	// Pre then shows its last lines, and a note says why the rest is
	// missing.
	noFile string
}

// renderAnswer lays out a: the title as a header (a section when it does
// not fit one), Lines as bullets, Fields side by side, Pre in a code
// block, or, when it is too long for one section, in a file with its last
// lines as a preview. Everything from outside is escaped; only channel
// references (<#C…>) pass, because they cannot ping anyone. A Color puts
// the body in an attachment with that side bar.
func renderAnswer(a bot.Answer, o renderOptions) answerMessage {
	var m answerMessage
	var top, body []slackapi.Block
	if b := titleBlock(a.Title); b != nil {
		top = append(top, b)
	}
	for i, s := range linesSections(a.Lines) {
		id := "answer-lines"
		if i > 0 {
			id += "-" + strconv.Itoa(i+1)
		}
		body = append(body, slackapi.NewSectionBlock(mrkdwn(s), nil, nil, slackapi.SectionBlockOptionBlockID(id)))
	}
	body = append(body, fieldBlocks(a.Fields)...)

	// A code block shows no markup: its times are UTC text.
	pre := strings.TrimRight(bot.PlainTimes(strings.ToValidUTF8(a.Pre, "\uFFFD")), "\n")
	// A File that holds the Pre (the logs command sends both) only names
	// the file the Pre moves to: it is not attached a second time.
	extra := a.File
	if extra != nil && (len(extra.Content) == 0 || strings.TrimRight(string(extra.Content), "\n") == pre) {
		extra = nil
	}
	if pre != "" {
		switch esc := escapePre(pre); {
		case len(esc) <= maxPreInline:
			body = append(body, codeBlock("answer-pre", esc))
		case o.noFile == "":
			f := preFile(o.fileBase, pre)
			if a.File != nil && extra == nil {
				f.Name = safeFileName(a.File.Name)
			}
			m.files = append(m.files, f)
			body = append(body,
				slackapi.NewSectionBlock(mrkdwn(fileNote(f, pre)), nil, nil, slackapi.SectionBlockOptionBlockID("answer-file")),
				codeBlock("answer-preview", tail(pre, previewLines, previewBytes)))
		default:
			shown := tail(pre, -1, maxPreInline)
			total := lineCount(pre)
			left := total - lineCount(unescape(shown))
			body = append(body,
				codeBlock("answer-pre", shown),
				slackapi.NewContextBlock("answer-note", mrkdwn(fmt.Sprintf("_The first %s of %s lines are left out: %s._", thousands(left), thousands(total), o.noFile))))
		}
	}
	if extra != nil {
		f := bot.File{Name: safeFileName(extra.Name), Content: extra.Content}
		if len(f.Content) > maxFileBytes {
			f.Content = f.Content[len(f.Content)-maxFileBytes:]
		}
		if o.noFile == "" {
			m.files = append(m.files, f)
			body = append(body, slackapi.NewSectionBlock(mrkdwn("📎 "+fit(f.Name, 200)), nil, nil, slackapi.SectionBlockOptionBlockID("answer-attachment")))
		} else {
			body = append(body, slackapi.NewContextBlock("answer-attachment", mrkdwn(fmt.Sprintf("_%s is not attached: %s._", fit(f.Name, 200), o.noFile))))
		}
	}

	if b := actionsBlock(a.Buttons); b != nil {
		body = append(body, b)
	}
	m.text = answerFallback(a)
	if a.Color != 0 && len(body) > 0 {
		m.blocks = top
		m.attachments = []slackapi.Attachment{{
			Color:    fmt.Sprintf("#%06X", a.Color&0xFFFFFF),
			Fallback: m.text,
			Blocks:   slackapi.Blocks{BlockSet: body},
		}}
	} else {
		m.blocks = append(top, body...)
	}
	if len(m.blocks) == 0 && len(m.attachments) == 0 {
		m.blocks = []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(m.text), nil, nil, slackapi.SectionBlockOptionBlockID("answer-lines"))}
	}
	return m
}

// payload is the message as chat.postMessage and chat.postEphemeral
// take it.
func (m answerMessage) payload() payload {
	return payload{text: m.text, blocks: m.blocks, attachments: m.attachments}
}

// webhook is the message as a response_url takes it: in the channel for
// everyone, or ephemeral; in thread when thread is set.
func (m answerMessage) webhook(inChannel bool, thread string) *slackapi.WebhookMessage {
	no := false
	wm := &slackapi.WebhookMessage{
		Text:            m.text,
		Attachments:     m.attachments,
		ResponseType:    slackapi.ResponseTypeEphemeral,
		ThreadTimestamp: thread,
		UnfurlLinks:     &no,
		UnfurlMedia:     &no,
	}
	if inChannel {
		wm.ResponseType = slackapi.ResponseTypeInChannel
	}
	if len(m.blocks) > 0 {
		wm.Blocks = &slackapi.Blocks{BlockSet: m.blocks}
	}
	return wm
}

// titleBlock is the title: a header when it is one line that fits and
// holds no channel reference (a header is plain text), otherwise a
// section whose first line is bold; a "usage:" line shows as code.
func titleBlock(title string) slackapi.Block {
	title = strings.TrimSpace(strings.ToValidUTF8(title, "\uFFFD"))
	if title == "" {
		return nil
	}
	first, rest, _ := strings.Cut(title, "\n")
	if rest == "" && !channelRef.MatchString(first) && len(escape(first)) <= maxHeaderText {
		return slackapi.NewHeaderBlock(plainText(escape(first)), slackapi.HeaderBlockOptionBlockID("answer-title"))
	}
	text := "*" + fitRefs(strings.TrimSpace(first), maxTitleLine) + "*"
	for line := range strings.SplitSeq(rest, "\n") {
		if rest == "" {
			break
		}
		if u, ok := strings.CutPrefix(line, "usage: "); ok && !strings.Contains(u, "`") {
			line = "usage: `" + fit(u, maxAnswerLine) + "`"
		} else {
			line = fitRefs(line, maxAnswerLine)
		}
		if len(text)+1+len(line) > maxSectionText {
			break
		}
		text += "\n" + line
	}
	return slackapi.NewSectionBlock(mrkdwn(text), nil, nil, slackapi.SectionBlockOptionBlockID("answer-title"))
}

// maxLineSections bounds the sections Lines take: a section holds at most
// maxSectionText characters, and help lists every command.
const maxLineSections = 4

// linesSections is Lines as bullets over at most maxLineSections
// sections, the last saying how many did not fit.
func linesSections(lines []string) []string {
	if len(lines) == 0 {
		return nil
	}
	reserve := len(moreText(1<<30, "line")) + 1
	var out []string
	var b strings.Builder
	for i, l := range lines {
		s := "• " + fitRefs(l, maxAnswerLine)
		if b.Len()+1+len(s) > maxSectionText-reserve {
			if len(out) == maxLineSections-1 {
				b.WriteString("\n" + moreText(len(lines)-i, "line"))
				break
			}
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(s)
	}
	return append(out, b.String())
}

// fieldBlocks shows Fields side by side, ten to a section.
func fieldBlocks(fields []bot.Field) []slackapi.Block {
	var out []slackapi.Block
	for start := 0; start < len(fields); start += maxSectionFields {
		var objs []*slackapi.TextBlockObject
		for _, f := range fields[start:min(start+maxSectionFields, len(fields))] {
			name := "*" + fit(f.Name, maxFieldName) + "*\n"
			value := f.Value
			if value == "" {
				value = "-"
			}
			objs = append(objs, mrkdwn(name+fitRefs(value, maxFieldText-len(name))))
		}
		id := "answer-fields"
		if start > 0 {
			id = fmt.Sprintf("answer-fields-%d", start/maxSectionFields+1)
		}
		out = append(out, slackapi.NewSectionBlock(nil, objs, nil, slackapi.SectionBlockOptionBlockID(id)))
	}
	return out
}

func codeBlock(id, escaped string) slackapi.Block {
	return slackapi.NewSectionBlock(mrkdwn(codeFence+"\n"+escaped+"\n"+codeFence), nil, nil, slackapi.SectionBlockOptionBlockID(id))
}

// escapePre escapes preformatted text and breaks any ``` in it, which
// would end the code block early.
func escapePre(s string) string {
	return strings.ReplaceAll(escape(s), codeFence, "`\u200b``")
}

var unescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "`\u200b``", codeFence)

func unescape(s string) string { return unescaper.Replace(s) }

// tail is the last lines of s (at most n, all when n < 0) whose escaped
// form fits in max bytes, escaped. A last line longer than max alone is
// clipped.
func tail(s string, n, max int) string {
	lines := strings.Split(s, "\n")
	var kept []string
	size := 0
	for i := len(lines) - 1; i >= 0 && (n < 0 || len(kept) < n); i-- {
		e := escapePre(lines[i])
		if size+len(e)+1 > max {
			if len(kept) == 0 {
				kept = append(kept, escapePre(clipTail(lines[i], max-len(ellipsis))))
			}
			break
		}
		kept = append(kept, e)
		size += len(e) + 1
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	return strings.Join(kept, "\n")
}

// clipTail keeps the end of a line that is too long, marked with an
// ellipsis, within max escaped bytes.
func clipTail(line string, max int) string {
	size, cut := 0, len(line)
	for cut > 0 {
		r, w := utf8.DecodeLastRuneInString(line[:cut])
		if size+escapedLen(r) > max {
			break
		}
		size += escapedLen(r)
		cut -= w
	}
	return ellipsis + line[cut:]
}

func lineCount(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}

// preFile is the file a too-long Pre moves to; an oversized one keeps its
// end.
func preFile(base, pre string) bot.File {
	content := pre + "\n"
	if len(content) > maxFileBytes {
		cut := len(content) - maxFileBytes
		if nl := strings.IndexByte(content[cut:], '\n'); nl >= 0 {
			cut += nl + 1
		}
		content = fmt.Sprintf("[the first %d bytes are left out]\n", cut) + content[cut:]
	}
	return bot.File{Name: safeFileName(base + ".txt"), Content: []byte(content)}
}

func fileNote(f bot.File, pre string) string {
	return fmt.Sprintf("📎 The full output, %s lines, is in the file *%s*. The last lines:", thousands(lineCount(pre)), escape(f.Name))
}

// fileBase names a file after the command's words, options left out:
// "logs orders-service --tail 2000" gives "logs-orders-service".
func fileBase(text string) string {
	var words []string
	for w := range strings.FieldsSeq(text) {
		if strings.HasPrefix(w, "-") {
			break
		}
		words = append(words, w)
		if len(words) == 3 {
			break
		}
	}
	base := strings.Trim(fileNameUnsafe.ReplaceAllString(strings.ToLower(strings.Join(words, "-")), "_"), "._-")
	if len(base) > maxFileBase {
		base = base[:maxFileBase]
	}
	if base == "" {
		return "output"
	}
	return base
}

var (
	fileNameUnsafe = regexp.MustCompile(`[^a-z0-9._-]+`)
	fileNameChars  = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// safeFileName keeps a file name to letters, digits, dot, dash and
// underscore.
func safeFileName(name string) string {
	name = strings.Trim(fileNameChars.ReplaceAllString(name, "_"), "._")
	if name == "" {
		return "output.txt"
	}
	if len(name) > maxFileBase+10 {
		name = name[len(name)-maxFileBase-10:]
	}
	return name
}

// answerFallback is the notification text: the title's first line.
func answerFallback(a bot.Answer) string {
	first, _, _ := strings.Cut(strings.TrimSpace(a.Title), "\n")
	if first == "" && len(a.Lines) > 0 {
		first = a.Lines[0]
	}
	if first == "" {
		first = "Done."
	}
	// The notification text: times in UTC.
	return fitRefs(bot.PlainTimes(first), maxTitleLine)
}

// channelRef is a channel reference Slack renders as a link: it cannot
// ping anyone, so answers (the router's refusal) may carry it.
var channelRef = regexp.MustCompile(`<#[CG][A-Z0-9]{2,30}>`)

// fitRefs is fit that keeps channel references whole and working, when
// the text fits; a clipped text is escaped entirely.
func fitRefs(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	last := 0
	for _, loc := range channelRef.FindAllStringIndex(s, -1) {
		b.WriteString(escapeDates(s[last:loc[0]]))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(escapeDates(s[last:]))
	if b.Len() <= n {
		return b.String()
	}
	return fit(s, n)
}

// thousands writes n with thousands separators: 2,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
