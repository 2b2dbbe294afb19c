package command

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
	"github.com/bakewise/chatops/policy"
)

var requestIDText = regexp.MustCompile(`request id ([0-9a-f]{12})`)

// A command that fails with an internal error (a store's, an API's)
// answers with a request id and without the error's text; the log holds
// the text under the same id. Errors written for people still show, and an
// error already logged under a request id keeps that id.
func TestRouterHidesInternalErrors(t *testing.T) {
	const secret = `list incidents: pq: relation "incidents" does not exist (host=10.0.0.5 user=chatops)`
	failWith := func(err error) func(context.Context, bot.Invocation) (bot.Answer, error) {
		return func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{}, err }
	}
	specs := []bot.CommandSpec{
		{Name: "internal", Summary: "s", Role: policy.Viewer, Run: failWith(errors.New(secret))},
		{Name: "wrapped", Summary: "s", Role: policy.Viewer, Run: failWith(fmt.Errorf("incident 4: %w", errors.New(secret)))},
		{Name: "told", Summary: "s", Role: policy.Viewer, Run: failWith(fmt.Errorf("restart: %w", bot.Tell("deployment orders is paused; resume it first")))},
		{Name: "missing", Summary: "s", Role: policy.Viewer, Run: failWith(&bot.NotFoundError{Kind: "deployment", Name: "ordrs", Namespace: "ns", Suggestion: "orders"})},
		{Name: "stale", Summary: "s", Role: policy.Viewer, Run: failWith(&bot.StaleError{Kind: "deployment", Name: "orders", Reason: "generation 3 is now 4"})},
		{Name: "logged", Summary: "s", Role: policy.Viewer, Run: failWith(&bot.InternalError{RequestID: "00aa11bb22cc", Err: errors.New(secret)})},
	}
	core, logs := observer.New(zapcore.DebugLevel)
	r, err := NewRouter(specs, Config{Root: "ops", Channels: []string{"C-OPS"}}, zap.New(core), nil)
	if err != nil {
		t.Fatal(err)
	}
	answer := func(text string) string {
		rec := &recorder{}
		r.Handle(context.Background(), bot.Command{Platform: "slack", Channel: "C-OPS", Text: text}, rec)
		if len(rec.answers) != 1 || !rec.answers[0].Private {
			t.Fatalf("%s: answers %+v, want one private", text, rec.answers)
		}
		return rec.answers[0].Title
	}
	for _, name := range []string{"internal", "wrapped"} {
		got := answer(name)
		m := requestIDText.FindStringSubmatch(got)
		if m == nil || strings.Contains(got, "10.0.0.5") || strings.Contains(got, "pq:") || !strings.HasPrefix(got, name+" failed") {
			t.Errorf("%s: answer %q, want a request id and no error text", name, got)
			continue
		}
		lines := logs.FilterField(zap.String("request_id", m[1])).All()
		if len(lines) != 1 || !strings.Contains(fmt.Sprint(lines[0].ContextMap()["error"]), "10.0.0.5") {
			t.Errorf("%s: log lines under %s: %v", name, m[1], lines)
		}
	}
	for name, want := range map[string]string{
		"told":    "told failed: restart: deployment orders is paused; resume it first",
		"missing": "missing failed: no deployment ordrs in ns; did you mean orders?",
		"stale":   "stale failed: deployment orders changed: generation 3 is now 4",
	} {
		if got := answer(name); got != want {
			t.Errorf("%s: answer %q, want %q", name, got, want)
		}
	}
	if got := answer("logged"); !strings.Contains(got, "request id 00aa11bb22cc") || strings.Contains(got, "10.0.0.5") {
		t.Errorf("an error logged already: answer %q", got)
	}
	if n := logs.FilterField(zap.String("request_id", "00aa11bb22cc")).Len(); n != 0 {
		t.Errorf("an error logged already was logged again %d times", n)
	}
}

// An internal error of a command that came with a request id (the HTTP
// request's or the Socket Mode envelope's) is named by that id in chat
// and in the log, once per line, so both point at the request's lines.
func TestInternalErrorNamesTheRequestID(t *testing.T) {
	specs := []bot.CommandSpec{{Name: "broken", Summary: "s", Role: policy.Viewer,
		Run: func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{}, errors.New("db down") }}}
	core, logs := observer.New(zapcore.DebugLevel)
	r, err := NewRouter(specs, Config{Root: "ops", Channels: []string{"C-OPS"}}, zap.New(core), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	r.Handle(telemetry.WithRequestID(context.Background(), "abc-123"), bot.Command{Platform: "slack", Channel: "C-OPS", Text: "broken"}, rec)
	if len(rec.answers) != 1 || !strings.Contains(rec.answers[0].Title, "(request id abc-123)") {
		t.Fatalf("answers %+v, want the request's id", rec.answers)
	}
	failed := logs.FilterMessage("command failed").All()
	if len(failed) != 1 || failed[0].ContextMap()["request_id"] != "abc-123" {
		t.Fatalf("log lines %v", failed)
	}
	for _, e := range logs.All() {
		n := 0
		for _, f := range e.Context {
			if f.Key == "request_id" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%q has request_id %d times", e.Message, n)
		}
	}
}
