package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
	"github.com/bakewise/chatops/policy"
)

// Config is the command router's setup.
type Config struct {
	// Root is the command root people type, without the slash ("ops").
	Root string
	// Channels where commands are accepted; a command typed elsewhere gets
	// a polite refusal that says where commands work.
	Channels []string
	// Roles decide the caller's role before a command runs. Nil: everyone
	// is a Viewer (the read-only commands' role).
	Roles Roles
	// Audit records every command, allowed or refused, before it runs; a
	// command whose record cannot be written does not run. Nil: no audit
	// log (tests of parsing only).
	Audit Auditor
	// Timeline records the commands run from an incident's thread on that
	// incident's timeline (nil: not recorded).
	Timeline Timeline
	// Actions take over destructive commands once planned (nil: they are
	// refused: this bot has no approval service).
	Actions ActionRequester
	// MaxPerUser bounds the commands one person (platform and user id)
	// has running at once, answer included (0: DefaultMaxPerUser); one
	// more is refused, privately, as busy.
	MaxPerUser int
	// Platforms are the chat platforms commands arrive from ("slack",
	// "discord"): their command series are exported from the start, so
	// dashboards and alerts see zeros rather than nothing.
	Platforms []string
}

// Roles tell a person's role in a channel (bot/access).
type Roles interface {
	RoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error)
}

// Auditor appends rows to the audit log (the store).
type Auditor interface {
	AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error
}

// Timeline follows what is done from an incident's thread on its timeline
// (bot/incident).
type Timeline interface {
	// IncidentOf is the incident whose thread cmd was typed in (0: none).
	IncidentOf(ctx context.Context, cmd bot.Command) int64
	// Record appends an action to incident id's timeline.
	Record(ctx context.Context, id int64, detail string)
}

// ActionRequester takes over a destructive command once it is planned: it
// holds the plan for approval (or runs it, when the plan needs none) and
// answers the requester (bot/approval).
type ActionRequester interface {
	Request(ctx context.Context, inv bot.Invocation, plan bot.Plan) (bot.Answer, error)
}

// Router turns verified commands into answers: channel check, parsing,
// authorization, execution with a deadline, answer. Platform adapters hand
// it commands after acknowledging them.
type Router struct {
	*Table
	cfg     Config
	allowed map[string]bool
	running *running
	log     *zap.Logger
	metrics routerMetrics
}

type routerMetrics struct {
	commands *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewRouter checks the command table and builds the router over it
// ("help" is added to the table).
func NewRouter(specs []bot.CommandSpec, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Router, error) {
	table, err := NewTable(cfg.Root, specs)
	if err != nil {
		return nil, err
	}
	r := &Router{Table: table, cfg: cfg, allowed: map[string]bool{}, running: newRunning(cfg.MaxPerUser), log: log}
	for _, c := range cfg.Channels {
		r.allowed[c] = true
	}
	r.metrics = routerMetrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatops_commands_total",
			Help: "Chat commands by platform, command and outcome (ok, usage, refused, busy, error).",
		}, []string{"platform", "command", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatops_command_duration_seconds",
			Help:    "Time from receiving a command to its answer being delivered, by command.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"command"}),
	}
	// Bounded by the table: a command nobody typed yet is a zero, not a
	// missing series. Only ok and error are made up front; the rarer
	// outcomes appear when they happen.
	for _, spec := range r.Specs() {
		r.metrics.latency.WithLabelValues(spec.Name)
		for _, p := range cfg.Platforms {
			for _, o := range []string{"ok", "error"} {
				r.metrics.commands.WithLabelValues(p, spec.Name, o)
			}
		}
	}
	if reg != nil {
		reg.MustRegister(r.metrics.commands, r.metrics.latency)
	}
	return r, nil
}

// ChannelAllowed reports whether commands are accepted in channel.
func (r *Router) ChannelAllowed(channel string) bool { return r.allowed[channel] }

// Handle runs cmd and delivers its answer through resp. It never panics on
// bad input: every failure becomes an answer to the person who asked.
func (r *Router) Handle(ctx context.Context, cmd bot.Command, resp bot.Responder) {
	start := time.Now()
	ctx, span := telemetry.Start(ctx, "command", attribute.String("chat.platform", cmd.Platform))
	defer span.End()
	var answer bot.Answer
	var name, outcome string
	if release, ok := r.running.start(cmd.Platform, cmd.User); ok {
		defer release()
		answer, name, outcome = r.answer(ctx, cmd)
	} else {
		answer, name, outcome = r.busy(ctx, cmd)
	}
	ran := outcome
	span.SetAttributes(attribute.String("chatops.command", name), attribute.String("chatops.command.outcome", outcome))
	log := telemetry.Logger(ctx, r.log).With(zap.String("platform", cmd.Platform), zap.String("user", cmd.User.UserID),
		zap.String("channel", cmd.Channel), zap.String("command", name), zap.String("outcome", outcome))
	actx, aspan := telemetry.Start(ctx, "command.answer")
	err := resp.Respond(actx, answer)
	telemetry.End(aspan, err)
	if err != nil {
		log.Warn("command answer not delivered", zap.Error(err))
		outcome = "undelivered"
	} else {
		log.Info("command answered", zap.Duration("took", time.Since(start)))
	}
	r.metrics.commands.WithLabelValues(cmd.Platform, name, outcome).Inc()
	r.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if cmd.Thread != "" {
		// After the answer, so the person never waits on the record.
		r.commandRan(ctx, cmd, r.byName[name], ran)
	}
}

func (r *Router) answer(ctx context.Context, cmd bot.Command) (bot.Answer, string, string) {
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
	role, err := r.authorise(ctx, cmd, spec)
	if err != nil {
		rid, log := telemetry.ForError(ctx, r.log)
		log.Warn("role not checked; command refused", zap.String("command", spec.Name), zap.Error(err))
		return r.refuse(ctx, cmd, spec.Name, "error", fmt.Sprintf("Your role could not be checked, so nothing was run. Try again in a moment (request id %s).", rid))
	}
	if !role.Allows(spec.Role) {
		return r.refuse(ctx, cmd, spec.Name, "refused", fmt.Sprintf("%s needs the %s role; you are %s.", spec.Name, spec.Role, role))
	}
	inv.Role = role
	if a, err := r.audit(ctx, cmd, spec.Name, "allowed", ""); err != nil {
		return a, spec.Name, "error"
	}
	timeout := spec.TimeoutOrDefault()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rctx, rspan := telemetry.Start(rctx, "command.run", attribute.String("chatops.command", spec.Name),
		attribute.Bool("chatops.command.destructive", spec.Destructive))
	var a bot.Answer
	if spec.Destructive {
		a, err = r.request(rctx, inv)
	} else {
		a, err = spec.Run(rctx, inv)
	}
	telemetry.End(rspan, err)
	var ue *bot.UsageError
	switch {
	case errors.As(err, &ue):
		return r.usage(ue), spec.Name, "usage"
	case errors.Is(err, context.DeadlineExceeded):
		return bot.ErrorAnswer(fmt.Sprintf("%s took longer than %s and was stopped.", spec.Name, timeout)), spec.Name, "error"
	case err != nil:
		return r.failed(ctx, spec.Name, err), spec.Name, "error"
	}
	return a, spec.Name, "ok"
}

// failed answers a command that failed. An error written for people
// (bot.UserMessage) is shown; any other is internal: the answer names a
// request id and the log holds the error under it, so no store or API
// error text reaches chat.
func (r *Router) failed(ctx context.Context, name string, err error) bot.Answer {
	if msg, ok := bot.UserMessage(err); ok {
		telemetry.Logger(ctx, r.log).Info("command failed", zap.String("command", name), zap.Error(err))
		return bot.ErrorAnswer(fmt.Sprintf("%s failed: %s", name, msg))
	}
	var ie *bot.InternalError
	if !errors.As(err, &ie) {
		rid, log := telemetry.ForError(ctx, r.log)
		ie = &bot.InternalError{RequestID: rid, Err: err}
		log.Error("command failed", zap.String("command", name), zap.Error(err))
	}
	return bot.ErrorAnswer(bot.InternalErrorText(name+" failed", ie.RequestID))
}

// request plans a destructive command and hands it to the approvals.
func (r *Router) request(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
	if r.cfg.Actions == nil {
		return bot.PrivateAnswer(inv.Spec.Name + " is not available: this bot has no approval service."), nil
	}
	plan, err := r.Plan(ctx, inv)
	if err != nil {
		return bot.Answer{}, err
	}
	return r.cfg.Actions.Request(ctx, inv, plan)
}

// audit records a command's outcome; when that fails the command must not
// run, and the returned answer says why.
func (r *Router) audit(ctx context.Context, cmd bot.Command, name, outcome, detail string) (bot.Answer, error) {
	if r.cfg.Audit == nil {
		return bot.Answer{}, nil
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
	err := r.cfg.Audit.AppendAudit(ctx, bot.AuditRecord{
		At: at, Actor: cmd.User, Kind: bot.AuditCommand, Action: name,
		Outcome: outcome, Channel: cmd.Channel, Detail: text,
	})
	if err != nil {
		rid, log := telemetry.ForError(ctx, r.log)
		log.Error("audit log not written; command not run", zap.String("command", name), zap.Error(err))
		return bot.ErrorAnswer(fmt.Sprintf("The audit log cannot be written right now, so nothing was run. Try again in a moment (request id %s).", rid)), err
	}
	return bot.Answer{}, nil
}

// authorise is the caller's role in the command's channel, under a span of
// its own: the role lookup may ask the platform (Slack user groups).
func (r *Router) authorise(ctx context.Context, cmd bot.Command, spec *bot.CommandSpec) (policy.Role, error) {
	if r.cfg.Roles == nil {
		return policy.Viewer, nil
	}
	ctx, span := telemetry.Start(ctx, "command.authorise", attribute.String("chatops.command", spec.Name))
	role, err := r.cfg.Roles.RoleOf(ctx, cmd.User, cmd.Channel)
	if err == nil {
		span.SetAttributes(attribute.String("chatops.role", role.String()), attribute.Bool("chatops.allowed", role.Allows(spec.Role)))
	}
	telemetry.End(span, err)
	return role, err
}

// busy refuses the command of a person who has MaxPerUser running.
func (r *Router) busy(ctx context.Context, cmd bot.Command) (bot.Answer, string, string) {
	name := "unknown"
	if inv, err := r.parse(cmd); err == nil {
		name = inv.Spec.Name
	}
	return r.refuse(ctx, cmd, name, "busy", fmt.Sprintf(
		"You already have %d commands running, so this one was not run. Try again in a moment, once one has answered.", r.running.max))
}

// refuse audits a refusal and answers it privately.
func (r *Router) refuse(ctx context.Context, cmd bot.Command, name, outcome, msg string) (bot.Answer, string, string) {
	if a, err := r.audit(ctx, cmd, name, outcome, msg); err != nil {
		return a, name, "error"
	}
	return bot.PrivateAnswer(msg), name, outcome
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

// usage answers a command typed wrong with what was wrong and its usage line.
func (r *Router) usage(err error) bot.Answer {
	var (
		ue *bot.UsageError
		pe *parseError
	)
	if errors.As(err, &pe) && pe.usage != nil {
		ue = pe.usage
	}
	if ue == nil && !errors.As(err, &ue) || ue.Spec == nil {
		return bot.PrivateAnswer(err.Error())
	}
	return bot.PrivateAnswer(ue.Msg + "\nusage: /" + r.cfg.Root + " " + ue.Spec.Usage())
}

// commandRan records a command that ran in an incident's thread. Commands
// that write their own events are left to them: destructive ones (the
// approvals record the request, the votes and the execution) and those
// whose spec says so (acknowledging, approving).
func (r *Router) commandRan(ctx context.Context, cmd bot.Command, spec *bot.CommandSpec, outcome string) {
	if r.cfg.Timeline == nil || cmd.Thread == "" || spec == nil || spec.Destructive || spec.OwnTimeline {
		return
	}
	if outcome != "ok" && outcome != "error" {
		return // refused or mistyped: it did not run
	}
	id := r.cfg.Timeline.IncidentOf(ctx, cmd)
	if id == 0 {
		return
	}
	detail := fmt.Sprintf("%s ran /%s %s", cmd.User.Display(), r.Root(), cmd.Text)
	if outcome == "error" {
		detail += " (it failed)"
	}
	r.cfg.Timeline.Record(ctx, id, detail)
}
