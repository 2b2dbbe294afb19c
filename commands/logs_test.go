package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

// fakeLogs answers Logs with fixed pods, whatever the context, and
// remembers what it was asked.
type fakeLogs struct {
	pods  []bot.PodLogs
	calls int
	opts  bot.LogOptions
}

func (f *fakeLogs) Logs(_ context.Context, _ string, opts bot.LogOptions) ([]bot.PodLogs, error) {
	f.calls++
	f.opts = opts
	return f.pods, nil
}

// runLogs runs the logs command's handler with args, as the router would
// after parsing.
func runLogs(ctx context.Context, r LogReader, args map[string]string) (bot.Answer, error) {
	spec := logs(r)
	return spec.Run(ctx, bot.NewInvocation(bot.Command{Text: "logs"}, &spec, args))
}

func answerText(a bot.Answer) string {
	return a.Title + "\n" + strings.Join(a.Lines, "\n") + "\n" + a.Pre
}

// TestGrepLimits: patterns whose compiled program would make every byte
// expensive are refused with the limit they exceed, before any log is read.
func TestGrepLimits(t *testing.T) {
	tests := []struct {
		name, pattern string
		want          string // in the usage error; "" when accepted
	}{
		{name: "plain", pattern: "ERROR|WARN"},
		{name: "a UUID", pattern: `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`},
		{name: "phrases ignoring case", pattern: `(?i)(timeout|deadline exceeded|connection refused|context canceled)`},
		{name: "the longest repetition", pattern: `.{100}x`},
		{name: "a repetition past the limit", pattern: `.{1000}x`, want: fmt.Sprintf("a repetition of 1000 is more than the %d allowed", maxGrepRepeat)},
		{name: "an open repetition past the limit", pattern: `x{101,}`, want: "a repetition of 101 is more than the 100 allowed"},
		{name: "nested repetitions", pattern: `(\w+\s*){100}z`, want: fmt.Sprintf("more than the %d allowed", maxGrepProgram)},
		{name: "alternatives of long repetitions", pattern: `\pL{100}|\d{100}|\s{100}`, want: fmt.Sprintf("too complex: it compiles to 304 instructions, more than the %d allowed", maxGrepProgram)},
		{name: "Go's own limit", pattern: `.{1001}`, want: "invalid repeat count"},
		{name: "too long", pattern: strings.Repeat("a", maxGrepLen+1), want: fmt.Sprintf("longer than %d characters", maxGrepLen)},
		{name: "not a pattern", pattern: `(`, want: "missing closing )"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLogs{pods: []bot.PodLogs{{Pod: "orders-1", Lines: []string{"x"}}}}
			_, err := runLogs(t.Context(), f, map[string]string{"service": "orders-service", "grep": tc.pattern})
			if tc.want == "" {
				if err != nil || f.calls != 1 {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ue *bot.UsageError
			if !errors.As(err, &ue) || !strings.HasPrefix(ue.Msg, "grep: ") || !strings.Contains(ue.Msg, tc.want) {
				t.Fatalf("error %v; want a usage error saying %q", err, tc.want)
			}
			if f.calls != 0 {
				t.Error("the logs were read for a refused pattern")
			}
		})
	}
}

// TestGrepStopsAtDeadline: past the command's deadline the search stops
// and the answer says it was cut short; before it, every line is searched.
func TestGrepStopsAtDeadline(t *testing.T) {
	var lines []string
	for i := range 5000 {
		lines = append(lines, fmt.Sprintf("level=error msg=%q n=%d", strings.Repeat("boom ", 20), i))
	}
	f := &fakeLogs{pods: []bot.PodLogs{{Pod: "orders-1", Lines: lines}, {Pod: "orders-2", Lines: lines}}}
	args := map[string]string{"service": "orders-service", "grep": "error"}

	a, err := runLogs(t.Context(), f, args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Title, "10000 lines from 2 pods") || strings.Contains(answerText(a), "cut short") {
		t.Fatalf("in time: %s\n%s", a.Title, strings.Join(a.Lines, "\n"))
	}

	past, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	a, err = runLogs(past, f, args)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a.Title, "10000 lines") {
		t.Fatalf("past the deadline every line was searched: %s", a.Title)
	}
	if !strings.Contains(answerText(a), "The search was cut short at the command's deadline (searches share the bot's CPU): 0 of 10000 lines were searched") {
		t.Errorf("the answer does not say the search was cut short:\n%s", answerText(a))
	}
}

// TestLogsAnswerSaysWhatWasCut: the budget shared by the pods is asked
// for, and the answer says when it was reached and when long lines were
// cut.
func TestLogsAnswerSaysWhatWasCut(t *testing.T) {
	f := &fakeLogs{pods: []bot.PodLogs{
		{Pod: "orders-1", Lines: []string{"before", strings.Repeat("x", 10) + " … [line cut at 64 KiB]", "after"}, CutLines: 1},
		{Pod: "orders-2", Lines: []string{"a", "b"}, Truncated: true, CutLines: 2},
	}}
	a, err := runLogs(t.Context(), f, map[string]string{"service": "orders-service"})
	if err != nil {
		t.Fatal(err)
	}
	if f.opts.LimitBytes != maxLogBytes {
		t.Errorf("asked for %d bytes; want the command's budget %d", f.opts.LimitBytes, maxLogBytes)
	}
	text := answerText(a)
	for _, want := range []string{
		"orders-service logs: 5 lines from 2 pods",
		"one logs command reads at most 2 MiB, shared by its pods",
		"3 lines were too long to keep whole",
		"orders-1 | after",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the answer lacks %q:\n%s", want, text)
		}
	}

	f.pods = []bot.PodLogs{{Pod: "orders-1", Lines: []string{"fine"}}}
	a, _ = runLogs(t.Context(), f, map[string]string{"service": "orders-service"})
	if len(a.Lines) != 0 {
		t.Errorf("nothing was cut, yet the answer says: %q", a.Lines)
	}
}

// TestGrepWaitsForAPlace: while other searches hold every place, or the
// place rests after long work, a search waits, and stops cut short when
// the command's deadline passes; with a place free and rested it
// searches everything and gives the place back.
func TestGrepWaitsForAPlace(t *testing.T) {
	pods := []bot.PodLogs{{Pod: "orders-1", Lines: []string{"x1", "y", "x2"}}}
	re := regexp.MustCompile("x")
	s := newSearcher(1)
	if !s.take(t.Context()) { // another search holds the only place
		t.Fatal("the free place was not taken")
	}
	stopsBeforeAny := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if g := s.grep(ctx, re, pods); !g.stopped || g.scanned != 0 || g.lines != 0 {
			t.Fatalf("%s: stopped %v, %d lines searched, %d kept; want it stopped before any", what, g.stopped, g.scanned, g.lines)
		}
	}
	stopsBeforeAny("with no place free")

	s.give(time.Now().Add(-time.Hour)) // it worked an hour: it rests an hour
	stopsBeforeAny("with the place resting")

	<-s.places
	s.places <- time.Time{}
	if g := s.grep(t.Context(), re, pods); g.stopped || g.scanned != 3 || g.lines != 2 {
		t.Fatalf("with a place free: stopped %v, %d searched, %d kept; want 3 and 2", g.stopped, g.scanned, g.lines)
	}
	if len(s.places) != 1 {
		t.Error("the search kept its place")
	}
}
