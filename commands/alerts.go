package commands

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// AlertLister lists what Alertmanager holds as firing now, muted or not
// (its API v2 in production): at most max alerts, and how many there were.
type AlertLister interface {
	FiringAlerts(ctx context.Context, service string, max int) ([]bot.FiringAlert, int, error)
}

// What the alerts command reads and shows at most.
const (
	// maxAlertsRead bounds the alerts one answer counts; Alertmanager's
	// API has no limit of its own, so the rest are only counted as "more".
	maxAlertsRead = 5000
	// maxAlertGroups bounds the table's rows; the file holds them all up
	// to this.
	maxAlertGroups = 200
	// maxSilenceButtons bounds the Silence buttons: the most urgent
	// groups get one, within both platforms' limits (Discord: 25).
	maxSilenceButtons = 10
	// maxCell bounds one label value in the table.
	maxCell = 48
	// maxMuters bounds the silences or inhibiting alerts named per group.
	maxMuters = 2
)

// alertGroup is the alerts of one alertname and service.
type alertGroup struct {
	alert, service     string
	severity           bot.Severity
	firing, silenced   int
	inhibited          int
	since              time.Time
	silences, inhibits []string // distinct, in the order met
}

func (g *alertGroup) count() int { return g.firing + g.silenced + g.inhibited }

func alerts(l AlertLister, classifier bot.Classifier, now func() time.Time) bot.CommandSpec {
	return bot.CommandSpec{
		Name: "alerts",
		Summary: "Firing alerts from Alertmanager, grouped by alert and service, with silences and inhibitions, " +
			"and a Silence button per group",
		Role: policy.Viewer,
		Args: []bot.Arg{
			{Name: "service", Help: "only this service's alerts (label service)", Complete: "service"},
			{Name: "severity", Help: "only alerts of this severity: P0, P1, P2 or P3"},
		},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			service := inv.String("service")
			if service != "" && !bot.ValidService(service) {
				return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("%q is not a service name (lower-case letters, digits and dashes)", bot.Clip(service, 64))}
			}
			sev := bot.SeverityUnknown
			if s := inv.String("severity"); s != "" {
				var err error
				if sev, err = bot.ParseSeverity(s); err != nil {
					return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("severity %q: want P0, P1, P2 or P3", bot.Clip(s, 16))}
				}
			}
			list, total, err := l.FiringAlerts(ctx, service, maxAlertsRead)
			if err != nil {
				return bot.Answer{}, err
			}
			return alertsAnswer(list, total, service, sev, classifier, now()), nil
		},
	}
}

// alertsAnswer groups alerts by alertname and service, most urgent first:
// severity, then groups with unmuted alerts, then the oldest.
func alertsAnswer(list []bot.FiringAlert, total int, service string, sev bot.Severity, classifier bot.Classifier, now time.Time) bot.Answer {
	byFingerprint := map[string]string{}
	for _, a := range list {
		if a.Fingerprint != "" {
			byFingerprint[a.Fingerprint] = a.Labels[policy.AlertNameLabel]
		}
	}
	groups := map[[2]string]*alertGroup{}
	var order []*alertGroup
	for _, a := range list {
		s := classifier.Classify(a.Labels)
		if sev.Valid() && s != sev {
			continue
		}
		key := [2]string{a.Labels[policy.AlertNameLabel], a.Labels[policy.ServiceLabel]}
		g := groups[key]
		if g == nil {
			g = &alertGroup{alert: key[0], service: key[1], severity: s, since: a.StartsAt}
			groups[key] = g
			order = append(order, g)
		}
		g.severity = min(g.severity, s)
		if !a.StartsAt.IsZero() && (g.since.IsZero() || a.StartsAt.Before(g.since)) {
			g.since = a.StartsAt
		}
		switch {
		case len(a.SilencedBy) > 0:
			g.silenced++
			for _, id := range a.SilencedBy {
				g.silences = addDistinct(g.silences, shortSilenceID(id))
			}
		case len(a.InhibitedBy) > 0:
			g.inhibited++
			for _, fp := range a.InhibitedBy {
				name := byFingerprint[fp]
				if name == "" {
					name = "an alert not listed"
				}
				g.inhibits = addDistinct(g.inhibits, name)
			}
		default:
			g.firing++
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		switch {
		case a.severity != b.severity:
			return a.severity < b.severity
		case (a.firing > 0) != (b.firing > 0):
			return a.firing > 0
		case !a.since.Equal(b.since):
			return a.since.Before(b.since)
		case a.alert != b.alert:
			return a.alert < b.alert
		}
		return a.service < b.service
	})

	scope := ""
	if service != "" {
		scope += " for " + service
	}
	if sev.Valid() {
		scope += " at " + sev.String()
	}
	if len(order) == 0 {
		a := bot.Answer{Title: "✅ No alerts firing" + scope, Color: bot.Color(bot.P3, bot.IncidentResolved)}
		if total > len(list) {
			a.Lines = append(a.Lines, readNote(total, len(list)))
		}
		return a
	}
	n, firing, muted := 0, 0, 0
	for _, g := range order {
		n += g.count()
		firing += g.firing
		muted += g.silenced + g.inhibited
	}
	a := bot.Answer{
		Title: fmt.Sprintf("🔥 %s in %s%s: %d unmuted, %d silenced or inhibited", plural(n, "alert"), plural(len(order), "group"), scope, firing, muted),
		Color: bot.Color(order[0].severity, bot.IncidentOpen),
	}
	if total > len(list) {
		a.Lines = append(a.Lines, readNote(total, len(list)))
	}
	shown := order
	if len(shown) > maxAlertGroups {
		a.Lines = append(a.Lines, fmt.Sprintf("The %d most urgent of %d groups are listed.", maxAlertGroups, len(order)))
		shown = shown[:maxAlertGroups]
	}
	// A long table goes as a file (alerts.txt): the renderers decide.
	a.Pre = alertsTable(shown, now)

	noButton := 0
	for _, g := range shown {
		if g.firing == 0 {
			continue // muted already: nothing to silence
		}
		id, ok := bot.SilenceButtonID(g.alert, g.service)
		if !ok {
			noButton++
			continue
		}
		if len(a.Buttons) == maxSilenceButtons {
			a.Lines = append(a.Lines, fmt.Sprintf("Silence buttons are shown for the %d most urgent groups.", maxSilenceButtons))
			break
		}
		a.Buttons = append(a.Buttons, bot.Button{ID: id, Label: "Silence " + g.alert + " · " + g.service})
	}
	if len(a.Buttons) > 0 {
		a.Lines = append(a.Lines, fmt.Sprintf("A Silence button runs the silence command for you: silence alertname=<alert>,service=<service> %s; your role is checked when you click.", bot.SilenceButtonDuration))
	}
	if noButton > 0 {
		a.Lines = append(a.Lines, fmt.Sprintf("%s without a Silence button: their alertname or service is not a plain name, or they have no service label. Type the silence command with their matchers.", plural(noButton, "group")))
	}
	return a
}

// alertsTable is the groups as a table, one line each.
func alertsTable(groups []*alertGroup, now time.Time) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SEV\tALERT\tSERVICE\tALERTS\tSINCE (UTC)\tSTATE")
	for _, g := range groups {
		since := "-"
		if !g.since.IsZero() {
			since = g.since.UTC().Format("01-02 15:04") + " · " + bot.HumanDuration(now.Sub(g.since))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", g.severity, cell(g.alert), cell(g.service), g.count(), since, groupState(g))
	}
	w.Flush()
	return b.String()
}

// groupState says what mutes a group's alerts: "2 firing · 1 silenced by
// 3f2a9c1e".
func groupState(g *alertGroup) string {
	var parts []string
	if g.firing > 0 {
		parts = append(parts, fmt.Sprintf("%d firing", g.firing))
	}
	if g.silenced > 0 {
		parts = append(parts, fmt.Sprintf("%d silenced by %s", g.silenced, listSome(g.silences)))
	}
	if g.inhibited > 0 {
		parts = append(parts, fmt.Sprintf("%d inhibited by %s", g.inhibited, listSome(g.inhibits)))
	}
	return strings.Join(parts, " · ")
}

// listSome names the first maxMuters of names, and how many more.
func listSome(names []string) string {
	out := make([]string, 0, maxMuters)
	for i, n := range names {
		if i == maxMuters {
			return strings.Join(out, ", ") + fmt.Sprintf(" +%d", len(names)-maxMuters)
		}
		out = append(out, cell(n))
	}
	return strings.Join(out, ", ")
}

// shortSilenceID is the start of a silence id, as Alertmanager's UI
// shows it; anything but a hex-and-dashes id reads "?".
func shortSilenceID(id string) string {
	if id == "" || strings.Trim(id, "0123456789abcdefABCDEF-") != "" {
		return "?"
	}
	if len(id) > 8 {
		id = id[:8]
	}
	return id
}

func addDistinct(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// cell is a label value as one table cell: printable, one line, spaces
// single (two would split the column), at most maxCell characters, "-"
// when empty.
func cell(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxCell {
		s = string([]rune(s)[:maxCell-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

func readNote(total, read int) string {
	return fmt.Sprintf("Alertmanager holds %d alerts; the first %d are counted here.", total, read)
}
