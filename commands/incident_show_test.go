package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
)

// An incident a storm filled with 5,000 alerts and events: show and
// timeline ask the store for what they list, and say how much more
// there is.
func TestIncidentShowBigIncident(t *testing.T) {
	const n = 5000
	d := bot.IncidentDetail{Incident: bot.Incident{ID: 9, Severity: bot.P1, Status: bot.IncidentOpen, Firing: n, Title: "storm", OpenedAt: t0}}
	for i := range n {
		d.Alerts = append(d.Alerts, bot.Alert{Fingerprint: fmt.Sprint(i), Status: bot.AlertFiring, Severity: bot.P1,
			Labels: map[string]string{"alertname": "ServiceDown", "pod": fmt.Sprintf("pod-%d", i)}})
		d.Timeline = append(d.Timeline, bot.Event{At: t0.Add(time.Duration(i) * time.Second), Kind: bot.EventAlertFiring, Detail: fmt.Sprintf("pod-%d firing", i)})
	}
	store := &fakeIncidents{detail: map[int64]bot.IncidentDetail{9: d}}
	r, err := command.NewRouter(Table(Deps{Incidents: store}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(text string) bot.Answer {
		rec := &answers{}
		r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C1", Text: text}, rec)
		return rec.got[0]
	}
	a := run("incident show 9")
	lines := strings.Split(strings.TrimSuffix(a.Pre, "\n"), "\n")
	if len(lines) != 2+showAlertLines+1+1+showEvents || !strings.Contains(a.Pre, "  …and 4985 more\n") ||
		!strings.Contains(a.Pre, "  (4980 earlier events)\n") || !strings.HasSuffix(a.Pre, "pod-4999 firing\n") {
		t.Fatalf("show: %d lines:\n%s", len(lines), a.Pre)
	}
	if a := run("incident timeline 9"); !strings.HasSuffix(a.Title, ": 5000 events") || strings.Count(a.Pre, "\n") != n {
		t.Fatalf("timeline: %q with %d lines", a.Title, strings.Count(a.Pre, "\n"))
	}
	if want := [][2]int{{showAlertLines, showEvents}, {0, maxTimelineEvents}}; !slices.Equal(store.views, want) {
		t.Fatalf("views asked for %v, want %v: what the answers list, not the whole incident", store.views, want)
	}
}
