package commands

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Log limits: the default and the most lines a person can ask for.
const (
	defaultTail = 100
	maxTail     = 2000
	maxSince    = 7 * 24 * time.Hour
	maxGrepLen  = 256
)

// LogReader reads a service's pods' log lines (the cluster).
type LogReader interface {
	Logs(ctx context.Context, service string, opts bot.LogOptions) ([]bot.PodLogs, error)
}

func logs(c LogReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "logs",
		Summary: "Recent log lines of a service's pods",
		Role:    policy.Viewer,
		Args: []bot.Arg{
			{Name: "service", Positional: true, Required: true, Help: "the service (deployment)", Complete: "service"},
			{Name: "tail", Kind: bot.ArgInt, Min: 1, Max: maxTail, Help: fmt.Sprintf("lines per pod (default %d, at most %d)", defaultTail, maxTail)},
			{Name: "since", Kind: bot.ArgDuration, Min: 1, Max: int64(maxSince / time.Second), Help: "only lines newer than this, e.g. 10m"},
			{Name: "container", Help: "a container other than the first"},
			{Name: "previous", Kind: bot.ArgBool, Help: "the previous (crashed) container's logs"},
			{Name: "grep", Help: "only lines matching this regular expression"},
		},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			var re *regexp.Regexp
			if g := inv.String("grep"); g != "" {
				if len(g) > maxGrepLen {
					return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("grep: longer than %d characters", maxGrepLen)}
				}
				var err error
				// RE2: matching time is linear; no expression can hang the bot.
				if re, err = regexp.Compile(g); err != nil {
					return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("grep: %v", err)}
				}
			}
			service := inv.String("service")
			opts := bot.LogOptions{Container: inv.String("container"), Previous: inv.Bool("previous"),
				Since: inv.Duration("since", 0), Tail: int64(inv.Int("tail", defaultTail))}
			pods, err := c.Logs(ctx, service, opts)
			if err != nil {
				return bot.Answer{}, err
			}
			return logsAnswer(service, opts, re, pods), nil
		},
	}
}

func logsAnswer(service string, opts bot.LogOptions, re *regexp.Regexp, pods []bot.PodLogs) bot.Answer {
	var b strings.Builder
	lines := 0
	truncated := false
	for _, p := range pods {
		truncated = truncated || p.Truncated
		for _, l := range p.Lines {
			if re != nil && !re.MatchString(l) {
				continue
			}
			if len(pods) > 1 {
				b.WriteString(p.Pod)
				b.WriteString(" | ")
			}
			b.WriteString(l)
			b.WriteByte('\n')
			lines++
		}
	}
	what := []string{fmt.Sprintf("tail %d", opts.Tail)}
	if opts.Since > 0 {
		what = append(what, "since "+opts.Since.String())
	}
	if opts.Previous {
		what = append(what, "previous container")
	}
	if re != nil {
		what = append(what, "grep "+re.String())
	}
	a := bot.Answer{Title: fmt.Sprintf("%s logs: %d lines from %d pods (%s)", service, lines, len(pods), strings.Join(what, ", "))}
	if truncated {
		a.Lines = append(a.Lines, "Some pods' logs were cut at the size limit.")
	}
	if lines == 0 {
		a.Lines = append(a.Lines, "No lines.")
		return a
	}
	a.Pre = b.String()
	a.File = &bot.File{Name: "logs-" + service + ".txt", Content: []byte(a.Pre)}
	return a
}
