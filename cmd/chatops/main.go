// Command chatops turns Alertmanager alerts into incidents and answers the
// people who handle them. main only wires: config, constructors, signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `chatops: Alertmanager incidents in Slack and Discord, with guarded operations.

Usage:
  chatops serve [--config FILE]         run the bot
  chatops migrate [--config FILE]       apply database migrations and exit
  chatops config check [--config FILE]  validate the configuration, naming every error's path
  chatops audit verify [--config FILE]  check the audit log's hash chain; exit 1 naming the first bad row
  chatops audit export [--config FILE] [--since TIME|DURATION] [-o FILE]
                                        write audit rows (all, or since an RFC 3339 time or e.g. 24h ago)
                                        as JSON lines
  chatops incident export <id> [--config FILE] [-o FILE]
                                        write the incident's post-mortem draft as Markdown
  chatops manifest slack [--root ops] [--mode socket|http] [--base-url URL]
                                        print the Slack app manifest for the command table
  chatops version                       print the version

With no --config, chatops runs on defaults: SQLite in ./data, listening on 127.0.0.1:8080.
Environment: CHATOPS_LISTEN_ADDR, CHATOPS_DATA_DIR, CHATOPS_DATABASE_URL, CHATOPS_WEBHOOK_TOKEN,
CHATOPS_WEBHOOK_PASSWORD, CHATOPS_API_TOKEN, CHATOPS_LOG_FORMAT, CHATOPS_LOG_LEVEL.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = withConfig("serve", args[1:], stderr, func(c cliConfig) error { return serve(ctx, c) })
	case "migrate":
		err = withConfig("migrate", args[1:], stderr, func(c cliConfig) error { return migrate(ctx, c, stdout) })
	case "audit":
		err = audit(ctx, args[1:], stdout, stderr)
	case "incident":
		err = incident(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return configCheck(args[2:], stdout, stderr)
	case "manifest":
		if len(args) < 2 || args[1] != "slack" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return slackManifest(args[2:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "chatops", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "chatops: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return 0
	case errors.Is(err, flag.ErrHelp), errors.Is(err, errFlags):
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprint(stderr, usage)
		return 2
	}
	fmt.Fprintln(stderr, "chatops:", err)
	return 1
}
