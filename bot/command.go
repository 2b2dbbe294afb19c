package bot

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode"

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

// Display is how a person is named in messages and on timelines: their
// name as the platform shows it to people (PersonName cleans it), or
// their id when there is none. The id stays in the audit log, which
// records the whole Identity.
func (id Identity) Display() string {
	if n := PersonName(id.Name); n != "" {
		return n
	}
	return id.UserID
}

// MaxNameRunes bounds a person's name in messages.
const MaxNameRunes = 64

// PersonName is the first of names that still reads as a name once made
// safe to show: valid UTF-8, without control or format characters (the
// bidi controls that make text read backwards, zero-width characters,
// the time tokens of At), on one line, at most MaxNameRunes runes with an
// ellipsis. It is the one place that picks a display name among the ones a
// platform offers (Slack's display name, real name, handle; Discord's
// nick, global name, username). Markup (*, <!channel>) is left to each
// platform's escaping.
func PersonName(names ...string) string {
	for _, n := range names {
		if c := cleanName(n); c != "" {
			return c
		}
	}
	return ""
}

func cleanName(s string) string {
	var out []rune
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case unicode.IsSpace(r):
			space = len(out) > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), r == timeOpen, r == timeClose:
			continue
		}
		if space {
			out, space = append(out, ' '), false
		}
		out = append(out, r)
		if len(out) > MaxNameRunes {
			return string(out[:MaxNameRunes-1]) + "…"
		}
	}
	return string(out)
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
	// Buttons act on the answer (an alerts group's Silence); renderers
	// show those the platform takes and leave out the rest. Each id is a
	// reference the click handler reads back, never text from outside.
	Buttons []Button
}

// PrivateAnswer is an answer only the person who asked sees: refusals and
// usage.
func PrivateAnswer(msg string) Answer { return Answer{Title: msg, Private: true} }

// ErrorAnswer says privately that something went wrong, in the colour of
// trouble.
func ErrorAnswer(msg string) Answer {
	return Answer{Title: msg, Private: true, Color: severityColors[P1]}
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
	// Follow, when set, follows what an executed plan set in motion (a
	// rollout) and reports it, at most as often as it changes, until it
	// ends or ctx does; its last report is Final. Nil: nothing to follow.
	Follow func(ctx context.Context, inv Invocation, p Plan, report func(Progress))
}

// Progress is one report of a follow: a line for the card.
type Progress struct {
	Line string
	// Final marks the last report: the follow has ended.
	Final bool
}

// DefaultCommandTimeout bounds one command's work.
const DefaultCommandTimeout = 25 * time.Second

// TimeoutOrDefault is the bound of the spec's Run, Plan and Execute.
func (s *CommandSpec) TimeoutOrDefault() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultCommandTimeout
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

// NewInvocation is cmd for spec with its arguments parsed and checked
// against spec (values by argument name; flags given without a value are
// "true").
func NewInvocation(cmd Command, spec *CommandSpec, args map[string]string) Invocation {
	return Invocation{Command: cmd, Spec: spec, args: args}
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

// Click is a button press on a message chatops posted, verified by its
// platform's inbound adapter.
type Click struct {
	User     Identity
	Platform string
	// Channel holds the message (for a thread: its parent channel);
	// Thread is the thread (Slack: root ts; Discord: thread channel id) or
	// "" outside one; MessageID is the clicked message (Slack ts, Discord
	// message id).
	Channel, Thread, MessageID string
	// ButtonID is the button's id (Button.ID: Slack action_id, Discord
	// custom_id); Value is Slack's button value ("" on Discord).
	ButtonID, Value string
	ReceivedAt      time.Time
}

// ClickHandler acts on button presses. It runs after the click was
// acknowledged, under a context that ends on shutdown, and answers through
// resp (only to the clicker when the Answer is Private).
type ClickHandler interface {
	HandleClick(ctx context.Context, c Click, resp Responder)
}
