package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

func TestBigIncident(t *testing.T) {
	sqlstoretest.RunCases(t, []sqlstoretest.Case{
		{Name: "ThreadOfABigIncidentReadsPages", Run: testThreadOfABigIncident},
		{Name: "ExportOfABigIncidentReadsPages", Run: testExportOfABigIncident},
	})
}

// readCounter is a store that remembers the most alerts and events any
// one read handed the dispatcher.
type readCounter struct {
	bot.Store
	mu                   sync.Mutex
	mostAlerts, mostEvts int
}

func (r *readCounter) saw(alerts, events int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mostAlerts, r.mostEvts = max(r.mostAlerts, alerts), max(r.mostEvts, events)
}

func (r *readCounter) GetIncident(ctx context.Context, id int64) (bot.IncidentDetail, error) {
	d, err := r.Store.GetIncident(ctx, id)
	r.saw(len(d.Alerts), len(d.Timeline))
	return d, err
}

func (r *readCounter) IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error) {
	d, err := r.Store.IncidentView(ctx, id, alerts, events)
	r.saw(len(d.Alerts), len(d.Timeline))
	return d, err
}

func (r *readCounter) EventPage(ctx context.Context, q bot.EventQuery) ([]bot.Event, error) {
	evs, err := r.Store.EventPage(ctx, q)
	r.saw(0, len(evs))
	return evs, err
}

func (r *readCounter) AlertPage(ctx context.Context, id int64, after string, limit int) ([]bot.Alert, error) {
	as, err := r.Store.AlertPage(ctx, id, after, limit)
	r.saw(len(as), 0)
	return as, err
}

// A thread of an incident that a storm fills with 5,000 alerts shows what
// it showed when the dispatcher loaded the whole incident (the root's
// first alerts and counts, a reply summing up 5,000 changes, the
// resolution's durations and post-mortem gist), while no read hands it
// more than a root's alerts or a reply's lines.
func testThreadOfABigIncident(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	e, chat := chatEngine(s, clock), bottest.NewChat()
	reads := &readCounter{Store: s}
	d := dispatcher(reads, chat, clock)
	dest := bottest.ChatDests[0] // P1: the incidents channel

	first := bottest.Ingest(t, e, bottest.Group("storm", bot.AlertFiring, bottest.Alert("a-first", bot.AlertFiring, "critical", t0)))
	bottest.Drain(t, d)
	shown := bottest.Get(t, s, first.IncidentID).Timeline

	// One notification of 5,000 more: critical and warning, some already
	// resolved, each with a description of its own.
	const n = 5000
	storm := make([]bot.Alert, n)
	for i := range storm {
		status, sev := bot.AlertFiring, "critical"
		if i%4 == 0 {
			sev = "warning"
		}
		if i%10 == 0 {
			status = bot.AlertResolved
		}
		storm[i] = bottest.Alert(fmt.Sprintf("a%04d", (i*7)%n), status, sev, t0.Add(time.Duration(i%600)*time.Second))
		storm[i].Annotations["description"] = fmt.Sprintf("pod %d is down", i)
	}
	clock.Advance(time.Minute)
	bottest.Ingest(t, e, bottest.Group("storm", bot.AlertFiring, storm...))
	for i := range 4 {
		clock.Advance(time.Second)
		if err := e.AppendAction(ctx, first.IncidentID, fmt.Sprintf("carol (UCAROL) ran /ops logs storm --tail %d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	bottest.Drain(t, d)
	full := bottest.Get(t, s, first.IncidentID)
	wantThread(t, chat, dest, full, shown, 1)

	// Every alert resolves: the resolution's reply with its gist.
	shown = full.Timeline
	clock.Advance(20 * time.Minute)
	for i := range storm {
		storm[i].Status, storm[i].EndsAt = bot.AlertResolved, clock.Now()
	}
	bottest.Ingest(t, e, bottest.Group("storm", bot.AlertResolved,
		append(storm, bottest.Alert("a-first", bot.AlertResolved, "critical", t0))...))
	bottest.Drain(t, d)
	full = bottest.Get(t, s, first.IncidentID)
	if full.Status != bot.IncidentResolved {
		t.Fatalf("incident %s, want resolved", full.Status)
	}
	wantThread(t, chat, dest, full, shown, 2)

	if reads.mostAlerts > 10 || reads.mostEvts > 15 {
		t.Fatalf("one read handed the dispatcher %d alerts or %d events of a %d-alert incident; want at most a root's 10 and a reply's 15",
			reads.mostAlerts, reads.mostEvts, full.AlertCount())
	}
}

// wantThread checks that the thread shows full as the renderers show an
// incident held whole in memory: the root, and as its replies-th reply the
// events after shown.
func wantThread(t *testing.T, chat *bottest.Chat, dest bot.Destination, full bot.IncidentDetail, shown []bot.Event, replies int) {
	t.Helper()
	roots := chat.Snapshot(dest.Channel)
	if len(roots) != 1 || len(roots[0].Replies) != replies {
		t.Fatalf("%d roots, want 1 with %d replies: %+v", len(roots), replies, roots)
	}
	same(t, "root", roots[0].Msg, outbox.RootMessage(full, dest))
	want, ok := outbox.ThreadReply(full, dest, full.Timeline[len(shown):])
	if !ok {
		t.Fatal("nothing to reply")
	}
	same(t, fmt.Sprintf("reply %d", replies), roots[0].Replies[replies-1], want)
}

func same(t *testing.T, what string, got, want bot.Message) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Fatalf("%s:\n%s\nwant, as rendered from the whole incident:\n%s", what, g, w)
	}
}

// The post-mortem export of an incident with more alerts and events than
// a page drafts what the draft of the whole incident in memory says,
// reading a page at a time.
func testExportOfABigIncident(t *testing.T, s bot.Store) {
	ctx := context.Background()
	clock := bottest.NewClock(t0)
	e := chatEngine(s, clock)
	const n = 1300
	alerts := make([]bot.Alert, n)
	for i := range alerts {
		alerts[i] = bottest.Alert(fmt.Sprintf("fp%04d", (i*11)%n), bot.AlertFiring, "critical", t0.Add(-time.Duration(i%97)*time.Second))
		alerts[i].Labels["service"] = fmt.Sprintf("svc-%d", i%7)
		if i%5 == 0 {
			alerts[i].Annotations["description"] = fmt.Sprintf("pod %d is down", i)
		}
	}
	res := bottest.Ingest(t, e, bottest.Group("storm", bot.AlertFiring, alerts...))
	for i := range 3 {
		clock.Advance(time.Minute)
		if err := e.AppendAction(ctx, res.IncidentID, fmt.Sprintf("carol (UCAROL) ran /ops health svc-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(20 * time.Minute)
	for i := range alerts {
		alerts[i].Status, alerts[i].EndsAt = bot.AlertResolved, clock.Now().Add(-time.Duration(i%13)*time.Second)
	}
	bottest.Ingest(t, e, bottest.Group("storm", bot.AlertResolved, alerts...))

	reads := &readCounter{Store: s}
	got, err := outbox.ExportPostMortem(ctx, reads, res.IncidentID)
	if err != nil {
		t.Fatalf("ExportPostMortem: %v", err)
	}
	full := bottest.Get(t, s, res.IncidentID)
	if want := outbox.PostMortem(full); got != want {
		t.Fatalf("the export differs from the draft of the whole incident:\n--- export\n%s\n--- whole\n%s", got, want)
	}
	for _, must := range []string{"1300 alerts recorded on storm, svc-0, svc-1, svc-2", "…and 1250 more alerts.", "…and 1605 more events."} {
		if !strings.Contains(got, must) {
			t.Fatalf("the export lacks %q:\n%s", must, got)
		}
	}
	if reads.mostAlerts > 500 || reads.mostEvts > 500 {
		t.Fatalf("one read handed the export %d alerts or %d events; want at most a page of 500", reads.mostAlerts, reads.mostEvts)
	}
	if _, err := outbox.ExportPostMortem(ctx, s, 999999); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("an unknown incident: %v, want ErrNotFound", err)
	}
}
