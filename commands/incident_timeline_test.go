package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
)

func TestIncidentTimeline(t *testing.T) {
	acked := t0.Add(3 * time.Minute)
	store := &fakeIncidents{detail: map[int64]bot.IncidentDetail{
		7: {
			Incident: bot.Incident{ID: 7, Severity: bot.P1, Status: bot.IncidentOpen, Title: "ServiceDown · orders-service", OpenedAt: t0, AckedAt: &acked},
			Timeline: []bot.Event{
				{At: t0, Kind: bot.EventOpened, Detail: "ServiceDown · orders-service opened at P1: 1 alert firing"},
				{At: acked, Kind: bot.EventAcknowledged, Detail: "acknowledged by carol (UCAROL)"},
				{At: acked.Add(time.Minute), Kind: bot.EventAction, Detail: "carol (UCAROL) ran /ops health orders-service"},
				{At: acked.Add(2 * time.Minute), Kind: bot.EventLinked, Detail: "part of outage #9 (Complete outage: 3 services failing)"},
			},
		},
		8: {Incident: bot.Incident{ID: 8, Severity: bot.P3, Title: "quiet"}, Timeline: []bot.Event{}},
	}}
	r, err := command.NewRouter(Table(Deps{Incidents: store}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(text string) bot.Answer {
		rec := &answers{}
		r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C1", Text: text}, rec)
		return rec.got[0]
	}
	a := run("incident timeline 7")
	if a.Title != "Timeline of P1 · #7 ServiceDown · orders-service: 4 events" || a.Private {
		t.Fatalf("title %q (private %v)", a.Title, a.Private)
	}
	want := "2026-11-20 02:14:05  opened            ServiceDown · orders-service opened at P1: 1 alert firing\n" +
		"2026-11-20 02:17:05  acknowledged      acknowledged by carol (UCAROL)\n" +
		"2026-11-20 02:18:05  action            carol (UCAROL) ran /ops health orders-service\n" +
		"2026-11-20 02:19:05  linked            part of outage #9 (Complete outage: 3 services failing)\n"
	if a.Pre != want {
		t.Fatalf("timeline:\n%s\nwant:\n%s", a.Pre, want)
	}
	if a.File == nil || a.File.Name != "incident-7-timeline.txt" || string(a.File.Content) != want {
		t.Fatalf("file = %+v", a.File)
	}
	if a := run("incident timeline 8"); !strings.HasSuffix(a.Title, ": 0 events") || a.Pre != "" {
		t.Fatalf("empty timeline: %+v", a)
	}
	if a := run("incident timeline 99"); a.Title != "No incident #99." || !a.Private {
		t.Fatalf("unknown incident: %+v", a)
	}
	if a := run("incident timeline"); !strings.Contains(a.Title, "missing id") {
		t.Fatalf("no id: %q", a.Title)
	}
}

func TestIncidentTimelineBounded(t *testing.T) {
	d := bot.IncidentDetail{Incident: bot.Incident{ID: 5, Severity: bot.P2, Title: "storm"}}
	for i := range maxTimelineEvents + 3 {
		d.Timeline = append(d.Timeline, bot.Event{At: t0.Add(time.Duration(i) * time.Second), Kind: bot.EventAlertFiring, Detail: "x"})
	}
	a := timelineAnswer(d)
	if n := strings.Count(a.Pre, "\n"); n != maxTimelineEvents+1 {
		t.Fatalf("%d lines, want %d events and one note", n, maxTimelineEvents)
	}
	if !strings.HasPrefix(a.Pre, "(3 earlier events: chatops incident export 5 has them all)\n") {
		t.Fatalf("no note on the left-out events: %q", a.Pre[:80])
	}
}
