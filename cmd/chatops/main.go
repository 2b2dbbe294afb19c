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
	"slices"
	"syscall"

	"github.com/bakewise/chatops/bot/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func versionCommand(*flag.FlagSet) action {
	return func(_ context.Context, inv invocation) error {
		_, err := fmt.Fprintln(inv.stdout, "chatops", version)
		return err
	}
}

// run runs the command args name. Help asked for goes to stdout with exit
// 0; a mistake on the command line is said once, with the usage, on stderr
// with exit 2; a failure is "chatops: <error>" on stderr with exit 1.
func run(args []string, stdout, stderr io.Writer) int {
	cmds := commandTable()
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage(cmds))
		return exitUsage
	}
	switch {
	case args[0] == "help" && len(args) > 1:
		// chatops help audit export is chatops audit export --help.
		return run(slices.Concat(args[1:], []string{"--help"}), stdout, stderr)
	case args[0] == "help", isHelpFlag(args[0]):
		fmt.Fprint(stdout, mainUsage(cmds))
		return exitOK
	}
	c, rest := find(cmds, args)
	if c == nil {
		return noCommand(cmds, args, stdout, stderr)
	}

	fs := flag.NewFlagSet("chatops "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package would print the error and the usage; run does, once
	act := c.define(fs)
	pos, err := parseArgs(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.usage(fs, true))
		return exitOK
	}
	if err == nil {
		err = c.checkArgs(pos)
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = act(ctx, invocation{args: pos, stdout: stdout, stderr: stderr})
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "chatops %s: %v\n\n%s", c.name, err, c.usage(fs, false))
		return exitUsage
	}
	report(stderr, err)
	return exitFail
}

// noCommand answers a command line that names no command: a group alone
// ("chatops audit"), a group with -h, or a word that is no command.
func noCommand(cmds []subcommand, args []string, stdout, stderr io.Writer) int {
	sub := group(cmds, args[0])
	switch {
	case len(sub) == 0:
		fmt.Fprintf(stderr, "chatops: unknown command %q\n\n%s", args[0], mainUsage(cmds))
	case len(args) == 1:
		fmt.Fprintf(stderr, "chatops %s: missing command\n\n%s", args[0], groupUsage(args[0], sub))
	case isHelpFlag(args[1]):
		fmt.Fprint(stdout, groupUsage(args[0], sub))
		return exitOK
	default:
		fmt.Fprintf(stderr, "chatops %s: unknown command %q\n\n%s", args[0], args[1], groupUsage(args[0], sub))
	}
	return exitUsage
}

// report prints a failure: one line, or one per configuration problem so
// that each keeps its YAML path.
func report(stderr io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stderr, "chatops: configuration:", p.Error())
		}
		if len(ps) > 1 {
			fmt.Fprintf(stderr, "chatops: %d configuration problems\n", len(ps))
		}
		return
	}
	fmt.Fprintln(stderr, "chatops:", err)
}
