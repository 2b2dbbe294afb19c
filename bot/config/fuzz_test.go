package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/bakewise/chatops/bot"
)

// fuzzSecret is every secret's value in FuzzLoad's environment: given
// there, no *_file key is ever opened (the environment wins), and no
// problem may show it.
const fuzzSecret = "fuzz-secret-7Qx2-never-printed"

// fuzzEnv is an environment that sets every secret, so Load reads no file
// a fuzzed key names.
func fuzzEnv(k string) string {
	switch k {
	case EnvDatabaseURL, EnvWebhookToken, EnvWebhookPassword, EnvAPIToken, EnvMetricsToken,
		EnvSlackBotToken, EnvSlackAppToken, EnvSlackSigningSecret, EnvDiscordBotToken:
		return fuzzSecret
	}
	return ""
}

// FuzzLoad feeds configuration files to Load and LoadStore. Whatever the
// file: no panic; every problem says what is wrong and never shows a
// secret; a file Load accepts, LoadStore accepts too; and a configuration
// that validates keeps every setting within the bounds the README
// documents, with every rule and route matcher parsed.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{
		filepath.Join("..", "..", "deploy", "kubernetes", "base", "bakery-ia.yaml"),
		filepath.Join("testdata", "serve-only-problems.yaml"),
	} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("routes:\n  - match: ['service=~\"gate.*\"', 'city=\"Logro\\u00f1o\"']\n    destinations: [x]\n"))
	f.Add([]byte("incidents:\n  response_deadlines: {P0: 0s, P1: 15m, P2: 1h, P3: 4h}\n  escalation_interval: 1m\n"))
	f.Add([]byte("a: &a [x, x]\nseverity:\n  rules:\n    - {name: r, match: *a, severity: P1}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte(fuzzSecret)) {
			return // a problem may quote the file; the secret would be the file's
		}
		path := filepath.Join(dir, "chatops.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, fuzzEnv)
		checkProblems(t, err)
		_, storeErr := LoadStore(path, fuzzEnv)
		checkProblems(t, storeErr)
		if err != nil {
			return
		}
		if storeErr != nil {
			t.Fatalf("Load accepts the file, LoadStore refuses it: %v", storeErr)
		}
		checkBounds(t, &cfg)
	})
}

func checkProblems(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("error %T %q is not a list of problems", err, err)
	}
	for _, p := range ps {
		if p.Msg == "" {
			t.Fatalf("problem at %q says nothing", p.Path)
		}
	}
	if strings.Contains(err.Error(), fuzzSecret) {
		t.Fatalf("a problem shows a secret: %q", err)
	}
}

// checkBounds fails t unless cfg keeps the README's documented bounds.
func checkBounds(t *testing.T, c *Config) {
	t.Helper()
	within := func(what string, v, lo, hi int64) {
		t.Helper()
		if v < lo || v > hi {
			t.Fatalf("%s = %d accepted, want %d..%d", what, v, lo, hi)
		}
	}
	dur := func(what string, v, lo, hi time.Duration) {
		t.Helper()
		if v < lo || v > hi {
			t.Fatalf("%s = %s accepted, want %s..%s", what, v, lo, hi)
		}
	}
	within("database.max_conns", int64(c.Database.MaxConns), 1, 500)
	within("webhook.max_body_bytes", c.Webhook.MaxBodyBytes, 1<<10, 64<<20)
	dur("shutdown_timeout", c.ShutdownTimeout, 1, 1<<62)
	dur("incidents.reopen_window", c.Incidents.ReopenWindow, 0, 168*time.Hour)
	prev := time.Duration(0)
	for s, d := range c.Incidents.ResponseDeadlines.bySeverity() {
		dur("incidents.response_deadlines."+bot.Severity(s).String(), d, prev, 168*time.Hour)
		prev = d
	}
	dur("incidents.escalation_interval", c.Incidents.EscalationInterval, time.Minute, 24*time.Hour)
	within("incidents.correlation.min_services", int64(c.Incidents.Correlation.MinServices), 2, 100)
	dur("incidents.correlation.window", c.Incidents.Correlation.Window, 30*time.Second, time.Hour)
	switch c.Discord.ThreadAutoArchive {
	case 60, 1440, 4320, 10080:
	default:
		t.Fatalf("discord.thread_auto_archive = %d accepted", c.Discord.ThreadAutoArchive)
	}
	within("outbox.workers", int64(c.Outbox.Workers), 1, 64)
	dur("outbox.lease", c.Outbox.Lease, MinOutboxLease, MaxOutboxLease)
	within("commands.max_in_flight", int64(c.Commands.MaxInFlight), 1, 1024)
	within("commands.max_in_flight_per_user", int64(c.Commands.MaxInFlightPerUser), 1, int64(c.Commands.MaxInFlight))
	if !commandRoot.MatchString(c.Commands.Root) {
		t.Fatalf("commands.root %q accepted", c.Commands.Root)
	}
	dur("access.group_cache_ttl", c.Access.GroupCacheTTL, time.Second, time.Hour)
	dur("access.group_max_stale", c.Access.GroupMaxStale, 0, 15*time.Minute)
	within("approvals.quorum", int64(c.Approvals.Quorum), 1, 5)
	dur("approvals.expiry", c.Approvals.Expiry, time.Minute, 24*time.Hour)
	within("approvals.max_requests_per_hour", int64(c.Approvals.MaxRequestsPerHour), 1, 1000)
	within("approvals.default_scale_max", int64(c.Approvals.DefaultScaleMax), 1, 1000)
	for _, b := range c.Approvals.ScaleBounds {
		within("approvals.scale_bounds[].min", int64(b.Min), 0, int64(b.Max))
		within("approvals.scale_bounds[].max", int64(b.Max), int64(b.Min), 1000)
	}

	rules := c.Classifier().Rules
	if len(rules) != len(c.Severity.Rules) || len(rules) > maxRules {
		t.Fatalf("%d severity rules in the file, %d parsed (at most %d)", len(c.Severity.Rules), len(rules), maxRules)
	}
	for i, r := range c.Severity.Rules {
		checkMatchList(t, "severity.rules[].match", r.Match, rules[i].Matchers, 1)
	}
	routes := c.IncidentRoutes()
	if len(routes) != len(c.Routes) {
		t.Fatalf("%d routes in the file, %d parsed", len(c.Routes), len(routes))
	}
	names := map[string]bool{}
	for _, d := range c.ChatDestinations() {
		if !destinationName.MatchString(d.Name) || names[d.Name] {
			t.Fatalf("destination name %q accepted", d.Name)
		}
		names[d.Name] = true
		if len(d.Escalation) > maxEscalationLevels {
			t.Fatalf("destination %s: %d escalation levels accepted", d.Name, len(d.Escalation))
		}
	}
	for i, r := range c.Routes {
		checkMatchList(t, "routes[].match", r.Match, routes[i].Matchers, 0)
		if len(r.Destinations) == 0 {
			t.Fatal("a route without destinations accepted")
		}
		for _, d := range r.Destinations {
			if !names[d] {
				t.Fatalf("route to unknown destination %q accepted", d)
			}
		}
	}
	if len(c.Runbooks) > maxRunbooks {
		t.Fatalf("%d runbooks accepted", len(c.Runbooks))
	}
	for name, rb := range c.Runbooks {
		if len(rb.Steps) > bot.MaxRunbookSteps {
			t.Fatalf("runbook %s: %d steps accepted", name, len(rb.Steps))
		}
		for _, s := range rb.Steps {
			if n := utf8.RuneCountInString(s); n == 0 || n > bot.MaxRunbookStepLen {
				t.Fatalf("runbook %s: a step of %d characters accepted", name, n)
			}
		}
	}
}

// checkMatchList: every entry of a match list was parsed (none dropped),
// within the limits, each as Alertmanager reads it.
func checkMatchList(t *testing.T, what string, entries []string, parsed []bot.Matcher, least int) {
	t.Helper()
	if len(entries) != len(parsed) || len(entries) < least || len(entries) > maxMatchersRule {
		t.Fatalf("%s: %d entries, %d matchers parsed", what, len(entries), len(parsed))
	}
	for i, s := range entries {
		m, err := bot.ParseMatcher(s)
		if len(s) > maxMatcherLen || err != nil || !sameMatcher(m, parsed[i]) {
			t.Fatalf("%s: %q accepted as %s (Alertmanager: %s, %v)", what, s, parsed[i], m, err)
		}
	}
}

// suggestion is a spelling a matcher problem offers: `entry` or the YAML
// string "entry".
var suggestion = regexp.MustCompile("(write|read it as|or) (`[^`]*`|the YAML string \"(?:[^\"\\\\]|\\\\.)*\")( to keep the new reading| for the old one|: write that instead)")

// FuzzConfigMatcher feeds one match entry to the configuration's matcher
// reader. An entry is either accepted as Alertmanager reads it or is a
// problem; the spelling String() gives an accepted matcher is accepted
// again without a problem; and every spelling a problem suggests, put in
// the file as it says, is accepted without a problem and reads as the
// problem says it will.
func FuzzConfigMatcher(f *testing.F) {
	for _, s := range []string{
		`service="gateway"`, `service=gateway`, `city="Logro\u00f1o"`, `city="Logroño"`, `x="\t"`,
		`path=C:\\temp`, `msg=a\"b`, `v=abc}`, `v=a"b`, `service.name="orders"`, `"team on call"="db"`,
		`alertname=~\d+`, `a=b,c=d`, `x="\x41"`, `re=~"("`, `alertname=~"Service.*"`, `a!~""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // YAML refuses a file that is not UTF-8
		}
		var ps Problems
		out := matchers([]string{s}, "m", &ps)
		if len(out)+len(ps) != 1 {
			t.Fatalf("%q: %d matchers and %d problems", s, len(out), len(ps))
		}
		if len(out) == 1 {
			m, err := bot.ParseMatcher(s)
			if err != nil || !sameMatcher(m, out[0]) {
				t.Fatalf("%q accepted as %s; Alertmanager: %s, %v", s, out[0], m, err)
			}
			if out[0].Label != "" { // Alertmanager writes `""="x"` as `="x"`, see bot.FuzzParseMatcher
				acceptedAs(t, "the String() of "+s, out[0].String(), out[0])
			}
			return
		}
		for _, sm := range suggestion.FindAllStringSubmatch(ps[0].Msg, -1) {
			entry := unwrapEntry(t, sm[2])
			switch sm[3] {
			case " to keep the new reading":
				m, err := bot.ParseMatcher(s)
				if err != nil {
					t.Fatalf("%q: a new reading is offered for what Alertmanager refuses: %s", s, ps[0].Msg)
				}
				acceptedAs(t, "the suggestion "+sm[2], entry, m)
			case " for the old one", ": write that instead":
				old, ok := legacyMatcher(s)
				if !ok {
					t.Fatalf("%q: an old reading is offered for what chatops refused: %s", s, ps[0].Msg)
				}
				acceptedAs(t, "the suggestion "+sm[2], entry, old)
			}
		}
	})
}

// acceptedAs fails t unless entry, in a match list, is accepted without a
// problem as want.
func acceptedAs(t *testing.T, what, entry string, want bot.Matcher) {
	t.Helper()
	var ps Problems
	out := matchers([]string{entry}, "m", &ps)
	if len(ps) != 0 || len(out) != 1 {
		t.Fatalf("%s (%q) is not accepted: %v", what, entry, ps)
	}
	if !sameMatcher(out[0], want) {
		t.Fatalf("%s (%q) reads as %s %s %q, want %s %s %q", what, entry, out[0].Label, out[0].Op, out[0].Value, want.Label, want.Op, want.Value)
	}
}

// unwrapEntry is what a suggested spelling puts in the file: the text
// between backticks, or the YAML string read as YAML reads it.
func unwrapEntry(t *testing.T, spelled string) string {
	t.Helper()
	if inner, ok := strings.CutPrefix(spelled, "`"); ok {
		return strings.TrimSuffix(inner, "`")
	}
	var v string
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(spelled, "the YAML string ")), &v); err != nil {
		t.Fatalf("suggested %s is not a YAML string: %v", spelled, err)
	}
	return v
}
