package outbox

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

var updatePostMortem = flag.Bool("update", false, "rewrite testdata/postmortem-*.golden")

var pmT0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

// resolvedP1 is a ServiceDown incident handled from its thread: two pods
// down, acknowledged, a restart approved and run, part of an outage.
func resolvedP1() bot.IncidentDetail {
	at := func(m int) time.Time { return pmT0.Add(time.Duration(m) * time.Minute) }
	acked, resolved := at(3), at(17)
	labels := func(pod string) map[string]string {
		return map[string]string{"alertname": "ServiceDown", "service": "orders-service", "pod": pod, "severity": "critical"}
	}
	return bot.IncidentDetail{
		Incident: bot.Incident{
			ID: 12, Receiver: "chatops", GroupKey: `{}:{alertname="ServiceDown", service="orders-service"}`,
			Status: bot.IncidentResolved, Severity: bot.P1, Title: "ServiceDown · orders-service",
			GroupLabels:       map[string]string{"alertname": "ServiceDown", "service": "orders-service"},
			CommonLabels:      map[string]string{"alertname": "ServiceDown", "service": "orders-service", "severity": "critical"},
			CommonAnnotations: map[string]string{"summary": "orders-service is down | no pods ready"},
			Resolved:          2, OpenedAt: pmT0, ResolvedAt: &resolved, UpdatedAt: resolved,
			AckedAt: &acked, AckedBy: "carol (UCAROL)",
		},
		Alerts: []bot.Alert{
			{Fingerprint: "b", Status: bot.AlertResolved, Severity: bot.P1, Labels: labels("orders-7d9f-b"), StartsAt: at(-1), EndsAt: at(16)},
			{Fingerprint: "a", Status: bot.AlertResolved, Severity: bot.P1, Labels: labels("orders-7d9f-a"), StartsAt: at(-2), EndsAt: at(15)},
		},
		Timeline: []bot.Event{
			{ID: 1, At: pmT0, Kind: bot.EventOpened, Detail: "ServiceDown · orders-service opened at P1: 2 alerts firing"},
			{ID: 2, At: pmT0, Kind: bot.EventAlertFiring, Detail: "ServiceDown service=orders-service firing (P1)"},
			{ID: 3, At: at(1), Kind: bot.EventLinked, Detail: "part of outage #40 (Complete outage: 3 services failing)"},
			{ID: 4, At: acked, Kind: bot.EventAcknowledged, Detail: "acknowledged by carol (UCAROL)"},
			{ID: 5, At: at(5), Kind: bot.EventAction, Detail: "carol (UCAROL) ran /ops logs orders-service --previous"},
			{ID: 6, At: at(8), Kind: bot.EventAction, Detail: "carol (UCAROL) asked to restart deployment bakery-ia/orders-service (request #5, needs approval)"},
			{ID: 7, At: at(9), Kind: bot.EventAction, Detail: "request #5 (restart) approved by bob (UBOB)"},
			{ID: 8, At: at(9), Kind: bot.EventAction, Detail: "request #5 restart deployment bakery-ia/orders-service: Ran at 02:23:05 UTC: restarted"},
			{ID: 9, At: at(15), Kind: bot.EventAlertResolved, Detail: "ServiceDown service=orders-service resolved (P1)"},
			{ID: 10, At: resolved, Kind: bot.EventResolved, Detail: "all alerts resolved"},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updatePostMortem {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot -run PostMortem -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (run with -update if the change is meant):\n--- got\n%s", path, got)
	}
}

func TestPostMortemGolden(t *testing.T) {
	golden(t, "postmortem-p1-resolved.golden", PostMortem(resolvedP1()))

	// Never acknowledged, still open, no alerts of its own, flapped once.
	d := resolvedP1()
	d.ID, d.Severity, d.Status, d.ResolvedAt, d.AckedAt, d.AckedBy = 40, bot.P0, bot.IncidentOpen, nil, nil, ""
	d.Title, d.Alerts = "Complete outage: 3 services failing", nil
	d.GroupKey = bot.OutageGroupKey
	d.CommonLabels = map[string]string{"alertname": bot.OutageAlertName}
	d.CommonAnnotations = map[string]string{"services": "auth-service, gateway, orders-service",
		"summary": "Critical alerts on 3 services within 5m: auth-service, gateway, orders-service"}
	d.Timeline = []bot.Event{
		{ID: 20, At: pmT0, Kind: bot.EventOpened, Detail: "Complete outage: 3 services failing opened at P0"},
		{ID: 21, At: pmT0, Kind: bot.EventLinked, Detail: "linked #12 ServiceDown · orders-service"},
		{ID: 22, At: pmT0.Add(time.Minute), Kind: bot.EventReopened, Detail: "fired again"},
	}
	golden(t, "postmortem-p0-open.golden", PostMortem(d))
}

func TestPostMortemQuestions(t *testing.T) {
	d := resolvedP1()
	late := pmT0.Add(40 * time.Minute)
	d.AckedAt = &late
	rec := recordOf(d)
	qs := strings.Join(openQuestions(&d.Incident, &rec), "\n")
	if !strings.Contains(qs, "Acknowledging took 40m, past the P1 response time of 15m: why?") {
		t.Fatalf("a late acknowledgement is not questioned:\n%s", qs)
	}
	if !strings.Contains(qs, "part of outage #40") || strings.Contains(qs, "No command was run") {
		t.Fatalf("questions:\n%s", qs)
	}
}

func TestThreadReplyOnResolve(t *testing.T) {
	d := resolvedP1()
	dest := bot.Destination{Name: "incidents", Mention: "S1"}
	m, ok := ThreadReply(d, dest, d.Timeline[8:])
	if !ok {
		t.Fatal("a resolution posted nothing")
	}
	if m.Title != "Resolved after 17m" {
		t.Fatalf("title %q", m.Title)
	}
	want := []string{
		"Duration: 18m (02:12–02:30 UTC)",
		"Time to acknowledge: 3m (carol (UCAROL))",
		"Time to resolve: 17m",
		"Post-mortem draft (P1): 4 actions taken, 4 open questions.",
		"Action: carol (UCAROL) ran /ops logs orders-service --previous",
		"Action: carol (UCAROL) asked to restart deployment bakery-ia/orders-service (request #5, needs approval)",
		"Action: request #5 (restart) approved by bob (UBOB)",
		"…and 1 more action",
		"Full draft: chatops incident export 12",
		"ServiceDown service=orders-service resolved (P1)",
		"all alerts resolved",
	}
	if strings.Join(m.Lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(m.Lines, "\n"), strings.Join(want, "\n"))
	}

	// A P2 gets the times, not a draft; never acknowledged says so.
	d.Severity, d.AckedAt, d.AckedBy = bot.P2, nil, ""
	m, _ = ThreadReply(d, dest, d.Timeline[9:])
	if got := strings.Join(m.Lines, "|"); got != "Duration: 18m (02:12–02:30 UTC)|Time to acknowledge: never acknowledged|Time to resolve: 17m|all alerts resolved" {
		t.Fatalf("P2 resolution: %q", got)
	}

	// Not resolved: the plain summary.
	d.Status, d.ResolvedAt = bot.IncidentOpen, nil
	m, _ = ThreadReply(d, dest, d.Timeline[1:2])
	if len(m.Lines) != 1 || m.Lines[0] != "ServiceDown service=orders-service firing (P1)" {
		t.Fatalf("open: %q", m.Lines)
	}
}

// Commands and approvals in the thread show there already: a batch of
// only those is recorded, not echoed.
func TestThreadReplySkipsEchoes(t *testing.T) {
	d := resolvedP1()
	d.Status, d.ResolvedAt = bot.IncidentOpen, nil
	if _, ok := ThreadReply(d, bot.Destination{}, d.Timeline[4:8]); ok {
		t.Fatal("a reply echoing the thread's own commands")
	}
	m, ok := ThreadReply(d, bot.Destination{}, d.Timeline[3:8])
	if !ok || len(m.Lines) != 5 {
		t.Fatalf("actions among other changes are summed up with them: %v %q", ok, m.Lines)
	}
}
