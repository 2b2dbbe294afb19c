package commands

import (
	"context"
	"fmt"
	"regexp"
	"regexp/syntax"
	"runtime"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Log limits: the default and the most lines a person can ask for, and
// what one command reads.
const (
	defaultTail = 100
	maxTail     = 2000
	maxSince    = 7 * 24 * time.Hour
	// maxLogBytes bounds what one logs command reads, and so holds and
	// searches, across all its pods: a budget they share.
	maxLogBytes = 2 << 20
)

// --grep limits. RE2 matches in time linear in the input, but each byte
// costs up to one step per instruction of the compiled program, and a
// counted repetition copies its subexpression into the program: `.{1000}x`
// over a megabyte took seconds. Bounding both bounds the cost per byte,
// and maxLogBytes the bytes.
const (
	// maxGrepLen bounds the pattern's text.
	maxGrepLen = 256
	// maxGrepRepeat bounds a counted repetition (x{n}, x{n,m}); Go's own
	// parser refuses more than 1000.
	maxGrepRepeat = 100
	// maxGrepProgram bounds the compiled program, in instructions. Real
	// searches need far fewer: a UUID is 38, five alternative phrases
	// under (?i) about 60.
	maxGrepProgram = 200
	// grepCheckBytes is how much is matched between two looks at the
	// command's deadline, holding a search place (searchPlaces).
	grepCheckBytes = 64 << 10
)

// searchPlaces is how many searches match at once. Matching is pure CPU:
// with a search per core, the bot's other work (acknowledging commands
// within Slack's 3 s, taking alerts in) and its neighbours on the node
// (the database) queue behind them. A search takes its place for
// grepCheckBytes at a time and then queues again, so the places go round:
// a quick search waits for a chunk of each long one, not for all of it.
func searchPlaces() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// searchRest is how long a place rests after a chunk, as a share of the
// time the chunk took: 1 keeps each place to half a CPU.
const searchRest = 1.0

// LogReader reads a service's pods' log lines (the cluster).
type LogReader interface {
	Logs(ctx context.Context, service string, opts bot.LogOptions) ([]bot.PodLogs, error)
}

func logs(c LogReader) bot.CommandSpec {
	s := newSearcher(searchPlaces())
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
				var err error
				if re, err = compileGrep(g); err != nil {
					return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: "grep: " + err.Error()}
				}
			}
			service := inv.String("service")
			opts := bot.LogOptions{Container: inv.String("container"), Previous: inv.Bool("previous"),
				Since: inv.Duration("since", 0), Tail: int64(inv.Int("tail", defaultTail)), LimitBytes: maxLogBytes}
			pods, err := c.Logs(ctx, service, opts)
			if err != nil {
				return bot.Answer{}, err
			}
			return logsAnswer(service, opts, re, pods, s.grep(ctx, re, pods)), nil
		},
	}
}

// compileGrep compiles a --grep pattern within the limits that bound its
// cost per byte, naming the limit a pattern exceeds.
func compileGrep(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > maxGrepLen {
		return nil, fmt.Errorf("longer than %d characters", maxGrepLen)
	}
	// regexp.Compile parses with syntax.Perl: the same tree it will run.
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	if n := largestRepeat(tree); n > maxGrepRepeat {
		return nil, fmt.Errorf("a repetition of %d is more than the %d allowed: search for a shorter run", n, maxGrepRepeat)
	}
	prog, err := syntax.Compile(tree.Simplify())
	if err != nil {
		return nil, err
	}
	if n := len(prog.Inst); n > maxGrepProgram {
		return nil, fmt.Errorf("too complex: it compiles to %d instructions, more than the %d allowed: use fewer or shorter repetitions and alternatives", n, maxGrepProgram)
	}
	return regexp.Compile(pattern)
}

// largestRepeat is the largest count of a counted repetition in re
// (x{n}, x{n,}, x{n,m}); 0 when there is none.
func largestRepeat(re *syntax.Regexp) int {
	n := 0
	if re.Op == syntax.OpRepeat {
		n = max(re.Min, re.Max)
	}
	for _, sub := range re.Sub {
		n = max(n, largestRepeat(sub))
	}
	return n
}

// grepResult is what matching found, and whether the deadline stopped it.
type grepResult struct {
	out     strings.Builder
	lines   int  // lines kept
	scanned int  // lines looked at
	total   int  // lines read
	stopped bool // the deadline passed before every line was looked at
}

// searcher runs the logs command's searches within its places.
type searcher struct {
	// places are the free places, each with the time its rest ends.
	places chan time.Time
}

func newSearcher(n int) *searcher {
	s := &searcher{places: make(chan time.Time, n)}
	for range n {
		s.places <- time.Time{}
	}
	return s
}

// take waits for a place, and for the end of its rest, until ctx ends;
// false: ctx ended first (and the place is free again).
func (s *searcher) take(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	var rested time.Time
	select {
	case rested = <-s.places:
	case <-ctx.Done():
		return false
	}
	if wait := time.Until(rested); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			s.places <- rested // the next search waits out the rest
			return false
		}
	}
	return true
}

// give frees a place taken at start: it rests searchRest as long as it
// worked.
func (s *searcher) give(start time.Time) {
	now := time.Now()
	s.places <- now.Add(time.Duration(float64(now.Sub(start)) * searchRest))
}

// grep keeps the pods' lines that re matches (all of them when re is nil),
// prefixed with their pod when there are several. It matches
// grepCheckBytes at a time in a search place, and stops when the
// command's deadline passes, with what it found so far.
func (s *searcher) grep(ctx context.Context, re *regexp.Regexp, pods []bot.PodLogs) *grepResult {
	r := &grepResult{}
	for _, p := range pods {
		r.total += len(p.Lines)
	}
	held, since := false, time.Time{}
	defer func() {
		if held {
			s.give(since)
		}
	}()
	chunk := 0 // bytes matched in the place held
	for _, p := range pods {
		for _, l := range p.Lines {
			if re != nil && (!held || chunk >= grepCheckBytes) {
				if held {
					s.give(since) // back in the queue, behind the others
				}
				if held = s.take(ctx); !held {
					r.stopped = true
					return r
				}
				since, chunk = time.Now(), 0
			}
			chunk += len(l) + 1
			r.scanned++
			if re != nil && !re.MatchString(l) {
				continue
			}
			if len(pods) > 1 {
				r.out.WriteString(p.Pod)
				r.out.WriteString(" | ")
			}
			r.out.WriteString(l)
			r.out.WriteByte('\n')
			r.lines++
		}
	}
	return r
}

func logsAnswer(service string, opts bot.LogOptions, re *regexp.Regexp, pods []bot.PodLogs, g *grepResult) bot.Answer {
	lines := g.lines
	truncated, cut := false, 0
	var noPrevious []string
	for _, p := range pods {
		truncated = truncated || p.Truncated
		cut += p.CutLines
		if p.NoPrevious {
			noPrevious = append(noPrevious, p.Pod)
		}
	}
	what := []string{fmt.Sprintf("tail %d", opts.Tail)}
	if opts.Since > 0 {
		what = append(what, "since "+opts.Since.String())
	}
	if opts.Container != "" {
		what = append(what, "container "+opts.Container)
	}
	if opts.Previous {
		what = append(what, "previous container")
	}
	if re != nil {
		what = append(what, "grep "+re.String())
	}
	a := bot.Answer{Title: fmt.Sprintf("%s logs: %d lines from %d pods (%s)", service, lines, len(pods), strings.Join(what, ", "))}
	if len(noPrevious) > 0 {
		a.Lines = append(a.Lines, fmt.Sprintf("No previous container (it has not restarted) in %d of %d pods: %s.", len(noPrevious), len(pods), strings.Join(noPrevious, ", ")))
	}
	if g.stopped {
		a.Lines = append(a.Lines, fmt.Sprintf("The search was cut short at the command's deadline (searches share the bot's CPU): %d of %d lines were searched, and these are the matches among them. Narrow it with --tail, --since or a simpler --grep.", g.scanned, g.total))
	}
	if truncated {
		a.Lines = append(a.Lines, fmt.Sprintf("Some pods' logs were cut at the size limit: one logs command reads at most %s, shared by its pods. Ask for fewer lines with --tail or --since.", byteSize(opts.LimitBytes)))
	}
	switch {
	case cut == 1:
		a.Lines = append(a.Lines, "1 line was too long to keep whole: it is cut, and ends with a “[line cut at …]” marker.")
	case cut > 1:
		a.Lines = append(a.Lines, fmt.Sprintf("%d lines were too long to keep whole: each is cut, and ends with a “[line cut at …]” marker.", cut))
	}
	if lines == 0 {
		a.Lines = append(a.Lines, "No lines.")
		return a
	}
	a.Pre = g.out.String()
	a.File = &bot.File{Name: "logs-" + service + ".txt", Content: []byte(a.Pre)}
	return a
}

// byteSize writes a size in MiB or KiB, as the limits are set.
func byteSize(n int64) string {
	switch {
	case n <= 0:
		return "the reader's limit"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
