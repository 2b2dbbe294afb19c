package console

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
)

// How much of one piece of alert text a page shows. An alert may carry a
// megabyte of annotation; the page shows the start and says how much more.
const (
	maxValueRunes = 1000
	maxTitleRunes = 300
	// maxLabels bounds the labels or annotations one alert shows.
	maxLabels = 50
)

// bidiControls are the characters that reorder the text around them: an
// alert could make "rollback" read backwards, or move a link's text over
// another's. Pages show them as their code points.
var bidiControls = strings.NewReplacer(
	"\u202a", "[U+202A]", "\u202b", "[U+202B]", "\u202c", "[U+202C]", "\u202d", "[U+202D]", "\u202e", "[U+202E]",
	"\u2066", "[U+2066]", "\u2067", "[U+2067]", "\u2068", "[U+2068]", "\u2069", "[U+2069]",
	"\u200e", "[U+200E]", "\u200f", "[U+200F]", "\u061c", "[U+061C]",
)

// clipText is s made safe to show as text: valid UTF-8, bidi controls
// named, at most n runes, with how much was left out.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if c := utf8.RuneCountInString(s); c > n {
		i := 0
		for k := range s {
			if i == n {
				s = s[:k] + fmt.Sprintf("… (%d more characters)", c-n)
				break
			}
			i++
		}
	}
	return bidiControls.Replace(s)
}

// webURL is u when it is an absolute http or https address, else "": an
// alert's generatorURL or runbook_url may say javascript: or data:.
func webURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(u) > 4096 {
		return ""
	}
	return p.String()
}

// pair is one label or annotation as a page shows it.
type pair struct {
	Key, Value string
	// URL is set when the value is a web address worth a link.
	URL string
}

// pairs are m's entries by key, clipped and bounded.
func pairs(m map[string]string) []pair {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]pair, 0, min(len(keys), maxLabels+1))
	for i, k := range keys {
		if i == maxLabels {
			out = append(out, pair{Key: "…", Value: fmt.Sprintf("%d more", len(keys)-maxLabels)})
			break
		}
		p := pair{Key: clipText(k, 100), Value: clipText(m[k], maxValueRunes)}
		if strings.HasSuffix(k, "_url") || k == "runbook" {
			p.URL = webURL(m[k])
		}
		out = append(out, p)
	}
	return out
}

// sevClass is the CSS class of an incident's colour, as chat shows it
// (bot.Color): by severity, green once resolved.
func sevClass(sev bot.Severity, status bot.IncidentStatus) string {
	if status == bot.IncidentResolved {
		return "sev-resolved"
	}
	if !sev.Valid() {
		return "sev-P3"
	}
	return "sev-" + sev.String()
}

// ago says how long before now t was, coarsely.
func ago(now, t time.Time) string {
	return duration(now.Sub(t)) + " ago"
}

// duration is d coarsely: 45s, 12m, 3h 20m, 2d 4h.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		h := int(d.Hours())
		return fmt.Sprintf("%dh %dm", h, int(d.Minutes())-60*h)
	}
	days := int(d.Hours()) / 24
	return fmt.Sprintf("%dd %dh", days, int(d.Hours())-24*days)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

var funcs = template.FuncMap{
	"text":     func(s string) string { return clipText(s, maxValueRunes) },
	"title":    func(s string) string { return clipText(s, maxTitleRunes) },
	"pairs":    pairs,
	"sevClass": sevClass,
	"ago":      ago,
	"duration": duration,
	"stamp":    stamp,
	"stampPtr": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return stamp(*t)
	},
	"webURL": webURL,
}
