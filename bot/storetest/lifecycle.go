package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// The incident lifecycle over a real store: runbooks as each thread's first
// reply, the complete-outage correlation, and the timeline of what people
// do from a thread.

func lifecycleTests() []namedTest {
	return []namedTest{
		{"RunbookIsTheFirstReplyOnce", testRunbookFirstReplyOnce},
		{"RunbookAfterALostRootAnswer", testRunbookAfterLostAnswer},
		{"RunbookRetriedAfterRestartBeforeOtherReplies", testRunbookAfterRestart},
		{"RunbookMissingSaysSo", testRunbookMissing},
		{"CorrelationThreeServicesDownOpenOneLinkedP0", testCorrelationThreeServices},
		{"CorrelationParallelNotificationsOpenOneOutage", testCorrelationParallel},
		{"CorrelationWindowThresholdAndSwitch", testCorrelationWindow},
		{"CorrelationOutageResolvedByHandResolvesWithLinks", testCorrelationResolveByHand},
		{"CorrelationNewServiceInALinkedIncidentGrowsTheTitle", testCorrelationNewServiceInLinked},
		{"CorrelationLoopCatchesUpLinksInBoundedPassesAndResolves", testCorrelationLoop},
		{"TimelineCommandsRunInAThread", testTimelineCommandsInThread},
		{"TimelineApprovalsInAThread", testTimelineApprovalsInThread},
	}
}

var testRunbooks = bot.Runbooks{
	"ServiceDown": {
		Steps:   []string{"Check pod status: kubectl get pods -n bakery-ia", "Roll back if needed: kubectl rollout undo deployment/SERVICE_NAME"},
		Actions: []bot.RunbookAction{bot.ActionHealth, bot.ActionLogs, bot.ActionRollback},
	},
}

func runbookDispatcher(s bot.Store, chat bot.Chat, clock *Clock) *bot.Dispatcher {
	return bot.NewDispatcher(s, bot.DispatcherConfig{
		Destinations: chatDests,
		Chats:        map[string]bot.Chat{"fake": chat},
		Workers:      4,
		Runbooks:     testRunbooks,
		Now:          clock.Now,
	}, zap.NewNop(), nil)
}

func isRunbook(m bot.Message) bool {
	return strings.HasPrefix(m.Title, "Runbook: ") || strings.HasPrefix(m.Title, "No runbook for ")
}

// wantRunbookFirst checks a thread's replies: the first is the runbook, and
// no other is.
func wantRunbookFirst(t *testing.T, r fakeRoot) {
	t.Helper()
	if len(r.replies) == 0 || !isRunbook(r.replies[0]) {
		t.Fatalf("first reply of %s is not its runbook: %+v", r.msg.Marker, r.replies)
	}
	for i, m := range r.replies[1:] {
		if isRunbook(m) {
			t.Fatalf("reply %d of %s is a second runbook", i+2, r.msg.Marker)
		}
	}
}

func testRunbookFirstReplyOnce(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	d := runbookDispatcher(s, chat, clock)
	id := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	drain(t, d)
	roots := chat.snapshot("C-INC")
	if len(roots) != 1 || len(roots[0].replies) != 1 {
		t.Fatalf("after firing: %d roots, %d replies; want the root and its runbook", len(roots), len(roots[0].replies))
	}
	rb := roots[0].replies[0]
	if rb.Title != "Runbook: ServiceDown" || len(rb.Lines) != 3 || !strings.HasPrefix(rb.Lines[0], "1. Check pod status") {
		t.Fatalf("runbook reply = %+v", rb)
	}
	var ids []string
	for _, b := range rb.Buttons {
		ids = append(ids, b.ID)
	}
	want := fmt.Sprintf("chatops:run:health:%d chatops:run:logs:%d chatops:run:rollback:%d", id, id, id)
	if strings.Join(ids, " ") != want {
		t.Fatalf("runbook buttons %q, want %q", ids, want)
	}
	if th, err := s.Thread(context.Background(), id, "incidents"); err != nil || !th.RunbookPosted {
		t.Fatalf("thread state %+v, %v: the runbook is not recorded as posted", th, err)
	}

	drain(t, d) // nothing new: nothing posted
	clock.Advance(time.Minute)
	ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0), alert("a2", bot.AlertFiring, "critical", clock.Now())))
	drain(t, d)
	// A restarted bot (a new dispatcher) does not post it again either.
	clock.Advance(16 * time.Minute)
	ingest(t, e, group("orders", bot.AlertResolved, alert("a1", bot.AlertResolved, "critical", t0), alert("a2", bot.AlertResolved, "critical", t0.Add(time.Minute))))
	drain(t, runbookDispatcher(s, chat, clock))
	roots = chat.snapshot("C-INC")
	if len(roots) != 1 || len(roots[0].replies) != 3 {
		t.Fatalf("%d roots, %d replies; want runbook, one change, resolution", len(roots), len(roots[0].replies))
	}
	wantRunbookFirst(t, roots[0])
	res := roots[0].replies[2]
	if !strings.HasPrefix(res.Title, "Resolved after 17m") || !strings.Contains(strings.Join(res.Lines, "\n"), "Time to resolve: 17m") {
		t.Fatalf("resolution reply = %+v", res)
	}
	// A P1 resolution carries the post-mortem draft's gist.
	if got := strings.Join(res.Lines, "\n"); !strings.Contains(got, "Time to acknowledge: never acknowledged") ||
		!strings.Contains(got, fmt.Sprintf("Full draft: chatops incident export %d", id)) {
		t.Fatalf("resolution lines:\n%s", got)
	}
}

func testRunbookAfterLostAnswer(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	d := runbookDispatcher(s, chat, clock)
	chat.dropNext = true // the root is posted, its answer lost
	ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "warning", t0)))
	drain(t, d)
	if roots := chat.snapshot("C-ALERTS"); len(roots) != 1 || len(roots[0].replies) != 0 {
		t.Fatalf("after the lost answer: %+v", roots)
	}
	clock.Advance(time.Hour) // past any backoff
	drain(t, d)
	drain(t, runbookDispatcher(s, chat, clock))
	roots := chat.snapshot("C-ALERTS")
	if len(roots) != 1 || chat.calls["post_root"] != 1 {
		t.Fatalf("%d roots from %d posts, want the one found again", len(roots), chat.calls["post_root"])
	}
	wantRunbookFirst(t, roots[0])
}

func testRunbookAfterRestart(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	chat.fail("reply", errors.New("HTTP 500"))
	id := ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "warning", t0))).IncidentID
	drain(t, runbookDispatcher(s, chat, clock))
	roots := chat.snapshot("C-ALERTS")
	if len(roots) != 1 || len(roots[0].replies) != 0 || depth(t, s) != 1 {
		t.Fatalf("a failed runbook reply: %d roots, %d replies, depth %d; want the root, no reply, the job kept", len(roots), len(roots[0].replies), depth(t, s))
	}
	if th, _ := s.Thread(context.Background(), id, "alerts"); th.RunbookPosted {
		t.Fatal("a runbook reply that failed is recorded as posted")
	}
	// Something happens before the retry; then the bot restarts.
	clock.Advance(time.Second)
	ingest(t, e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "warning", t0), alert("a2", bot.AlertFiring, "warning", clock.Now())))
	clock.Advance(time.Hour)
	drain(t, runbookDispatcher(s, chat, clock))
	roots = chat.snapshot("C-ALERTS")
	if len(roots) != 1 || len(roots[0].replies) != 2 || chat.calls["post_root"] != 1 {
		t.Fatalf("after the restart: %d roots, %d replies, %d root posts; want 1 root, runbook then the change", len(roots), len(roots[0].replies), chat.calls["post_root"])
	}
	wantRunbookFirst(t, roots[0])
	if r := roots[0].replies[1]; r.Title != "1 change" {
		t.Fatalf("second reply = %+v", r)
	}
}

func testRunbookMissing(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := chatEngine(s, clock), newFakeChat()
	g := group("disk", bot.AlertFiring, alert("d1", bot.AlertFiring, "warning", t0))
	g.GroupLabels = map[string]string{"alertname": "DiskFull"}
	g.CommonLabels = map[string]string{"alertname": "DiskFull", "instance": "node-1"}
	ingest(t, e, g)
	drain(t, runbookDispatcher(s, chat, clock))
	roots := chat.snapshot("C-ALERTS")
	if len(roots) != 1 || len(roots[0].replies) != 1 {
		t.Fatalf("%d roots; want one with one reply", len(roots))
	}
	if m := roots[0].replies[0]; m.Title != "No runbook for DiskFull: add one under runbooks in the configuration." || len(m.Buttons) != 0 {
		t.Fatalf("reply = %+v", m)
	}
}

// --- correlation ---

var corrCfg = bot.CorrelationConfig{Enabled: true, MinServices: 3, Window: 5 * time.Minute}

func corrEngine(s bot.Store, clock *Clock, cfg bot.CorrelationConfig) *bot.Engine {
	return bot.NewEngine(s, bot.EngineConfig{
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
func correlate(t *testing.T, e *bot.Engine) {
	t.Helper()
	if err := e.Correlate(context.Background()); err != nil {
		t.Fatalf("Correlate: %v", err)
	}
}

// ingestAndCorrelate is a notification and the pass it signals.
func ingestAndCorrelate(t *testing.T, e *bot.Engine, g bot.AlertGroup) bot.IngestResult {
	t.Helper()
	res := ingest(t, e, g)
	correlate(t, e)
	return res
}

// outages returns every outage incident, newest first.
func outages(t *testing.T, s bot.Store) []bot.Incident {
	t.Helper()
	var out []bot.Incident
	for _, inc := range list(t, s, "") {
		if inc.GroupKey == bot.OutageGroupKey {
			out = append(out, inc)
		}
	}
	return out
}

func details(d bot.IncidentDetail, kind bot.EventKind) []string {
	var out []string
	for _, e := range d.Timeline {
		if e.Kind == kind {
			out = append(out, e.Detail)
		}
	}
	return out
}

// The "done when": three services going down together open one
// linked P0; a fourth joins it; it resolves when all of them have.
func testCorrelationThreeServices(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	e, chat := corrEngine(s, clock, corrCfg), newFakeChat()
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
	ids["gateway"] = ingest(t, e, down("gateway", "critical", bot.AlertFiring, clock.Now())).IncidentID
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
	out := get(t, s, outs[0].ID)
	if out.Severity != bot.P0 || out.Status != bot.IncidentOpen || out.Title != "Complete outage: 3 services failing" ||
		out.Receiver != bot.OutageReceiver || out.GroupLabels["alertname"] != bot.OutageAlertName || out.Firing != 3 {
		t.Fatalf("outage = %+v", out.Incident)
	}
	if got := out.CommonAnnotations["summary"]; got != "Critical alerts on 3 services within 5m: auth-service, gateway, orders-service" {
		t.Fatalf("outage summary %q", got)
	}
	links := details(out, bot.EventLinked)
	want := []string{
		fmt.Sprintf("linked #%d ServiceDown · orders-service", ids["orders-service"]),
		fmt.Sprintf("linked #%d ServiceDown · auth-service", ids["auth-service"]),
		fmt.Sprintf("linked #%d ServiceDown · gateway", ids["gateway"]),
	}
	if strings.Join(links, "\n") != strings.Join(want, "\n") || kinds(out)[0] != bot.EventOpened {
		t.Fatalf("outage timeline %v:\n%s\nwant links:\n%s", kinds(out), strings.Join(links, "\n"), strings.Join(want, "\n"))
	}
	for svc, id := range ids {
		if got := details(get(t, s, id), bot.EventLinked); len(got) != 1 || got[0] != fmt.Sprintf("part of outage #%d (Complete outage: 3 services failing)", out.ID) {
			t.Fatalf("%s's timeline says %q about the outage", svc, got)
		}
	}

	// Routed like any incident: a P0 root in the incidents channel.
	drain(t, dispatcher(s, chat, clock))
	found := false
	for _, r := range chat.snapshot("C-INC") {
		found = found || r.msg.Marker == bot.Marker(out.ID, "incidents")
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
	out = get(t, s, out.ID)
	if out.Title != "Complete outage: 4 services failing" || out.Firing != 4 || len(details(out, bot.EventLinked)) != 4 {
		t.Fatalf("after a fourth: %q, %d open, links %q", out.Title, out.Firing, details(out, bot.EventLinked))
	}
	// The same notifications again change nothing.
	ingestAndCorrelate(t, e, down("gateway", "critical", bot.AlertFiring, t0.Add(time.Minute+30*time.Second)))
	if got := len(get(t, s, out.ID).Timeline); got != len(out.Timeline) {
		t.Fatalf("a repeated notification added %d events to the outage", got-len(out.Timeline))
	}

	// It lasts while any linked incident is open.
	clock.Advance(10 * time.Minute)
	for _, svc := range []string{"orders-service", "auth-service", "gateway"} {
		g := down(svc, "critical", bot.AlertResolved, get(t, s, ids[svc]).Alerts[0].StartsAt)
		ingest(t, e, g)
	}
	correlate(t, e) // one pass for the three: each still gets its line
	out = get(t, s, out.ID)
	if out.Status != bot.IncidentOpen || out.Firing != 1 || out.Resolved != 3 {
		t.Fatalf("with one linked incident open: %s, %d open, %d resolved", out.Status, out.Firing, out.Resolved)
	}
	lines := details(out, bot.EventLinked)[4:]
	want = []string{
		fmt.Sprintf("#%d ServiceDown · orders-service resolved; 3 of 4 linked incidents still open", ids["orders-service"]),
		fmt.Sprintf("#%d ServiceDown · auth-service resolved; 2 of 4 linked incidents still open", ids["auth-service"]),
		fmt.Sprintf("#%d ServiceDown · gateway resolved; 1 of 4 linked incidents still open", ids["gateway"]),
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("resolution lines on the outage:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	clock.Advance(time.Minute)
	ingestAndCorrelate(t, e, down("payments", "critical", bot.AlertResolved, get(t, s, ids["payments"]).Alerts[0].StartsAt))
	out = get(t, s, out.ID)
	if out.Status != bot.IncidentResolved || out.ResolvedAt == nil || !out.ResolvedAt.Equal(clock.Now()) {
		t.Fatalf("all linked resolved, the outage is %s", out.Status)
	}
	if got := details(out, bot.EventResolved); len(got) != 1 || got[0] != "all 4 linked incidents resolved" {
		t.Fatalf("outage resolution %q", got)
	}
}

// Three notifications arriving at once, on several replicas (engines),
// each with an HA twin, each followed by its replica's pass: one outage,
// three links.
func testCorrelationParallel(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	engines := []*bot.Engine{corrEngine(s, clock, corrCfg), corrEngine(s, clock, corrCfg)}
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
	out := get(t, s, outs[0].ID)
	if len(details(out, bot.EventLinked)) != 3 || out.Firing != 3 {
		t.Fatalf("outage links %q, %d open; want the three", details(out, bot.EventLinked), out.Firing)
	}
	for _, inc := range list(t, s, bot.IncidentOpen) {
		if inc.GroupKey == bot.OutageGroupKey {
			continue
		}
		if got := details(get(t, s, inc.ID), bot.EventLinked); len(got) != 1 {
			t.Fatalf("incident #%d has %d outage events, want 1", inc.ID, len(got))
		}
	}
}

func testCorrelationWindow(t *testing.T, s bot.Store) {
	clock := &Clock{now: t0}
	off := corrEngine(s, clock, bot.CorrelationConfig{})
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
	links := details(get(t, s, outs[0].ID), bot.EventLinked)
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
	clock := &Clock{now: t0}
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
	out := get(t, s, outs[0].ID)
	if out.Status != bot.IncidentResolved || out.Firing != 0 || out.Resolved != 3 {
		t.Fatalf("all linked resolved by hand: outage %s, %d/%d", out.Status, out.Firing, out.Resolved)
	}
	if n := len(details(out, bot.EventLinked)); n != 6 {
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
	clock := &Clock{now: t0}
	e := corrEngine(s, clock, corrCfg)
	for _, svc := range []string{"a", "b", "c"} {
		ingestAndCorrelate(t, e, down(svc, "critical", bot.AlertFiring, t0))
	}
	outs := outages(t, s)
	if len(outs) != 1 || outs[0].Title != "Complete outage: 3 services failing" {
		t.Fatalf("outages %+v", outs)
	}
	before := get(t, s, outs[0].ID)
	clock.Advance(time.Minute)
	g := down("c", "critical", bot.AlertFiring, t0)
	d := down("d", "critical", bot.AlertFiring, clock.Now()).Alerts[0]
	g.Alerts = append(g.Alerts, d)
	ingestAndCorrelate(t, e, g)
	out := get(t, s, outs[0].ID)
	if out.Title != "Complete outage: 4 services failing" || out.Firing != 3 ||
		out.CommonAnnotations["summary"] != "Critical alerts on 4 services within 5m: a, b, c, d" {
		t.Fatalf("after a fourth service in a linked incident: %q, %d open, summary %q", out.Title, out.Firing, out.CommonAnnotations["summary"])
	}
	if got, want := len(details(out, bot.EventLinked)), len(details(before, bot.EventLinked)); got != want {
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
	clock := &Clock{now: t0}
	crashed := corrEngine(s, clock, corrCfg)
	var groups []bot.AlertGroup
	for _, svc := range []string{"orders-service", "auth-service", "gateway"} {
		for i := range perService {
			g := down(svc, "critical", bot.AlertFiring, t0)
			g.GroupKey += fmt.Sprintf("#%d", i)
			g.Alerts[0].Fingerprint += fmt.Sprintf("-%d", i)
			ingest(t, crashed, g)
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
	if n := len(details(get(t, s, out.ID), bot.EventLinked)); n != total {
		t.Fatalf("%d links on the outage, want %d", n, total)
	}

	// A fourth service: the notification signals, the loop links it.
	clock.Advance(time.Minute)
	ingest(t, e, down("payments", "critical", bot.AlertFiring, clock.Now()))
	waitForOutage("the fourth service", func(o bot.Incident) bool {
		return o.Firing == total+1 && o.Title == "Complete outage: 4 services failing"
	})

	// Every resolution signals; the last one ends it.
	clock.Advance(10 * time.Minute)
	groups = append(groups, down("payments", "critical", bot.AlertFiring, t0.Add(time.Minute)))
	for _, g := range groups {
		g.Status, g.Alerts = bot.AlertResolved, []bot.Alert{g.Alerts[0]}
		g.Alerts[0].Status, g.Alerts[0].EndsAt = bot.AlertResolved, clock.Now()
		ingest(t, e, g)
	}
	waitForOutage("resolved", func(o bot.Incident) bool { return o.Status == bot.IncidentResolved })
	d := get(t, s, out.ID)
	if got := details(d, bot.EventResolved); len(got) != 1 || got[0] != fmt.Sprintf("all %d linked incidents resolved", total+1) {
		t.Fatalf("outage resolution %q", got)
	}
	if n := len(details(d, bot.EventLinked)); n != 2*(total+1) {
		t.Fatalf("%d linked events on the outage, want %d links and as many resolutions", n, total+1)
	}
}

// --- timeline ---

// threadRig is an incident whose thread is posted at a Slack-like
// destination, a router with a timeline, and the engine.
type threadRig struct {
	s      bot.Store
	clock  *Clock
	e      *bot.Engine
	chat   *fakeChat
	d      *bot.Dispatcher
	id     int64
	thread string
	router *bot.Router
	ap     *bot.Approvals
	target *fakeTarget
	cards  *fakeCards
}

func newThreadRig(t *testing.T, s bot.Store) *threadRig {
	t.Helper()
	r := &threadRig{s: s, clock: &Clock{now: t0}, chat: newFakeChat(), target: &fakeTarget{version: 7, replicas: 2}, cards: &fakeCards{}}
	routes := bot.Routes{{Destinations: []string{"ops"}}}
	r.e = bot.NewEngine(s, bot.EngineConfig{Routes: routes, Now: r.clock.Now}, zap.NewNop(), nil)
	r.d = bot.NewDispatcher(s, bot.DispatcherConfig{
		Destinations: []bot.Destination{{Name: "ops", Platform: "slack", Channel: apChannel}},
		Chats:        map[string]bot.Chat{"slack": r.chat},
		Now:          r.clock.Now,
	}, zap.NewNop(), nil)
	r.id = ingest(t, r.e, group("orders", bot.AlertFiring, alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	drain(t, r.d)
	roots := r.chat.snapshot(apChannel)
	if len(roots) != 1 {
		t.Fatalf("%d roots", len(roots))
	}
	r.thread = roots[0].ref.ThreadID

	tl := bot.NewTimeline(r.e, s, zap.NewNop())
	roles := &bot.Roles{Access: policy.Access{Default: policy.Viewer, Users: map[string]policy.Role{
		"slack:UALICE": policy.Admin, "slack:UBOB": policy.Admin, "slack:UCAROL": policy.Member}}}
	r.ap = bot.NewApprovals(s, roles, bot.ApprovalsConfig{Rule: policy.DefaultRule, Root: "ops",
		Cards: map[string]bot.CardPoster{"slack": r.cards}, Timeline: tl, Now: r.clock.Now}, zap.NewNop(), nil)
	specs := []bot.CommandSpec{
		scaleSpec(r.target),
		{Name: "health", Summary: "health", Role: policy.Viewer, Args: []bot.Arg{{Name: "service", Positional: true}},
			Run: func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{Title: "healthy"}, nil }},
		{Name: "broken", Summary: "fails", Role: policy.Viewer,
			Run: func(context.Context, bot.Invocation) (bot.Answer, error) {
				return bot.Answer{}, errors.New("cluster unreachable")
			}},
		{Name: "incident ack", Summary: "ack", Role: policy.Member, OwnTimeline: true,
			Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 40}},
			Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
				_, err := r.e.Acknowledge(ctx, int64(inv.Int("id", 0)), inv.Command.User, inv.Command.Channel)
				return bot.Answer{Title: "acked"}, err
			}},
		{Name: "approve", Summary: "approve", Role: policy.Viewer, OwnTimeline: true,
			Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 40}},
			Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
				return r.ap.Approve(ctx, bot.Ballot{Who: inv.Command.User, Channel: inv.Command.Channel, ID: int64(inv.Int("id", 0)), Via: "command"}), nil
			}},
	}
	router, err := bot.NewRouter(specs, bot.RouterConfig{Root: "ops", Channels: []string{apChannel}, Authorize: roles.Authorize,
		Audit: func(ctx context.Context, rec bot.AuditRecord) error {
			return s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AppendAudit(ctx, rec) })
		}, Timeline: tl}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.ap.Attach(router)
	r.router = router
	return r
}

func (r *threadRig) run(t *testing.T, who bot.Identity, thread, text string) bot.Answer {
	t.Helper()
	var a answers
	r.router.Handle(context.Background(), bot.Command{Platform: who.Platform, User: who, Channel: apChannel, Thread: thread,
		Text: text, ReceivedAt: r.clock.Now()}, &a)
	return a.last(t)
}

func (r *threadRig) actions(t *testing.T) []string {
	t.Helper()
	return details(get(t, r.s, r.id), bot.EventAction)
}

func testTimelineCommandsInThread(t *testing.T, s bot.Store) {
	r := newThreadRig(t, s)
	if id, err := s.IncidentByThread(context.Background(), "slack", apChannel, r.thread); err != nil || id != r.id {
		t.Fatalf("IncidentByThread = %d, %v; want %d", id, err, r.id)
	}
	if _, err := s.IncidentByThread(context.Background(), "discord", apChannel, r.thread); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("another platform's thread: %v, want ErrNotFound", err)
	}

	r.clock.Advance(time.Minute)
	r.run(t, carol, r.thread, "health orders")
	r.run(t, carol, r.thread, "broken")
	r.run(t, carol, "", "health")                                   // in the channel, not the thread
	r.run(t, carol, "1700000000.999999", "health")                  // some other thread
	r.run(t, carol, r.thread, "helath")                             // mistyped: nothing ran
	r.run(t, carol, r.thread, "scale orders 3")                     // refused: carol is a member
	r.run(t, carol, r.thread, fmt.Sprintf("incident ack %d", r.id)) // its own event
	want := []string{"carol (UCAROL) ran /ops health orders", "carol (UCAROL) ran /ops broken (it failed)"}
	if got := r.actions(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("actions on the timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d := get(t, s, r.id)
	if k := kinds(d); k[len(k)-1] != bot.EventAcknowledged {
		t.Fatalf("timeline kinds %v: the ack is its own event", k)
	}
	for _, e := range d.Timeline {
		if e.Kind == bot.EventAction && !e.At.Equal(r.clock.Now()) {
			t.Fatalf("action at %s, want the clock's %s", e.At, r.clock.Now())
		}
	}

	// The thread shows the commands already: the sync records them
	// without echoing them, and says what else changed.
	before := len(r.chat.snapshot(apChannel)[0].replies)
	drain(t, r.d)
	replies := r.chat.snapshot(apChannel)[0].replies
	if len(replies) != before+1 || !strings.Contains(strings.Join(replies[len(replies)-1].Lines, "\n"), "acknowledged by carol") {
		t.Fatalf("replies after the commands: %+v", replies[before:])
	}
	r.clock.Advance(time.Minute)
	r.run(t, carol, r.thread, "health")
	drain(t, r.d)
	if got := len(r.chat.snapshot(apChannel)[0].replies); got != before+1 {
		t.Fatalf("a command alone in the thread was echoed: %d replies", got-before)
	}
	th, err := s.Thread(context.Background(), r.id, "ops")
	if err != nil || th.LastEventID != get(t, s, r.id).Timeline[len(get(t, s, r.id).Timeline)-1].ID {
		t.Fatalf("thread at event %d (%v): the echo-free sync must still move on", th.LastEventID, err)
	}
	if depth(t, s) != 0 {
		t.Fatalf("outbox depth %d", depth(t, s))
	}
}

func testTimelineApprovalsInThread(t *testing.T, s bot.Store) {
	r := newThreadRig(t, s)
	a := r.run(t, alice, r.thread, "scale orders 5")
	var reqID int64
	if _, err := fmt.Sscanf(a.Title, "Request #%d", &reqID); err != nil {
		t.Fatalf("request not taken: %q", a.Title)
	}
	if ap, err := s.GetApproval(context.Background(), reqID); err != nil || ap.IncidentID != r.id {
		t.Fatalf("request's incident = %d (%v), want %d", ap.IncidentID, err, r.id)
	}
	r.clock.Advance(time.Minute)
	r.run(t, bob, r.thread, fmt.Sprintf("approve %d", reqID))
	if r.target.runs.Load() != 1 {
		t.Fatal("the approved scale did not run")
	}
	// Outside any thread: the request is no incident's.
	b := r.run(t, alice, "", "scale orders 4")
	var other int64
	fmt.Sscanf(b.Title, "Request #%d", &other)
	if ap, _ := s.GetApproval(context.Background(), other); other == 0 || ap.IncidentID != 0 {
		t.Fatalf("a request outside a thread belongs to incident %d", ap.IncidentID)
	}
	got := r.actions(t)
	want := []string{
		fmt.Sprintf("alice (UALICE) asked to scale deployment ns/orders (replicas 2 → 5) (request #%d, needs approval)", reqID),
		fmt.Sprintf("request #%d (scale) approved by bob (UBOB)", reqID),
		fmt.Sprintf("request #%d scale deployment ns/orders (replicas 2 → 5): Ran at 02:15:05 UTC: scaled", reqID),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("actions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the API and the post-mortem read: every kind on the timeline.
	d := get(t, s, r.id)
	md := bot.PostMortem(d)
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Fatalf("the post-mortem's actions lack %q", w)
		}
	}
}
