package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// setupViaAM starts what -via-alertmanager needs: the Slack stand-in with
// no limit behind the recording front, the bot (Slack through the front;
// Discord too with -discord, also unlimited) and a real Alertmanager whose
// one receiver notifies both the bot and its own slack_configs.
func (b *bench) setupViaAM(ctx context.Context) error {
	return b.prog.Run(func() error {
		t := b.prog
		cfg, err := b.prepare(ctx)
		if err != nil {
			return err
		}
		b.slack = slackstandin.New()
		t.Cleanup(b.slack.Close)
		b.amToken = "xoxb-alertmanager-" + harness.RandHex(8)
		b.front = newFront(b.slack.URL(), b.amToken)
		t.Cleanup(b.front.Close)
		// The bot's Slack client goes through the front: the harness's own
		// Slack wiring would point it at the stand-in directly.
		cfg.Env = append(cfg.Env, "CHATOPS_SLACK_BOT_TOKEN=xoxb-chatops-"+harness.RandHex(8), "CHATOPS_SLACK_API_URL="+b.front.URL())
		if b.cfg.discord {
			b.discord = discordstandin.New()
			t.Cleanup(b.discord.Close)
			cfg.Discord = b.discord
		}
		if err := b.launch(cfg, botConfigYAML(b.cfg.discord)); err != nil {
			return err
		}
		b.am = harness.StartAlertmanagerConfig(t, amConfigYAML(b.bot.WebhookURL(), cfg.WebhookToken, b.front.URL()+"chat.postMessage", b.amToken))
		logf("alertmanager pid %d on %s", b.am.Process.Pid(), b.am.BaseURL)
		return nil
	})
}

// amConfigYAML is Alertmanager's configuration: issue 16's route, and one
// receiver with both integrations, so both are sent the same notification
// at the same moment. Alertmanager's Slack message is its default one
// (title "[FIRING:n] alertname service (...)"); send_resolved is on for
// Slack too (its default is off) so both receivers hear of the resolution.
func amConfigYAML(webhookURL, webhookToken, slackURL, slackToken string) string {
	return fmt.Sprintf(`# written by test/bench/storm -via-alertmanager
global:
  resolve_timeout: %s
route:
  receiver: %s
  group_by: ['alertname', 'service']
  group_wait: %s
  group_interval: %s
  repeat_interval: 24h
receivers:
  - name: %s
    webhook_configs:
      - url: %s
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
    slack_configs:
      - api_url: %s
        channel: %s
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, amResolveTimeout, amReceiver, amGroupWait, amGroupInterval, amReceiver,
		strconv.Quote(webhookURL), strconv.Quote(webhookToken), strconv.Quote(slackURL), amChannel, strconv.Quote(slackToken))
}

// viaAlertmanager is the -via-alertmanager benchmark: the storm, a change
// to every group, then every alert resolved, each phase posted to
// Alertmanager and waited for until chatops' threads and Alertmanager's own
// Slack messages show its final state.
func (b *bench) viaAlertmanager(ctx context.Context) {
	cfg := b.cfg
	res := &AMResult{}
	b.res.AM = res
	start := time.Now()
	storm := b.amPhase(ctx, "storm", func(ctx context.Context, ph *AMPhase) time.Time {
		return b.postStorm(ctx, ph)
	}, func(g *group) (string, int) { return "Firing", len(g.alerts) })
	res.StormStart = start
	res.Roots, res.RootSummary = b.rootTimes(start)
	b.res.Bot.PeakRSSStormMiB = b.bot.Process.PeakRSSMiB()
	if !storm.Converged {
		b.note("change and resolve phases skipped: the storm did not converge")
		res.Total = b.callsByCaller(start, time.Now())
		return
	}
	phases := []struct {
		name  string
		post  func(now time.Time) []harness.PostableAlert
		final func(g *group) (string, int)
	}{
		{"change", func(now time.Time) []harness.PostableAlert {
			var out []harness.PostableAlert
			for _, g := range b.groups {
				for range cfg.changeAlerts {
					g.addAlert(b.seq, now)
					b.seq++
					out = append(out, g.alerts[len(g.alerts)-1].postable(time.Time{}))
				}
			}
			return out
		}, func(g *group) (string, int) { return "Firing", len(g.alerts) }},
		{"resolve", func(now time.Time) []harness.PostableAlert {
			var out []harness.PostableAlert
			for _, g := range b.groups {
				for _, a := range g.alerts {
					out = append(out, a.postable(now))
				}
			}
			return out
		}, func(g *group) (string, int) { return "Resolved", len(g.alerts) }},
	}
	for _, p := range phases {
		if p.name == "change" && cfg.changeAlerts == 0 {
			continue
		}
		ph := b.amPhase(ctx, p.name, func(ctx context.Context, ph *AMPhase) time.Time {
			alerts := p.post(time.Now())
			b.postBatch(ctx, ph, alerts)
			return time.Now()
		}, p.final)
		if !ph.Converged {
			b.note("%s phase did not converge; later phases skipped", p.name)
			break
		}
	}
	res.Total = b.callsByCaller(start, time.Now())
}

// postStorm posts the storm's alerts on their schedule, each due alert
// firing from the moment it is posted, and returns when the last went.
func (b *bench) postStorm(ctx context.Context, ph *AMPhase) time.Time {
	cfg := b.cfg
	start := time.Now()
	next := 0
	tick := time.NewTicker(amPostEvery)
	defer tick.Stop()
	for next < cfg.alerts && ctx.Err() == nil {
		now := time.Now()
		var batch []harness.PostableAlert
		for ; next < cfg.alerts; next++ {
			due := start.Add(time.Duration(float64(cfg.storm) * float64(next) / float64(cfg.alerts)))
			if due.After(now) {
				break
			}
			ph.MaxLatenessS = max(ph.MaxLatenessS, now.Sub(due).Seconds())
			g := b.groups[groupOf(next, cfg.alerts, cfg.groups, cfg.order)]
			g.addAlert(b.seq, now)
			b.seq++
			batch = append(batch, g.alerts[len(g.alerts)-1].postable(time.Time{}))
		}
		if len(batch) > 0 {
			b.postBatch(ctx, ph, batch)
		}
		if next < cfg.alerts {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}
	return time.Now()
}

// postBatch posts alerts to Alertmanager in one request; a failure is
// counted (and fails the run), not retried: what Alertmanager did not take
// cannot converge, which the phase then reports.
func (b *bench) postBatch(ctx context.Context, ph *AMPhase, alerts []harness.PostableAlert) {
	ph.Posts++
	ph.AlertsPosted += len(alerts)
	if err := b.am.TryPostAlerts(ctx, alerts...); err != nil {
		ph.PostFailures++
		b.fail("%s: %d alerts not taken by Alertmanager: %v", ph.Name, len(alerts), err)
	}
}

// amPhase runs one phase: send posts its alerts and returns when the last
// went; then the phase waits until every group's incident and
// Alertmanager's last message for the group show final's status and
// count, and records what that cost.
func (b *bench) amPhase(ctx context.Context, name string, send func(context.Context, *AMPhase) time.Time, final func(*group) (string, int)) *AMPhase {
	cfg := b.cfg
	ph := &AMPhase{Name: name, Missing: map[string][]string{}}
	b.res.AM.Phases = append(b.res.AM.Phases, ph)
	before := b.counters(ctx)
	var beforeSnap snapshot
	if b.discord != nil {
		beforeSnap = b.snap()
	}
	begin := time.Now()
	logf("%s: posting to Alertmanager", name)
	last := send(ctx, ph)
	ph.SendS = last.Sub(begin).Seconds()
	logf("%s: %d alerts in %d posts (%d failed) in %.1f s", name, ph.AlertsPosted, ph.Posts, ph.PostFailures, ph.SendS)

	if !b.mapIncidents(ctx, last.Add(cfg.convergeTimeout)) {
		b.fail("%s: not every group has an incident within %s: %d of %d", name, cfg.convergeTimeout, len(b.incidents), cfg.groups)
	}
	wants := map[int64]want{}
	for g, id := range b.incidents {
		status, n := final(b.groups[g])
		w := want{group: g, status: status, firing: n}
		if status == "Resolved" {
			w.firing, w.resol = 0, n
		}
		wants[id] = w
	}
	amFinal := func() bool { return len(b.amNotConverged(final)) == 0 }
	conv, when := b.waitConverged(ctx, wants, last, cfg.convergeTimeout, name, "", amFinal)
	ph.Converged = conv.all
	ph.ConvergeS = conv.at.Sub(last).Seconds()
	ph.FinalS = map[string]float64{}
	for p, t := range when {
		ph.FinalS[p] = t.Sub(last).Seconds()
	}
	end := time.Now()
	if conv.all {
		_ = harness.Sleep(ctx, settle)
	}
	states := b.checkAll(wants)
	for p, st := range states {
		b.duplicateFailures(name, p, st)
	}
	ph.Duplicates = states["slack"].duplicates
	if !conv.all {
		ph.Missing = notConverged(states)
		if m := b.amNotConverged(final); len(m) > 0 {
			ph.Missing["alertmanager"] = clipList(m, 10)
		}
		b.fail("%s: not converged %s after the last post: outbox depth %v; %v", name, cfg.convergeTimeout, conv.depth, ph.Missing)
	}
	if name == "storm" {
		ph.BotStoreAgrees, ph.BotStoreProblems = b.checkBotStore(wants)
	}
	ph.Calls = b.callsByCaller(begin, time.Now())
	ph.Rates = b.rates("slack", begin, end, nil)
	ph.Counters = diffCounters(before, b.counters(ctx))
	if b.discord != nil {
		ph.Discord = calls("discord", beforeSnap, b.snap(), len(wants), false)
	}
	if n := ph.Counters["alertmanager failed notifications"]; n > 0 {
		b.fail("%s: Alertmanager counted %.0f failed notifications (alertmanager_notifications_failed_total): its log says why", name, n)
	}
	logf("%s: converged=%v %.1f s after the last post (chatops' Slack %s s, Alertmanager's receiver %s s); calls per incident: chatops %.2f, alertmanager %.2f",
		name, conv.all, ph.ConvergeS, secs(ph.FinalS, "slack"), secs(ph.FinalS, "alertmanager"), ph.Calls[byChatops].PerInc, ph.Calls[byAlertmanager].PerInc)
	return ph
}

// mapIncidents asks the bot for its incidents until every group has one,
// or until deadline; it matches them by the group labels Alertmanager
// groups by. A group with two incidents is a split.
func (b *bench) mapIncidents(ctx context.Context, deadline time.Time) bool {
	byPair := map[[2]string]int{}
	for _, g := range b.groups {
		byPair[[2]string{g.alertname, g.service}] = g.index
	}
	for {
		var out struct {
			Incidents []harness.Incident `json:"incidents"`
		}
		if err := b.bot.GetJSON(fmt.Sprintf("/v1/incidents?status=all&limit=%d", maxGroups), &out); err == nil {
			for _, inc := range out.Incidents {
				g, ok := byPair[[2]string{inc.GroupLabels["alertname"], inc.GroupLabels["service"]}]
				if !ok {
					continue
				}
				if prev, seen := b.incidents[g]; !seen {
					b.incidents[g] = inc.ID
					if at, err := time.Parse(time.RFC3339Nano, inc.OpenedAt); err == nil {
						b.groups[g].openedAt = at
					}
				} else if prev != inc.ID && !slices.Contains(b.splits[g], inc.ID) {
					b.splits[g] = append(b.splits[g], inc.ID)
					b.fail("group %s has more than one incident: %d and %d", b.groups[g].name, prev, inc.ID)
				}
			}
		}
		if len(b.incidents) == len(b.groups) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil || b.botExited() {
			return false
		}
		_ = harness.Sleep(ctx, pollEvery)
	}
}

// amTitle reads Alertmanager's default Slack title: "[FIRING:3]
// HighErrorRate gateway (...)" or "[RESOLVED] ...", the group labels' values
// in label-name order (alertname, service).
var amTitle = regexp.MustCompile(`^\[(FIRING:(\d+)|RESOLVED)\] (\S+) (\S+)`)

// amMessage is one of Alertmanager's Slack messages, read back.
type amMessage struct {
	group  int
	status string // "Firing" or "Resolved"
	count  int    // firing alerts; 0 when resolved
	at     time.Time
}

// amMessages reads Alertmanager's messages in its channel, in order;
// a message whose title names no group is left out.
func (b *bench) amMessages() []amMessage {
	byPair := map[[2]string]int{}
	for _, g := range b.groups {
		byPair[[2]string{g.alertname, g.service}] = g.index
	}
	var out []amMessage
	for _, m := range b.slack.Messages(amChannel) {
		var atts []struct {
			Title string `json:"title"`
		}
		if json.Unmarshal(m.Attachments, &atts) != nil || len(atts) == 0 {
			continue
		}
		sub := amTitle.FindStringSubmatch(atts[0].Title)
		if sub == nil {
			continue
		}
		g, ok := byPair[[2]string{sub[3], sub[4]}]
		if !ok {
			continue
		}
		msg := amMessage{group: g, status: "Resolved", at: m.PostedAt}
		if sub[2] != "" {
			msg.status = "Firing"
			msg.count, _ = strconv.Atoi(sub[2])
		}
		out = append(out, msg)
	}
	return out
}

// amNotConverged lists the groups whose last Alertmanager message does not
// show final's state yet.
func (b *bench) amNotConverged(final func(*group) (string, int)) []string {
	last := map[int]amMessage{}
	for _, m := range b.amMessages() {
		last[m.group] = m
	}
	var out []string
	for _, g := range b.groups {
		status, n := final(g)
		if status == "Resolved" {
			n = 0
		}
		m, ok := last[g.index]
		switch {
		case !ok:
			out = append(out, g.name+": no message")
		case m.status != status || m.count != n:
			out = append(out, fmt.Sprintf("%s: last message %s %d, want %s %d", g.name, m.status, m.count, status, n))
		}
	}
	return out
}

// rootTimes measures, for chatops' Slack roots and Alertmanager's first
// message of each group, the time from the storm's start against the
// rate-limit bound: the incidents ordered by their first notification
// (chatops' opened_at, when Alertmanager's first webhook for the group
// arrived), the k-th is due by that notification plus k roots at the
// channel's 1 post/s.
func (b *bench) rootTimes(start time.Time) ([]RootTiming, map[string]*RootSummary) {
	chatopsRoot := map[int64]time.Time{}
	for _, m := range b.slack.Roots(slackChannel) {
		if id, ok := harness.MarkerIncident(harness.SlackMarker(m), slackDest); ok {
			if t, seen := chatopsRoot[id]; !seen || m.PostedAt.Before(t) {
				chatopsRoot[id] = m.PostedAt
			}
		}
	}
	amFirst := map[int]time.Time{}
	for _, m := range b.amMessages() {
		if _, seen := amFirst[m.group]; !seen {
			amFirst[m.group] = m.at
		}
	}
	var order []*group
	for _, g := range b.groups {
		if !g.openedAt.IsZero() {
			order = append(order, g)
		}
	}
	slices.SortStableFunc(order, func(x, y *group) int { return x.openedAt.Compare(y.openedAt) })
	since := func(t time.Time) float64 {
		if t.IsZero() {
			return -1
		}
		return t.Sub(start).Seconds()
	}
	var roots []RootTiming
	for k, g := range order {
		id := b.incidents[g.index]
		r := RootTiming{K: k + 1, Incident: id, Group: g.alertname + " " + g.service,
			FirstNotificationS: since(g.openedAt),
			BoundS:             since(g.openedAt) + float64(k+1)/slackPostPerChannel,
			ChatopsRootS:       since(chatopsRoot[id]),
			AMRootS:            since(amFirst[g.index])}
		roots = append(roots, r)
	}
	sum := map[string]*RootSummary{
		byChatops:      summarize(roots, func(r RootTiming) float64 { return r.ChatopsRootS }),
		byAlertmanager: summarize(roots, func(r RootTiming) float64 { return r.AMRootS }),
	}
	return roots, sum
}

// summarize holds each root against its own bound and the last root
// against the last bound (the bounds grow with k, so the last is the
// largest).
func summarize(roots []RootTiming, at func(RootTiming) float64) *RootSummary {
	s := &RootSummary{Incidents: len(roots), WorstK: -1}
	for _, r := range roots {
		t := at(r)
		if t < 0 {
			s.Missing++
			continue
		}
		s.LastRootS = max(s.LastRootS, t)
		if late := t - r.BoundS; late > 0 {
			s.Late++
			if s.WorstK < 0 || late > s.WorstLateS {
				s.WorstK, s.WorstLateS = r.K, late
			}
		}
	}
	if len(roots) > 0 {
		s.BoundS = roots[len(roots)-1].BoundS
	}
	if s.BoundS > 0 {
		s.Ratio = s.LastRootS / s.BoundS
	}
	return s
}

// callsByCaller sorts the Slack calls the front saw in [from, to) by who
// made them and what they were.
func (b *bench) callsByCaller(from, to time.Time) map[string]*CallerCalls {
	out := map[string]*CallerCalls{byChatops: {ByMethod: map[string]int{}}, byAlertmanager: {ByMethod: map[string]int{}}}
	for _, c := range b.front.Calls(from, to) {
		cc := out[c.Caller]
		cc.Total++
		cc.ByMethod[c.Method]++
		switch {
		case c.Method == slackstandin.MethodPostMessage && c.Thread:
			cc.ThreadPosts++
		case c.Method == slackstandin.MethodPostMessage:
			cc.TopLevelPosts++
		case c.Method == slackstandin.MethodUpdate:
			cc.Updates++
		case c.Method == slackstandin.MethodHistory:
			cc.Lookups++
		default:
			cc.Other++
		}
		if c.Status != 200 || !c.OK {
			cc.Failed++
		}
	}
	for _, cc := range out {
		cc.Incidents = len(b.groups)
		cc.PerInc = float64(cc.Total) / float64(max(1, cc.Incidents))
	}
	return out
}

// amCounters are the bot's and Alertmanager's own counters at a moment: a
// phase's figures are the difference of two.
type amCounters map[string]float64

// counterNames: what each counter is, and where it comes from.
var counterNames = []struct {
	key, name string
	labels    []string
	am        bool
}{
	{"chatops jobs claimed (every outcome below)", "chatops_outbox_jobs_total", nil, false},
	{"chatops jobs done", "chatops_outbox_jobs_total", []string{`outcome="done"`}, false},
	{"chatops jobs continued (root posted, runbook next)", "chatops_outbox_jobs_total", []string{`outcome="continued"`}, false},
	{"chatops jobs put back for a Retry-After", "chatops_outbox_jobs_total", []string{`outcome="rate_limited"`}, false},
	{"chatops jobs retried (failed)", "chatops_outbox_jobs_total", []string{`outcome="retry"`}, false},
	{"chatops jobs dropped", "chatops_outbox_jobs_total", []string{`outcome="dropped"`}, false},
	{"chatops calls held back by its own limiter", "chatops_chat_rate_limited_total", []string{`source="local"`}, false},
	{"chatops 429s from the platform", "chatops_chat_rate_limited_total", []string{`source="platform"`}, false},
	{"alertmanager webhook notifications", "alertmanager_notifications_total", []string{`integration="webhook"`}, true},
	{"alertmanager slack notifications", "alertmanager_notifications_total", []string{`integration="slack"`}, true},
	{"alertmanager failed notifications", "alertmanager_notifications_failed_total", nil, true},
}

func (b *bench) counters(ctx context.Context) amCounters {
	c := amCounters{}
	bm, berr := b.bot.Metrics(ctx)
	am, aerr := b.am.Metrics(ctx)
	for _, n := range counterNames {
		m, err := bm, berr
		if n.am {
			m, err = am, aerr
		}
		if err != nil {
			continue
		}
		c[n.key], _ = m.Sum(n.name, n.labels...)
	}
	return c
}

func diffCounters(a, z amCounters) map[string]float64 {
	out := map[string]float64{}
	for _, n := range counterNames {
		out[n.key] = z[n.key] - a[n.key]
	}
	return out
}
