package command

import (
	"context"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/policy"
)

// plainSilences is Alertmanager's silence API as far as planning goes:
// matchers split at commas, each read by bot.ParseMatcher.
type plainSilences struct{}

func (plainSilences) CreateSilence(context.Context, bot.Silence) (string, error) { return "", nil }
func (plainSilences) ParseMatchers(s string) ([]policy.SilenceMatcher, error) {
	var out []policy.SilenceMatcher
	for p := range strings.SplitSeq(s, ",") {
		m, err := bot.ParseMatcher(p)
		if err != nil {
			return nil, err
		}
		out = append(out, policy.SilenceMatcher{Name: m.Label, Value: m.Value, Equal: m.Op == bot.MatchEqual || m.Op == bot.MatchRegexp,
			IsRegex: m.Op == bot.MatchRegexp || m.Op == bot.MatchNotRegexp})
	}
	return out, nil
}

// plans records the plans handed to the approvals.
type plans struct {
	mu  sync.Mutex
	got []bot.Plan
	by  []string
}

func (p *plans) Request(_ context.Context, inv bot.Invocation, plan bot.Plan) (bot.Answer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, plan)
	p.by = append(p.by, inv.Command.User.UserID)
	return bot.Answer{Title: "silenced"}, nil
}

// TestSilenceButtonRunsTheSilenceCommand: an alerts answer's Silence
// button is the real silence command with the group's matchers, planned
// as narrow (no approval) for a member, refused for a viewer with the
// role read at the click, and forged ids never reach a command.
func TestSilenceButtonRunsTheSilenceCommand(t *testing.T) {
	p := &plans{}
	roles := map[string]policy.Role{"UMEG": policy.Member, "UVIC": policy.Viewer}
	r, err := NewRouter(commands.Table(commands.Deps{Silences: plainSilences{}}, nil),
		Config{Root: "ops", Channels: []string{"C1"}, Actions: p,
			Roles: roleFunc(func(_ context.Context, id bot.Identity, _ string) (policy.Role, error) { return roles[id.UserID], nil })},
		zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := NewButtons(nil, r, nil)
	click := func(user, id string) bot.Answer {
		rec := &answerRecorder{}
		b.HandleClick(context.Background(), bot.Click{User: bot.Identity{Platform: "slack", UserID: user}, Platform: "slack", Channel: "C1", ButtonID: id}, rec)
		if len(rec.got) != 1 {
			t.Fatalf("click %s by %s: %d answers", id, user, len(rec.got))
		}
		return rec.got[0]
	}
	id, ok := bot.SilenceButtonID("HighErrorRate", "orders-service")
	if !ok {
		t.Fatal("no button id for plain names")
	}
	if a := click("UMEG", id); a.Title != "silenced" {
		t.Fatalf("meg's click: %+v", a)
	}
	if len(p.got) != 1 {
		t.Fatalf("%d plans, want 1", len(p.got))
	}
	plan := p.got[0]
	if plan.Params["matchers"] != `alertname="HighErrorRate",service="orders-service"` || plan.Params["duration"] != "1h0m0s" ||
		plan.Params["reason"] != bot.SilenceButtonReason || !plan.NoApproval || p.by[0] != "UMEG" {
		t.Errorf("the click planned %+v by %s; want a narrow 1h silence of that group by UMEG", plan, p.by[0])
	}

	if a := click("UVIC", id); !strings.Contains(a.Title, "silence needs the member role; you are viewer") || !a.Private {
		t.Errorf("vic's click: %+v, want a private refusal", a)
	}
	for _, forged := range []string{
		"chatops:silence:HighErrorRate:orders-service,alertname=~.+",
		"chatops:silence:High Error:orders-service",
		"chatops:silence:HighErrorRate:Orders",
		"chatops:silence:HighErrorRate:orders-service:extra",
		"chatops:silence:HighErrorRate:",
		`chatops:silence:HighErrorRate:orders-service" 7d x`,
	} {
		if a := click("UMEG", forged); !strings.Contains(a.Title, "That button is not one chatops knows.") {
			t.Errorf("forged %q: %+v", forged, a)
		}
	}
	if len(p.got) != 1 {
		t.Errorf("%d plans after the refusals, want still 1", len(p.got))
	}
}

type answerRecorder struct{ got []bot.Answer }

func (a *answerRecorder) Respond(_ context.Context, ans bot.Answer) error {
	a.got = append(a.got, ans)
	return nil
}
