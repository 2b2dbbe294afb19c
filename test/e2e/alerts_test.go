package e2e

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// alertsAMConfig is Alertmanager for TestAlerts: notifications go nowhere
// (the bot only reads its API), and a ServiceDown inhibits the warnings of
// the same service.
const alertsAMConfig = `route:
  receiver: nowhere
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nowhere
inhibit_rules:
  - source_matchers: [alertname="ServiceDown"]
    target_matchers: [severity="warning"]
    equal: [service]
`

// TestAlerts: `/ops alerts`, typed on Slack and on Discord, is answered by
// the chatops binary from a real Alertmanager's API v2: alerts grouped by
// alertname and service, most urgent first, with a silenced group (a
// silence made in Alertmanager), an inhibited one (by an inhibit rule) and
// hostile label values; a Silence button for each unmuted group with plain
// names. A viewer's click on it is refused; a member's creates the narrow
// silence at once in Alertmanager, with the group's matchers, and the next
// `/ops alerts` shows the group silenced. A stale click (the group
// silenced already) makes a second silence of the same matchers.
func TestAlerts(t *testing.T) {
	am := harness.StartAlertmanagerConfig(t, alertsAMConfig)
	api, err := alertmanager.NewAPI(am.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	at := func(d time.Duration) string { return harness.RFC3339(now.Add(-d)) }
	l := func(kv ...string) map[string]string {
		m := map[string]string{"namespace": opsNamespace}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	am.PostAlerts(t,
		harness.PostableAlert{Labels: l("alertname", "HighErrorRate", "service", "orders-service", "severity", "critical", "pod", "orders-1"), StartsAt: at(65 * time.Minute)},
		harness.PostableAlert{Labels: l("alertname", "HighErrorRate", "service", "orders-service", "severity", "critical", "pod", "orders-2"), StartsAt: at(20 * time.Minute)},
		harness.PostableAlert{Labels: l("alertname", "HighMemoryUsage", "service", "inventory-service", "severity", "warning"), StartsAt: at(3 * time.Hour)},
		harness.PostableAlert{Labels: l("alertname", "ServiceDown", "service", "gateway", "severity", "critical"), StartsAt: at(7 * time.Minute)},
		harness.PostableAlert{Labels: l("alertname", "HighLatency", "service", "gateway", "severity", "warning"), StartsAt: at(6 * time.Minute)},
		harness.PostableAlert{Labels: l("alertname", "Disk<!channel>`Full`", "service", "auth-service", "severity", "critical"), StartsAt: at(2 * time.Minute)},
		harness.PostableAlert{Labels: l("alertname", "CertExpiring", "service", "billing <@U0BOSS>\n```x```", "severity", "warning"), StartsAt: at(90 * time.Minute)},
	)
	ms, err := alertmanager.ParseMatchers("alertname=HighMemoryUsage,service=inventory-service")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateSilence(t.Context(), bot.Silence{Matchers: ms, StartsAt: now, EndsAt: now.Add(time.Hour), CreatedBy: "test", Comment: "known leak"}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "Alertmanager to list 8 alerts, one silenced and one inhibited", func() (bool, string) {
		list, total, err := api.FiringAlerts(t.Context(), "", 100)
		if err != nil {
			return false, err.Error()
		}
		silenced, inhibited := 0, 0
		for _, a := range list {
			if len(a.SilencedBy) > 0 {
				silenced++
			}
			if len(a.InhibitedBy) > 0 {
				inhibited++
			}
		}
		return total == 7 && silenced == 1 && inhibited == 1, fmt.Sprintf("%d alerts, %d silenced, %d inhibited", total, silenced, inhibited)
	})

	e := startAlertsBot(t, am)
	slack, discord := &slackSide{e: e}, &discordSide{e: e}
	wantButtons := []string{"chatops:silence:HighErrorRate:orders-service", "chatops:silence:ServiceDown:gateway"}
	c := commandCase{name: "alerts", text: "alerts", discord: dcmd("alerts")}

	var slackButtons []string
	t.Run("slack", func(t *testing.T) {
		d := slack.send(t, c)
		checkAlertsAnswer(t, d)
		slackButtons = actionIDs(d.golden)
		if !slices.Equal(slackButtons, wantButtons) {
			t.Errorf("Silence buttons %v, want %v", slackButtons, wantButtons)
		}
		checkGolden(t, "commands-slack-alerts.golden", normalizeAlerts(d.golden))
	})
	var discordOriginal discordstandin.Message
	t.Run("discord", func(t *testing.T) {
		d, m := discordAlerts(t, discord, c)
		checkAlertsAnswer(t, d)
		discordOriginal = m
		if got := m.CustomIDs(); !slices.Equal(got, wantButtons) {
			t.Errorf("Silence buttons %v, want %v", got, wantButtons)
		}
		checkGolden(t, "commands-discord-alerts.golden", normalizeAlerts(d.golden))
	})
	if len(slackButtons) != 2 || discordOriginal.ID == "" {
		t.Fatal("no Silence buttons to click")
	}

	slackClick := func(who chatPerson, button string) string {
		card := cardView{slack: slackstandin.Message{Channel: slackOpsChannel, TS: strconv.FormatInt(time.Now().Unix(), 10) + ".000200"}}
		return deliverClick(t, e, (&slackApprovals{e: e}).clickRequest(t, who, card, button))
	}
	discordClick := func(who chatPerson, button string) string {
		return deliverClick(t, e, (&discordApprovals{e: e}).clickRequest(t, who, cardView{discord: discordOriginal}, button))
	}
	for _, p := range []struct {
		name   string
		click  func(chatPerson, string) string
		button string
		alert  string
		svc    string
	}{
		{"slack", slackClick, wantButtons[0], "HighErrorRate", "orders-service"},
		{"discord", discordClick, wantButtons[1], "ServiceDown", "gateway"},
	} {
		t.Run(p.name+"/viewer-click-refused", func(t *testing.T) {
			before := len(listSilences(t, am))
			if ans := p.click(vic, p.button); !strings.Contains(ans, "silence needs the member role; you are viewer") {
				t.Errorf("vic's click was answered %q, want a refusal", ans)
			}
			time.Sleep(settle)
			if n := len(listSilences(t, am)); n != before {
				t.Errorf("%d silences after vic's click, want %d", n, before)
			}
		})
		t.Run(p.name+"/member-click-silences", func(t *testing.T) {
			before := listSilences(t, am)
			ans := p.click(meg, p.button)
			want := fmt.Sprintf(`silence [0-9a-f-]{36}: \{alertname="%s",service="%s"\}`, p.alert, p.svc)
			if !regexp.MustCompile(want).MatchString(ans) {
				t.Errorf("meg's click was answered %q, want the silence made at once", ans)
			}
			s := newSilence(t, before, listSilences(t, am))
			if got := matcherText(s.policyMatchers()); got != fmt.Sprintf(`alertname=%q,service=%q`, p.alert, p.svc) {
				t.Errorf("the silence matches %s", got)
			}
			if s.Status.State != "active" || s.Comment != bot.SilenceButtonReason || !strings.Contains(s.CreatedBy, "meg") {
				t.Errorf("the silence: %+v", s)
			}
			if d := s.EndsAt.Sub(s.StartsAt); d < 59*time.Minute || d > 61*time.Minute {
				t.Errorf("the silence lasts %s, want 1h", d)
			}
		})
	}

	// The next /ops alerts shows both groups silenced and offers no
	// button for them.
	t.Run("slack/after-silence", func(t *testing.T) {
		var d delivery
		harness.Eventually(t, "/ops alerts to show the clicked groups silenced", func() (bool, string) {
			d = slack.send(t, commandCase{name: "alerts-after-silence", text: "alerts"})
			ok := regexp.MustCompile(`HighErrorRate +orders-service +2 +.* 2 silenced by`).MatchString(d.text) &&
				regexp.MustCompile(`ServiceDown +gateway +1 +.* 1 silenced by`).MatchString(d.text)
			return ok, d.text
		})
		if got := actionIDs(d.golden); len(got) != 0 {
			t.Errorf("buttons %v for groups that are all muted", got)
		}
		checkGolden(t, "commands-slack-alerts-after-silence.golden", normalizeAlerts(d.golden))
	})

	// A click on an old answer's button, its group silenced since, makes
	// the silence it names all the same: a second one, said plainly.
	t.Run("slack/stale-click", func(t *testing.T) {
		before := listSilences(t, am)
		if ans := slackClick(meg, wantButtons[0]); !strings.Contains(ans, `{alertname="HighErrorRate",service="orders-service"}`) {
			t.Errorf("the stale click was answered %q", ans)
		}
		newSilence(t, before, listSilences(t, am))
	})

	t.Run("filters", func(t *testing.T) {
		d := slack.send(t, commandCase{name: "alerts-filter", text: "alerts --service gateway --severity P2"})
		if !strings.Contains(d.text, "1 alert in 1 group for gateway at P2") || !strings.Contains(d.text, "HighLatency") || regexp.MustCompile(`ServiceDown +gateway`).MatchString(d.text) {
			t.Errorf("filtered answer:\n%s", d.text)
		}
		d = slack.send(t, commandCase{name: "alerts-bad-filter", text: "alerts --service 'gateway,alertname=~.+'"})
		if !d.private || !strings.Contains(d.text, "is not a service name") {
			t.Errorf("bad --service was answered (private %v):\n%s", d.private, d.text)
		}
	})
}

// checkAlertsAnswer checks what every alerts answer here must say.
func checkAlertsAnswer(t *testing.T, d delivery) {
	t.Helper()
	if d.shape != "" {
		t.Errorf("delivery: %s", d.shape)
	}
	if d.private {
		t.Error("the answer is private; want it in the channel")
	}
	for _, w := range []string{
		`7 alerts in 6 groups: 5 unmuted, 2 silenced or inhibited`,
		`HighMemoryUsage +inventory-service +1 +.* 1 silenced by [0-9a-f]{8}`,
		`HighLatency +gateway +1 +.* 1 inhibited by ServiceDown`,
		`HighErrorRate +orders-service +2 +\d\d-\d\d \d\d:\d\d · 1h05m +2 firing`,
		`2 groups without a Silence button`,
	} {
		if !regexp.MustCompile(w).MatchString(d.text) {
			t.Errorf("the answer does not match %s:\n%s", w, d.text)
		}
	}
	for _, bad := range []string{"<!channel>", "<@U0BOSS>"} {
		if strings.Contains(d.text, bad) && !strings.Contains(d.text, "Disk") {
			t.Errorf("%s reached chat", bad)
		}
	}
}

// discordAlerts types c on Discord and returns what was delivered and
// the answer message, which carries the buttons (the deferred response,
// edited).
func discordAlerts(t *testing.T, s *discordSide, c commandCase) (delivery, discordstandin.Message) {
	t.Helper()
	r := s.request(discordOpsChannel, c.discord, time.Now())
	ack := s.accept(t, r)
	ix, ok := s.e.cfg.Discord.Interaction(r.id)
	if !ok || ix.Original == nil || ix.Original.Edits == 0 || len(ix.Followups) != 0 {
		t.Fatalf("interaction %s: want the deferred response edited with the answer, got %+v", r.id, ix)
	}
	m := *ix.Original
	golden := map[string]any{
		"command": fmt.Sprintf("%s (in %s)", c.discord, discordOpsChannel),
		"ack":     ack,
		"original": map[string]any{
			"ephemeral": m.Ephemeral(), "content": m.Content, "edits": m.Edits,
			"embeds": decodeJSON(t, m.Embeds), "components": decodeJSON(t, m.Components),
		},
	}
	if m.ChannelID == "" {
		m.ChannelID = discordOpsChannel
	}
	return delivery{golden: golden, text: discordText(m), private: m.Ephemeral()}, m
}

// actionIDs lists the action_id values of a Slack delivery's golden.
func actionIDs(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				if s, ok := x[k].(string); ok && k == "action_id" {
					out = append(out, s)
				} else {
					walk(x[k])
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func newSilence(t *testing.T, before, after []amSilence) amSilence {
	t.Helper()
	var made []amSilence
	for _, s := range after {
		if !slices.ContainsFunc(before, func(b amSilence) bool { return b.ID == s.ID }) {
			made = append(made, s)
		}
	}
	if len(made) != 1 {
		t.Fatalf("%d new silences in Alertmanager, want 1: %+v", len(made), made)
	}
	return made[0]
}

var (
	alertsSince   = regexp.MustCompile(`\d\d-\d\d \d\d:\d\d · (\d+h\d\dm|\d+[sm])`)
	shortSilence  = regexp.MustCompile(`silenced by [0-9a-f]{8}`)
	responseToken = regexp.MustCompile(`(hooks|webhooks)/[^"\s]+`)
)

// normalizeAlerts makes an alerts answer stable from run to run: start
// times and ages, silence ids.
func normalizeAlerts(v any) any {
	switch x := v.(type) {
	case string:
		s := alertsSince.ReplaceAllStringFunc(x, func(m string) string { return "<time> · " + m[strings.Index(m, "· ")+len("· "):] })
		s = shortSilence.ReplaceAllString(s, "silenced by <id>")
		return responseToken.ReplaceAllString(s, "$1/<token>")
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalizeAlerts(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeAlerts(e)
		}
		return out
	}
	return v
}

// startAlertsBot runs the binary with approvals.yaml's people and
// channels, Alertmanager at am, and no cluster.
func startAlertsBot(t *testing.T, am *harness.Alertmanager) *commandsEnv {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &commandsEnv{am: am, key: key, secret: "slack-signing-" + harness.RandHex(16)}
	e.cfg = newBotConfig(t, harness.SQLite)
	e.cfg.ConfigPath = harness.RepoPath(t, "test", "e2e", "testdata", "approvals.yaml")
	e.cfg.Env = []string{
		"CHATOPS_SLACK_SIGNING_SECRET=" + e.secret,
		"CHATOPS_DISCORD_APP_ID=" + discordApp,
		"CHATOPS_DISCORD_PUBLIC_KEY=" + hex.EncodeToString(pub),
		"CHATOPS_ALERTMANAGER_URL=" + am.BaseURL,
	}
	e.bot = harness.StartBot(t, e.cfg)
	e.cfg.Discord.SetChannelGuild(discordGuild, discordOpsChannel, discordOpsTwo)
	for _, p := range []chatPerson{ana, bob, meg, vic} {
		e.cfg.Discord.SetMember(discordGuild, p.discordID, p.discordRoles...)
	}
	return e
}
