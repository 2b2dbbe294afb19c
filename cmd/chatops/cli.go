package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Exit statuses: a failure and a mistake on the command line differ, so
// that a script can tell "the audit log is bad" from "I called it wrong".
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one line of the command table: dispatch, flag parsing and
// every help text come from it, so they cannot disagree.
type subcommand struct {
	name    string // the words typed: "audit export"
	args    string // its positional arguments, for the usage line: "<id>"
	nargs   int    // how many positional arguments it takes
	summary string // one line, for the list of commands
	about   string // the rest of its --help: what it does, its exit status, its environment
	// define declares the command's flags on fs and returns what runs once
	// they are parsed.
	define func(fs *flag.FlagSet) action
}

// action runs a command whose command line has been checked.
type action func(ctx context.Context, inv invocation) error

// invocation is what a command runs with besides its flags.
type invocation struct {
	args           []string // the positional arguments, nargs of them
	stdout, stderr io.Writer
}

// usageError is a mistake on the command line: run prints it once, with
// the command's usage, and exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Where the commands read their configuration from, for their help.
const (
	serveEnv = `Environment: CHATOPS_WEBHOOK_TOKEN (or webhook basic auth) and CHATOPS_API_TOKEN are required;
CHATOPS_DATA_DIR or CHATOPS_DATABASE_URL, CHATOPS_LISTEN_ADDR, CHATOPS_LOG_FORMAT, CHATOPS_LOG_LEVEL,
and CHATOPS_SLACK_* and CHATOPS_DISCORD_* for the chat platforms, override the file
(README, Configuration). CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE keys the audit chain.`
	storeEnv = `Environment: CHATOPS_DATA_DIR (SQLite in DIR/chatops.db, default ./data) or CHATOPS_DATABASE_URL
(PostgreSQL), and CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE (the audit key). Only these are
read and checked: no token is needed.`
)

// commandTable is every command, in the order help lists them.
func commandTable() []subcommand {
	return []subcommand{
		{
			name: "serve", summary: "run the bot", define: serveCommand,
			about: "Apply pending database migrations, then receive Alertmanager webhooks, mirror incidents\n" +
				"into Slack and Discord threads and answer chat commands. SIGTERM or SIGINT stops accepting,\n" +
				"finishes in-flight requests, closes the store and exits 0.\n\n" + serveEnv,
		},
		{
			name: "migrate", summary: "apply database migrations and exit", define: migrateCommand,
			about: "Apply the migrations embedded in this binary and exit. Replicas may run it together:\n" +
				"PostgreSQL migrations take a lock. Run it as the owner of the tables; with --grant ROLE it\n" +
				"then gives the PostgreSQL role serve runs as what serve needs: on audit_log only SELECT and\n" +
				"INSERT, so that role cannot edit, delete, truncate or alter the log or disable its triggers.\n" +
				"It refuses a superuser or a member of the owner. --print-grants ROLE prints that SQL instead,\n" +
				"touching no database.\n\n" + storeEnv,
		},
		{
			name: "config check", summary: "validate the configuration, naming every error's path", define: configCheckCommand,
			about: "Validate the file and the environment as serve would, without starting anything, and\n" +
				"print every problem with its YAML path (severity.rules[2].match[0]); exit 1 if there is one.\n\n" + serveEnv,
		},
		{
			name: "audit verify", summary: "check the audit log's hash chain", define: auditVerifyCommand,
			about: "Walk the whole audit log and check its hash chain; exit 1 naming the first row that was\n" +
				"edited, deleted or moved. Changes nothing. On success the last line is \"head SEQ:HASH\": keep\n" +
				"it where the bot cannot write and give it back with --head, which fails if that row is gone\n" +
				"or changed (rows cut off the chain's end, which the chain alone cannot show). Keyed rows\n" +
				"need the audit key (CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE); without it verify stops\n" +
				"at the first keyed row and exits 1.\n\n" + storeEnv,
		},
		{
			name: "audit export", summary: "write audit rows as JSON lines", define: auditExportCommand,
			about: "Write the audit rows, all of them or those since --since, as JSON lines in sequence order.\n" +
				"Changes nothing.\n\n" + storeEnv,
		},
		{
			name: "incident export", args: "<id>", nargs: 1, summary: "write an incident's post-mortem draft as Markdown",
			define: incidentExportCommand,
			about: "Write the post-mortem draft of incident <id> (12 or #12) as Markdown: summary, impact\n" +
				"window, timeline, actions taken, open questions. Changes nothing.\n\n" + storeEnv,
		},
		{
			name: "manifest slack", summary: "print the Slack app manifest for the command table", define: slackManifestCommand,
			about: "Print the Slack app manifest generated from the command table. Reads no configuration;\n" +
				"deploy/slack/manifest.yaml is its output for the defaults.",
		},
		{
			name: "version", summary: "print the version", define: versionCommand,
			about: `Print the version, set at build time with -ldflags "-X main.version=...".`,
		},
	}
}

func mainUsage(cmds []subcommand) string {
	var b strings.Builder
	b.WriteString("chatops: Alertmanager incidents in Slack and Discord, with guarded operations.\n\n")
	b.WriteString("Usage:\n  chatops <command> [flags] [arguments]\n\nCommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(tw, "  help [command]\tprint this help, or a command's\n")
	tw.Flush()
	b.WriteString(`
"chatops <command> --help" prints a command's flags, their defaults and the environment it reads.
With no --config, chatops runs on defaults: SQLite in ./data, listening on 127.0.0.1:8080.
Exit status: 0 done, 1 failed ("chatops: <error>"), 2 a mistake on the command line.
`)
	return b.String()
}

// groupUsage lists the sub-commands of group ("audit").
func groupUsage(group string, sub []subcommand) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range sub {
		fmt.Fprintf(tw, "  chatops %s\t%s\n", strings.TrimSpace(c.name+" [flags] "+c.args), c.summary)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n\"chatops %s <command> --help\" prints a command's flags.\n", group)
	return b.String()
}

// usage is the command's --help: its line, what it does (when about), its
// flags with their defaults. A mistake gets it without about, so that the
// error stays in sight.
func (c subcommand) usage(fs *flag.FlagSet, about bool) string {
	var b strings.Builder
	line := "chatops " + c.name
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) > 0 {
		line += " [flags]"
	}
	fmt.Fprintf(&b, "Usage: %s\n", strings.TrimSpace(line+" "+c.args))
	if about {
		fmt.Fprintf(&b, "\n%s\n", c.about)
	}
	if len(flags) == 0 {
		return b.String()
	}
	b.WriteString("\nFlags:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range flags {
		arg, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if arg != "" { // "" is a boolean flag, which takes no value
			name += " " + arg
		}
		if f.DefValue != "" && (arg != "" || f.DefValue != "false") {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, text)
	}
	tw.Flush()
	return b.String()
}

// find returns the command args name and the arguments that follow its
// name, or nil.
func find(cmds []subcommand, args []string) (*subcommand, []string) {
	for i, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return &cmds[i], args[len(words):]
		}
	}
	return nil, nil
}

// group returns the sub-commands of word ("audit"), if it is a group.
func group(cmds []subcommand, word string) []subcommand {
	var sub []subcommand
	for _, c := range cmds {
		if first, _, ok := strings.Cut(c.name, " "); ok && first == word {
			sub = append(sub, c)
		}
	}
	return sub
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// parseArgs parses fs's flags wherever they stand among the positional
// arguments, as people type them (incident export 12 -o pm.md); after "--"
// everything is positional. A mistake is a usageError; -h is flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// checkArgs holds the positional arguments to the number c takes.
func (c subcommand) checkArgs(pos []string) error {
	switch {
	case len(pos) > c.nargs:
		return usagef("unexpected argument %q", pos[c.nargs])
	case len(pos) < c.nargs:
		return usagef("missing %s", strings.Fields(c.args)[len(pos)])
	}
	return nil
}
