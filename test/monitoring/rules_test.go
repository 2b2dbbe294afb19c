package monitoring

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/bakewise/chatops/test/harness"
)

// runbookBase is where each alert's runbook_url points: a section of the
// README.
const runbookBase = "https://github.com/bakewise/chatops/blob/main/README.md#"

// prometheusRule is the part of deploy/monitoring/prometheusrule.yaml the
// tests read; the rule groups stay generic so that they are written back
// for promtool exactly as they are.
type prometheusRule struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       struct {
		Groups []map[string]any `yaml:"groups"`
	} `yaml:"spec"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRule(t *testing.T) prometheusRule {
	t.Helper()
	b, err := os.ReadFile(harness.RepoPath(t, "deploy", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.Unmarshal(b, &pr); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || len(pr.Spec.Groups) == 0 {
		t.Fatalf("prometheusrule.yaml: %s %s with %d groups, want a monitoring.coreos.com/v1 PrometheusRule with groups",
			pr.APIVersion, pr.Kind, len(pr.Spec.Groups))
	}
	return pr
}

// alerts are the rule file's alerting rules.
func alerts(t *testing.T, pr prometheusRule) []rule {
	t.Helper()
	var out []rule
	for _, g := range pr.Spec.Groups {
		b, err := yaml.Marshal(g["rules"])
		if err != nil {
			t.Fatal(err)
		}
		var rs []rule
		if err := yaml.Unmarshal(b, &rs); err != nil {
			t.Fatalf("group %v: %v", g["name"], err)
		}
		for _, r := range rs {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("prometheusrule.yaml holds no alert")
	}
	return out
}

// writeRules writes the PrometheusRule's spec as a plain rule file, the
// format promtool reads; without annotations when strip is set.
func writeRules(t *testing.T, pr prometheusRule, path string, strip bool) {
	t.Helper()
	groups := pr.Spec.Groups
	if strip {
		b, _ := json.Marshal(groups)
		groups = nil
		if err := json.Unmarshal(b, &groups); err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			rs, _ := g["rules"].([]any)
			for _, r := range rs {
				if m, ok := r.(map[string]any); ok {
					delete(m, "annotations")
				}
			}
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// promtool finds promtool. Missing, it fails the test under CI (where
// .ci/run installs it) and skips it elsewhere, saying how to get it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	msg := "promtool not found (Debian: apt-get install prometheus): " + err.Error()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func runPromtool(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

// TestRulesCheck: promtool check rules on the PrometheusRule's spec, with
// its annotations (their templates are checked too).
func TestRulesCheck(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	writeRules(t, loadRule(t), filepath.Join(dir, "rules.yaml"), false)
	runPromtool(t, bin, dir, "check", "rules", "rules.yaml")
}

// TestRulesUnit runs the unit tests of deploy/monitoring/tests against the
// PrometheusRule's spec. The copy promtool reads has no annotations:
// promtool would compare their rendered text, which TestRulesCheck and
// TestAlertsDescribed cover.
func TestRulesUnit(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	writeRules(t, loadRule(t), filepath.Join(dir, "rules.yaml"), true)
	files, err := filepath.Glob(harness.RepoPath(t, "deploy", "monitoring", "tests", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no unit tests in deploy/monitoring/tests (%v)", err)
	}
	args := []string{"test", "rules"}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, filepath.Base(f))
	}
	runPromtool(t, bin, dir, args...)
}

// unitTests is what TestEveryAlertTested reads of a promtool test file.
type unitTests struct {
	Tests []struct {
		Name      string `yaml:"name"`
		AlertRule []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestEveryAlertTested: each alert has a unit test where it fires and one
// where it does not, and no test names an alert that does not exist.
func TestEveryAlertTested(t *testing.T) {
	fires, quiet := map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob(harness.RepoPath(t, "deploy", "monitoring", "tests", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var u unitTests
		if err := yaml.Unmarshal(b, &u); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range u.Tests {
			for _, a := range tc.AlertRule {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	known := map[string]bool{}
	for _, a := range alerts(t, loadRule(t)) {
		known[a.Alert] = true
		if !fires[a.Alert] || !quiet[a.Alert] {
			t.Errorf("%s: unit tests where it fires: %v, where it does not: %v; want both", a.Alert, fires[a.Alert], quiet[a.Alert])
		}
	}
	for name := range fires {
		if !known[name] {
			t.Errorf("the unit tests name %s, which is no alert of prometheusrule.yaml", name)
		}
	}
}

// TestAlertsDescribed: every alert has a severity an on-call rota routes
// on, a summary, a description and a runbook in the README.
func TestAlertsDescribed(t *testing.T) {
	for _, a := range alerts(t, loadRule(t)) {
		if s := a.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", a.Alert, s)
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("%s: no %s annotation", a.Alert, k)
			}
		}
		if u := a.Annotations["runbook_url"]; !strings.HasPrefix(u, runbookBase) {
			t.Errorf("%s: runbook_url %q, want a section of the README (%s...)", a.Alert, u, runbookBase)
		}
	}
}

var headingRe = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces
// to hyphens, punctuation other than hyphens and underscores dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(harness.RepoPath(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRunbooksInReadme: each runbook_url's anchor is a heading of the
// README, inside "Monitoring chatops", which comes right before "Testing
// against real parts".
func TestRunbooksInReadme(t *testing.T) {
	text := readme(t)
	start := strings.Index(text, "\n## Monitoring chatops\n")
	next := strings.Index(text, "\n## Testing against real parts\n")
	if start < 0 || next < 0 {
		t.Fatal(`README: no "## Monitoring chatops" or no "## Testing against real parts"`)
	}
	if between := text[start+1 : next]; strings.Count(between, "\n## ") != 0 {
		t.Fatal(`README: "## Monitoring chatops" must come immediately before "## Testing against real parts"`)
	}
	section := text[start:next]
	anchors := map[string]bool{}
	for _, m := range headingRe.FindAllStringSubmatch(section, -1) {
		anchors[githubAnchor(m[1])] = true
	}
	for _, a := range alerts(t, loadRule(t)) {
		anchor := strings.TrimPrefix(a.Annotations["runbook_url"], runbookBase)
		if !anchors[anchor] {
			t.Errorf("%s: runbook anchor #%s is no heading of the README's Monitoring chatops section", a.Alert, anchor)
		}
	}
}

func TestGithubAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"ChatopsDown":              "chatopsdown",
		"Monitoring chatops":       "monitoring-chatops",
		"Deadlines and escalation": "deadlines-and-escalation",
		"The `/metrics` page (v2)": "the-metrics-page-v2",
	} {
		if got := githubAnchor(in); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", in, got, want)
		}
	}
}

// kustomization is what TestKustomization reads.
type kustomization struct {
	Namespace          string   `yaml:"namespace"`
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name    string   `yaml:"name"`
		Files   []string `yaml:"files"`
		Options struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"options"`
	} `yaml:"configMapGenerator"`
}

// TestKustomization: the kustomization names files that exist, the
// bakery-ia namespace, and a dashboard ConfigMap the Grafana sidecar
// loads, whose dashboard picks its datasource from a variable.
func TestKustomization(t *testing.T) {
	dir := harness.RepoPath(t, "deploy", "monitoring")
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if k.Namespace != "bakery-ia" {
		t.Errorf("namespace %q, want bakery-ia", k.Namespace)
	}
	want := map[string]bool{"servicemonitor.yaml": false, "prometheusrule.yaml": false}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("resource %s: %v", r, err)
		}
		want[r] = true
	}
	for r, ok := range want {
		if !ok {
			t.Errorf("resources lack %s", r)
		}
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Options.Labels["grafana_dashboard"] != "1" ||
		len(k.ConfigMapGenerator[0].Files) != 1 {
		t.Fatalf("configMapGenerator %+v, want one ConfigMap of one dashboard labelled grafana_dashboard: \"1\"", k.ConfigMapGenerator)
	}
	_, file, _ := strings.Cut(k.ConfigMapGenerator[0].Files[0], "=")
	d := loadDashboard(t, filepath.Join(dir, file))
	found := false
	for _, v := range d.Templating.List {
		found = found || v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	}
	if !found {
		t.Error("the dashboard has no datasource variable of type prometheus")
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource uid %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s: datasource uid %q, want ${datasource}", p.Title, tg.RefID, tg.Datasource.UID)
			}
		}
	}
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboard struct {
	Templating struct {
		List []struct {
			Name, Type, Query string
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Type       string        `json:"type"`
		Title      string        `json:"title"`
		Datasource datasourceRef `json:"datasource"`
		Targets    []struct {
			RefID      string        `json:"refId"`
			Expr       string        `json:"expr"`
			Datasource datasourceRef `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboard(t *testing.T, path string) dashboard {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			t.Fatalf("%s: offset %d: %v", path, se.Offset, err)
		}
		t.Fatalf("%s: %v", path, err)
	}
	return d
}
