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

// TestChatFaultsConverge runs incidents through both platforms while their
// APIs misbehave: 429 with Retry-After, 500s, a slow answer, a post that
// went through but whose answer was lost, a thread that failed to start;
// and with the platforms' rate limits enforced. Every incident must reach
// its final state in its thread, no root may be posted twice, and the number
// of calls must stay within a small margin of the work.
func TestChatFaultsConverge(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind harness.StoreKind) {
		cfg := newBotConfig(t, kind)
		sl, dc := cfg.Slack, cfg.Discord
		sl.SetRateLimit(1) // Slack: about one post a second per channel
		sl.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.RateLimit{RetryAfter: time.Second})
		sl.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.ServerError{})
		sl.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.DropAfterProcessing{})
		sl.FailNext(slackstandin.MethodUpdate, 1, slackstandin.Slow{Delay: 2 * time.Second})
		sl.FailNext(slackstandin.MethodUpdate, 1, slackstandin.ServerError{})
		dc.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.RateLimit{RetryAfter: time.Second})
		dc.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.DropAfterProcessing{})
		dc.FailNext(discordstandin.RouteStartThread, 1, discordstandin.ServerError{})
		dc.FailNext(discordstandin.RouteEditMessage, 1, discordstandin.ServerError{})
		// Each injected fault may cost up to two more calls (the retry, and
		// for a root whose thread was never started, the reply that finds
		// the thread missing); a runaway retry loop costs far more.
		const injectedSlackPosts, injectedDiscordCreates = 3, 3

		bot := harness.StartBot(t, cfg)
		run := harness.RandHex(3)
		type svc struct {
			alertname, service, severity string
			resolve                      bool
		}
		// gateway and auth-service are P0, orders-service P1 (both platforms'
		// incident channels); the memory alerts are P2 (Slack's alerts channel).
		svcs := []svc{
			{"ServiceDown", "gateway", "critical", true},
			{"ServiceDown", "orders-service", "critical", true},
			{"ServiceDown", "auth-service", "critical", false},
			{"HighMemoryUsage", "forecasting-service", "warning", true},
			{"HighMemoryUsage", "inventory-service", "warning", false},
			{"HighMemoryUsage", "pos-service", "warning", false},
		}
		started := time.Now().Add(-time.Minute)
		msg := func(s svc, status string) []byte {
			labels := map[string]string{"alertname": s.alertname, "service": s.service, "severity": s.severity, "run": run}
			a := harness.FiringAlert(labels, map[string]string{"summary": s.service + " in trouble"}, started, fmt.Sprintf("%s-%s", run, s.service))
			if status == "resolved" {
				a = a.ResolvedAt(time.Now())
			}
			return harness.NewWebhook("chatops", map[string]string{"alertname": s.alertname, "service": s.service}, a).JSON()
		}
		ids := map[string]int64{}
		for _, s := range svcs {
			ids[s.service] = bot.MustPostWebhook(t, msg(s, "firing"))
			bot.MustPostWebhook(t, msg(s, "firing")) // Alertmanager's duplicate: changes nothing
		}
		critical, warning := 3, 3
		harness.EventuallyWithin(t, 90*time.Second, "every incident's root in every channel", func() (bool, string) {
			a, b, c := len(sl.Roots(slackIncidents)), len(sl.Roots(slackAlerts)), len(dc.Messages(discordIncidents))
			return a >= critical && b >= warning && c >= critical, fmt.Sprintf("slack incidents=%d alerts=%d, discord=%d", a, b, c)
		})
		for _, s := range svcs {
			if s.resolve {
				bot.MustPostWebhook(t, msg(s, "resolved"))
			}
		}

		harness.EventuallyWithin(t, 90*time.Second, "every thread in its final state and an empty outbox", func() (bool, string) {
			var pending []string
			for _, s := range svcs {
				marker := fmt.Sprintf("chatops:incident:%d:", ids[s.service])
				want := "Firing"
				if s.resolve {
					want = "Resolved"
				}
				slackCh := slackAlerts
				if s.severity == "critical" {
					slackCh = slackIncidents
					if st := discordState(dc, marker, s.resolve); st != "" {
						pending = append(pending, s.service+" discord: "+st)
					}
				}
				if st := slackState(sl, slackCh, marker, want, s.resolve); st != "" {
					pending = append(pending, s.service+" slack: "+st)
				}
			}
			if m, err := bot.Metrics(t.Context()); err != nil {
				pending = append(pending, err.Error())
			} else if depth, ok := m.Sum("chatops_outbox_depth"); !ok || depth != 0 {
				pending = append(pending, fmt.Sprintf("outbox depth %v (reported: %v)", depth, ok))
			}
			return len(pending) == 0, strings.Join(pending, "\n")
		})

		// Work: every message now in the channels and threads (roots, each
		// thread's runbook, resolve replies, the P0 reminders, and the
		// outage incident the three critical services open) was one
		// successful post. Faults may each cost up to two more calls; the
		// platforms' own 429s (for exceeding their rate) must not happen at
		// all beyond those injected.
		slackPosted := len(sl.Messages(slackIncidents)) + len(sl.Messages(slackAlerts))
		if got, max := sl.Calls(slackstandin.MethodPostMessage), slackPosted+2*injectedSlackPosts; got > max {
			t.Errorf("Slack chat.postMessage calls = %d for %d messages, want at most %d", got, slackPosted, max)
		}
		discordPosted := len(dc.Messages(discordIncidents))
		for thread := range dc.Threads() {
			discordPosted += len(dc.Messages(thread))
		}
		if got, max := dc.Calls(discordstandin.RouteCreateMessage), discordPosted+2*injectedDiscordCreates; got > max {
			t.Errorf("Discord create-message calls = %d for %d messages, want at most %d (all calls: %v)", got, discordPosted, max, dc.AllCalls())
		}
		for _, ch := range []string{slackIncidents, slackAlerts} {
			if r := sl.MaxPostRate(ch); r > 1 {
				t.Errorf("Slack channel %s saw %.2f posts/s, over its limit of 1/s", ch, r)
			}
		}
	})
}

// slackState is "" when the incident has one root in channel showing want
// and, if it resolved, a reply saying so; otherwise what is missing.
func slackState(s *slackstandin.Server, channel, marker, want string, resolved bool) string {
	var roots []slackstandin.Message
	for _, m := range s.Roots(channel) {
		if strings.HasPrefix(slackMarker(m), marker) {
			roots = append(roots, m)
		}
	}
	if len(roots) != 1 {
		return fmt.Sprintf("%d roots", len(roots))
	}
	if !strings.Contains(slackContent(roots[0]), want) {
		return "root does not show " + want
	}
	if resolved {
		replies := s.Replies(channel, roots[0].TS)
		if len(replies) == 0 || !strings.Contains(slackContent(replies[len(replies)-1]), "Resolved after") {
			return fmt.Sprintf("%d replies, the last not saying Resolved", len(replies))
		}
	}
	return ""
}

func discordState(s *discordstandin.Server, marker string, resolved bool) string {
	var roots []discordstandin.Message
	for _, m := range s.Messages(discordIncidents) {
		if strings.Contains(string(m.Embeds), marker) {
			roots = append(roots, m)
		}
	}
	if len(roots) != 1 {
		return fmt.Sprintf("%d roots", len(roots))
	}
	want := "Firing"
	if resolved {
		want = "Resolved"
	}
	if !strings.Contains(string(roots[0].Embeds), want) {
		return "root does not show " + want
	}
	if resolved {
		replies := s.Messages(roots[0].ID) // the thread's id is the root's
		if len(replies) == 0 || !strings.Contains(string(replies[len(replies)-1].Embeds)+replies[len(replies)-1].Content, "Resolved after") {
			return fmt.Sprintf("%d thread replies, the last not saying Resolved", len(replies))
		}
	}
	return ""
}
