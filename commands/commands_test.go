package commands

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
)

type fakeIncidents struct {
	incs   []bot.Incident
	detail map[int64]bot.IncidentDetail
	err    error
	last   bot.IncidentFilter
	// views are the bounds each IncidentView asked for.
	views [][2]int
}

func (f *fakeIncidents) ListIncidents(_ context.Context, flt bot.IncidentFilter) ([]bot.Incident, error) {
	f.last = flt
	return f.incs, f.err
}

// IncidentView hands out what a store's view would: the first alerts
// and the newest events of the detail, and how many it has of each.
func (f *fakeIncidents) IncidentView(_ context.Context, id int64, alerts, events int) (bot.IncidentDetail, error) {
	if f.err != nil {
		return bot.IncidentDetail{}, f.err
	}
	d, ok := f.detail[id]
	if !ok {
		return d, bot.ErrNotFound
	}
	f.views = append(f.views, [2]int{alerts, events})
	d.AlertsTotal, d.EventsTotal = d.AlertCount(), d.EventCount()
	d.Alerts = d.Alerts[:min(len(d.Alerts), max(alerts, 0))]
	d.Timeline = d.Timeline[len(d.Timeline)-min(len(d.Timeline), max(events, 0)):]
	return d, nil
}

type answers struct{ got []bot.Answer }

func (a *answers) Respond(_ context.Context, ans bot.Answer) error {
	a.got = append(a.got, ans)
	return nil
}

var t0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

func TestCommands(t *testing.T) {
	resolvedAt := t0.Add(17 * time.Minute)
	store := &fakeIncidents{
		incs: []bot.Incident{
			{ID: 3, Severity: bot.P2, Status: bot.IncidentOpen, Firing: 2, Title: "HighMemoryUsage · forecasting-service", OpenedAt: t0},
			{ID: 2, Severity: bot.P0, Status: bot.IncidentOpen, Firing: 1, Title: "ServiceDown · gateway", OpenedAt: t0},
		},
		detail: map[int64]bot.IncidentDetail{1: {
			Incident: bot.Incident{ID: 1, Severity: bot.P1, Status: bot.IncidentResolved, Resolved: 1, Title: "ServiceDown · orders-service",
				OpenedAt: t0, ResolvedAt: &resolvedAt},
			Alerts:   []bot.Alert{{Status: bot.AlertResolved, Severity: bot.P1, Labels: map[string]string{"alertname": "ServiceDown", "service": "orders-service"}}},
			Timeline: []bot.Event{{At: t0, Detail: "opened"}, {At: resolvedAt, Detail: "all alerts resolved"}},
		}},
	}
	r, err := command.NewRouter(Table(Deps{Incidents: store}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		user       bot.Identity
		want       []string
		wantFilter bot.IncidentStatus
	}{
		{name: "whoami", text: "whoami", user: bot.Identity{Platform: "slack", UserID: "U1", Name: "ana", Groups: []string{"S-SRE"}},
			want: []string{"You are ana", "U1", "viewer", "S-SRE"}},
		{name: "list open, most urgent first", text: "incident list", wantFilter: bot.IncidentOpen,
			want: []string{"2 open incidents", "#2     P0", "ServiceDown · gateway\n#3"}},
		{name: "list all", text: "incident list --status all", wantFilter: "", want: []string{"recent incidents"}},
		{name: "list bad status", text: "incident list --status closed", want: []string{`status "closed": want open, resolved or all`, "usage: /ops incident list"}},
		{name: "show", text: "incident show 1", want: []string{"P1 · #1 ServiceDown · orders-service", "resolved: 0 firing, 1 resolved",
			`alertname="ServiceDown" service="orders-service"`, "all alerts resolved"}},
		{name: "show unknown", text: "incident show 99", want: []string{"No incident #99."}},
		{name: "show zero", text: "incident show 0", want: []string{"id: 0 is outside 1.."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &answers{}
			r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C1", Text: tc.text, User: tc.user}, rec)
			a := rec.got[0]
			all := a.Title + "\n" + strings.Join(a.Lines, "\n") + "\n" + a.Pre
			for _, f := range a.Fields {
				all += "\n" + f.Name + ": " + f.Value
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("answer lacks %q:\n%s", w, all)
				}
			}
			if strings.HasPrefix(tc.text, "incident list") && !strings.Contains(tc.name, "bad") && store.last.Status != tc.wantFilter {
				t.Errorf("filter status %q, want %q", store.last.Status, tc.wantFilter)
			}
		})
	}
}

func TestIncidentStoreError(t *testing.T) {
	store := &fakeIncidents{err: errors.New("database is down")}
	r, _ := command.NewRouter(Table(Deps{Incidents: store}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	rec := &answers{}
	r.Handle(context.Background(), bot.Command{Channel: "C1", Text: "incident list"}, rec)
	// A store's error is internal: chat gets a request id, not its text.
	if got := rec.got[0].Title; !strings.Contains(got, "incident list failed because of an internal error (request id ") ||
		strings.Contains(got, "database is down") || !rec.got[0].Private {
		t.Fatalf("answer = %+v", rec.got[0])
	}
}

type failingAlerts struct{}

func (failingAlerts) FiringBySeverity(context.Context, string) (map[string]int, error) {
	return nil, errors.New(`alertmanager API: get alerts: Get "http://10.0.0.9:9093/api/v2/alerts": dial tcp: i/o timeout`)
}

// The health answer says Alertmanager did not answer, not why: the
// address and the library's text are for the log.
func TestHealthHidesAlertmanagerError(t *testing.T) {
	a := healthAnswer(context.Background(), bot.HealthReport{Namespace: "bakery-ia"}, failingAlerts{})
	text := strings.Join(a.Lines, "\n")
	if !strings.Contains(text, "Alertmanager did not answer") || strings.Contains(text, "10.0.0.9") || strings.Contains(text, "i/o timeout") {
		t.Fatalf("lines = %q", text)
	}
}
