package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// Channels of deploy/kubernetes/base/bakery-ia.yaml.
const (
	slackIncidents   = "C0INCIDENTS"
	slackAlerts      = "C0ALERTS"
	discordIncidents = "100000000000000001"
	discordOnCall    = "100000000000000002" // its mention, and escalation level 1
)

// TestAlertmanagerToChatThreads: a real Alertmanager notifies the bot, and
// the incident appears as one thread in Slack and one in Discord (the
// stand-ins of their APIs): the root is posted once, edited in place when
// the alert resolves, and the thread gets a reply saying so.
func TestAlertmanagerToChatThreads(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind harness.StoreKind) {
		cfg := newBotConfig(t, kind)
		bot := harness.StartBot(t, cfg)
		am := harness.StartAlertmanager(t, bot.WebhookURL(), cfg.WebhookToken)

		down := harness.PostableAlert{
			Labels: map[string]string{"alertname": "ServiceDown", "service": "gateway", "severity": "critical",
				"namespace": "bakery-ia", "job": "gateway"},
			Annotations: map[string]string{"summary": "gateway has been down for more than 2 minutes",
				"description": "No successful requests for gateway in the last 2 minutes."},
			StartsAt: harness.RFC3339(time.Now().Add(-time.Minute)),
		}
		am.PostAlerts(t, down)
		inc := bot.WaitForIncident(t, "the gateway incident", harness.GroupIs("ServiceDown", "gateway"), func(i harness.Incident) bool { return i.Status == "open" })
		marker := fmt.Sprintf("chatops:incident:%d:", inc.ID)

		slackRoot := waitSlackRoot(t, cfg.Slack, slackIncidents, marker, "P0")
		discordRoot, thread := waitDiscordRoot(t, cfg.Discord, discordIncidents, marker, "P0")

		// A P0 nobody acknowledged pages the destination's first escalation
		// level (the on-call role) at once, in its thread, while it is open.
		harness.Eventually(t, "the unacknowledged P0 paged in its Discord thread", func() (bool, string) {
			for _, m := range cfg.Discord.Messages(thread) {
				if strings.Contains(m.Content, "Not acknowledged in time") {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d replies, none a reminder", len(cfg.Discord.Messages(thread)))
		})

		resolved := down
		resolved.EndsAt = harness.RFC3339(time.Now())
		am.PostAlerts(t, resolved)

		harness.Eventually(t, "the Slack root edited to resolved and a reply in its thread", func() (bool, string) {
			root := findSlack(cfg.Slack.Roots(slackIncidents), slackRoot.TS)
			replies := cfg.Slack.Replies(slackIncidents, slackRoot.TS)
			ok := root != nil && root.Edits > 0 && strings.Contains(slackContent(*root), "Resolved") &&
				len(replies) > 0 && strings.Contains(slackContent(replies[len(replies)-1]), "Resolved after")
			return ok, fmt.Sprintf("root=%+v replies=%d", root, len(replies))
		})
		harness.Eventually(t, "the Discord root edited to resolved and a reply in its thread", func() (bool, string) {
			root := findDiscord(cfg.Discord.Messages(discordIncidents), discordRoot.ID)
			replies := cfg.Discord.Messages(thread)
			ok := root != nil && root.Edits > 0 && strings.Contains(string(root.Embeds), "Resolved") &&
				len(replies) > 0 && strings.Contains(string(replies[len(replies)-1].Embeds)+replies[len(replies)-1].Content, "Resolved after")
			return ok, fmt.Sprintf("root edits=%v replies=%d", root != nil && root.Edits > 0, len(replies))
		})

		// One thread per incident per channel, whatever Alertmanager repeated.
		if n := countSlackRoots(cfg.Slack.Roots(slackIncidents), marker); n != 1 {
			t.Errorf("%d Slack roots for incident %d, want 1", n, inc.ID)
		}
		if n := countDiscordRoots(cfg.Discord.Messages(discordIncidents), marker); n != 1 {
			t.Errorf("%d Discord roots for incident %d, want 1", n, inc.ID)
		}
		// The P0 root pinged the on-call role only; replies ping no one but
		// a reminder, which pages the destination's first escalation level
		// (the on-call role) at once for a P0 nobody acknowledged.
		reminded := false
		for _, m := range cfg.Discord.Messages(thread) {
			reminder := strings.Contains(m.Content, "Not acknowledged in time")
			reminded = reminded || reminder
			onCallOnly := len(m.MentionRoles) == 1 && m.MentionRoles[0] == discordOnCall
			if m.MentionEveryone || len(m.MentionRoles) > 0 && !(reminder && onCallOnly) {
				t.Errorf("a thread reply pinged someone: %+v", m)
			}
		}
		if !reminded {
			t.Error("the unacknowledged P0 was not paged at once in its thread")
		}
		// A P2 goes to the alerts channel only.
		if roots := cfg.Slack.Roots(slackAlerts); countSlackRoots(roots, marker) != 0 {
			t.Errorf("the P0 incident was also posted to %s", slackAlerts)
		}
	})
}

func waitSlackRoot(t *testing.T, s *slackstandin.Server, channel, marker, severity string) slackstandin.Message {
	t.Helper()
	var root slackstandin.Message
	harness.Eventually(t, "a Slack root in "+channel, func() (bool, string) {
		for _, m := range s.Roots(channel) {
			if strings.HasPrefix(slackMarker(m), marker) {
				root = m
				return strings.Contains(slackContent(m), severity), slackContent(m)
			}
		}
		return false, fmt.Sprintf("%d roots, none with %s", len(s.Roots(channel)), marker)
	})
	return root
}

func waitDiscordRoot(t *testing.T, s *discordstandin.Server, channel, marker, severity string) (discordstandin.Message, string) {
	t.Helper()
	var (
		root   discordstandin.Message
		thread string
	)
	harness.Eventually(t, "a Discord root and its thread in "+channel, func() (bool, string) {
		for _, m := range s.Messages(channel) {
			if strings.Contains(string(m.Embeds), marker) {
				root = m
				th, ok := s.Thread(m.ID)
				thread = th.ID
				return ok && strings.Contains(string(m.Embeds), severity), string(m.Embeds)
			}
		}
		return false, fmt.Sprintf("%d messages, none with %s", len(s.Messages(channel)), marker)
	})
	return root, thread
}

func slackMarker(m slackstandin.Message) string {
	if v, ok := m.Metadata.EventPayload["marker"].(string); ok {
		return v
	}
	return ""
}

func slackContent(m slackstandin.Message) string {
	return m.Text + string(m.Blocks) + string(m.Attachments)
}

func findSlack(ms []slackstandin.Message, ts string) *slackstandin.Message {
	for i := range ms {
		if ms[i].TS == ts {
			return &ms[i]
		}
	}
	return nil
}

func findDiscord(ms []discordstandin.Message, id string) *discordstandin.Message {
	for i := range ms {
		if ms[i].ID == id {
			return &ms[i]
		}
	}
	return nil
}

func countSlackRoots(ms []slackstandin.Message, marker string) int {
	n := 0
	for _, m := range ms {
		if strings.HasPrefix(slackMarker(m), marker) {
			n++
		}
	}
	return n
}

func countDiscordRoots(ms []discordstandin.Message, marker string) int {
	n := 0
	for _, m := range ms {
		if strings.Contains(string(m.Embeds), marker) {
			n++
		}
	}
	return n
}
