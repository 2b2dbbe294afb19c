package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"

	"github.com/bakewise/chatops/policy"
	"go.uber.org/zap"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "logs orders-service --tail 50", want: "[logs orders-service --tail 50]"},
		{in: "  logs   a  ", want: "[logs a]"},
		{in: `logs a --grep "timeout after"`, want: "[logs a --grep timeout after]"},
		{in: `logs a --grep 'it''s'`, want: "[logs a --grep its]"},
		{in: `logs a --grep ""`, want: "[logs a --grep ]"},
		{in: `logs "unterminated`, wantErr: true},
		{in: strings.Repeat("a ", 40), wantErr: true},
		{in: strings.Repeat("a", 3000), wantErr: true},
		{in: "logs a; rm -rf /", want: "[logs a; rm -rf /]"},
	}
	for _, tc := range tests {
		t.Run(tc.in[:min(len(tc.in), 30)], func(t *testing.T) {
			got, err := Tokenize(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && fmt.Sprint(got) != tc.want {
				t.Fatalf("Tokenize = %q, want %s", got, tc.want)
			}
		})
	}
}

// roleFunc is a function as the router's Roles.
type roleFunc func(ctx context.Context, id bot.Identity, channel string) (policy.Role, error)

func (f roleFunc) RoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error) {
	return f(ctx, id, channel)
}

// auditFunc is a function as the router's audit log.
type auditFunc func(ctx context.Context, rec bot.AuditRecord) error

func (f auditFunc) AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error {
	for _, r := range recs {
		if err := f(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

type recorder struct{ answers []bot.Answer }

func (r *recorder) Respond(_ context.Context, a bot.Answer) error {
	r.answers = append(r.answers, a)
	return nil
}

func testRouter(t *testing.T, roles roleFunc) *Router {
	t.Helper()
	specs := []bot.CommandSpec{
		{
			Name: "logs", Summary: "Recent logs of a service", Role: policy.Viewer,
			Args: []bot.Arg{
				{Name: "service", Positional: true, Required: true},
				{Name: "tail", Kind: bot.ArgInt, Min: 1, Max: 2000},
				{Name: "since", Kind: bot.ArgDuration, Min: 1, Max: 86400},
				{Name: "previous", Kind: bot.ArgBool},
			},
			Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
				return bot.Answer{Title: fmt.Sprintf("%s tail=%d since=%s previous=%v", inv.String("service"),
					inv.Int("tail", 100), inv.Duration("since", 0), inv.Bool("previous"))}, nil
			},
		},
		{Name: "incident show", Summary: "One incident", Role: policy.Viewer,
			Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true}},
			Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
				return bot.Answer{Title: "incident " + inv.String("id")}, nil
			}},
		{Name: "restart", Summary: "Restart a service", Role: policy.Admin,
			Run: func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{Title: "restarted"}, nil }},
		{Name: "slow", Summary: "Never finishes", Role: policy.Viewer, Timeout: 10 * time.Millisecond,
			Run: func(ctx context.Context, _ bot.Invocation) (bot.Answer, error) {
				<-ctx.Done()
				return bot.Answer{}, ctx.Err()
			}},
		{Name: "broken", Summary: "Fails", Role: policy.Viewer,
			Run: func(context.Context, bot.Invocation) (bot.Answer, error) {
				return bot.Answer{}, errors.New("the cluster said no")
			}},
	}
	cfg := Config{Root: "ops", Channels: []string{"C-OPS"}}
	if roles != nil {
		cfg.Roles = roles
	}
	r, err := NewRouter(specs, cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouter(t *testing.T) {
	r := testRouter(t, nil)
	tests := []struct {
		name, channel, text string
		options             map[string]string
		want                string
		private             bool
	}{
		{name: "runs with defaults", text: "logs orders-service", want: "orders-service tail=100 since=0s previous=false"},
		{name: "flags", text: "logs orders-service --tail 50 --since=10m --previous", want: "orders-service tail=50 since=10m0s previous=true"},
		{name: "typed options", text: "logs", options: map[string]string{"service": "gw", "tail": "7"}, want: "gw tail=7 since=0s previous=false"},
		{name: "two-word command", text: "incident show 12", want: "incident 12"},
		{name: "missing argument", text: "logs", want: "missing service\nusage: /ops logs <service>", private: true},
		{name: "tail out of range", text: "logs a --tail 5000", want: "tail: 5000 is outside 1..2000", private: true},
		{name: "bad duration", text: "logs a --since soon", want: `since: "soon" is not a duration`, private: true},
		{name: "unknown flag", text: "logs a --follow", want: "unknown option --follow", private: true},
		{name: "extra word", text: "logs a b", want: `unexpected "b"`, private: true},
		{name: "bool with value", text: "logs a --previous=yes", want: "--previous takes no value", private: true},
		{name: "not an integer id", text: "incident show twelve", want: `"twelve" is not a whole number`, private: true},
		{name: "unknown command gets help", text: "deploy everything", want: `Unknown command "deploy"`, private: true},
		{name: "empty gets help", text: "", want: "Commands (/ops help", private: true},
		{name: "help for one command", text: "help logs", want: "/ops logs <service> [--tail T] [--since S] [--previous]", private: true},
		{name: "help for unknown", text: "help nope", want: `No command "nope"`, private: true},
		{name: "channel not allowed", channel: "C-RANDOM", text: "logs a", want: "not accepted in this channel. They work in <#C-OPS>", private: true},
		{name: "role too low", text: "restart", want: "restart needs the admin role; you are viewer", private: true},
		{name: "timeout", text: "slow", want: "took longer than 10ms", private: true},
		{name: "handler error", text: "broken", want: "broken failed because of an internal error (request id ", private: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.channel
			if ch == "" {
				ch = "C-OPS"
			}
			rec := &recorder{}
			r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: ch, Text: tc.text, Options: tc.options}, rec)
			if len(rec.answers) != 1 {
				t.Fatalf("%d answers, want 1", len(rec.answers))
			}
			a := rec.answers[0]
			if !strings.Contains(a.Title, tc.want) {
				t.Fatalf("answer %q, want it to contain %q", a.Title, tc.want)
			}
			if a.Private != tc.private {
				t.Fatalf("private = %v, want %v", a.Private, tc.private)
			}
		})
	}
}

func TestRouterAuthorizeSlot(t *testing.T) {
	calls := 0
	r := testRouter(t, func(_ context.Context, id bot.Identity, _ string) (policy.Role, error) {
		calls++
		if id.UserID == "U-STRANGER" {
			return policy.NoAccess, errors.New("you have no access to this bot")
		}
		return policy.Admin, nil
	})
	rec := &recorder{}
	r.Handle(context.Background(), bot.Command{Channel: "C-OPS", Text: "restart", User: bot.Identity{UserID: "U-ADMIN"}}, rec)
	r.Handle(context.Background(), bot.Command{Channel: "C-OPS", Text: "restart", User: bot.Identity{UserID: "U-STRANGER"}}, rec)
	if rec.answers[0].Title != "restarted" || !strings.Contains(rec.answers[1].Title, "Your role could not be checked") ||
		strings.Contains(rec.answers[1].Title, "no access") || calls != 2 {
		t.Fatalf("answers %+v after %d authorizations", rec.answers, calls)
	}
	// A command typed wrong is refused before anyone is asked.
	r.Handle(context.Background(), bot.Command{Channel: "C-OPS", Text: "logs", User: bot.Identity{UserID: "U-ADMIN"}}, rec)
	if calls != 2 {
		t.Fatal("a malformed command reached authorization")
	}
}

func TestRouterRejectsBadTables(t *testing.T) {
	run := func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{}, nil }
	tests := []struct {
		name  string
		specs []bot.CommandSpec
	}{
		{"duplicate", []bot.CommandSpec{{Name: "a", Summary: "s", Role: policy.Viewer, Run: run}, {Name: "a", Summary: "s", Role: policy.Viewer, Run: run}}},
		{"three words", []bot.CommandSpec{{Name: "a b c", Summary: "s", Role: policy.Viewer, Run: run}}},
		{"no role", []bot.CommandSpec{{Name: "a", Summary: "s", Run: run}}},
		{"no handler", []bot.CommandSpec{{Name: "a", Summary: "s", Role: policy.Viewer}}},
		{"required after optional", []bot.CommandSpec{{Name: "a", Summary: "s", Role: policy.Viewer, Run: run,
			Args: []bot.Arg{{Name: "x", Positional: true}, {Name: "y", Positional: true, Required: true}}}}},
		{"help is built in", []bot.CommandSpec{{Name: "help", Summary: "s", Role: policy.Viewer, Run: run}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRouter(tc.specs, Config{Root: "ops"}, zap.NewNop(), nil); err == nil {
				t.Fatal("NewRouter accepted a bad table")
			}
		})
	}
}

func TestRestArgument(t *testing.T) {
	spec := &bot.CommandSpec{Name: "silence", Args: []bot.Arg{
		{Name: "what", Positional: true, Required: true},
		{Name: "reason", Positional: true, Required: true, Rest: true},
	}}
	args, err := parseArgs(spec, []string{"alertname=X", "deploying", "a", "fix"}, nil)
	if err != nil || args["reason"] != "deploying a fix" || args["what"] != "alertname=X" {
		t.Fatalf("parseArgs = %v, %v", args, err)
	}
	bad := bot.CommandSpec{Name: "x", Summary: "x", Role: policy.Viewer, Run: func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{}, nil },
		Args: []bot.Arg{{Name: "a", Positional: true, Rest: true}, {Name: "b", Positional: true}}}
	if err := checkSpec(&bad); err == nil {
		t.Fatal("a Rest argument before another was accepted")
	}
}

// Every command is audited before it runs; one whose record cannot be
// written does not run.
func TestRouterAudits(t *testing.T) {
	var (
		ran  int
		recs []bot.AuditRecord
		fail bool
	)
	specs := []bot.CommandSpec{
		{Name: "status", Summary: "s", Role: policy.Viewer, Run: func(context.Context, bot.Invocation) (bot.Answer, error) { ran++; return bot.Answer{Title: "ok"}, nil }},
		{Name: "scale", Summary: "s", Role: policy.Admin, Destructive: true,
			Plan:    func(context.Context, bot.Invocation) (bot.Plan, error) { ran++; return bot.Plan{}, nil },
			Execute: func(context.Context, bot.Invocation, bot.Plan) (string, error) { ran++; return "", nil }},
	}
	r, err := NewRouter(specs, Config{Root: "ops", Channels: []string{"C1"},
		Roles: roleFunc(func(context.Context, bot.Identity, string) (policy.Role, error) { return policy.Admin, nil }),
		Audit: auditFunc(func(_ context.Context, rec bot.AuditRecord) error {
			if fail {
				return errors.New("disk full")
			}
			recs = append(recs, rec)
			return nil
		})}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(channel, text string) bot.Answer {
		var rec recorder
		r.Handle(context.Background(), bot.Command{Platform: "slack", User: bot.Identity{UserID: "U1"}, Channel: channel, Text: text}, &rec)
		return rec.answers[0]
	}
	run("C1", "status")
	run("C2", "status")
	run("C1", "nonsense")
	if ran != 1 || len(recs) != 3 {
		t.Fatalf("ran %d, audited %d", ran, len(recs))
	}
	for i, want := range []string{"status/allowed", "-/refused", "unknown/invalid"} {
		if got := recs[i].Action + "/" + recs[i].Outcome; got != want || recs[i].Kind != bot.AuditCommand || recs[i].At.IsZero() {
			t.Errorf("record %d = %s (%+v), want %s", i, got, recs[i], want)
		}
	}
	// Without an approval service a destructive command is refused, unplanned.
	if a := run("C1", "scale"); !strings.Contains(a.Title, "no approval service") || ran != 1 {
		t.Fatalf("destructive command without approvals: %q (ran %d)", a.Title, ran)
	}
	fail = true
	if a := run("C1", "status"); !strings.Contains(a.Title, "audit log cannot be written") || ran != 1 {
		t.Fatalf("command with the audit log down: %q (ran %d)", a.Title, ran)
	}
}

func TestIncidentButton(t *testing.T) {
	for id, want := range map[string]string{
		"chatops:incident:ack:12":           "incident ack 12",
		"chatops:incident:resolve:12":       "incident resolve 12",
		"chatops:incident:severity:12:P0":   "incident severity 12 P0",
		"chatops:incident:severity:12:p2":   "incident severity 12 P2",
		"chatops:incident:severity:12:P9":   "",
		"chatops:incident:severity:12":      "",
		"chatops:incident:ack:0":            "",
		"chatops:incident:ack:12; rm -rf /": "",
		"chatops:incident:launch:12":        "",
		"chatops:approve:12:abcdef":         "",
		"chatops:incident:resolve:12:extra": "",
	} {
		got, ok := incidentButton(id)
		if got != want || ok != (want != "") {
			t.Errorf("incidentButton(%q) = %q, %v; want %q", id, got, ok, want)
		}
	}
}
