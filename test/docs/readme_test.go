// Package docs holds the README's facts that are stated elsewhere first
// (the Slack app manifest, the Discord permissions the code needs, the
// Kubernetes RBAC) and fails when the README says something else; one
// table reader serves every check.
package docs

import (
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/bakewise/chatops/integrations/discord"
	"github.com/bakewise/chatops/integrations/slack"
	"github.com/bakewise/chatops/test/kubeharness"
)

const (
	// The paths are from this package's folder: tests run there.
	readmePath    = "../../README.md"
	slackManifest = "../../deploy/slack/manifest.yaml"
	// shippedRBAC names, in messages, where the RBAC that the overlays
	// build comes from.
	shippedRBAC = "the overlays' RBAC (deploy/kubernetes/base/rbac.yaml)"
)

// readmeSection returns the README's text under heading (a whole line,
// "### Slack app") up to the next heading of the same or a higher level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s: no heading %q", readmePath, heading)
	}
	level := strings.Index(heading, " ") // how many #
	var out strings.Builder
	fenced := false // a "# comment" in a code block is no heading
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		hashes := len(line) - len(strings.TrimLeft(line, "#"))
		if !fenced && hashes > 0 && hashes <= level && strings.HasPrefix(line[hashes:], " ") {
			break
		}
		out.WriteString(line)
	}
	return out.String()
}

// readmeTable returns the rows of the table in section whose header row is
// header, each cell trimmed; a table may be indented (inside a list item).
func readmeTable(t *testing.T, section, header string) [][]string {
	t.Helper()
	_, rest, ok := strings.Cut(section, header+"\n")
	if !ok {
		t.Fatalf("%s: no table %q in its section", readmePath, header)
	}
	columns := strings.Count(header, "|") - 1
	var rows [][]string
	for i, line := range strings.Split(rest, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			break
		}
		if i == 0 { // the delimiter row
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != columns {
			t.Fatalf("%s: table %q: row %q has %d cells, want %d", readmePath, header, line, len(cells), columns)
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: table %q has no rows", readmePath, header)
	}
	return rows
}

var codeSpan = regexp.MustCompile("^`([^`]+)`$")

// codeList reads a cell that lists code spans ("`a`, `b`"). Anything else
// in it is an error, so that a name written without backticks is not
// silently left out of the comparison.
func codeList(t *testing.T, cell string) []string {
	t.Helper()
	var out []string
	for item := range strings.SplitSeq(cell, ", ") {
		m := codeSpan.FindStringSubmatch(item)
		if m == nil {
			t.Errorf("%s: cell %q: %q is not a code span", readmePath, cell, item)
			continue
		}
		out = append(out, m[1])
	}
	return out
}

// TestReadmeSlackScopes: the scope table under "Slack app" lists exactly
// the bot scopes the app manifest requests, each with what it is for.
func TestReadmeSlackScopes(t *testing.T) {
	raw, err := os.ReadFile(slackManifest)
	if err != nil {
		t.Fatal(err)
	}
	granted, err := slack.BotScopes(raw)
	if err != nil {
		t.Fatalf("%s: %v", slackManifest, err)
	}
	if len(granted) == 0 {
		t.Fatalf("%s: no oauth_config.scopes.bot", slackManifest)
	}

	var listed []string
	for _, row := range readmeTable(t, readmeSection(t, "### Slack app"), "| scope | used for |") {
		scopes := codeList(t, row[0])
		if row[1] == "" {
			t.Errorf("README: %s: no \"used for\"", row[0])
		}
		for _, s := range scopes {
			if slices.Contains(listed, s) {
				t.Errorf("README lists scope %s twice", s)
			}
			listed = append(listed, s)
		}
	}
	for _, s := range granted {
		if !slices.Contains(listed, s) {
			t.Errorf("%s requests scope %s; the README's table does not list it", slackManifest, s)
		}
	}
	for _, s := range listed {
		if !slices.Contains(granted, s) {
			t.Errorf("the README's table lists scope %s; %s does not request it", s, slackManifest)
		}
	}
}

// discordPermissionNames are the names Discord's settings show. A bit added
// to discord.BotPermissions needs its name here and a row in the README.
var discordPermissionNames = map[string]int64{
	"View Channel":             discordgo.PermissionViewChannel,
	"Send Messages":            discordgo.PermissionSendMessages,
	"Send Messages in Threads": discordgo.PermissionSendMessagesInThreads,
	"Create Public Threads":    discordgo.PermissionCreatePublicThreads,
	"Read Message History":     discordgo.PermissionReadMessageHistory,
	"Embed Links":              discordgo.PermissionEmbedLinks,
	"Attach Files":             discordgo.PermissionAttachFiles,
}

// TestReadmeDiscordPermissions: the permissions the README asks for (its
// table, its permissions integer and the invite URL's permissions=) are
// those the code needs, discord.BotPermissions.
func TestReadmeDiscordPermissions(t *testing.T) {
	section := readmeSection(t, "### Discord application and bot")
	want := discord.BotPermissions

	for _, c := range []struct {
		what string
		re   *regexp.Regexp
	}{
		{"permissions integer", regexp.MustCompile("permissions integer `([0-9]+)`")},
		{"invite URL", regexp.MustCompile(`oauth2/authorize\?[^ )]*permissions=([0-9]+)`)},
	} {
		found := c.re.FindAllStringSubmatch(section, -1)
		if len(found) == 0 {
			t.Errorf("README: no %s (%s)", c.what, c.re)
		}
		for _, m := range found {
			if got, _ := strconv.ParseInt(m[1], 10, 64); got != want {
				t.Errorf("README: %s %s, want %d (discord.BotPermissions)", c.what, m[1], want)
			}
		}
	}

	var listed int64
	for _, row := range readmeTable(t, section, "| permission | needed for |") {
		bit, ok := discordPermissionNames[row[0]]
		switch {
		case !ok:
			t.Errorf("README: permission %q: not a name this test knows (discordPermissionNames)", row[0])
		case listed&bit != 0:
			t.Errorf("README lists %s twice", row[0])
		case want&bit == 0:
			t.Errorf("README lists %s; discord.BotPermissions does not have it", row[0])
		}
		if row[1] == "" {
			t.Errorf("README: %s: no \"needed for\"", row[0])
		}
		listed |= bit
	}
	missing := want &^ listed
	for name, bit := range discordPermissionNames {
		if missing&bit != 0 {
			t.Errorf("discord.BotPermissions has %s; the README's table does not list it", name)
			missing &^= bit
		}
	}
	if missing != 0 {
		t.Errorf("discord.BotPermissions has bits %#x that discordPermissionNames does not name", missing)
	}
}

// rbacGrant is one verb on one resource of one API group ("" is core).
type rbacGrant struct{ group, resource, verb string }

// TestReadmeRBAC: the README's RBAC table under "Kubernetes" grants exactly
// what the shipped RBAC does: the same API groups, resources and verbs, and
// a row says "cluster-wide" exactly when a ClusterRole grants it.
func TestReadmeRBAC(t *testing.T) {
	// What `kubectl apply -k` installs, from every overlay.
	raw := kubeharness.ShippedRBAC(t)
	// grant → whether a ClusterRole grants it
	inFile := map[rbacGrant]bool{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(raw), 4096)
	for {
		var doc struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", shippedRBAC, err)
		}
		if doc.Kind != "Role" && doc.Kind != "ClusterRole" {
			continue
		}
		for i, r := range doc.Rules {
			if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
				t.Errorf("%s %s rule %d: resourceNames or nonResourceURLs, which the README's table cannot say", doc.Kind, doc.Metadata.Name, i)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						inFile[rbacGrant{g, res, v}] = inFile[rbacGrant{g, res, v}] || doc.Kind == "ClusterRole"
					}
				}
			}
		}
	}
	if len(inFile) == 0 {
		t.Fatalf("%s grants nothing: the check read the wrong file", shippedRBAC)
	}

	inReadme := map[rbacGrant]bool{}
	for _, row := range readmeTable(t, readmeSection(t, "### Kubernetes"), "| API group | resource | verbs | what for |") {
		group := row[0]
		if group == "core" {
			group = ""
		} else if g := codeList(t, group); len(g) == 1 {
			group = g[0]
		}
		resources := codeList(t, row[1])
		if row[3] == "" {
			t.Errorf("README: %s %s: no \"what for\"", row[0], row[1])
		}
		cluster := strings.Contains(row[3], "cluster-wide")
		for _, res := range resources {
			for v := range strings.SplitSeq(row[2], ", ") {
				g := rbacGrant{group, res, v}
				if inReadme[g] {
					t.Errorf("README grants %s %s (group %q) twice", v, res, group)
				}
				inReadme[g] = true
				fromCluster, ok := inFile[g]
				switch {
				case !ok:
					t.Errorf("README grants %s %s (group %q); %s does not", v, res, group, shippedRBAC)
				case fromCluster != cluster:
					t.Errorf("README: %s %s (group %q): says cluster-wide %v; in %s a ClusterRole grants it: %v", v, res, group, cluster, shippedRBAC, fromCluster)
				}
			}
		}
	}
	for g := range inFile {
		if !inReadme[g] {
			t.Errorf("%s grants %s %s (group %q); the README's table does not", shippedRBAC, g.verb, g.resource, g.group)
		}
	}
}

// TestReadmeDeploymentVariables: the Deployment section names every
// CHATOPS_* variable the configuration reads (bot/config's Env*
// constants), so that the Secret it tells a person to create misses none.
func TestReadmeDeploymentVariables(t *testing.T) {
	src, err := os.ReadFile("../../bot/config/config.go")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`Env[A-Za-z]+\s*=\s*"(CHATOPS_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(vars) < 20 {
		t.Fatalf("found %d CHATOPS_* variables in bot/config/config.go: the reader missed some", len(vars))
	}
	section := readmeSection(t, "## Deployment")
	for _, v := range vars {
		if !strings.Contains(section, "`"+v[1]+"`") && !strings.Contains(section, v[1]+"=") {
			t.Errorf("README, Deployment: %s is not mentioned", v[1])
		}
	}
}
