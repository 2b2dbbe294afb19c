package command

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Table is a checked command table: it finds the command a text names,
// parses its arguments against the command's spec, and plans and executes
// destructive commands within their deadlines. It holds no state beyond
// the specs, so the router and the approvals may each have one.
type Table struct {
	root   string
	specs  []bot.CommandSpec
	byName map[string]*bot.CommandSpec
}

// NewTable checks specs and builds their table; "help" is added to it.
// root is the command root people type, without the slash ("ops").
func NewTable(root string, specs []bot.CommandSpec) (*Table, error) {
	t := &Table{root: root, byName: map[string]*bot.CommandSpec{}}
	t.specs = append(t.specs, specs...)
	t.specs = append(t.specs, bot.CommandSpec{
		Name:    "help",
		Summary: "What the bot can do, or how to use one command",
		Args:    []bot.Arg{{Name: "command", Positional: true, Help: "a command's name"}},
		Role:    policy.Viewer,
		Run: func(_ context.Context, inv bot.Invocation) (bot.Answer, error) {
			return t.help(inv.String("command")), nil
		},
	})
	sort.Slice(t.specs, func(i, j int) bool { return t.specs[i].Name < t.specs[j].Name })
	for i := range t.specs {
		s := &t.specs[i]
		if err := checkSpec(s); err != nil {
			return nil, err
		}
		if t.byName[s.Name] != nil {
			return nil, fmt.Errorf("command %q is in the table twice", s.Name)
		}
		t.byName[s.Name] = s
	}
	return t, nil
}

func checkSpec(s *bot.CommandSpec) error {
	words := strings.Fields(s.Name)
	if len(words) == 0 || len(words) > 2 || strings.Join(words, " ") != s.Name {
		return fmt.Errorf("command %q: a name is one or two words", s.Name)
	}
	if s.Summary == "" || s.Role == policy.NoAccess {
		return fmt.Errorf("command %q: needs a summary and a role", s.Name)
	}
	if s.Destructive != (s.Run == nil) || s.Destructive != (s.Plan != nil && s.Execute != nil) {
		return fmt.Errorf("command %q: a destructive command has Plan and Execute, any other Run", s.Name)
	}
	seenOptional := false
	for i, a := range s.Args {
		if a.Rest && (!a.Positional || i != len(s.Args)-1 || a.Kind != bot.ArgString) {
			return fmt.Errorf("command %q: only the last argument, a positional string, takes the rest", s.Name)
		}
		if a.Positional && a.Required && seenOptional {
			return fmt.Errorf("command %q: required argument %s after an optional one", s.Name, a.Name)
		}
		if a.Positional && !a.Required {
			seenOptional = true
		}
	}
	return nil
}

// Specs is the command table, help included, sorted by name.
func (t *Table) Specs() []bot.CommandSpec { return t.specs }

// Root is the command root people type.
func (t *Table) Root() string { return t.root }

// Lookup finds the command a list of words starts with (two-word names
// first) and returns the remaining words.
func (t *Table) Lookup(words []string) (*bot.CommandSpec, []string) {
	if len(words) >= 2 {
		if s := t.byName[words[0]+" "+words[1]]; s != nil {
			return s, words[2:]
		}
	}
	if len(words) >= 1 {
		if s := t.byName[words[0]]; s != nil {
			return s, words[1:]
		}
	}
	return nil, nil
}

// parseError is a command that could not be parsed: a usage error, or an
// unknown command answered with help.
type parseError struct {
	usage  *bot.UsageError
	answer *bot.Answer
	msg    string
}

func (e *parseError) Error() string { return e.msg }

// parse finds cmd's spec and parses its arguments. On failure the returned
// Invocation still names the spec when one was found.
func (t *Table) parse(cmd bot.Command) (bot.Invocation, *parseError) {
	words, err := Tokenize(cmd.Text)
	if err != nil {
		a := bot.PrivateAnswer(err.Error())
		return bot.Invocation{}, &parseError{answer: &a, msg: err.Error()}
	}
	spec, rest := t.Lookup(words)
	if spec == nil {
		a := t.help("")
		msg := "no command"
		if len(words) > 0 {
			a.Title = fmt.Sprintf("Unknown command %s. %s", quote(words[0]), a.Title)
			msg = fmt.Sprintf("unknown command %s", quote(words[0]))
		}
		return bot.Invocation{}, &parseError{answer: &a, msg: msg}
	}
	args, err := parseArgs(spec, rest, cmd.Options)
	if err != nil {
		var ue *bot.UsageError
		errors.As(err, &ue)
		return bot.Invocation{Command: cmd, Spec: spec}, &parseError{usage: ue, msg: err.Error()}
	}
	return bot.NewInvocation(cmd, spec, args), nil
}

// Plan runs a destructive command's dry run within its deadline.
func (t *Table) Plan(ctx context.Context, inv bot.Invocation) (bot.Plan, error) {
	ctx, cancel := context.WithTimeout(ctx, inv.Spec.TimeoutOrDefault())
	defer cancel()
	plan, err := inv.Spec.Plan(ctx, inv)
	if err != nil {
		return bot.Plan{}, err
	}
	plan.Action = inv.Spec.Name
	plan.Role = max(plan.Role, inv.Spec.Role)
	return plan, nil
}

// Replan parses a stored destructive command again and re-runs its dry
// run, so the approvals can tell whether the target is still the one that
// was approved.
func (t *Table) Replan(ctx context.Context, cmd bot.Command, role policy.Role) (bot.Invocation, bot.Plan, error) {
	inv, perr := t.parse(cmd)
	if perr != nil {
		return bot.Invocation{}, bot.Plan{}, fmt.Errorf("command %q no longer parses: %s", cmd.Text, perr.msg)
	}
	if !inv.Spec.Destructive {
		return bot.Invocation{}, bot.Plan{}, fmt.Errorf("command %q is not destructive", inv.Spec.Name)
	}
	inv.Role = role
	plan, err := t.Plan(ctx, inv)
	return inv, plan, err
}

// Execute runs an approved plan with the command's deadline.
func (t *Table) Execute(ctx context.Context, inv bot.Invocation, plan bot.Plan) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, inv.Spec.TimeoutOrDefault())
	defer cancel()
	return inv.Spec.Execute(ctx, inv, plan)
}

// Follows reports whether inv's command follows what it set in motion.
func (t *Table) Follows(inv bot.Invocation) bool { return inv.Spec != nil && inv.Spec.Follow != nil }

// Follow follows what an executed plan set in motion (a rollout), until
// it ends or ctx does; see bot.CommandSpec.Follow.
func (t *Table) Follow(ctx context.Context, inv bot.Invocation, plan bot.Plan, report func(bot.Progress)) {
	if t.Follows(inv) {
		inv.Spec.Follow(ctx, inv, plan, report)
	}
}

// help lists the commands, or explains one.
func (t *Table) help(name string) bot.Answer {
	if name != "" {
		spec, _ := t.Lookup(strings.Fields(name))
		if spec == nil {
			return bot.Answer{Title: fmt.Sprintf("No command %q.", name), Private: true, Lines: []string{"Try /" + t.root + " help"}}
		}
		a := bot.Answer{Title: "/" + t.root + " " + spec.Usage(), Private: true, Lines: []string{spec.Summary}}
		for _, arg := range spec.Args {
			if arg.Help != "" {
				a.Lines = append(a.Lines, fmt.Sprintf("%s: %s", arg.Name, arg.Help))
			}
		}
		a.Fields = append(a.Fields, bot.Field{Name: "Role", Value: spec.Role.String()})
		return a
	}
	a := bot.Answer{Title: "Commands (/" + t.root + " help <command> for details)", Private: true}
	for _, s := range t.specs {
		a.Lines = append(a.Lines, fmt.Sprintf("/%s %s: %s", t.root, s.Usage(), s.Summary))
	}
	return a
}

// Limits on what a person can type.
const (
	maxCommandText = 2000
	maxTokens      = 32
	maxArgValue    = 256
	// maxQuoted bounds how much of what was typed an error quotes back
	// (bytes): the error goes to chat, the audit log and the logs, and
	// must not grow with the input.
	maxQuoted = 64
)

// quote is s as an error shows it: Go-quoted, clipped to maxQuoted.
func quote(s string) string { return strconv.Quote(clip(s)) }

// clip is s clipped to maxQuoted bytes, marked with "…".
func clip(s string) string { return bot.Clip(s, maxQuoted) }

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
func parseArgs(spec *bot.CommandSpec, tokens []string, options map[string]string) (map[string]string, error) {
	args := map[string]string{}
	byName := map[string]*bot.Arg{}
	var positional []*bot.Arg
	for i := range spec.Args {
		a := &spec.Args[i]
		byName[a.Name] = a
		if a.Positional {
			positional = append(positional, a)
		}
	}
	bad := func(format string, v ...any) error {
		return &bot.UsageError{Spec: spec, Msg: fmt.Sprintf(format, v...)}
	}
	next := 0
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		if name, ok := strings.CutPrefix(tok, "--"); ok {
			name, value, hasValue := strings.Cut(name, "=")
			a := byName[name]
			if a == nil || a.Positional {
				return nil, bad("unknown option --%s", clip(name))
			}
			if a.Kind == bot.ArgBool {
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
			return nil, bad("unexpected %s", quote(tok))
		}
		args[positional[next].Name] = tok
		next++
	}
	for name, value := range options {
		a := byName[name]
		if a == nil {
			return nil, bad("unknown option %s", clip(name))
		}
		if a.Kind == bot.ArgBool {
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

func checkArg(a bot.Arg, v string) error {
	switch a.Kind {
	case bot.ArgInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s is not a whole number", quote(v))
		}
		if a.Max > 0 && (n < a.Min || n > a.Max) {
			return fmt.Errorf("%d is outside %d..%d", n, a.Min, a.Max)
		}
	case bot.ArgDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s is not a duration like 10m or 2h", quote(v))
		}
		if a.Max > 0 && (d < time.Duration(a.Min)*time.Second || d > time.Duration(a.Max)*time.Second) {
			return fmt.Errorf("%s is outside %s..%s", d, time.Duration(a.Min)*time.Second, time.Duration(a.Max)*time.Second)
		}
	}
	return nil
}
