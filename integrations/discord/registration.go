package discord

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

// Discord's limits on an application command.
const (
	maxCommandName        = 32
	maxCommandDescription = 100
	maxCommandOptions     = 25 // per level: subcommands and groups, or plain options
	maxGuildCommands      = 100
	// maxCommandTotal bounds the characters of one command's names,
	// descriptions and choices, every level counted. Discord documents
	// 4000; it may allow more, never less.
	maxCommandTotal = 4000
	// maxSafeInteger is the range of Discord's integer options: ±2^53.
	maxSafeInteger = 1 << 53
	// maxOptionLength is the longest string option Discord's client lets
	// through: the router refuses longer arguments anyway.
	maxOptionLength = 256
)

// Registration retries: a rate limit or a transient failure at start is
// tried again a few times before the caller hears of it.
const (
	registerAttempts = 3
	registerBackoff  = time.Second
	maxRegisterWait  = 10 * time.Second
)

// durationHint tells people how to type a duration option.
const durationHint = " (e.g. 10m)"

// commandNamePattern is Discord's rule for command and option names
// (lower-case where the letter has a case).
var commandNamePattern = regexp.MustCompile(`^[-_\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$`)

// Commands turns the command table into the one chat-input command people
// type, root ("ops"): one-word commands become its subcommands ("logs"),
// two-word ones subcommands of a group ("incident show" → group incident,
// subcommand show). Arguments become typed options, required ones first
// as Discord demands, with autocomplete where the argument names a
// completion source. CheckCommands says whether Discord will take it.
func Commands(root string, specs []bot.CommandSpec) []*discordgo.ApplicationCommand {
	var (
		top    []*discordgo.ApplicationCommandOption
		groups = map[string]*discordgo.ApplicationCommandOption{}
		names  []string
	)
	for _, spec := range specs {
		words := strings.Fields(spec.Name)
		if len(words) == 0 || len(words) > 2 {
			continue // the router refuses such names
		}
		sub := &discordgo.ApplicationCommandOption{
			Type:        discordgo.ApplicationCommandOptionSubCommand,
			Name:        optionName(words[len(words)-1]),
			Description: describe(spec.Summary, spec.Name),
			Options:     argOptions(spec.Args),
		}
		if len(words) == 1 {
			top = append(top, sub)
			names = append(names, sub.Name)
			continue
		}
		g := groups[words[0]]
		if g == nil {
			g = &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionSubCommandGroup, Name: optionName(words[0])}
			groups[words[0]] = g
			top = append(top, g)
			names = append(names, g.Name)
		}
		g.Options = append(g.Options, sub)
	}
	for _, g := range groups {
		subs := make([]string, len(g.Options))
		for i, o := range g.Options {
			subs[i] = o.Name
		}
		g.Description = describe(g.Name+": "+strings.Join(subs, ", "), g.Name)
	}
	guildOnly := []discordgo.InteractionContextType{discordgo.InteractionContextGuild}
	return []*discordgo.ApplicationCommand{{
		Type:        discordgo.ChatApplicationCommand,
		Name:        optionName(root),
		Description: describe("chatops: "+strings.Join(names, ", "), root),
		Contexts:    &guildOnly,
		Options:     top,
	}}
}

// argOptions types a command's arguments, required ones first.
func argOptions(args []bot.Arg) []*discordgo.ApplicationCommandOption {
	var required, optional []*discordgo.ApplicationCommandOption
	for _, a := range args {
		help := a.Help
		if help == "" {
			help = a.Name
		}
		o := &discordgo.ApplicationCommandOption{Name: optionName(a.Name), Required: a.Required}
		switch a.Kind {
		case bot.ArgInt:
			o.Type = discordgo.ApplicationCommandOptionInteger
			if a.Max > 0 { // as the router bounds them
				lo, hi := float64(max(a.Min, -maxSafeInteger)), float64(min(a.Max, maxSafeInteger))
				o.MinValue, o.MaxValue = &lo, hi
			}
		case bot.ArgBool:
			o.Type = discordgo.ApplicationCommandOptionBoolean
		case bot.ArgDuration:
			o.Type = discordgo.ApplicationCommandOptionString
			o.MaxLength = maxOptionLength
			help = clip(oneLine(help), maxCommandDescription-len(durationHint)) + durationHint
		default:
			o.Type = discordgo.ApplicationCommandOptionString
			o.MaxLength = maxOptionLength
		}
		o.Description = describe(help, a.Name)
		o.Autocomplete = a.Complete != "" && (o.Type == discordgo.ApplicationCommandOptionString || o.Type == discordgo.ApplicationCommandOptionInteger)
		if a.Required {
			required = append(required, o)
		} else {
			optional = append(optional, o)
		}
	}
	return append(required, optional...)
}

func optionName(s string) string { return strings.ToLower(s) }

// describe makes a description Discord takes: one line, 1 to 100
// characters, the fallback when there is nothing else to say.
func describe(s, fallback string) string {
	s = oneLine(s)
	if s == "" {
		s = oneLine(fallback)
	}
	if s == "" {
		s = "-"
	}
	return clip(s, maxCommandDescription)
}

// CheckCommands reports every way cmds break Discord's rules for
// application commands: names, descriptions, option counts per level,
// subcommand nesting, required options first, autocomplete and value
// bounds, and the total size of a command.
func CheckCommands(cmds []*discordgo.ApplicationCommand) error {
	var errs []error
	bad := func(path, format string, v ...any) {
		errs = append(errs, fmt.Errorf("discord command %s: %s", path, fmt.Sprintf(format, v...)))
	}
	if len(cmds) > maxGuildCommands {
		bad("list", "%d commands, more than %d", len(cmds), maxGuildCommands)
	}
	seen := map[string]bool{}
	for _, c := range cmds {
		if c == nil {
			bad("list", "nil command")
			continue
		}
		path := "/" + c.Name
		checkCommandName(bad, path, c.Name)
		if seen[c.Name] {
			bad(path, "registered twice")
		}
		seen[c.Name] = true
		checkDescription(bad, path, c.Description)
		total := textLen(c.Name) + textLen(c.Description) + checkOptionLevel(bad, path, c.Options, 0)
		if total > maxCommandTotal {
			bad(path, "%d characters of names and descriptions, more than %d", total, maxCommandTotal)
		}
	}
	return errors.Join(errs...)
}

type badFunc func(path, format string, v ...any)

func checkCommandName(bad badFunc, path, name string) {
	if !commandNamePattern.MatchString(name) || strings.ToLower(name) != name {
		bad(path, "name %q: want 1 to %d lower-case letters, digits, - or _", name, maxCommandName)
	}
}

func checkDescription(bad badFunc, path, d string) {
	if n := textLen(d); n < 1 || n > maxCommandDescription {
		bad(path, "description of %d characters: want 1 to %d", n, maxCommandDescription)
	}
}

// checkOptionLevel checks one level of options and returns the characters
// they add to the command's total.
func checkOptionLevel(bad badFunc, path string, opts []*discordgo.ApplicationCommandOption, depth int) int {
	if len(opts) > maxCommandOptions {
		bad(path, "%d options, more than %d", len(opts), maxCommandOptions)
	}
	total, subs := 0, 0
	optional := false
	seen := map[string]bool{}
	for _, o := range opts {
		if o == nil {
			bad(path, "nil option")
			continue
		}
		p := path + " " + o.Name
		checkCommandName(bad, p, o.Name)
		checkDescription(bad, p, o.Description)
		if seen[o.Name] {
			bad(p, "name used twice at one level")
		}
		seen[o.Name] = true
		total += textLen(o.Name) + textLen(o.Description)
		switch o.Type {
		case discordgo.ApplicationCommandOptionSubCommandGroup:
			subs++
			if depth != 0 {
				bad(p, "a subcommand group below the top level")
			}
			if len(o.Options) == 0 {
				bad(p, "a subcommand group without subcommands")
			}
			for _, s := range o.Options {
				if s != nil && s.Type != discordgo.ApplicationCommandOptionSubCommand {
					bad(p+" "+s.Name, "a group holds only subcommands")
				}
			}
			total += checkOptionLevel(bad, p, o.Options, depth+1)
		case discordgo.ApplicationCommandOptionSubCommand:
			subs++
			for _, s := range o.Options {
				if s != nil && (s.Type == discordgo.ApplicationCommandOptionSubCommand || s.Type == discordgo.ApplicationCommandOptionSubCommandGroup) {
					bad(p+" "+s.Name, "a subcommand holds only plain options")
				}
			}
			total += checkOptionLevel(bad, p, o.Options, depth+1)
		default:
			if o.Required && optional {
				bad(p, "required option after an optional one")
			}
			optional = optional || !o.Required
			total += checkValueOption(bad, p, o)
		}
	}
	if subs > 0 && subs != len(opts) {
		bad(path, "subcommands mixed with plain options")
	}
	return total
}

func checkValueOption(bad badFunc, p string, o *discordgo.ApplicationCommandOption) int {
	numeric := o.Type == discordgo.ApplicationCommandOptionInteger || o.Type == discordgo.ApplicationCommandOptionNumber
	if o.Autocomplete && o.Type != discordgo.ApplicationCommandOptionString && !numeric {
		bad(p, "autocomplete on a %s option", o.Type)
	}
	if o.Autocomplete && len(o.Choices) > 0 {
		bad(p, "autocomplete and choices together")
	}
	if len(o.Choices) > maxChoices {
		bad(p, "%d choices, more than %d", len(o.Choices), maxChoices)
	}
	total := 0
	for _, c := range o.Choices {
		total += textLen(c.Name)
		if s, ok := c.Value.(string); ok {
			total += textLen(s)
		}
	}
	if (o.MinValue != nil || o.MaxValue != 0) && !numeric {
		bad(p, "bounds on a %s option", o.Type)
	}
	if o.MinValue != nil && (*o.MinValue < -maxSafeInteger || *o.MinValue > maxSafeInteger) ||
		o.MaxValue < -maxSafeInteger || o.MaxValue > maxSafeInteger {
		bad(p, "bounds outside ±2^53")
	}
	if o.MinValue != nil && o.MaxValue != 0 && *o.MinValue > o.MaxValue {
		bad(p, "min_value above max_value")
	}
	return total
}

// RegisterCommands replaces the application's commands in each guild with
// cmds (a bulk overwrite, which takes effect at once; global commands
// would take up to an hour). Every guild is tried; the errors of those
// that failed come back joined. cmds are checked first, so a table
// Discord would refuse fails here with the reasons.
func (c *Client) RegisterCommands(ctx context.Context, appID string, guildIDs []string, cmds []*discordgo.ApplicationCommand) error {
	if !isSnowflake(appID) {
		return fmt.Errorf("discord: app id %q: not a Discord id", appID)
	}
	if err := CheckCommands(cmds); err != nil {
		return err
	}
	if cmds == nil {
		cmds = []*discordgo.ApplicationCommand{} // an empty list clears, null is refused
	}
	var errs []error
	for _, guild := range guildIDs {
		if !isSnowflake(guild) {
			errs = append(errs, fmt.Errorf("discord: guild %q: not a Discord id", guild))
			continue
		}
		var got []*discordgo.ApplicationCommand
		err := c.retryStart(ctx, func() error {
			return c.call(ctx, "bulk_overwrite_commands", discordgo.EndpointApplicationGuildCommands(appID, guild),
				"register commands in guild "+guild,
				func(opts ...discordgo.RequestOption) (err error) {
					got, err = c.s.ApplicationCommandBulkOverwrite(appID, guild, cmds, opts...)
					return err
				})
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.log.Info("commands registered", zap.String("guild", guild), zap.Int("commands", len(got)))
	}
	return errors.Join(errs...)
}

// retryStart runs fn up to registerAttempts times while it fails in a way
// waiting can fix (a rate limit, a server error).
func (c *Client) retryStart(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if err == nil || errors.Is(err, bot.ErrPermanent) || attempt == registerAttempts {
			return err
		}
		wait := registerBackoff * time.Duration(attempt)
		var rl *bot.RateLimitedError
		if errors.As(err, &rl) {
			wait = rl.After
		}
		if wait > maxRegisterWait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}
