package commands

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/command"
)

func alertsRouter(t *testing.T, f *bottest.Firing, c bot.Classifier) *command.Router {
	t.Helper()
	r, err := command.NewRouter(Table(Deps{Firing: f, Severity: c, Now: func() time.Time { return t0 }}, nil),
		command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ask(t *testing.T, r *command.Router, text string) bot.Answer {
	t.Helper()
	rec := &answers{}
	r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C1", Text: text, User: bot.Identity{Platform: "slack", UserID: "U1"}}, rec)
	if len(rec.got) != 1 {
		t.Fatalf("%s: %d answers", text, len(rec.got))
	}
	return rec.got[0]
}

// TestAlertsGroupsAndOrders: alerts grouped by alertname and service, most
// urgent first, with counts, the oldest start, and what mutes them.
func TestAlertsGroupsAndOrders(t *testing.T) {
	f := &bottest.Firing{Alerts: bottest.SampleFiring(t0)}
	a := ask(t, alertsRouter(t, f, bot.Classifier{}), "alerts")
	if want := "🔥 8 alerts in 7 groups: 6 unmuted, 2 silenced or inhibited"; a.Title != want {
		t.Errorf("title %q, want %q", a.Title, want)
	}
	rows := strings.Split(strings.TrimRight(a.Pre, "\n"), "\n")
	if len(rows) != 8 {
		t.Fatalf("%d table lines, want a header and 7 groups:\n%s", len(rows), a.Pre)
	}
	for i, want := range []string{
		"P0  ServiceDown",
		"P1  HighErrorRate",
		"P1  Disk<!channel>`Full`",
		"P2  HighMemoryUsage",
		"P2  CertExpiring",
		"P2  HighLatency",
		"P3  Watchdog",
	} {
		if got := strings.Join(strings.Fields(rows[i+1])[:2], "  "); got != want {
			t.Errorf("row %d = %q, want it to start %q", i+1, rows[i+1], want)
		}
	}
	orders := rows[2]
	for _, want := range []string{"orders-service", " 2 ", "11-20 01:09 · 1h05m", "1 firing · 1 silenced by 3f2a9c1e"} {
		if !strings.Contains(orders, want) {
			t.Errorf("orders-service's row %q lacks %q", orders, want)
		}
	}
	if !strings.Contains(rows[6], "1 inhibited by ServiceDown") {
		t.Errorf("the inhibited group does not name what inhibits it: %q", rows[6])
	}
	if a.Color != bot.Color(bot.P0, bot.IncidentOpen) {
		t.Errorf("colour %06x, want P0's", a.Color)
	}
}

// TestAlertsHostileLabels: label values reach the table as one clipped
// line, and only groups with plain names get a button, whose id holds
// those names alone.
func TestAlertsHostileLabels(t *testing.T) {
	f := &bottest.Firing{Alerts: bottest.SampleFiring(t0)}
	a := ask(t, alertsRouter(t, f, bot.Classifier{}), "alerts")
	if strings.Contains(a.Pre, "\n```") || strings.Contains(a.Pre, strings.Repeat("x", 60)) || !strings.Contains(a.Pre, "billing 30m <@U0BOSS> ```injected```") {
		t.Errorf("a label value broke a line or was not clipped:\n%s", a.Pre)
	}
	var ids []string
	for _, b := range a.Buttons {
		ids = append(ids, b.ID)
	}
	want := []string{"chatops:silence:ServiceDown:gateway", "chatops:silence:HighErrorRate:orders-service", "chatops:silence:HighMemoryUsage:inventory-service"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("buttons %v, want %v (none for muted groups, hostile names or no service)", ids, want)
	}
	if !strings.Contains(strings.Join(a.Lines, "\n"), "3 groups without a Silence button") {
		t.Errorf("the answer does not say which groups have no button: %q", a.Lines)
	}
}

// TestAlertsFilters: --service goes to Alertmanager's filter, --severity
// keeps alerts of that severity by the bot's own mapping (rules first).
func TestAlertsFilters(t *testing.T) {
	f := &bottest.Firing{Alerts: bottest.SampleFiring(t0)}
	rules := bot.Classifier{Rules: []bot.SeverityRule{{Name: "memory is urgent", Severity: bot.P1,
		Matchers: []bot.Matcher{{Label: "alertname", Op: bot.MatchEqual, Value: "HighMemoryUsage"}}}}}
	r := alertsRouter(t, f, rules)

	a := ask(t, r, "alerts --severity p1")
	if !strings.HasPrefix(a.Title, "🔥 4 alerts in 3 groups at P1") || !strings.Contains(a.Pre, "HighMemoryUsage") || strings.Contains(a.Pre, "ServiceDown") {
		t.Errorf("--severity P1 with a rule for HighMemoryUsage:\n%s\n%s", a.Title, a.Pre)
	}
	a = ask(t, r, "alerts --service gateway")
	if got := f.Asked(); got[len(got)-1] != "gateway" {
		t.Errorf("Alertmanager was asked for %q, want gateway", got[len(got)-1])
	}
	if !strings.HasPrefix(a.Title, "🔥 2 alerts in 2 groups for gateway") {
		t.Errorf("--service gateway: %s", a.Title)
	}
	a = ask(t, r, "alerts --service gateway --severity P3")
	if a.Title != "✅ No alerts firing for gateway at P3" || len(a.Buttons) != 0 {
		t.Errorf("nothing to show: %+v", a)
	}
	n := len(f.Asked())
	for _, bad := range []string{"alerts --service Gateway", `alerts --service "a b"`, "alerts --service x,y", "alerts --severity critical", "alerts --severity P4"} {
		a = ask(t, r, bad)
		if !a.Private || !strings.Contains(a.Title, "usage: /ops alerts") {
			t.Errorf("%s: %+v, want a private usage answer", bad, a)
		}
	}
	if len(f.Asked()) != n {
		t.Error("an invalid filter reached Alertmanager")
	}
}

// TestAlertsBounds: past maxSilenceButtons groups, past maxAlertGroups
// rows, and past maxAlertsRead alerts, the answer says what it left out.
func TestAlertsBounds(t *testing.T) {
	var list []bot.FiringAlert
	for i := range maxAlertsRead + 50 {
		list = append(list, bot.FiringAlert{Labels: map[string]string{"alertname": "A" + strings.Repeat("b", i%7), "service": "svc-" + strconv.Itoa(i%300)}, StartsAt: t0.Add(-time.Duration(i) * time.Second)})
	}
	a := ask(t, alertsRouter(t, &bottest.Firing{Alerts: list}, bot.Classifier{}), "alerts")
	if len(a.Buttons) != maxSilenceButtons {
		t.Errorf("%d buttons, want %d", len(a.Buttons), maxSilenceButtons)
	}
	if n := strings.Count(a.Pre, "\n"); n != maxAlertGroups+1 {
		t.Errorf("%d table lines, want %d", n, maxAlertGroups+1)
	}
	lines := strings.Join(a.Lines, "\n")
	for _, want := range []string{"Alertmanager holds 5050 alerts; the first 5000 are counted here.", "The 200 most urgent of 2100 groups are listed.", "Silence buttons are shown for the 10 most urgent groups."} {
		if !strings.Contains(lines, want) {
			t.Errorf("lines lack %q:\n%s", want, lines)
		}
	}
}

func TestAlertsAlertmanagerDown(t *testing.T) {
	a := ask(t, alertsRouter(t, &bottest.Firing{Err: errors.New("dial tcp: connection refused")}, bot.Classifier{}), "alerts")
	if !a.Private || strings.Contains(a.Title, "🔥") {
		t.Errorf("Alertmanager down: %+v", a)
	}
	r, err := command.NewRouter(Table(Deps{}, nil), command.Config{Root: "ops", Channels: []string{"C1"}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := ask(t, r, "alerts"); !strings.Contains(a.Title, "no Alertmanager is configured") {
		t.Errorf("without Alertmanager: %q", a.Title)
	}
}
