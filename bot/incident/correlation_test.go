package incident_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot/outbox"

	"github.com/bakewise/chatops/bot"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

func TestCorrelation(t *testing.T) { sqlstoretest.RunCases(t, correlationTests()) }

func correlationTests() []sqlstoretest.Case {
	return []sqlstoretest.Case{
		{Name: "CorrelationThreeServicesDownOpenOneLinkedP0", Run: testCorrelationThreeServices},
		{Name: "CorrelationParallelNotificationsOpenOneOutage", Run: testCorrelationParallel},
		{Name: "CorrelationWindowThresholdAndSwitch", Run: testCorrelationWindow},
		{Name: "CorrelationOutageResolvedByHandResolvesWithLinks", Run: testCorrelationResolveByHand},
		{Name: "CorrelationNewServiceInALinkedIncidentGrowsTheTitle", Run: testCorrelationNewServiceInLinked},
		{Name: "CorrelationLoopCatchesUpLinksInBoundedPassesAndResolves", Run: testCorrelationLoop},
	}
}

var corrCfg = incident.CorrelationConfig{Enabled: true, MinServices: 3, Window: 5 * time.Minute}

func corrEngine(s bot.Store, clock *bottest.Clock, cfg incident.CorrelationConfig) *incident.Engine {
	return incident.New(s, incident.Config{
		Routes: bot.Routes{
			{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents"}},
			{Destinations: []string{"alerts"}},
		},
		ReopenWindow: 10 * time.Minute,
		Correlation:  cfg,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

// down is Alertmanager's notification that service is down since at.
func down(service, severity string, status bot.AlertStatus, at time.Time) bot.AlertGroup {
	a := bot.Alert{
		Fingerprint: "fp-" + service, Status: status, StartsAt: at,
		Labels:      map[string]string{"alertname": "ServiceDown", "service": service, "severity": severity},
		Annotations: map[string]string{"summary": service + " is down"},
	}
	if status == bot.AlertResolved {
		a.EndsAt = at.Add(10 * time.Minute)
	}
	return bot.AlertGroup{
		Receiver: "chatops", GroupKey: `{}:{alertname="ServiceDown", service="` + service + `"}`, Status: status,
		GroupLabels:  map[string]string{"alertname": "ServiceDown", "service": service},
		CommonLabels: map[string]string{"alertname": "ServiceDown", "service": service, "severity": severity},
		Alerts:       []bot.Alert{a},
	}
}

// correlate runs one correlation pass, as the background loop does soon
// after a critical notification or a resolution commits.
func correlate(t *testing.T, e *incident.Engine) {
	t.Helper()
	if err := e.Correlate(context.Background()); err != nil {
		t.Fatalf("Correlate: %v", err)
	}
}

// ingestAndCorrelate is a notification and the pass it signals.
func ingestAndCorrelate(t *testing.T, e *incident.Engine, g bot.AlertGroup) bot.IngestResult {
	t.Helper()
	res := bottest.Ingest(t, e, g)
	correlate(t, e)
	return res
}

// outages returns every outage incident, newest first.
func outages(t *testing.T, s bot.Store) []bot.Incident {
	t.Helper()
	var out []bot.Incident
	for _, inc := range bottest.List(t, s, "") {
		if inc.GroupKey == bot.OutageGroupKey {
			out = append(out, inc)
		}
	}
	return out
}

// The "done when": three services going down together open one
// linked P0; a fourth joins it; it resolves when all of them have.
func testCorrelationThreeServices(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e, chat := corrEngine(s, clock, corrCfg), bottest.NewChat()
	ids := map[string]int64{}
	for i, svc := range []string{"orders-service", "auth-service"} {
		clock.Advance(time.Duration(i) * 30 * time.Second)
		ids[svc] = ingestAndCorrelate(t, e, down(svc, "critical", bot.AlertFiring, clock.Now())).IncidentID
	}
	if n := len(outages(t, s)); n != 0 {
		t.Fatalf("two services down opened %d outages, want none", n)
	}
	// A warning on a third service is not an outage.
	ingestAndCorrelate(t, e, down("forecasting-service", "warning", bot.AlertFiring, clock.Now()))
	if n := len(outages(t, s)); n != 0 {
		t.Fatalf("a warning made %d outages", n)
	}
	clock.Advance(time.Minute)
	ids["gateway"] = bottest.Ingest(t, e, down("gateway", "critical", bot.AlertFiring, clock.Now())).IncidentID
	// The webhook's path only signals: the pass is the background's.
	if n := len(outages(t, s)); n != 0 {
		t.Fatalf("Ingest correlated on the webhook's path: %d outages before the pass", n)
	}
	correlate(t, e)
	correlate(t, e) // a second pass with nothing new changes nothing

	outs := outages(t, s)
	if len(outs) != 1 {
		t.Fatalf("three services down opened %d outages, want exactly one", len(outs))
	}
	out := bottest.Get(t, s, outs[0].ID)
	if out.Severity != bot.P0 || out.Status != bot.IncidentOpen || out.Title != "Complete outage: 3 services failing" ||
		out.Receiver != bot.OutageReceiver || out.GroupLabels["alertname"] != bot.OutageAlertName || out.Firing != 3 {
		t.Fatalf("outage = %+v", out.Incident)
	}
	if got := out.CommonAnnotations["summary"]; got != "Critical alerts on 3 services within 5m: auth-service, gateway, orders-service" {
		t.Fatalf("outage summary %q", got)
	}
	links := bottest.Details(out, bot.EventLinked)
	want := []string{
		fmt.Sprintf("linked #%d ServiceDown · orders-service", ids["orders-service"]),
		fmt.Sprintf("linked #%d ServiceDown · auth-service", ids["auth-service"]),
		fmt.Sprintf("linked #%d ServiceDown · gateway", ids["gateway"]),
	}
	if strings.Join(links, "\n") != strings.Join(want, "\n") || bottest.Kinds(out)[0] != bot.EventOpened {
		t.Fatalf("outage timeline %v:\n%s\nwant links:\n%s", bottest.Kinds(out), strings.Join(links, "\n"), strings.Join(want, "\n"))
	}
	for svc, id := range ids {
		if got := bottest.Details(bottest.Get(t, s, id), bot.EventLinked); len(got) != 1 || got[0] != fmt.Sprintf("part of outage #%d (Complete outage: 3 services failing)", out.ID) {
			t.Fatalf("%s's timeline says %q about the outage", svc, got)
		}
	}

	// Routed like any incident: a P0 root in the incidents channel.
	bottest.Drain(t, outbox.New(s, outbox.Config{Destinations: bottest.ChatDests, Chats: map[string]bot.Chat{"fake": chat}, Now: clock.Now}, zap.NewNop(), nil))
	found := false
	for _, r := range chat.Snapshot("C-INC") {
		found = found || r.Msg.Marker == outbox.Marker(out.ID, "incidents")
	}
	if !found {
		t.Fatal("the outage was not posted to the P0/P1 channel")
	}

	// A fourth service joins the open outage; no second one opens.
	clock.Advance(2 * time.Minute)
	ids["payments"] = ingestAndCorrelate(t, e, down("payments", "critical", bot.AlertFiring, clock.Now())).IncidentID
	if outs := outages(t, s); len(outs) != 1 {
		t.Fatalf("a fourth service made %d outages, want the one", len(outs))
	}
	out = bottest.Get(t, s, out.ID)
	if out.Title != "Complete outage: 4 services failing" || out.Firing != 4 || len(bottest.Details(out, bot.EventLinked)) != 4 {
		t.Fatalf("after a fourth: %q, %d open, links %q", out.Title, out.Firing, bottest.Details(out, bot.EventLinked))
	}
	// The same notifications again change nothing.
	ingestAndCorrelate(t, e, down("gateway", "critical", bot.AlertFiring, t0.Add(time.Minute+30*time.Second)))
	if got := len(bottest.Get(t, s, out.ID).Timeline); got != len(out.Timeline) {
		t.Fatalf("a repeated notification added %d events to the outage", got-len(out.Timeline))
	}

	// It lasts while any linked incident is open.
	clock.Advance(10 * time.Minute)
	for _, svc := range []string{"orders-service", "auth-service", "gateway"} {
		g := down(svc, "critical", bot.AlertResolved, bottest.Get(t, s, ids[svc]).Alerts[0].StartsAt)
		bottest.Ingest(t, e, g)
	}
	correlate(t, e) // one pass for the three: each still gets its line
	out = bottest.Get(t, s, out.ID)
	if out.Status != bot.IncidentOpen || out.Firing != 1 || out.Resolved != 3 {
		t.Fatalf("with one linked incident open: %s, %d open, %d resolved", out.Status, out.Firing, out.Resolved)
	}
	lines := bottest.Details(out, bot.EventLinked)[4:]
	want = []string{
		fmt.Sprintf("#%d ServiceDown · orders-service resolved; 3 of 4 linked incidents still open", ids["orders-service"]),
		fmt.Sprintf("#%d ServiceDown · auth-service resolved; 2 of 4 linked incidents still open", ids["auth-service"]),
		fmt.Sprintf("#%d ServiceDown · gateway resolved; 1 of 4 linked incidents still open", ids["gateway"]),
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("resolution lines on the outage:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	clock.Advance(time.Minute)
	ingestAndCorrelate(t, e, down("payments", "critical", bot.AlertResolved, bottest.Get(t, s, ids["payments"]).Alerts[0].StartsAt))
	out = bottest.Get(t, s, out.ID)
	if out.Status != bot.IncidentResolved || out.ResolvedAt == nil || !out.ResolvedAt.Equal(clock.Now()) {
		t.Fatalf("all linked resolved, the outage is %s", out.Status)
	}
	if got := bottest.Details(out, bot.EventResolved); len(got) != 1 || got[0] != "all 4 linked incidents resolved" {
		t.Fatalf("outage resolution %q", got)
	}
}

// Three notifications arriving at once, on several replicas (engines),
// each with an HA twin, each followed by its replica's pass: one outage,
// three links.
func testCorrelationParallel(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	engines := []*incident.Engine{corrEngine(s, clock, corrCfg), corrEngine(s, clock, corrCfg)}
	services := []string{"orders-service", "auth-service", "gateway"}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, svc := range services {
		for _, e := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				g := down(svc, "critical", bot.AlertFiring, t0.Add(time.Duration(i)*time.Second))
				if _, err := e.Ingest(context.Background(), g); err != nil {
					t.Errorf("Ingest(%s): %v", svc, err)
				}
				if err := e.Correlate(context.Background()); err != nil {
					t.Errorf("Correlate after %s: %v", svc, err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	outs := outages(t, s)
	if len(outs) != 1 {
		t.Fatalf("parallel notifications opened %d outages, want exactly one", len(outs))
	}
	out := bottest.Get(t, s, outs[0].ID)
	if len(bottest.Details(out, bot.EventLinked)) != 3 || out.Firing != 3 {
		t.Fatalf("outage links %q, %d open; want the three", bottest.Details(out, bot.EventLinked), out.Firing)
	}
	for _, inc := range bottest.List(t, s, bot.IncidentOpen) {
		if inc.GroupKey == bot.OutageGroupKey {
			continue
		}
		if got := bottest.Details(bottest.Get(t, s, inc.ID), bot.EventLinked); len(got) != 1 {
			t.Fatalf("incident #%d has %d outage events, want 1", inc.ID, len(got))
		}
	}
}

func testCorrelationWindow(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	off := corrEngine(s, clock, incident.CorrelationConfig{})
	for _, svc := range []string{"a", "b", "c"} {
		ingestAndCorrelate(t, off, down(svc, "critical", bot.AlertFiring, t0))
	}
	if n := len(outages(t, s)); n != 0 {
		t.Fatalf("correlation off opened %d outages", n)
	}

	e := corrEngine(s, clock, corrCfg)
	clock.Advance(6 * time.Minute) // a, b and c started too long ago
	// Four alerts on one service are one service.
	g := down("d", "critical", bot.AlertFiring, clock.Now())
	for i := range 3 {
		a := g.Alerts[0]
		a.Fingerprint = fmt.Sprintf("d-%d", i)
		g.Alerts = append(g.Alerts, a)
	}
	ingestAndCorrelate(t, e, g)
	ingestAndCorrelate(t, e, down("e", "critical", bot.AlertFiring, clock.Now()))
	if n := len(outages(t, s)); n != 0 {
		t.Fatalf("d and e in the window, a, b and c before it: %d outages, want none", n)
	}
	clock.Advance(time.Minute)
	ingestAndCorrelate(t, e, down("f", "critical", bot.AlertFiring, clock.Now()))
	outs := outages(t, s)
	if len(outs) != 1 {
		t.Fatalf("d, e and f within the window: %d outages, want 1", len(outs))
	}
	links := bottest.Details(bottest.Get(t, s, outs[0].ID), bot.EventLinked)
	if len(links) != 3 {
		t.Fatalf("links %q, want d, e and f only", links)
	}
	for i, svc := range []string{"d", "e", "f"} {
		if !strings.HasSuffix(links[i], "ServiceDown · "+svc) {
			t.Fatalf("link %d is %q, want %s", i, links[i], svc)
		}
	}
}

// An incident resolved by hand counts as resolved for its outage; the
// outage, resolved by hand, is done.
func testCorrelationResolveByHand(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	e := corrEngine(s, clock, corrCfg)
	var ids []int64
	for _, svc := range []string{"a", "b", "c"} {
		ids = append(ids, ingestAndCorrelate(t, e, down(svc, "critical", bot.AlertFiring, t0)).IncidentID)
	}
	outs := outages(t, s)
	if len(outs) != 1 {
		t.Fatalf("%d outages", len(outs))
	}
	for _, id := range ids {
		clock.Advance(time.Minute)
		if _, err := e.ResolveByHand(ctx, id, bob, "C1"); err != nil {
			t.Fatal(err)
		}
		correlate(t, e)
	}
	out := bottest.Get(t, s, outs[0].ID)
	if out.Status != bot.IncidentResolved || out.Firing != 0 || out.Resolved != 3 {
		t.Fatalf("all linked resolved by hand: outage %s, %d/%d", out.Status, out.Firing, out.Resolved)
	}
	if n := len(bottest.Details(out, bot.EventLinked)); n != 6 {
		t.Fatalf("%d linked events on the outage, want 3 links and 3 resolutions", n)
	}
	// Resolved, it is done: the alerts it was made of, still on record, do
	// not open it again.
	clock.Advance(time.Minute)
	correlate(t, e)
	if outs := outages(t, s); len(outs) != 1 || outs[0].Status != bot.IncidentResolved {
		t.Fatalf("after another pass: %+v", outs)
	}
}

// A group that holds several services (grouped by alertname only) is one
// incident: a new service in it grows the open outage's title, though
// nothing is left to link.
func testCorrelationNewServiceInLinked(t *testing.T, s bot.Store) {
	clock := bottest.NewClock(t0)
	e := corrEngine(s, clock, corrCfg)
	for _, svc := range []string{"a", "b", "c"} {
		ingestAndCorrelate(t, e, down(svc, "critical", bot.AlertFiring, t0))
	}
	outs := outages(t, s)
	if len(outs) != 1 || outs[0].Title != "Complete outage: 3 services failing" {
		t.Fatalf("outages %+v", outs)
	}
	before := bottest.Get(t, s, outs[0].ID)
	clock.Advance(time.Minute)
	g := down("c", "critical", bot.AlertFiring, t0)
	d := down("d", "critical", bot.AlertFiring, clock.Now()).Alerts[0]
	g.Alerts = append(g.Alerts, d)
	ingestAndCorrelate(t, e, g)
	out := bottest.Get(t, s, outs[0].ID)
	if out.Title != "Complete outage: 4 services failing" || out.Firing != 3 ||
		out.CommonAnnotations["summary"] != "Critical alerts on 4 services within 5m: a, b, c, d" {
		t.Fatalf("after a fourth service in a linked incident: %q, %d open, summary %q", out.Title, out.Firing, out.CommonAnnotations["summary"])
	}
	if got, want := len(bottest.Details(out, bot.EventLinked)), len(bottest.Details(before, bot.EventLinked)); got != want {
		t.Fatalf("%d links, want still %d", got, want)
	}
}

// The background loop: it catches up at start with what a replica that
// died between its commits and its pass left, links a storm's incidents in
// bounded passes that follow one another without a new notification, and
// resolves the outage from the resolutions that Ingest signals.
func testCorrelationLoop(t *testing.T, s bot.Store) {
	// 210 incidents: more than two bounded passes link, so the loop must
	// follow its own first pass without a notification.
	const perService = 70
	clock := bottest.NewClock(t0)
	crashed := corrEngine(s, clock, corrCfg)
	var groups []bot.AlertGroup
	for _, svc := range []string{"orders-service", "auth-service", "gateway"} {
		for i := range perService {
			g := down(svc, "critical", bot.AlertFiring, t0)
			g.GroupKey += fmt.Sprintf("#%d", i)
			g.Alerts[0].Fingerprint += fmt.Sprintf("-%d", i)
			bottest.Ingest(t, crashed, g)
			groups = append(groups, g)
		}
	}
	if n := len(outages(t, s)); n != 0 {
		t.Fatalf("Ingest correlated on the webhook's path: %d outages", n)
	}
	total := len(groups)

	// A pass links a bounded number: the first one alone leaves some.
	bounded := corrEngine(s, clock, corrCfg)
	correlate(t, bounded)
	if outs := outages(t, s); len(outs) != 1 || outs[0].Firing == 0 || outs[0].Firing >= total {
		t.Fatalf("after one pass: %+v; want one outage with some but not all %d incidents linked", outs, total)
	}

	e := corrEngine(s, clock, corrCfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.RunCorrelation(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunCorrelation = %v, want context.Canceled", err)
		}
	}()
	var out bot.Incident
	waitForOutage := func(what string, ok func(bot.Incident) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second) // the safety pass (30 s) must not be what does it
		for {
			if outs := outages(t, s); len(outs) == 1 {
				if out = outs[0]; ok(out) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the loop did not get %s: outage %+v", what, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitForOutage("every incident linked", func(o bot.Incident) bool { return o.Firing == total })
	if n := len(bottest.Details(bottest.Get(t, s, out.ID), bot.EventLinked)); n != total {
		t.Fatalf("%d links on the outage, want %d", n, total)
	}

	// A fourth service: the notification signals, the loop links it.
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, down("payments", "critical", bot.AlertFiring, clock.Now()))
	waitForOutage("the fourth service", func(o bot.Incident) bool {
		return o.Firing == total+1 && o.Title == "Complete outage: 4 services failing"
	})

	// Every resolution signals; the last one ends it.
	clock.Advance(10 * time.Minute)
	groups = append(groups, down("payments", "critical", bot.AlertFiring, t0.Add(time.Minute)))
	for _, g := range groups {
		g.Status, g.Alerts = bot.AlertResolved, []bot.Alert{g.Alerts[0]}
		g.Alerts[0].Status, g.Alerts[0].EndsAt = bot.AlertResolved, clock.Now()
		bottest.Ingest(t, e, g)
	}
	waitForOutage("resolved", func(o bot.Incident) bool { return o.Status == bot.IncidentResolved })
	d := bottest.Get(t, s, out.ID)
	if got := bottest.Details(d, bot.EventResolved); len(got) != 1 || got[0] != fmt.Sprintf("all %d linked incidents resolved", total+1) {
		t.Fatalf("outage resolution %q", got)
	}
	if n := len(bottest.Details(d, bot.EventLinked)); n != 2*(total+1) {
		t.Fatalf("%d linked events on the outage, want %d links and as many resolutions", n, total+1)
	}
}
