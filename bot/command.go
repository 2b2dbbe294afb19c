package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/policy"
)

// Identity is the person behind a command, as the platform vouches for them.
type Identity struct {
	Platform string `json:"platform"`
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	// Groups are the Slack user groups or Discord role ids the platform
	// reported with the request, for the role mapping.
	Groups []string `json:"groups,omitempty"`
}

// Command is one request from chat, already verified and normalized by its
// platform's inbound adapter.
type Command struct {
	Platform string
	User     Identity
	// Channel is where the command was typed (for a thread: its parent
	// channel); Thread is the thread (Slack: root ts; Discord: thread
	// channel id) or "" outside one.
	Channel string
	Thread  string
	// Text is what followed the command root: "logs orders-service --tail 50".
	Text string
	// Options are typed options the platform parsed already (Discord
	// application commands), by name; they take part like flags.
	Options    map[string]string
	ReceivedAt time.Time
}

// Answer is a command's reply in no platform's format.
type Answer struct {
	Title string
	// Lines are short lines of text; Fields label-value facts.
	Lines  []string
	Fields []Field
	// Pre is preformatted text (a table, log lines) shown in monospace;
	// renderers attach it as a file when it is too long for a message.
	Pre string
	// File, when set, names that attachment (and holds its content): the
	// renderer shows Pre when it fits and attaches File otherwise. Without
	// File a too-long Pre is attached as "output.txt".
	File *File
	// Private answers only the person who asked (help, errors, refusals).
	Private bool
	Color   int
}

// File is an attachment.
type File struct {
	Name    string
	Content []byte
}

// Responder delivers the answer to a command where it was asked.
type Responder interface {
	Respond(ctx context.Context, a Answer) error
}

// ArgKind is the type of a command argument.
type ArgKind int

const (
	ArgString ArgKind = iota
	ArgInt
	ArgDuration
	ArgBool
)

// Arg describes one argument: positional (in order) or a --flag.
type Arg struct {
	Name       string
	Kind       ArgKind
	Positional bool
	Required   bool
	Help       string
	// Min and Max bound ArgInt and ArgDuration (in seconds) values when set.
	Min, Max int64
	// Complete names a source of autocompletion ("service").
	Complete string
	// Rest makes the last positional argument take every remaining word
	// ("deploying a fix" as one reason).
	Rest bool
}

// CommandSpec is one entry of the command table.
type CommandSpec struct {
	// Name is one or two words: "health", "incident show".
	Name        string
	Summary     string
	Args        []Arg
	Role        policy.Role
	Destructive bool
	// OwnTimeline marks a command that writes its own events on the
	// incident it is about (incident ack, approve): run from an incident's
	// thread, it gets no extra action event from the router.
	OwnTimeline bool
	// Timeout bounds Run, Plan and Execute each (default 25 s).
	Timeout time.Duration
	// Run answers a command that is not destructive.
	Run func(ctx context.Context, inv Invocation) (Answer, error)
	// Plan and Execute make a destructive command: Plan is a dry run that
	// says exactly what would change; Execute carries out an approved plan
	// and refuses (a *StaleError) when the target is no longer the version
	// planned. It returns what happened, for the card and the audit log.
	Plan    func(ctx context.Context, inv Invocation) (Plan, error)
	Execute func(ctx context.Context, inv Invocation, p Plan) (string, error)
}

// Usage is the spec's usage line, derived from its arguments.
func (s CommandSpec) Usage() string {
	parts := []string{s.Name}
	for _, a := range s.Args {
		switch {
		case a.Positional && a.Required:
			parts = append(parts, "<"+a.Name+">")
		case a.Positional:
			parts = append(parts, "["+a.Name+"]")
		case a.Kind == ArgBool:
			parts = append(parts, "[--"+a.Name+"]")
		default:
			parts = append(parts, "[--"+a.Name+" "+strings.ToUpper(a.Name[:1])+"]")
		}
	}
	return strings.Join(parts, " ")
}

// Invocation is a parsed command on its way to its handler.
type Invocation struct {
	Command Command
	Spec    *CommandSpec
	// Role is the caller's role as policy decided it.
	Role policy.Role
	args map[string]string
}

// String returns an argument's value ("" when absent).
func (inv Invocation) String(name string) string { return inv.args[name] }

// Int returns an integer argument, or def when absent.
func (inv Invocation) Int(name string, def int) int {
	v, ok := inv.args[name]
	if !ok {
		return def
	}
	n, _ := strconv.Atoi(v) // validated when parsed
	return n
}

// Duration returns a duration argument, or def when absent.
func (inv Invocation) Duration(name string, def time.Duration) time.Duration {
	v, ok := inv.args[name]
	if !ok {
		return def
	}
	d, _ := time.ParseDuration(v) // validated when parsed
	return d
}

// Bool reports whether a flag was given.
func (inv Invocation) Bool(name string) bool { return inv.args[name] == "true" }

// UsageError is a command typed wrong; its message is for the person.
type UsageError struct {
	Spec *CommandSpec
	Msg  string
}

func (e *UsageError) Error() string {
	if e.Spec == nil {
		return e.Msg
	}
	return e.Msg + "\nusage: " + e.Spec.Usage()
}

// Limits on what a person can type.
const (
	maxCommandText = 2000
	maxTokens      = 32
	maxArgValue    = 256
)

// Tokenize splits command text on spaces, honouring "double" and 'single'
// quotes. Nothing here is ever given to a shell.
func Tokenize(s string) ([]string, error) {
	if len(s) > maxCommandText {
		return nil, fmt.Errorf("command longer than %d characters", maxCommandText)
	}
	var (
		out   []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	if len(out) > maxTokens {
		return nil, fmt.Errorf("more than %d words", maxTokens)
	}
	return out, nil
}

// parseArgs matches tokens (after the command name) and typed options
// against spec's arguments.
func parseArgs(spec *CommandSpec, tokens []string, options map[string]string) (map[string]string, error) {
	args := map[string]string{}
	byName := map[string]*Arg{}
	var positional []*Arg
	for i := range spec.Args {
		a := &spec.Args[i]
		byName[a.Name] = a
		if a.Positional {
			positional = append(positional, a)
		}
	}
	bad := func(format string, v ...any) error { return &UsageError{Spec: spec, Msg: fmt.Sprintf(format, v...)} }
	next := 0
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		if name, ok := strings.CutPrefix(tok, "--"); ok {
			name, value, hasValue := strings.Cut(name, "=")
			a := byName[name]
			if a == nil || a.Positional {
				return nil, bad("unknown option --%s", name)
			}
			if a.Kind == ArgBool {
				if hasValue {
					return nil, bad("--%s takes no value", name)
				}
				args[name] = "true"
				continue
			}
			if !hasValue {
				if i+1 >= len(tokens) {
					return nil, bad("--%s needs a value", name)
				}
				i++
				value = tokens[i]
			}
			args[name] = value
			continue
		}
		if next >= len(positional) {
			if n := len(positional); n > 0 && positional[n-1].Rest {
				args[positional[n-1].Name] += " " + tok
				continue
			}
			return nil, bad("unexpected %q", tok)
		}
		args[positional[next].Name] = tok
		next++
	}
	for name, value := range options {
		a := byName[name]
		if a == nil {
			return nil, bad("unknown option %s", name)
		}
		if a.Kind == ArgBool {
			if value != "true" && value != "false" {
				return nil, bad("%s must be true or false", name)
			}
			if value == "false" {
				continue
			}
		}
		args[name] = value
	}
	for _, a := range spec.Args {
		v, ok := args[a.Name]
		if !ok {
			if a.Required {
				return nil, bad("missing %s", a.Name)
			}
			continue
		}
		if len(v) > maxArgValue {
			return nil, bad("%s is longer than %d characters", a.Name, maxArgValue)
		}
		if err := checkArg(a, v); err != nil {
			return nil, bad("%s: %v", a.Name, err)
		}
	}
	return args, nil
}

func checkArg(a Arg, v string) error {
	switch a.Kind {
	case ArgInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if a.Max > 0 && (n < a.Min || n > a.Max) {
			return fmt.Errorf("%d is outside %d..%d", n, a.Min, a.Max)
		}
	case ArgDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 10m or 2h", v)
		}
		if a.Max > 0 && (d < time.Duration(a.Min)*time.Second || d > time.Duration(a.Max)*time.Second) {
			return fmt.Errorf("%s is outside %s..%s", d, time.Duration(a.Min)*time.Second, time.Duration(a.Max)*time.Second)
		}
	}
	return nil
}
