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
	// Audit records every command, allowed or refused, before it runs; a
	// command whose record cannot be written does not run. Nil: no audit
	// log (tests of parsing only).
	Audit func(ctx context.Context, rec AuditRecord) error
	// Timeline records the commands run from an incident's thread on that
	// incident's timeline (nil: not recorded).
	Timeline *Timeline
}

// ActionRequester takes over a destructive command once it is planned: it
// holds the plan for approval (or runs it, when the plan needs none) and
// answers the requester.
type ActionRequester interface {
	Request(ctx context.Context, inv Invocation, plan Plan) (Answer, error)
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
	actions ActionRequester
}

// SetActions hands destructive commands to a; until it is set they are
// refused. Call it before Handle is first used.
func (r *Router) SetActions(a ActionRequester) { r.actions = a }

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
	if s.Summary == "" || s.Role == policy.NoAccess {
		return fmt.Errorf("command %q: needs a summary and a role", s.Name)
	}
	if s.Destructive != (s.Run == nil) || s.Destructive != (s.Plan != nil && s.Execute != nil) {
		return fmt.Errorf("command %q: a destructive command has Plan and Execute, any other Run", s.Name)
	}
	seenOptional := false
	for i, a := range s.Args {
		if a.Rest && (!a.Positional || i != len(s.Args)-1 || a.Kind != ArgString) {
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
	ran := outcome
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
	if cmd.Thread != "" {
		// After the answer, so the person never waits on the record.
		r.cfg.Timeline.commandRan(ctx, r.cfg.Root, cmd, r.byName[name], ran)
	}
}

func (r *Router) answer(ctx context.Context, cmd Command) (Answer, string, string) {
	if !r.allowed[cmd.Channel] {
		return r.refuse(ctx, cmd, "-", "refused", fmt.Sprintf("Commands are not accepted in this channel. They work in %s.", r.channelList()))
	}
	inv, uerr := r.parse(cmd)
	if uerr != nil {
		name := "unknown"
		if inv.Spec != nil {
			name = inv.Spec.Name
		}
		if a, err := r.audit(ctx, cmd, name, "invalid", uerr.Error()); err != nil {
			return a, name, "error"
		}
		if inv.Spec == nil {
			return *uerr.answer, name, "usage"
		}
		return r.usage(uerr), name, "usage"
	}
	spec := inv.Spec
	role := policy.Viewer
	if r.cfg.Authorize != nil {
		var err error
		if role, err = r.cfg.Authorize(ctx, cmd, spec); err != nil {
			return r.refuse(ctx, cmd, spec.Name, "error", "Your role could not be checked: "+err.Error())
		}
	}
	if !role.Allows(spec.Role) {
		return r.refuse(ctx, cmd, spec.Name, "refused", fmt.Sprintf("%s needs the %s role; you are %s.", spec.Name, spec.Role, role))
	}
	inv.Role = role
	if a, err := r.audit(ctx, cmd, spec.Name, "allowed", ""); err != nil {
		return a, spec.Name, "error"
	}
	timeout := spec.timeout()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		a   Answer
		err error
	)
	if spec.Destructive {
		a, err = r.request(rctx, inv)
	} else {
		a, err = spec.Run(rctx, inv)
	}
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

// request plans a destructive command and hands it to the approvals.
func (r *Router) request(ctx context.Context, inv Invocation) (Answer, error) {
	if r.actions == nil {
		return private(inv.Spec.Name + " is not available: this bot has no approval service."), nil
	}
	plan, err := inv.Spec.Plan(ctx, inv)
	if err != nil {
		return Answer{}, err
	}
	plan.Action = inv.Spec.Name
	plan.Role = max(plan.Role, inv.Spec.Role)
	return r.actions.Request(ctx, inv, plan)
}

func (s *CommandSpec) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultCommandTimeout
}

// parseError is a command that could not be parsed: a usage error, or an
// unknown command answered with help.
type parseError struct {
	usage  *UsageError
	answer *Answer
	msg    string
}

func (e *parseError) Error() string { return e.msg }

// parse finds cmd's spec and parses its arguments. On failure the returned
// Invocation still names the spec when one was found.
func (r *Router) parse(cmd Command) (Invocation, *parseError) {
	words, err := Tokenize(cmd.Text)
	if err != nil {
		a := private(err.Error())
		return Invocation{}, &parseError{answer: &a, msg: err.Error()}
	}
	spec, rest := r.Lookup(words)
	if spec == nil {
		a := r.help("")
		msg := "no command"
		if len(words) > 0 {
			a.Title = fmt.Sprintf("Unknown command %q. %s", words[0], a.Title)
			msg = fmt.Sprintf("unknown command %q", words[0])
		}
		return Invocation{}, &parseError{answer: &a, msg: msg}
	}
	args, err := parseArgs(spec, rest, cmd.Options)
	if err != nil {
		var ue *UsageError
		errors.As(err, &ue)
		return Invocation{Command: cmd, Spec: spec}, &parseError{usage: ue, msg: err.Error()}
	}
	return Invocation{Command: cmd, Spec: spec, args: args}, nil
}

// Replan parses a stored destructive command again and re-runs its dry
// run, so the approvals can tell whether the target is still the one that
// was approved.
func (r *Router) Replan(ctx context.Context, cmd Command, role policy.Role) (Invocation, Plan, error) {
	inv, perr := r.parse(cmd)
	if perr != nil {
		return Invocation{}, Plan{}, fmt.Errorf("command %q no longer parses: %s", cmd.Text, perr.msg)
	}
	if !inv.Spec.Destructive {
		return Invocation{}, Plan{}, fmt.Errorf("command %q is not destructive", inv.Spec.Name)
	}
	inv.Role = role
	ctx, cancel := context.WithTimeout(ctx, inv.Spec.timeout())
	defer cancel()
	plan, err := inv.Spec.Plan(ctx, inv)
	if err != nil {
		return inv, Plan{}, err
	}
	plan.Action = inv.Spec.Name
	plan.Role = max(plan.Role, inv.Spec.Role)
	return inv, plan, nil
}

// Execute runs an approved plan with the command's deadline.
func (r *Router) Execute(ctx context.Context, inv Invocation, plan Plan) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, inv.Spec.timeout())
	defer cancel()
	return inv.Spec.Execute(ctx, inv, plan)
}

// audit records a command's outcome; when that fails the command must not
// run, and the returned answer says why.
func (r *Router) audit(ctx context.Context, cmd Command, name, outcome, detail string) (Answer, error) {
	if r.cfg.Audit == nil {
		return Answer{}, nil
	}
	text := "/" + r.cfg.Root + " " + cmd.Text
	for k, v := range cmd.Options {
		text += fmt.Sprintf(" %s=%q", k, v)
	}
	if detail != "" {
		text += " — " + detail
	}
	at := cmd.ReceivedAt
	if at.IsZero() {
		at = time.Now()
	}
	err := r.cfg.Audit(ctx, AuditRecord{
		At: at, Actor: cmd.User, Kind: AuditCommand, Action: name,
		Outcome: outcome, Channel: cmd.Channel, Detail: text,
	})
	if err != nil {
		r.log.Error("audit log not written; command not run", zap.String("command", name), zap.Error(err))
		return errorAnswer("The audit log cannot be written right now, so nothing was run. Try again in a moment."), err
	}
	return Answer{}, nil
}

// refuse audits a refusal and answers it privately.
func (r *Router) refuse(ctx context.Context, cmd Command, name, outcome, msg string) (Answer, string, string) {
	if a, err := r.audit(ctx, cmd, name, outcome, msg); err != nil {
		return a, name, "error"
	}
	return private(msg), name, outcome
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
	var (
		ue *UsageError
		pe *parseError
	)
	if errors.As(err, &pe) && pe.usage != nil {
		ue = pe.usage
	}
	if ue == nil && !errors.As(err, &ue) || ue.Spec == nil {
		return private(err.Error())
	}
	return private(ue.Msg + "\nusage: /" + r.cfg.Root + " " + ue.Spec.Usage())
}

// private is an answer only the person who asked sees: refusals and usage.
func private(msg string) Answer { return Answer{Title: msg, Private: true} }

func errorAnswer(msg string) Answer {
	return Answer{Title: msg, Private: true, Color: severityColors[P1]}
}
