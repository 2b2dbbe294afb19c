package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// storm sends the storm's webhooks on their schedule, waits until both
// platforms show every incident's final state, and records what that cost
// in chat calls, rates and time.
func (b *bench) storm(ctx context.Context) {
	cfg := b.cfg
	res := &StormResult{
		Webhooks: cfg.alerts, PlatformS: map[string]float64{}, Duplicates: map[string]int{},
		Missing: map[string][]string{}, SeverityMix: map[string]int{},
	}
	b.res.Storm = res
	logf("storm: %d alerts in %d groups over %s, %d senders", cfg.alerts, cfg.groups, cfg.storm, cfg.senders)
	before := b.snap()

	type job struct {
		group int
		body  []byte
	}
	jobs := make(chan job, cfg.senders)
	var (
		mu       sync.Mutex
		lats     []time.Duration
		failures []string
		lastAck  time.Time
		wg       sync.WaitGroup
	)
	for range cfg.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				lat, err := b.post(ctx, j.group, j.body)
				now := time.Now()
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("group %s: %v", b.groups[j.group].name, err))
				} else {
					lats = append(lats, lat)
					if now.After(lastAck) {
						lastAck = now
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	var maxLate time.Duration
	seq := 0
	for i := 0; i < cfg.alerts && ctx.Err() == nil; i++ {
		target := start.Add(time.Duration(float64(cfg.storm) * float64(i) / float64(cfg.alerts)))
		if d := time.Until(target); d > 0 {
			_ = harness.Sleep(ctx, d)
		}
		g := b.groups[groupOf(i, cfg.alerts, cfg.groups, cfg.order)]
		g.addAlert(seq, time.Now())
		seq++
		body := g.stormBody()
		if len(body) > maxBodyBytes {
			b.fail("webhook body of %d bytes for group %s exceeds the bot's limit", len(body), g.name)
			break
		}
		if late := time.Since(target); late > maxLate {
			maxLate = late
		}
		jobs <- job{group: g.index, body: body}
	}
	close(jobs)
	wg.Wait()
	sent := time.Since(start)
	res.SendS = sent.Seconds()
	res.MaxLatenessS = maxLate.Seconds()
	res.Webhooks200 = len(lats)
	res.WebhookFailures = len(failures)
	slices.Sort(lats)
	if n := len(lats); n > 0 {
		res.AckP50MS = ms(lats[n/2])
		res.AckP99MS = ms(lats[min(n-1, int(math.Ceil(float64(n)*0.99))-1)])
		res.AckMaxMS = ms(lats[n-1])
	}
	if len(failures) > 0 {
		b.fail("storm: %d of %d webhooks did not get 200; first: %s", len(failures), cfg.alerts, strings.Join(failures[:min(3, len(failures))], "; "))
	}
	for g, ids := range b.splits {
		b.fail("group %s was answered with more than one incident: %d and %v", b.groups[g].name, b.incidents[g], ids)
	}
	res.Incidents = len(b.incidents)
	if res.Incidents != cfg.groups {
		b.fail("storm: %d incidents answered for %d groups", res.Incidents, cfg.groups)
	}
	logf("storm: %d/%d webhooks got 200 in %s (max lateness %s), ack p50 %.1f ms p99 %.1f ms; %d incidents",
		res.Webhooks200, cfg.alerts, sent.Round(time.Millisecond), maxLate.Round(time.Millisecond), res.AckP50MS, res.AckP99MS, res.Incidents)
	if lastAck.IsZero() {
		return
	}

	wants := map[int64]want{}
	for g, id := range b.incidents {
		wants[id] = want{group: g, status: "Firing", firing: len(b.groups[g].alerts)}
		res.SeverityMix[b.groups[g].expectedSeverity()]++
	}
	conv, when := b.waitConverged(ctx, wants, lastAck, cfg.convergeTimeout, "storm", "", nil)
	res.Converged = conv.all
	res.ConvergeS = conv.at.Sub(lastAck).Seconds()
	for p, t := range when {
		res.PlatformS[p] = t.Sub(lastAck).Seconds()
	}
	end := time.Now()
	if conv.all {
		_ = harness.Sleep(ctx, settle)
	}
	after := b.snap()
	sl, dc := b.checkSlack(wants), b.checkDiscord(wants)
	res.Duplicates["slack"], res.Duplicates["discord"] = sl.duplicates, dc.duplicates
	res.DiscordThreadless = dc.threadless
	if len(dc.threadless) > 0 {
		b.note("storm: %d Discord root(s) have no thread once the storm converged (incidents %v); see the bot's warnings", len(dc.threadless), dc.threadless)
	}
	b.duplicateFailures("storm", "slack", sl)
	b.duplicateFailures("storm", "discord", dc)
	if !conv.all {
		res.Missing = notConverged(map[string]platformState{"slack": sl, "discord": dc})
		b.fail("storm: not converged %s after the last webhook: outbox depth %v; Slack %d/%d roots final, Discord %d/%d (first problems: slack %v; discord %v)",
			cfg.convergeTimeout, conv.depth, sl.final, len(wants), dc.final, len(wants), clipList(sl.missing, 3), clipList(dc.missing, 3))
	}
	res.Calls = map[string]*Calls{
		"slack":   calls("slack", before, after, len(wants), false),
		"discord": calls("discord", before, after, len(wants), false),
	}
	res.Rates = map[string]*Rates{
		"slack":   b.rates("slack", start, end, nil),
		"discord": b.rates("discord", start, end, b.threadIDs()),
	}
	_, held, _ := b.metrics(ctx)
	res.HeldBack = held
	res.BotStoreAgrees, res.BotStoreProblems = b.checkBotStore(wants)
	b.res.Bot.PeakRSSStormMiB = b.bot.Process.PeakRSSMiB()
	logf("storm: converged=%v in %.1f s after the last webhook (slack %.1f s, discord %.1f s); calls/incident slack %.2f discord %.2f; duplicates slack %d discord %d",
		conv.all, res.ConvergeS, res.PlatformS["slack"], res.PlatformS["discord"], res.Calls["slack"].PerInc, res.Calls["discord"].PerInc, sl.duplicates, dc.duplicates)
}

// checkBotStore asks the bot's API whether each incident holds the alerts
// the storm sent: it tells an ingest problem from a chat problem.
func (b *bench) checkBotStore(wants map[int64]want) (bool, []string) {
	var problems []string
	for id, w := range wants {
		inc, err := b.bot.TryGetIncident(id)
		if err != nil {
			problems = append(problems, fmt.Sprintf("#%d: %v", id, err))
			continue
		}
		g := b.groups[w.group]
		if inc.Firing != w.firing || inc.Resolved != w.resol || inc.Severity != g.expectedSeverity() {
			problems = append(problems, fmt.Sprintf("#%d (%s): bot stores %s %s firing %d resolved %d, sent %d firing (%s)",
				id, g.name, inc.Status, inc.Severity, inc.Firing, inc.Resolved, w.firing, g.expectedSeverity()))
		}
	}
	sort.Strings(problems)
	return len(problems) == 0, clipList(problems, 10)
}
