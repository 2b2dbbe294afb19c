package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func code(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	if err != nil {
		return "other"
	}
	return ""
}

func TestRoleOf(t *testing.T) {
	a := Access{
		Default:     Viewer,
		Users:       map[string]Role{"slack:UADMIN": Admin, "discord:1": Member},
		Groups:      map[string]Role{"slack:SOPS": Owner, "discord:99": Admin},
		ChannelCaps: map[string]Role{"slack:CPUBLIC": Member},
	}
	cases := []struct {
		name string
		p    Person
		want Role
	}{
		{"unknown person gets the default", Person{Platform: "slack", UserID: "U9"}, Viewer},
		{"named user", Person{Platform: "slack", UserID: "UADMIN"}, Admin},
		{"group raises a user", Person{Platform: "slack", UserID: "UADMIN", Groups: []string{"SOPS"}}, Owner},
		{"discord role", Person{Platform: "discord", UserID: "1", Groups: []string{"99"}}, Admin},
		{"ids do not cross platforms", Person{Platform: "discord", UserID: "UADMIN"}, Viewer},
		{"channel cap", Person{Platform: "slack", UserID: "UADMIN", Channel: "CPUBLIC"}, Member},
		{"cap never raises", Person{Platform: "slack", UserID: "U9", Channel: "CPUBLIC"}, Viewer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := a.RoleOf(c.p); got != c.want {
				t.Fatalf("RoleOf = %s, want %s", got, c.want)
			}
		})
	}
	if got := (Access{Default: NoAccess}).RoleOf(Person{Platform: "slack", UserID: "U1"}); got != NoAccess {
		t.Fatalf("strangers with Default NoAccess: %s", got)
	}
}

func TestTwoPersonRule(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := Rule{Quorum: 1, Expiry: 15 * time.Minute, BreakGlass: true, MaxRequestsPerHour: 3}
	open := Request{Requester: "slack:UA", Role: Admin, Open: true, ExpiresAt: now.Add(time.Minute)}
	voted := open
	voted.Voters = []string{"slack:UB"}
	closed := open
	closed.Open = false
	expired := open
	expired.ExpiresAt = now

	votes := []struct {
		name  string
		req   Request
		voter string
		role  Role
		want  string
	}{
		{"second admin approves", open, "slack:UB", Admin, ""},
		{"owner approves an admin action", open, "slack:UB", Owner, ""},
		{"self-approval", open, "slack:UA", Owner, CodeSelfApproval},
		{"member cannot approve", open, "slack:UB", Member, CodeRole},
		{"no second vote", voted, "slack:UB", Admin, CodeAlreadyVoted},
		{"closed request", closed, "slack:UB", Admin, CodeClosed},
		{"expired exactly at expiry", expired, "slack:UB", Admin, CodeExpired},
	}
	for _, c := range votes {
		t.Run("vote/"+c.name, func(t *testing.T) {
			if got := code(r.CheckVote(c.req, c.voter, c.role, now)); got != c.want {
				t.Fatalf("CheckVote = %q, want %q", got, c.want)
			}
		})
	}
	if got := code(r.CheckDeny(open, "slack:UA", Admin, now)); got != CodeSelfApproval {
		t.Fatalf("requester denying: %q", got)
	}
	if got := code(r.CheckDeny(open, "slack:UC", Viewer, now)); got != CodeRole {
		t.Fatalf("viewer denying: %q", got)
	}
	if got := code(r.CheckCancel(open, "slack:UB", now)); got != CodeNotRequester {
		t.Fatalf("someone else cancelling: %q", got)
	}
	if got := code(r.CheckCancel(open, "slack:UA", now)); got != "" {
		t.Fatalf("requester cancelling: %q", got)
	}
	if !r.QuorumReached(1) || r.QuorumReached(0) || (Rule{Quorum: 2}).QuorumReached(1) {
		t.Fatal("quorum")
	}

	exec := []struct {
		name          string
		req           Request
		requesterRole Role
		approvers     map[string]Role
		hash          string
		want          string
	}{
		{"all good", open, Admin, map[string]Role{"slack:UB": Admin}, "h", ""},
		{"target changed", open, Admin, map[string]Role{"slack:UB": Admin}, "h2", CodeStale},
		{"approver lost the role", open, Admin, map[string]Role{"slack:UB": Member}, "h", CodeRole},
		{"requester lost the role", open, Member, map[string]Role{"slack:UB": Admin}, "h", CodeRole},
		{"requester counted as approver", open, Admin, map[string]Role{"slack:UA": Admin}, "h", CodeSelfApproval},
		{"no approvers", open, Admin, map[string]Role{}, "h", CodeClosed},
		{"expired", expired, Admin, map[string]Role{"slack:UB": Admin}, "h", CodeExpired},
	}
	for _, c := range exec {
		t.Run("execute/"+c.name, func(t *testing.T) {
			if got := code(r.CheckExecution(c.req, c.requesterRole, c.approvers, "h", c.hash, now)); got != c.want {
				t.Fatalf("CheckExecution = %q, want %q", got, c.want)
			}
		})
	}

	bg := []struct {
		name   string
		rule   Rule
		who    string
		role   Role
		reason string
		want   string
	}{
		{"owner with a reason", r, "slack:UA", Owner, "database is down for everyone", ""},
		{"off by default", DefaultRule, "slack:UA", Owner, "database is down for everyone", CodeBreakGlass},
		{"admin is not enough", r, "slack:UA", Admin, "database is down for everyone", CodeRole},
		{"needs a reason", r, "slack:UA", Owner, "because", CodeBreakGlass},
		{"only one's own request", r, "slack:UB", Owner, "database is down for everyone", CodeNotRequester},
	}
	for _, c := range bg {
		t.Run("break-glass/"+c.name, func(t *testing.T) {
			if got := code(c.rule.CheckBreakGlass(open, c.who, c.role, c.reason, now)); got != c.want {
				t.Fatalf("CheckBreakGlass = %q, want %q", got, c.want)
			}
		})
	}
	if got := code(r.CheckBreakGlassExecution(open, Owner, "h", "h2", now)); got != CodeStale {
		t.Fatalf("break-glass on a changed target: %q", got)
	}

	if got := code(r.CheckRequest(Admin, Admin, 2)); got != "" {
		t.Fatalf("under the hourly limit: %q", got)
	}
	if got := code(r.CheckRequest(Admin, Admin, 3)); got != CodeRateLimited {
		t.Fatalf("at the hourly limit: %q", got)
	}
	if got := code(r.CheckRequest(Admin, Owner, 0)); got != CodeRole {
		t.Fatalf("admin asking for an owner action: %q", got)
	}
}

func TestFingerprint(t *testing.T) {
	base := Fingerprint("scale", "deployment ns/a", map[string]string{"replicas": "3"}, "7")
	same := Fingerprint("scale", "deployment ns/a", map[string]string{"replicas": "3"}, "7")
	if base != same {
		t.Fatal("not deterministic")
	}
	for name, other := range map[string]string{
		"action":  Fingerprint("restart", "deployment ns/a", map[string]string{"replicas": "3"}, "7"),
		"target":  Fingerprint("scale", "deployment ns/b", map[string]string{"replicas": "3"}, "7"),
		"param":   Fingerprint("scale", "deployment ns/a", map[string]string{"replicas": "4"}, "7"),
		"version": Fingerprint("scale", "deployment ns/a", map[string]string{"replicas": "3"}, "8"),
		"shifted": Fingerprint("scale", "deployment ns/a", map[string]string{"replicas": "3", "": ""}, "7"),
	} {
		if other == base {
			t.Errorf("a different %s gives the same fingerprint", name)
		}
	}
}

func TestNarrowSilence(t *testing.T) {
	eq := func(n, v string) SilenceMatcher { return SilenceMatcher{Name: n, Value: v, Equal: true} }
	cases := []struct {
		name string
		ms   []SilenceMatcher
		// why is "" for a narrow silence, else what the reason must say.
		why []string
	}{
		{"alert and service", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "orders")}, nil},
		{"alert, service and more labels", []SilenceMatcher{eq("namespace", "bakery-ia"), eq("alertname", "ServiceDown"), eq("service", "orders"), eq("pod", "orders-1")}, nil},
		// The example of issue 11: one plain label besides the alert used to
		// be enough, and this silences every service's outage at once.
		{"alert and namespace", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("namespace", "bakery-ia")},
			[]string{"names no service: it would silence ServiceDown for every service"}},
		{"alert and instance", []SilenceMatcher{eq("alertname", "HighMemoryUsage"), eq("instance", "10.0.0.7:9100")},
			[]string{"names no service: it would silence HighMemoryUsage for every service"}},
		{"alert alone", []SilenceMatcher{eq("alertname", "ServiceDown")}, []string{"names no service"}},
		{"service alone", []SilenceMatcher{eq("service", "orders")}, []string{"names no alert: it would silence every alert of orders"}},
		{"namespace only", []SilenceMatcher{eq("namespace", "bakery-ia")}, []string{"names no alert and no service"}},
		{"no alertname", []SilenceMatcher{eq("service", "orders"), eq("namespace", "bakery-ia")}, []string{"names no alert"}},
		{"regex service", []SilenceMatcher{eq("alertname", "ServiceDown"), {Name: "service", Value: ".*", Equal: true, IsRegex: true}},
			[]string{`service=~".*" is a regular expression`, "names no service"}},
		{"regex extra label", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "orders"), {Name: "pod", Value: "orders-.*", Equal: true, IsRegex: true}},
			[]string{`pod=~"orders-.*" is a regular expression`}},
		{"negative", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "orders"), {Name: "env", Value: "prod"}},
			[]string{`env!="prod" is a negative matcher`}},
		{"negative regex", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "orders"), {Name: "env", Value: "prod", IsRegex: true}},
			[]string{`env!~"prod" is a regular expression`}},
		{"empty service", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "")},
			[]string{`service="" matches only alerts without the label`, "names no service"}},
		{"empty extra label", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "orders"), eq("pod", "")}, []string{`pod=""`}},
		{"alertname under another name", []SilenceMatcher{eq("AlertName", "ServiceDown"), eq("service", "orders")}, []string{"names no alert"}},
		{"no matchers", nil, []string{"no matchers"}},
		{"long value clipped", []SilenceMatcher{eq("alertname", strings.Repeat("x", 300)), eq("namespace", "bakery-ia")},
			[]string{"names no service: it would silence " + strings.Repeat("x", maxReasonValue-1) + "… for every service"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why := BroadSilenceReason(c.ms)
			if got := NarrowSilence(c.ms); got != (c.why == nil) {
				t.Fatalf("NarrowSilence = %v, want %v (reason %q)", got, c.why == nil, why)
			}
			for _, w := range c.why {
				if !strings.Contains(why, w) {
					t.Errorf("reason %q does not say %q", why, w)
				}
			}
		})
	}
}

func TestIncidentGroupSilence(t *testing.T) {
	eq := func(n, v string) SilenceMatcher { return SilenceMatcher{Name: n, Value: v, Equal: true} }
	group := map[string]string{"alertname": "ServiceDown", "namespace": "bakery-ia"}
	cases := []struct {
		name  string
		ms    []SilenceMatcher
		group map[string]string
		want  bool
	}{
		{"exactly the group", []SilenceMatcher{eq("namespace", "bakery-ia"), eq("alertname", "ServiceDown")}, group, true},
		{"one label short", []SilenceMatcher{eq("alertname", "ServiceDown")}, group, false},
		{"one label more", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("namespace", "bakery-ia"), eq("service", "orders")}, group, false},
		{"another value", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("namespace", "other")}, group, false},
		{"a label twice", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("alertname", "ServiceDown")}, group, false},
		{"regex", []SilenceMatcher{eq("alertname", "ServiceDown"), {Name: "namespace", Value: "bakery-ia", Equal: true, IsRegex: true}}, group, false},
		{"negative", []SilenceMatcher{eq("alertname", "ServiceDown"), {Name: "namespace", Value: "bakery-ia"}}, group, false},
		{"empty value", []SilenceMatcher{eq("alertname", "ServiceDown"), eq("namespace", "")}, map[string]string{"alertname": "ServiceDown", "namespace": ""}, false},
		{"no group", nil, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := IncidentGroupSilence(c.ms, c.group); got != c.want {
				t.Fatalf("IncidentGroupSilence = %v, want %v", got, c.want)
			}
		})
	}
}
