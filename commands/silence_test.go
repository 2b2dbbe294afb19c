package commands

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/policy"
)

// fakeSilences reads matchers with the real parser and creates nothing:
// these tests are about the plan, which decides whether a second person
// must approve.
type fakeSilences struct{}

func (fakeSilences) CreateSilence(context.Context, bot.Silence) (string, error) { return "", nil }
func (fakeSilences) ParseMatchers(s string) ([]policy.SilenceMatcher, error) {
	return alertmanager.ParseMatchers(s)
}

func TestSilencePlanNeedsApprovalWhenBroad(t *testing.T) {
	incidents := &fakeIncidents{detail: map[int64]bot.IncidentDetail{
		12: {Incident: bot.Incident{ID: 12,
			GroupLabels:  map[string]string{"alertname": "ServiceDown", "service": "orders-service"},
			CommonLabels: map[string]string{"alertname": "ServiceDown", "service": "orders-service", "namespace": "bakery-ia"}}},
		// A route that groups by alert and cluster: the incident's group
		// names no service, but silencing it hides that one group only.
		13: {Incident: bot.Incident{ID: 13,
			GroupLabels:  map[string]string{"alertname": "KubeJobFailed", "cluster": "eu-1"},
			CommonLabels: map[string]string{"alertname": "KubeJobFailed", "cluster": "eu-1", "job": "backup"}}},
		// No group labels (group_by: []): the common labels stand in, and
		// are judged as if typed.
		14: {Incident: bot.Incident{ID: 14,
			CommonLabels: map[string]string{"alertname": "ServiceDown", "namespace": "bakery-ia"}}},
	}}
	spec := silence(fakeSilences{}, incidents)
	cases := []struct {
		name, matchers string
		// why is "" for a silence a Member creates alone, else what the
		// card must say.
		why string
	}{
		{"alert and service", "alertname=ServiceDown,service=orders-service", ""},
		{"alert, service and pod", `alertname=ServiceDown service="orders-service" pod=orders-service-7d9f`, ""},
		// Issue 11's example: it used to run at once and silenced every
		// service's outage.
		{"alert and namespace", "alertname=ServiceDown,namespace=bakery-ia", "names no service: it would silence ServiceDown for every service"},
		{"namespace only", "namespace=bakery-ia", "names no alert and no service"},
		{"service only", "service=orders-service", "names no alert: it would silence every alert of orders-service"},
		{"regex service", `alertname=ServiceDown,service=~"orders-.*"`, `service=~"orders-.*" is a regular expression`},
		{"negative label", `alertname=ServiceDown,service=orders-service,env!=prod`, `env!="prod" is a negative matcher`},
		{"incident group with service", "#12", ""},
		{"incident group without service", "#13", ""},
		{"incident without group labels", "#14", "names no service: it would silence ServiceDown for every service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := bot.NewInvocation(bot.Command{Platform: "slack", Channel: "C1"}, &spec,
				map[string]string{"matchers": c.matchers, "duration": "30m", "reason": "deploying a fix"})
			p, err := spec.Plan(context.Background(), inv)
			if err != nil {
				t.Fatal(err)
			}
			warnings := strings.Join(p.Warnings, "\n")
			if p.NoApproval != (c.why == "") {
				t.Fatalf("NoApproval = %v, want %v (warnings %q)", p.NoApproval, c.why == "", warnings)
			}
			if c.why == "" {
				if warnings != "" {
					t.Errorf("a narrow silence warns %q", warnings)
				}
				return
			}
			if !strings.Contains(warnings, "broad silence") || !strings.Contains(warnings, c.why) {
				t.Errorf("warnings %q do not say it is broad and %q", warnings, c.why)
			}
			if p.Role != policy.Member {
				t.Errorf("role %s, want member: approval is by a second member", p.Role)
			}
		})
	}
}

// A store that fails while reading "#N" is not the asker's mistake: the
// plan fails with an internal error (a request id in chat), never with a
// usage answer quoting the store's text.
func TestSilenceIncidentStoreErrorIsInternal(t *testing.T) {
	spec := silence(fakeSilences{}, &fakeIncidents{err: errors.New("dial tcp 10.0.0.7:5432: connection refused")})
	inv := bot.NewInvocation(bot.Command{Platform: "slack", Channel: "C1"}, &spec,
		map[string]string{"matchers": "#12", "duration": "30m", "reason": "deploying a fix"})
	_, err := spec.Plan(context.Background(), inv)
	if err == nil {
		t.Fatal("plan succeeded on a failing store")
	}
	if msg, ok := bot.UserMessage(err); ok {
		t.Fatalf("chat would show %q", msg)
	}
	// An incident that does not exist is the asker's mistake.
	spec = silence(fakeSilences{}, &fakeIncidents{})
	_, err = spec.Plan(context.Background(), inv)
	if msg, ok := bot.UserMessage(err); !ok || !strings.Contains(msg, "no incident #12") {
		t.Fatalf("missing incident: %q, %v (%v)", msg, ok, err)
	}
}
