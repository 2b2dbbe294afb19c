package main

import (
	"os"
	"strings"
	"testing"
)

// onlyEnv leaves kv as the whole of chatops' environment, so that a test
// shows what a command needs and nothing it happens to inherit.
func onlyEnv(t *testing.T, kv map[string]string) {
	t.Helper()
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(k, "CHATOPS_") && !strings.HasPrefix(k, "CHATOPS_TEST_") {
			t.Setenv(k, "")
		}
	}
	for k, v := range kv {
		t.Setenv(k, v)
	}
}

// every command, with what its --help must show: its usage line and each
// flag with its default.
var helpCases = []struct {
	name string
	want []string
}{
	{"serve", []string{"Usage: chatops serve [flags]\n", "--config FILE", "CHATOPS_API_TOKEN"}},
	{"migrate", []string{"Usage: chatops migrate [flags]\n", "--config FILE", "--grant ROLE", "--print-grants ROLE", "no token is needed"}},
	{"config check", []string{"Usage: chatops config check [flags]\n", "--config FILE", "YAML path"}},
	{"audit verify", []string{"Usage: chatops audit verify [flags]\n", "--config FILE", "--head SEQ:HASH", "CHATOPS_AUDIT_KEY", "no token is needed"}},
	{"audit export", []string{"Usage: chatops audit export [flags]\n", "--config FILE", "--since TIME", "-o FILE", "no token is needed"}},
	{"incident export", []string{"Usage: chatops incident export [flags] <id>\n", "--config FILE", "-o FILE", "no token is needed"}},
	{"manifest slack", []string{"Usage: chatops manifest slack [flags]\n", "--root NAME", "(default ops)", "--mode MODE", "(default socket)", "--base-url URL"}},
	{"version", []string{"Usage: chatops version\n", "-ldflags"}},
}

func TestHelp(t *testing.T) {
	onlyEnv(t, nil)
	type helpCase struct {
		args []string
		want []string
	}
	var cases []helpCase
	every := []string{"Usage:\n  chatops <command>", "help [command]", "Exit status"}
	for _, c := range helpCases {
		every = append(every, "  "+c.name)
		words := strings.Fields(c.name)
		for _, h := range []string{"-h", "-help", "--help"} {
			cases = append(cases, helpCase{append(words[:len(words):len(words)], h), c.want})
		}
		cases = append(cases,
			helpCase{append([]string{"help"}, words...), c.want},
			// Help wins over the rest of the command line.
			helpCase{append(words[:len(words):len(words)], "12", "--help"), c.want})
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"-help"}, {"--help"}} {
		cases = append(cases, helpCase{args, every})
	}
	for _, g := range []struct{ group, sub string }{{"audit", "chatops audit export [flags]"}, {"incident", "chatops incident export [flags] <id>"},
		{"config", "chatops config check [flags]"}, {"manifest", "chatops manifest slack [flags]"}} {
		cases = append(cases, helpCase{[]string{g.group, "-h"}, []string{g.sub}}, helpCase{[]string{g.group, "--help"}, []string{g.sub}},
			helpCase{[]string{"help", g.group}, []string{g.sub}})
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestCommandLineMistakes(t *testing.T) {
	onlyEnv(t, map[string]string{"CHATOPS_DATA_DIR": t.TempDir()})
	type mistake struct {
		name      string
		args      []string
		wantOnce  string // in stderr exactly once
		wantUsage string // the usage that follows it
	}
	tests := []mistake{
		{"no arguments", nil, "Usage:\n  chatops <command>", ""},
		{"unknown command", []string{"frobnicate"}, `chatops: unknown command "frobnicate"`, "Usage:\n  chatops <command>"},
		{"help of an unknown command", []string{"help", "frobnicate"}, `chatops: unknown command "frobnicate"`, "Usage:\n  chatops <command>"},
		{"audit alone", []string{"audit"}, "chatops audit: missing command", "chatops audit verify [flags]"},
		{"incident alone", []string{"incident"}, "chatops incident: missing command", "chatops incident export [flags] <id>"},
		{"config alone", []string{"config"}, "chatops config: missing command", "chatops config check [flags]"},
		{"manifest alone", []string{"manifest"}, "chatops manifest: missing command", "chatops manifest slack [flags]"},
		{"unknown audit command", []string{"audit", "frobnicate"}, `chatops audit: unknown command "frobnicate"`, "chatops audit export [flags]"},
		{"unknown config command", []string{"config", "show"}, `chatops config: unknown command "show"`, "chatops config check [flags]"},
		{"flag value missing", []string{"migrate", "--config"}, "flag needs an argument: -config", "Usage: chatops migrate [flags]\n"},
		{"stray argument", []string{"audit", "export", "24h"}, `chatops audit export: unexpected argument "24h"`, "Usage: chatops audit export [flags]\n"},
		{"missing incident id", []string{"incident", "export", "-o", "x.md"}, "chatops incident export: missing <id>", "Usage: chatops incident export [flags] <id>\n"},
		{"bad incident id", []string{"incident", "export", "seven"}, `got "seven"`, "Usage: chatops incident export [flags] <id>\n"},
		{"bad since", []string{"audit", "export", "--since", "yesterday"}, `--since "yesterday"`, "Usage: chatops audit export [flags]\n"},
		{"bad manifest mode", []string{"manifest", "slack", "--mode", "carrier-pigeon"}, `mode "carrier-pigeon"`, "Usage: chatops manifest slack [flags]\n"},
	}
	for _, c := range helpCases {
		words := strings.Fields(c.name)
		usage := "Usage: chatops " + c.name
		tests = append(tests,
			mistake{c.name + " unknown flag", append(words[:len(words):len(words)], "--frob"), "chatops " + c.name + ": flag provided but not defined: -frob", usage},
			mistake{c.name + " unknown flag after others", append(words[:len(words):len(words)], "12", "-frob=1"), "flag provided but not defined: -frob", usage})
		if c.name != "incident export" {
			tests = append(tests, mistake{c.name + " stray argument", append(words[:len(words):len(words)], "extra"), `unexpected argument "extra"`, usage})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout", code, stdout)
			}
			if n := strings.Count(stderr, tc.wantOnce); n != 1 {
				t.Errorf("stderr says %q %d times, want once:\n%s", tc.wantOnce, n, stderr)
			}
			if n := strings.Count(stderr, "Usage:"); n != 1 || !strings.Contains(stderr, tc.wantUsage) {
				t.Errorf("stderr holds %d usages, want one with %q:\n%s", n, tc.wantUsage, stderr)
			}
			if i, j := strings.Index(stderr, tc.wantOnce), strings.Index(stderr, "Usage:"); tc.wantUsage != "" && i > j {
				t.Errorf("the usage comes before the error:\n%s", stderr)
			}
		})
	}
}
