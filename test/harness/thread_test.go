package harness

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

func TestMarkerIncident(t *testing.T) {
	for _, tc := range []struct {
		marker, dest string
		want         int64
		ok           bool
	}{
		{"chatops:incident:12:slack-incidents", "slack-incidents", 12, true},
		{" chatops:incident:12:slack-incidents\n", "slack-incidents", 12, true},
		{"chatops:incident:12:slack-alerts", "slack-incidents", 0, false},
		{"chatops:incident:x:slack-incidents", "slack-incidents", 0, false},
		{"incident:12:slack-incidents", "slack-incidents", 0, false},
	} {
		id, ok := MarkerIncident(tc.marker, tc.dest)
		if id != tc.want || ok != tc.ok {
			t.Errorf("MarkerIncident(%q, %q) = %d, %v; want %d, %v", tc.marker, tc.dest, id, ok, tc.want, tc.ok)
		}
	}
}

// The roots and replies as the bot renders them (its goldens' shape).
func TestReadRootsAndReplies(t *testing.T) {
	sl := slackstandin.Message{
		Text:        "🔴 P1 · #7 ServiceDown · gateway · Firing: 2 firing, 1 resolved\nchatops:incident:7:s",
		Attachments: json.RawMessage(`[{"blocks":[{"type":"section","fields":[{"type":"mrkdwn","text":"*Status*\nFiring: 2 firing, 1 resolved"}]}]}]`),
	}
	if got, want := SlackRoot(sl, "s"), (Root{Incident: 7, Known: true, Status: "Firing: 2 firing, 1 resolved", Severity: "P1"}); got != want {
		t.Errorf("SlackRoot = %+v, want %+v", got, want)
	}
	dc := discordstandin.Message{Embeds: json.RawMessage(`[{"title":"🟢 P2 · #9 HighLatency","footer":{"text":"chatops:incident:9:d"},"fields":[{"name":"Status","value":"Resolved: 0 firing, 3 resolved"}]}]`)}
	if got, want := DiscordRoot(dc, "d"), (Root{Incident: 9, Known: true, Status: RootStatus("resolved", 0, 3), Severity: "P2"}); got != want {
		t.Errorf("DiscordRoot = %+v, want %+v", got, want)
	}
	if got := DiscordRoot(dc, "other"); got.Known {
		t.Errorf("DiscordRoot for another destination = %+v, want unknown", got)
	}
	reply := slackstandin.Message{ThreadTS: "1.1", Blocks: json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"*🔴 Not acknowledged in time*\n• not acknowledged 30m after opening (P1 deadline 15m): escalating to level 2\n• HighLatency pod=p-1 firing (P1)"}}]`)}
	want := []string{"not acknowledged 30m after opening (P1 deadline 15m): escalating to level 2", "HighLatency pod=p-1 firing (P1)"}
	if got := SlackReplyLines(reply); !slices.Equal(got, want) {
		t.Errorf("SlackReplyLines = %q, want %q", got, want)
	}
	if got := DiscordReplyLines(discordstandin.Message{Content: "<@&1> **🔴 Not acknowledged in time**\n• " + want[0]}); !slices.Equal(got, want[:1]) {
		t.Errorf("DiscordReplyLines = %q, want %q", got, want[:1])
	}
}
