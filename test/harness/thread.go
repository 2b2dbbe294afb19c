package harness

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

// What an incident thread shows, read back from the stand-ins the way a
// person reads the channel: which incident a root is (its marker), the
// Status field and severity it shows, and the lines a reply lists. The
// benchmark tools hold these against the store.

// Root is an incident's root message as a stand-in holds it.
type Root struct {
	// Incident is the incident its marker names at the destination asked
	// for; Known is false when the message carries no such marker.
	Incident int64
	Known    bool
	// Status is the root's Status field ("Firing: 3 firing, 0 resolved"),
	// "(no Status field)" when it has none; Severity its title's ("P1"),
	// "" when the title shows none.
	Status   string
	Severity string
}

// NoStatus is the Status of a root without a Status field.
const NoStatus = "(no Status field)"

// RootStatus is the Status field a root shows for an incident in state
// status ("open" or "resolved") with firing and resolved alerts.
func RootStatus(status string, firing, resolved int) string {
	s := "Firing"
	if status == "resolved" {
		s = "Resolved"
	}
	return s + ": " + strconv.Itoa(firing) + " firing, " + strconv.Itoa(resolved) + " resolved"
}

// MarkerIncident is the incident a root's marker
// ("chatops:incident:ID:DEST") names, when it is dest's.
func MarkerIncident(marker, dest string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(marker), "chatops:incident:")
	if !ok {
		return 0, false
	}
	idText, d, ok := strings.Cut(rest, ":")
	if !ok || d != dest {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	return id, err == nil
}

// titleSeverity finds the severity in a root's title ("🔴 P1 · #12 …").
var titleSeverity = regexp.MustCompile(`\b(P[0-3]) · #[0-9]+`)

func severityIn(s string) string {
	if m := titleSeverity.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// SlackRoot reads a Slack root posted for dest.
func SlackRoot(m slackstandin.Message, dest string) Root {
	r := Root{Status: NoStatus, Severity: severityIn(m.Text)}
	r.Incident, r.Known = MarkerIncident(SlackMarker(m), dest)
	for _, t := range slackTexts(m) {
		if rest, ok := strings.CutPrefix(t, "*Status*\n"); ok {
			r.Status = rest
			break
		}
	}
	return r
}

// SlackMarker is the marker of a Slack root: its metadata's, else the one
// its text carries.
func SlackMarker(m slackstandin.Message) string {
	if s, ok := m.Metadata.EventPayload["marker"].(string); ok {
		return s
	}
	if i := strings.Index(m.Text, "chatops:incident:"); i >= 0 {
		return strings.Fields(m.Text[i:])[0]
	}
	return ""
}

// slackTexts are every "text" string of a message's blocks and
// attachments.
func slackTexts(m slackstandin.Message) []string {
	var all []string
	for _, raw := range []json.RawMessage{m.Blocks, m.Attachments} {
		var v any
		if len(raw) > 0 && json.Unmarshal(raw, &v) == nil {
			texts(v, &all)
		}
	}
	return all
}

// texts collects every "text" string in a Block Kit JSON value.
func texts(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "text" {
				*out = append(*out, s)
				continue
			}
			texts(e, out)
		}
	case []any:
		for _, e := range x {
			texts(e, out)
		}
	}
}

type discordEmbed struct {
	Title  string `json:"title"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Fields []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
}

// DiscordRoot reads a Discord root posted for dest: the marker is in an
// embed's footer, the Status in its fields, the severity in its title.
func DiscordRoot(m discordstandin.Message, dest string) Root {
	r := Root{Status: NoStatus}
	var embeds []discordEmbed
	_ = json.Unmarshal(m.Embeds, &embeds)
	for _, e := range embeds {
		if e.Footer != nil {
			for _, line := range strings.Split(e.Footer.Text, "\n") {
				if id, ok := MarkerIncident(line, dest); ok {
					r.Incident, r.Known = id, true
				}
			}
		}
		for _, f := range e.Fields {
			if f.Name == "Status" {
				r.Status = f.Value
			}
		}
		if s := severityIn(e.Title); s != "" {
			r.Severity = s
		}
	}
	return r
}

// replyBullet starts each line a reply lists (a timeline event's detail,
// a runbook step).
const replyBullet = "• "

// SlackReplyLines are the lines a Slack reply lists, from its blocks
// (its text is a one-line summary).
func SlackReplyLines(m slackstandin.Message) []string {
	var lines []string
	for _, t := range slackTexts(m) {
		lines = append(lines, bullets(t)...)
	}
	return lines
}

// DiscordReplyLines are the lines a Discord reply lists.
func DiscordReplyLines(m discordstandin.Message) []string { return bullets(m.Content) }

func bullets(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), replyBullet); ok {
			out = append(out, rest)
		}
	}
	return out
}
