package command

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bakewise/chatops/bot"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/policy"
)

type incidentsByID map[int64]bot.IncidentDetail

func (m incidentsByID) IncidentView(_ context.Context, id int64, _, _ int) (bot.IncidentDetail, error) {
	d, ok := m[id]
	if !ok {
		return d, bot.ErrNotFound
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

func (r *ranCommands) add(inv bot.Invocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.text = append(r.text, inv.Command.Text)
	r.role = append(r.role, inv.Role)
}

func (r *ranCommands) Request(_ context.Context, inv bot.Invocation, _ bot.Plan) (bot.Answer, error) {
	r.add(inv)
	return bot.Answer{Title: "held for approval"}, nil
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
	svc := bot.Arg{Name: "service", Positional: true, Required: true}
	read := func(name string, args ...bot.Arg) bot.CommandSpec {
		return bot.CommandSpec{Name: name, Summary: name, Role: policy.Viewer, Args: args,
			Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
				ran.add(inv)
				return bot.Answer{Title: "ran " + inv.Command.Text}, nil
			}}
	}
	destructive := func(name string) bot.CommandSpec {
		return bot.CommandSpec{Name: name, Summary: name, Role: policy.Admin, Destructive: true, Args: []bot.Arg{svc},
			Plan:    func(context.Context, bot.Invocation) (bot.Plan, error) { return bot.Plan{Target: "deployment"}, nil },
			Execute: func(context.Context, bot.Invocation, bot.Plan) (string, error) { return "done", nil }}
	}
	specs := []bot.CommandSpec{
		read("health", bot.Arg{Name: "service", Positional: true}), read("logs", svc), read("history", svc), read("status", svc),
		destructive("restart"), destructive("rollback"),
	}
	r, err := NewRouter(specs, Config{Root: "ops", Channels: []string{"C1"}, Actions: ran,
		Roles: roleFunc(func(_ context.Context, id bot.Identity, _ string) (policy.Role, error) {
			return roles[id.UserID], nil
		})}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A runbook button runs, through the router, the command it stands for on
// the incident's service: the same command text a person would type, so
// roles, channels, approval and audit apply as they do to typed commands.
func TestRunbookButtonsRouteToCommands(t *testing.T) {
	incidents := incidentsByID{
		12: {Incident: bot.Incident{ID: 12, CommonLabels: map[string]string{"alertname": "ServiceDown", "service": "orders-service"}}},
		13: {Incident: bot.Incident{ID: 13, CommonLabels: map[string]string{"alertname": "DatabaseDown"}}},
		14: {Incident: bot.Incident{ID: 14, CommonLabels: map[string]string{"service": "orders --tail 9999"}}},
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
			b := NewButtons(nil, runbookRouter(t, ran, roles), incidents)
			rec := &recorder{}
			b.HandleClick(context.Background(), bot.Click{User: bot.Identity{Platform: "slack", UserID: tc.user}, Platform: "slack",
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
	b := NewButtons(nil, runbookRouter(t, ran, nil), nil)
	rec := &recorder{}
	b.HandleClick(context.Background(), bot.Click{User: bot.Identity{Platform: "slack", UserID: "U1"}, Platform: "slack", Channel: "C1",
		ButtonID: "chatops:run:health:12"}, rec)
	if ran.last() != "" || !strings.Contains(rec.answers[0].Title, "not available") {
		t.Fatalf("ran %q, answered %+v", ran.last(), rec.answers)
	}
}
