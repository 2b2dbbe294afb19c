package bot

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bakewise/chatops/policy"
	"go.uber.org/zap"
)

type incidentsByID map[int64]IncidentDetail

func (m incidentsByID) GetIncident(_ context.Context, id int64) (IncidentDetail, error) {
	d, ok := m[id]
	if !ok {
		return d, ErrNotFound
	}
	return d, nil
}

// ranCommands records the commands a router ran: the read-only ones by
// their Run, the destructive ones at their hand-over to the approvals.
type ranCommands struct {
	mu   sync.Mutex
	text []string
	role []policy.Role
}

func (r *ranCommands) add(inv Invocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.text = append(r.text, inv.Command.Text)
	r.role = append(r.role, inv.Role)
}

func (r *ranCommands) Request(_ context.Context, inv Invocation, _ Plan) (Answer, error) {
	r.add(inv)
	return Answer{Title: "held for approval"}, nil
}

func (r *ranCommands) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.text) == 0 {
		return ""
	}
	return r.text[len(r.text)-1]
}

// runbookRouter has the six commands runbook buttons stand for, with the
// roles the real table gives them.
func runbookRouter(t *testing.T, ran *ranCommands, roles map[string]policy.Role) *Router {
	t.Helper()
	svc := Arg{Name: "service", Positional: true, Required: true}
	read := func(name string, args ...Arg) CommandSpec {
		return CommandSpec{Name: name, Summary: name, Role: policy.Viewer, Args: args,
			Run: func(_ context.Context, inv Invocation) (Answer, error) {
				ran.add(inv)
				return Answer{Title: "ran " + inv.Command.Text}, nil
			}}
	}
	destructive := func(name string) CommandSpec {
		return CommandSpec{Name: name, Summary: name, Role: policy.Admin, Destructive: true, Args: []Arg{svc},
			Plan:    func(context.Context, Invocation) (Plan, error) { return Plan{Target: "deployment"}, nil },
			Execute: func(context.Context, Invocation, Plan) (string, error) { return "done", nil }}
	}
	specs := []CommandSpec{
		read("health", Arg{Name: "service", Positional: true}), read("logs", svc), read("history", svc), read("status", svc),
		destructive("restart"), destructive("rollback"),
	}
	r, err := NewRouter(specs, RouterConfig{Root: "ops", Channels: []string{"C1"},
		Authorize: func(_ context.Context, cmd Command, _ *CommandSpec) (policy.Role, error) {
			return roles[cmd.User.UserID], nil
		}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.SetActions(ran)
	return r
}

// A runbook button runs, through the router, the command it stands for on
// the incident's service: the same command text a person would type, so
// roles, channels, approval and audit apply as they do to typed commands.
func TestRunbookButtonsRouteToCommands(t *testing.T) {
	incidents := incidentsByID{
		12: {Incident: Incident{ID: 12, CommonLabels: map[string]string{"alertname": "ServiceDown", "service": "orders-service"}}},
		13: {Incident: Incident{ID: 13, CommonLabels: map[string]string{"alertname": "DatabaseDown"}}},
		14: {Incident: Incident{ID: 14, CommonLabels: map[string]string{"service": "orders --tail 9999"}}},
	}
	roles := map[string]policy.Role{"UADMIN": policy.Admin, "UVIEW": policy.Viewer}
	tests := []struct {
		name, button, user, channel string
		wantRun                     string // "" when nothing may run
		wantAnswer                  string
	}{
		{"health", "chatops:run:health:12", "UVIEW", "C1", "health orders-service", "ran health orders-service"},
		{"logs", "chatops:run:logs:12", "UVIEW", "C1", "logs orders-service", "ran logs orders-service"},
		{"history", "chatops:run:history:12", "UVIEW", "C1", "history orders-service", "ran history"},
		{"status", "chatops:run:status:12", "UVIEW", "C1", "status orders-service", "ran status"},
		{"restart goes to approval", "chatops:run:restart:12", "UADMIN", "C1", "restart orders-service", "held for approval"},
		{"rollback goes to approval", "chatops:run:rollback:12", "UADMIN", "C1", "rollback orders-service", "held for approval"},
		{"restart needs the role", "chatops:run:restart:12", "UVIEW", "C1", "", "restart needs the admin role"},
		{"channel rules apply", "chatops:run:health:12", "UVIEW", "C-ELSEWHERE", "", "not accepted in this channel"},
		{"no service: health runs namespace-wide", "chatops:run:health:13", "UVIEW", "C1", "health", "ran health"},
		{"no service: logs cannot", "chatops:run:logs:13", "UVIEW", "C1", "", "Incident #13 names no service"},
		{"no service: rollback cannot", "chatops:run:rollback:13", "UADMIN", "C1", "", "names no service"},
		{"a label is not a command line", "chatops:run:logs:14", "UVIEW", "C1", "", "is not a service name; type /ops logs <service>"},
		{"unknown incident", "chatops:run:logs:99", "UVIEW", "C1", "", "There is no incident #99."},
		{"unknown action", "chatops:run:scale:12", "UADMIN", "C1", "", "That button is not one chatops knows."},
		{"bad id", "chatops:run:logs:x", "UVIEW", "C1", "", "That button is not one chatops knows."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ran := &ranCommands{}
			b := &Buttons{Router: runbookRouter(t, ran, roles), Incidents: incidents}
			rec := &recorder{}
			b.HandleClick(context.Background(), Click{User: Identity{Platform: "slack", UserID: tc.user}, Platform: "slack",
				Channel: tc.channel, Thread: "1700000000.000100", ButtonID: tc.button}, rec)
			if got := ran.last(); got != tc.wantRun {
				t.Fatalf("ran %q, want %q", got, tc.wantRun)
			}
			if len(rec.answers) != 1 || !strings.Contains(rec.answers[0].Title, tc.wantAnswer) {
				t.Fatalf("answers %+v, want one saying %q", rec.answers, tc.wantAnswer)
			}
		})
	}
}

func TestRunbookButtonsWithoutIncidents(t *testing.T) {
	ran := &ranCommands{}
	b := &Buttons{Router: runbookRouter(t, ran, nil)}
	rec := &recorder{}
	b.HandleClick(context.Background(), Click{User: Identity{Platform: "slack", UserID: "U1"}, Platform: "slack", Channel: "C1",
		ButtonID: "chatops:run:health:12"}, rec)
	if ran.last() != "" || !strings.Contains(rec.answers[0].Title, "not available") {
		t.Fatalf("ran %q, answered %+v", ran.last(), rec.answers)
	}
}

func TestRunbookMessage(t *testing.T) {
	rbs := Runbooks{"ServiceDown": {
		Steps:   []string{"Check pod status: kubectl get pods -n bakery-ia", "Restart if safe"},
		Actions: []RunbookAction{ActionRollback, ActionHealth, ActionLogs, ActionRestart},
	}}
	d := IncidentDetail{Incident: Incident{ID: 12, Severity: P1, Status: IncidentOpen,
		GroupLabels:  map[string]string{"alertname": "ServiceDown", "service": "orders-service"},
		CommonLabels: map[string]string{"alertname": "ServiceDown", "service": "orders-service"}}}
	m := RunbookMessage(d, rbs)
	if m.Title != "Runbook: ServiceDown" || m.Severity != P1 || m.Color != Color(P1, IncidentOpen) {
		t.Fatalf("message %+v", m)
	}
	if want := "1. Check pod status: kubectl get pods -n bakery-ia|2. Restart if safe|The buttons act on orders-service; restart and roll back ask for a second person's approval."; strings.Join(m.Lines, "|") != want {
		t.Fatalf("lines %q", m.Lines)
	}
	var ids []string
	for _, b := range m.Buttons {
		ids = append(ids, b.ID)
		if len(b.ID) > 100 {
			t.Fatalf("button id %q is longer than Discord takes", b.ID)
		}
		if b.Danger != (strings.Contains(b.ID, "restart") || strings.Contains(b.ID, "rollback")) {
			t.Fatalf("button %+v: destructive ones, and only they, are drawn as dangerous", b)
		}
	}
	// In the table's order, whatever the configuration's.
	if got := strings.Join(ids, " "); got != "chatops:run:health:12 chatops:run:logs:12 chatops:run:restart:12 chatops:run:rollback:12" {
		t.Fatalf("buttons %s", got)
	}

	// The alert name from the common labels when the group has none.
	d.GroupLabels = map[string]string{"service": "orders-service"}
	if m := RunbookMessage(d, rbs); m.Title != "Runbook: ServiceDown" {
		t.Fatalf("common alertname: %q", m.Title)
	}
	d.CommonLabels = map[string]string{"alertname": "DiskFull"}
	m = RunbookMessage(d, rbs)
	if m.Title != "No runbook for DiskFull: add one under runbooks in the configuration." || len(m.Buttons) != 0 || len(m.Lines) != 0 {
		t.Fatalf("no runbook: %+v", m)
	}
	d.CommonLabels = nil
	if m := RunbookMessage(d, rbs); !strings.HasPrefix(m.Title, "No runbook for this alert group") {
		t.Fatalf("no alertname: %q", m.Title)
	}
	// Without a service, the message says what the buttons can do.
	d.CommonLabels = map[string]string{"alertname": "ServiceDown"}
	if m := RunbookMessage(d, rbs); !strings.Contains(m.Lines[len(m.Lines)-1], "names no single service") {
		t.Fatalf("no service: %q", m.Lines)
	}
}
