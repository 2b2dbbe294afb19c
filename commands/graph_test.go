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

// fakeGrapher records what it was asked to draw.
type fakeGrapher struct {
	incident int64
	service  string
	rng      time.Duration
}

func (g *fakeGrapher) GraphIncident(_ context.Context, inc bot.IncidentDetail, rng time.Duration) (bot.File, error) {
	g.incident, g.rng = inc.ID, rng
	return bot.File{Name: "incident.png", Content: []byte("png")}, nil
}

func (g *fakeGrapher) GraphService(_ context.Context, service string, rng time.Duration) (bot.File, error) {
	g.service, g.rng = service, rng
	return bot.File{Name: service + ".png", Content: []byte("png")}, nil
}

func TestGraph(t *testing.T) {
	store := &fakeIncidents{detail: map[int64]bot.IncidentDetail{
		7: {Incident: bot.Incident{ID: 7, Severity: bot.P1, Status: bot.IncidentOpen, Title: "HighErrorRate · orders-service", OpenedAt: t0}},
	}}
	g := &fakeGrapher{}
	r, err := command.NewRouter(Table(Deps{Incidents: store, Graphs: g}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(text string) bot.Answer {
		rec := &answers{}
		r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C1", Text: text}, rec)
		return rec.got[0]
	}
	if a := run("graph #7 --range 30m"); a.File == nil || g.incident != 7 || g.rng != 30*time.Minute ||
		a.Title != "#7 HighErrorRate · orders-service over the last 30m" {
		t.Fatalf("incident graph: %+v, asked %+v", a, g)
	}
	if a := run("graph 7"); a.File == nil || g.rng != time.Hour {
		t.Fatalf("incident graph, default range: %+v, asked %+v", a, g)
	}
	if a := run("graph orders-service --range 2h"); a.File == nil || a.File.Name != "orders-service.png" || g.service != "orders-service" || g.rng != 2*time.Hour {
		t.Fatalf("service graph: %+v, asked %+v", a, g)
	}
	if a := run("graph 99"); a.Title != "No incident #99." || !a.Private {
		t.Fatalf("unknown incident: %+v", a)
	}
	g.service = ""
	views := len(store.views)
	for _, bad := range []string{"graph ../etc", "graph Orders_Service", "graph #-1", "graph #x", "graph orders-service --range 1m", "graph orders-service --range 200h", "graph"} {
		if a := run(bad); !a.Private || a.File != nil || g.service != "" {
			t.Errorf("%s: answered %+v (asked %q)", bad, a, g.service)
		}
	}
	if len(store.views) != views {
		t.Errorf("a bad target read the store: %v", store.views[views:])
	}
	// Without Prometheus the command is there and says so.
	r, _ = command.NewRouter(Table(Deps{Incidents: store}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if a := run("graph #7"); !strings.Contains(a.Title, "no Prometheus is configured") {
		t.Fatalf("no prometheus: %+v", a)
	}
}
