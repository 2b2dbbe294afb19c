package main

import (
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeInvocation finds a chatops command line in code: the binary run as
// `chatops`, `/chatops` (in the image) or `go run ./cmd/chatops`, preceded
// by the start, a space or a backquote (so deploy/chatops, a Deployment's
// name, is none).
var readmeInvocation = regexp.MustCompile("(?:^|[\\s`])(?:go run \\./cmd/chatops|/chatops|chatops) ([a-z][^`\\n]*)")

// Every chatops command line in the README's Deployment section (in code
// blocks and inline code) is one this binary takes: a command of the
// table, with flags it defines and as many arguments as it wants. A
// rewrite of the section that invents a flag fails here.
func TestReadmeDeploymentCommands(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Deployment\n")
	if !ok {
		t.Fatal("README: no ## Deployment section")
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}

	var code []string // fenced lines and inline code spans
	fenced := false
	for line := range strings.Lines(section) {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			code = append(code, line)
			continue
		}
		parts := strings.Split(line, "`")
		for i := 1; i < len(parts); i += 2 {
			code = append(code, "`"+parts[i]+"`")
		}
	}

	checked := 0
	for _, c := range code {
		for _, m := range readmeInvocation.FindAllStringSubmatch(c, -1) {
			args := shellWords(m[1])
			if len(args) == 0 {
				continue
			}
			cmd, rest := find(commandTable(), args)
			if cmd == nil {
				t.Errorf("README: chatops %s: no such command", strings.Join(args, " "))
				continue
			}
			fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cmd.define(fs)
			pos, err := parseArgs(fs, rest)
			if err == nil {
				err = cmd.checkArgs(pos)
			}
			if err != nil {
				t.Errorf("README: chatops %s: %v", strings.Join(args, " "), err)
			}
			checked++
		}
	}
	// The section runs config check, migrate --grant and --print-grants,
	// audit verify and manifest slack (twice).
	if checked < 6 {
		t.Errorf("checked %d chatops command lines in the Deployment section, want at least 6: the reader missed some", checked)
	}
}

// shellWords splits a command line as a shell would for these simple
// cases (single or double quotes, no escapes), stopping where the command
// ends: a pipe, a list operator, a comment or a line continuation.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	quote := rune(0)
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			flush()
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	flush()
	for i, word := range words {
		if word == "|" || word == "&&" || word == "&" || word == ";" || word == "\\" || strings.HasPrefix(word, "#") {
			return words[:i]
		}
	}
	return words
}
