// Package bottest holds what the behaviour tests of bot's services share: a
// controllable clock, in-memory stand-ins for a chat platform and its
// approval cards, an answer recorder, builders of alert groups and the
// readers that check an incident in a store. It never opens a store itself
// (integrations/sqlstore/sqlstoretest does) and never imports a service, so
// every service's tests can use it.
package bottest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

// T0 is when every test's clock starts: a night shift's 02:14.
var T0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

// Clock is a controllable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock is a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// The people of the tests, on Slack.
var (
	Alice = bot.Identity{Platform: "slack", UserID: "UALICE", Name: "alice"}
	Bob   = bot.Identity{Platform: "slack", UserID: "UBOB", Name: "bob"}
	Carol = bot.Identity{Platform: "slack", UserID: "UCAROL", Name: "carol"}
	Olga  = bot.Identity{Platform: "slack", UserID: "UOLGA", Name: "olga"}
)

// Group builds a notification for group key of the ServiceDown alert on
// service key, with alerts.
func Group(key string, status bot.AlertStatus, alerts ...bot.Alert) bot.AlertGroup {
	return bot.AlertGroup{
		Receiver:     "chatops",
		GroupKey:     key,
		Status:       status,
		GroupLabels:  map[string]string{"alertname": "ServiceDown", "service": key},
		CommonLabels: map[string]string{"alertname": "ServiceDown", "service": key},
		ExternalURL:  "http://alertmanager:9093",
		Alerts:       alerts,
	}
}

// Alert is one ServiceDown alert of pod fp with a severity label; a
// resolved one ended 17 minutes after it started.
func Alert(fp string, status bot.AlertStatus, severity string, startsAt time.Time) bot.Alert {
	a := bot.Alert{
		Fingerprint: fp,
		Status:      status,
		Labels:      map[string]string{"alertname": "ServiceDown", "pod": fp, "severity": severity},
		Annotations: map[string]string{"summary": "down"},
		StartsAt:    startsAt,
	}
	if status == bot.AlertResolved {
		a.EndsAt = startsAt.Add(17 * time.Minute)
	}
	return a
}

// Ingester takes notifications (the incident engine).
type Ingester interface {
	Ingest(ctx context.Context, g bot.AlertGroup) (bot.IngestResult, error)
}

// Ingest hands g to e and fails the test if it is not stored.
func Ingest(t testing.TB, e Ingester, g bot.AlertGroup) bot.IngestResult {
	t.Helper()
	// The engine classifies its own copy; the caller's slice stays as it was.
	g.Alerts = append([]bot.Alert(nil), g.Alerts...)
	res, err := e.Ingest(context.Background(), g)
	if err != nil {
		t.Fatalf("Ingest(%s): %v", g.GroupKey, err)
	}
	return res
}

// IncidentReader reads incidents (the store).
type IncidentReader interface {
	GetIncident(ctx context.Context, id int64) (bot.IncidentDetail, error)
	ListIncidents(ctx context.Context, f bot.IncidentFilter) ([]bot.Incident, error)
}

// Get reads incident id or fails the test.
func Get(t testing.TB, s IncidentReader, id int64) bot.IncidentDetail {
	t.Helper()
	d, err := s.GetIncident(context.Background(), id)
	if err != nil {
		t.Fatalf("GetIncident(%d): %v", id, err)
	}
	return d
}

// List lists the incidents of a status ("": all) or fails the test.
func List(t testing.TB, s IncidentReader, status bot.IncidentStatus) []bot.Incident {
	t.Helper()
	incs, err := s.ListIncidents(context.Background(), bot.IncidentFilter{Status: status})
	if err != nil {
		t.Fatalf("ListIncidents: %v", err)
	}
	return incs
}

// Kinds are the kinds of an incident's events, in order.
func Kinds(d bot.IncidentDetail) []bot.EventKind {
	out := make([]bot.EventKind, len(d.Timeline))
	for i, e := range d.Timeline {
		out[i] = e.Kind
	}
	return out
}

// WantKinds checks an incident's timeline, kind by kind.
func WantKinds(t testing.TB, d bot.IncidentDetail, want ...bot.EventKind) {
	t.Helper()
	if got := Kinds(d); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("timeline of incident %d = %v, want %v", d.ID, got, want)
	}
}

// Details are the details of an incident's events of one kind, in order.
func Details(d bot.IncidentDetail, kind bot.EventKind) []string {
	var out []string
	for _, e := range d.Timeline {
		if e.Kind == kind {
			out = append(out, e.Detail)
		}
	}
	return out
}

// OutboxDepth is how many chat sync jobs wait in the store.
func OutboxDepth(t testing.TB, s interface {
	OutboxStats(ctx context.Context) (int, time.Time, error)
}) int {
	t.Helper()
	n, _, err := s.OutboxStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Answers records what a command or a click answered.
type Answers struct {
	mu  sync.Mutex
	all []bot.Answer
}

// Respond implements bot.Responder.
func (a *Answers) Respond(_ context.Context, ans bot.Answer) error {
	a.mu.Lock()
	a.all = append(a.all, ans)
	a.mu.Unlock()
	return nil
}

// All returns every answer so far.
func (a *Answers) All() []bot.Answer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bot.Answer(nil), a.all...)
}

// Last returns the last answer, failing the test when there is none.
func (a *Answers) Last(t testing.TB) bot.Answer {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.all) == 0 {
		t.Fatal("no answer")
	}
	return a.all[len(a.all)-1]
}

// Stepper runs one batch of due work and says how much it took (the outbox
// dispatcher's RunOnce).
type Stepper interface {
	RunOnce(ctx context.Context) (int, error)
}

// Drain runs d until nothing is due.
func Drain(t testing.TB, d Stepper) {
	t.Helper()
	for range 50 {
		n, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the outbox did not drain in 50 passes")
}

// ChatDests are two destinations on the Chat stand-in (platform "fake"):
// the incidents channel, which mentions the on-call group, and the alerts
// channel. ChatRoutes send P0 and P1 to the first, the rest to the second.
var (
	ChatDests = []bot.Destination{
		{Name: "incidents", Platform: "fake", Channel: "C-INC", Mention: "S-ONCALL"},
		{Name: "alerts", Platform: "fake", Channel: "C-ALERTS"},
	}
	ChatRoutes = bot.Routes{
		{Severities: []bot.Severity{bot.P0, bot.P1}, Destinations: []string{"incidents"}},
		{Destinations: []string{"alerts"}},
	}
)
