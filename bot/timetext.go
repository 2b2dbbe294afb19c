package bot

import (
	"strconv"
	"strings"
	"time"
)

// Times in messages. A message names a time with At or AtAgo inside its
// text; each platform's renderer writes it so that every reader sees it in
// their own time zone (Slack's <!date>, Discord's <t:>), or as UTC text
// where the platform shows no markup (titles, buttons, code blocks,
// notifications, files). A time is a token in the text, not a field of its
// own, so a line like "approved by Ana at <time>" stays one line.
//
// Tokens live only between the code that builds a message and its
// renderer: nothing stored (timelines, the audit log) holds one. A token
// is strict (a bounded number of digits and a known style between two
// code points text never carries); anything else is text, so a forged
// token in an alert's annotation can at worst show a date.

// TimeStyle is how a time reads.
type TimeStyle byte

const (
	// TimeAt is a date and time of day.
	TimeAt TimeStyle = 'a'
	// TimeAtAgo is a date and time with how long ago (or from now) it
	// is, where the platform can keep that current (Discord).
	TimeAtAgo TimeStyle = 'r'
)

// The token's delimiters: Unicode's interlinear annotation anchor and
// terminator, format characters no chat text needs.
const (
	timeOpen  = '\uFFF9'
	timeClose = '\uFFFB'
	// maxTimeDigits bounds a token's number: unix seconds of the years
	// 0001..9999 have at most 12 digits and a sign.
	maxTimeDigits = 13
)

// At is t in a message's text, as a date and time the reader sees in their
// own time zone.
func At(t time.Time) string { return timeToken(t, TimeAt) }

// AtAgo is At with how long ago (or from now) t is, where the platform can
// say it.
func AtAgo(t time.Time) string { return timeToken(t, TimeAtAgo) }

func timeToken(t time.Time, s TimeStyle) string {
	return string(timeOpen) + strconv.FormatInt(t.Unix(), 10) + string(rune(s)) + string(timeClose)
}

// UTCText is t as the fallback text of every platform: "2026-12-05 17:20
// UTC".
func UTCText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// ExpandTimes writes s with the text between its time tokens through text
// and each token through at. A malformed token is text, without its
// delimiters.
func ExpandTimes(s string, text func(string) string, at func(time.Time, TimeStyle) string) string {
	if !strings.ContainsRune(s, timeOpen) && !strings.ContainsRune(s, timeClose) {
		return text(s)
	}
	var b strings.Builder
	plain := strings.Builder{}
	flush := func() {
		if plain.Len() > 0 {
			b.WriteString(text(plain.String()))
			plain.Reset()
		}
	}
	for len(s) > 0 {
		i := strings.IndexRune(s, timeOpen)
		if i < 0 {
			plain.WriteString(s)
			break
		}
		plain.WriteString(s[:i])
		s = s[i+len(string(timeOpen)):]
		j := strings.IndexRune(s, timeClose)
		if j < 0 {
			continue
		}
		if t, style, ok := parseTimeToken(s[:j]); ok {
			flush()
			b.WriteString(at(t, style))
			s = s[j+len(string(timeClose)):]
		}
		// Not a token: the opening delimiter is dropped and what follows
		// is read again as text.
	}
	flush()
	return strings.ReplaceAll(strings.ReplaceAll(b.String(), string(timeOpen), ""), string(timeClose), "")
}

func parseTimeToken(s string) (time.Time, TimeStyle, bool) {
	if len(s) < 2 || len(s) > maxTimeDigits+1 {
		return time.Time{}, 0, false
	}
	style := TimeStyle(s[len(s)-1])
	if style != TimeAt && style != TimeAtAgo {
		return time.Time{}, 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil {
		return time.Time{}, 0, false
	}
	t := time.Unix(n, 0).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, 0, false
	}
	return t, style, true
}

// PlainTimes is s with its times written in UTC (UTCText), for places that
// show no markup.
func PlainTimes(s string) string {
	return ExpandTimes(s, func(s string) string { return s }, func(t time.Time, _ TimeStyle) string { return UTCText(t) })
}
