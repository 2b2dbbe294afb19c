package bot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bakewise/chatops/policy"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultCommandTimeout bounds one command's work.
const DefaultCommandTimeout = 25 * time.Second

// RouterConfig is the command router's setup.
type RouterConfig struct {
	// Root is the command root people type, without the slash ("ops").
	Root string
	// Channels where commands are accepted; a command typed elsewhere gets
	// a polite refusal that says where commands work.
	Channels []string
	// Authorize decides the caller's role for a command before it runs.
	// Nil: everyone is a Viewer (the read-only commands' role).
	Authorize func(ctx context.Context, cmd Command, spec *CommandSpec) (policy.Role, error)
}

// Router turns verified commands into answers: channel check, parsing,
// authorization, execution with a deadline, answer. Platform adapters hand
// it commands after acknowledging them.
type Router struct {
	cfg     RouterConfig
	specs   []CommandSpec
	byName  map[string]*CommandSpec
	allowed map[string]bool
	log     *zap.Logger
	metrics routerMetrics
}

type routerMetrics struct {
	commands *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewRouter checks the command table and builds the router; "help" is
// added to the table.
func NewRouter(specs []CommandSpec, cfg RouterConfig, log *zap.Logger, reg prometheus.Registerer) (*Router, error) {
	r := &Router{cfg: cfg, byName: map[string]*CommandSpec{}, allowed: map[string]bool{}, log: log}
	r.specs = append(r.specs, specs...)
	r.specs = append(r.specs, CommandSpec{
		Name:    "help",
		Summary: "What the bot can do, or how to use one command",
		Args:    []Arg{{Name: "command", Positional: true, Help: "a command's name"}},
		Role:    policy.Viewer,
		Run:     func(_ context.Context, inv Invocation) (Answer, error) { return r.help(inv.String("command")), nil },
	})
	sort.Slice(r.specs, func(i, j int) bool { return r.specs[i].Name < r.specs[j].Name })
	for i := range r.specs {
		s := &r.specs[i]
		if err := checkSpec(s); err != nil {
			return nil, err
		}
		if r.byName[s.Name] != nil {
			return nil, fmt.Errorf("command %q is in the table twice", s.Name)
		}
		r.byName[s.Name] = s
	}
	for _, c := range cfg.Channels {
		r.allowed[c] = true
	}
	r.metrics = routerMetrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_commands_total",
			Help: "Chat commands by platform, command and outcome (ok, usage, refused, error).",
		}, []string{"platform", "command", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_command_duration_seconds",
			Help:    "Time from receiving a command to its answer being delivered, by command.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"command"}),
	}
	if reg != nil {
		reg.MustRegister(r.metrics.commands, r.metrics.latency)
	}
	return r, nil
}

func checkSpec(s *CommandSpec) error {
	words := strings.Fields(s.Name)
	if len(words) == 0 || len(words) > 2 || strings.Join(words, " ") != s.Name {
		return fmt.Errorf("command %q: a name is one or two words", s.Name)
	}
	if s.Run == nil || s.Summary == "" || s.Role == policy.NoAccess {
		return fmt.Errorf("command %q: needs a summary, a role and a handler", s.Name)
	}
	seenOptional := false
	for _, a := range s.Args {
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
func (r *Router) Specs() []CommandSpec { return r.specs }

// Root is the command root people type.
func (r *Router) Root() string { return r.cfg.Root }

// Lookup finds the command a list of words starts with (two-word names
// first) and returns the remaining words.
func (r *Router) Lookup(words []string) (*CommandSpec, []string) {
	if len(words) >= 2 {
		if s := r.byName[words[0]+" "+words[1]]; s != nil {
			return s, words[2:]
		}
	}
	if len(words) >= 1 {
		if s := r.byName[words[0]]; s != nil {
			return s, words[1:]
		}
	}
	return nil, nil
}

// ChannelAllowed reports whether commands are accepted in channel.
func (r *Router) ChannelAllowed(channel string) bool { return r.allowed[channel] }

// Handle runs cmd and delivers its answer through resp. It never panics on
// bad input: every failure becomes an answer to the person who asked.
func (r *Router) Handle(ctx context.Context, cmd Command, resp Responder) {
	start := time.Now()
	answer, name, outcome := r.answer(ctx, cmd)
	log := r.log.With(zap.String("platform", cmd.Platform), zap.String("user", cmd.User.UserID),
		zap.String("channel", cmd.Channel), zap.String("command", name), zap.String("outcome", outcome))
	if err := resp.Respond(ctx, answer); err != nil {
		log.Warn("command answer not delivered", zap.Error(err))
		outcome = "undelivered"
	} else {
		log.Info("command answered", zap.Duration("took", time.Since(start)))
	}
	r.metrics.commands.WithLabelValues(cmd.Platform, name, outcome).Inc()
	r.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
}

func (r *Router) answer(ctx context.Context, cmd Command) (Answer, string, string) {
	if !r.allowed[cmd.Channel] {
		return private(fmt.Sprintf("Commands are not accepted in this channel. They work in %s.", r.channelList())), "-", "refused"
	}
	words, err := Tokenize(cmd.Text)
	if err != nil {
		return private(err.Error()), "-", "usage"
	}
	spec, rest := r.Lookup(words)
	if spec == nil {
		a := r.help("")
		if len(words) > 0 {
			a.Title = fmt.Sprintf("Unknown command %q. %s", words[0], a.Title)
		}
		return a, "unknown", "usage"
	}
	args, err := parseArgs(spec, rest, cmd.Options)
	if err != nil {
		return r.usage(err), spec.Name, "usage"
	}
	role := policy.Viewer
	if r.cfg.Authorize != nil {
		if role, err = r.cfg.Authorize(ctx, cmd, spec); err != nil {
			return private(err.Error()), spec.Name, "refused"
		}
	}
	if !role.Allows(spec.Role) {
		return private(fmt.Sprintf("%s needs the %s role; you are %s.", spec.Name, spec.Role, role)), spec.Name, "refused"
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := spec.Run(rctx, Invocation{Command: cmd, Spec: spec, Role: role, args: args})
	var ue *UsageError
	switch {
	case errors.As(err, &ue):
		return r.usage(ue), spec.Name, "usage"
	case errors.Is(err, context.DeadlineExceeded):
		return errorAnswer(fmt.Sprintf("%s took longer than %s and was stopped.", spec.Name, timeout)), spec.Name, "error"
	case err != nil:
		r.log.Warn("command failed", zap.String("command", spec.Name), zap.Error(err))
		return errorAnswer(fmt.Sprintf("%s failed: %v", spec.Name, err)), spec.Name, "error"
	}
	return a, spec.Name, "ok"
}

func (r *Router) channelList() string {
	if len(r.cfg.Channels) == 0 {
		return "no channel yet (an administrator sets commands.channels)"
	}
	names := make([]string, len(r.cfg.Channels))
	for i, c := range r.cfg.Channels {
		names[i] = "<#" + c + ">"
	}
	return strings.Join(names, ", ")
}

// help lists the commands, or explains one.
func (r *Router) help(name string) Answer {
	if name != "" {
		spec, _ := r.Lookup(strings.Fields(name))
		if spec == nil {
			return Answer{Title: fmt.Sprintf("No command %q.", name), Private: true, Lines: []string{"Try /" + r.cfg.Root + " help"}}
		}
		a := Answer{Title: "/" + r.cfg.Root + " " + spec.Usage(), Private: true, Lines: []string{spec.Summary}}
		for _, arg := range spec.Args {
			if arg.Help != "" {
				a.Lines = append(a.Lines, fmt.Sprintf("%s: %s", arg.Name, arg.Help))
			}
		}
		a.Fields = append(a.Fields, Field{"Role", spec.Role.String()})
		return a
	}
	a := Answer{Title: "Commands (/" + r.cfg.Root + " help <command> for details)", Private: true}
	for _, s := range r.specs {
		a.Lines = append(a.Lines, fmt.Sprintf("/%s %s: %s", r.cfg.Root, s.Usage(), s.Summary))
	}
	return a
}

// usage answers a command typed wrong with what was wrong and its usage line.
func (r *Router) usage(err error) Answer {
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Spec == nil {
		return private(err.Error())
	}
	return private(ue.Msg + "\nusage: /" + r.cfg.Root + " " + ue.Spec.Usage())
}

// private is an answer only the person who asked sees: refusals and usage.
func private(msg string) Answer { return Answer{Title: msg, Private: true} }

func errorAnswer(msg string) Answer {
	return Answer{Title: msg, Private: true, Color: severityColors[P1]}
}
