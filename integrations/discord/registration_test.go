package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/policy"
)

// The whole command table, help included, registers within Discord's
// limits: checked here and by the stand-in, which answers as Discord does.
func TestRegisterRealTable(t *testing.T) {
	router := newRouter(t, commands.Table(commands.Deps{}, nil))
	cmds := Commands(router.Root(), router.Specs())
	if err := CheckCommands(cmds); err != nil {
		t.Fatalf("the command table breaks Discord's limits:\n%v", err)
	}
	chars := textLen(cmds[0].Name) + textLen(cmds[0].Description) + checkOptionLevel(func(string, string, ...any) {}, "", cmds[0].Options, 0)
	t.Logf("/ops: %d subcommands and groups, %d of %d characters", len(cmds[0].Options), chars, maxCommandTotal)
	s := newStandin(t)
	c := newClient(t, s, nil)
	guilds := []string{testGuild, "1400000000000000044"}
	if err := c.RegisterCommands(context.Background(), testApp, guilds, cmds); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls(discordstandin.RouteBulkOverwriteGuildCommands); n != len(guilds) {
		t.Errorf("%d bulk overwrites, want one per guild (%d)", n, len(guilds))
	}
	for _, g := range guilds {
		var got []*discordgo.ApplicationCommand
		if err := json.Unmarshal(s.RegisteredCommands(testApp, g), &got); err != nil {
			t.Fatalf("guild %s: %v", g, err)
		}
		if len(got) != 1 || got[0].Name != "ops" {
			t.Fatalf("guild %s: registered %d commands, want /ops alone", g, len(got))
		}
		// Every command of the table is reachable as a subcommand path.
		paths := map[string]bool{}
		for _, o := range got[0].Options {
			if o.Type == discordgo.ApplicationCommandOptionSubCommandGroup {
				for _, sub := range o.Options {
					paths[o.Name+" "+sub.Name] = true
				}
				continue
			}
			paths[o.Name] = true
		}
		for _, spec := range router.Specs() {
			if !paths[spec.Name] {
				t.Errorf("guild %s: %q not registered", g, spec.Name)
			}
		}
	}
}

// The shape of the registration, on the pinned part of the table.
func TestCommandsGolden(t *testing.T) {
	router := newRouter(t, pinnedTable(t, nil, nil))
	cmds := Commands(router.Root(), router.Specs())
	if err := CheckCommands(cmds); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "commands-ops", cmds)

	opts := map[string]*discordgo.ApplicationCommandOption{}
	for _, o := range cmds[0].Options {
		opts[o.Name] = o
	}
	logs := opts["logs"]
	if logs == nil || logs.Type != discordgo.ApplicationCommandOptionSubCommand {
		t.Fatalf("logs: %+v", logs)
	}
	want := []struct {
		name     string
		typ      discordgo.ApplicationCommandOptionType
		required bool
		auto     bool
	}{
		{"service", discordgo.ApplicationCommandOptionString, true, true},
		{"tail", discordgo.ApplicationCommandOptionInteger, false, false},
		{"since", discordgo.ApplicationCommandOptionString, false, false},
		{"container", discordgo.ApplicationCommandOptionString, false, false},
		{"previous", discordgo.ApplicationCommandOptionBoolean, false, false},
	}
	if len(logs.Options) != len(want) {
		t.Fatalf("logs has %d options, want %d", len(logs.Options), len(want))
	}
	for i, w := range want {
		o := logs.Options[i]
		if o.Name != w.name || o.Type != w.typ || o.Required != w.required || o.Autocomplete != w.auto {
			t.Errorf("option %d: %s %s required=%v autocomplete=%v, want %+v", i, o.Name, o.Type, o.Required, o.Autocomplete, w)
		}
	}
	if tail := logs.Options[1]; tail.MinValue == nil || *tail.MinValue != 1 || tail.MaxValue != 2000 {
		t.Errorf("tail bounds %v..%v, want 1..2000", tail.MinValue, tail.MaxValue)
	}
	if since := logs.Options[2]; !strings.HasSuffix(since.Description, "(e.g. 10m)") {
		t.Errorf("since described %q: want the duration hint", since.Description)
	}
	inc := opts["incident"]
	if inc == nil || inc.Type != discordgo.ApplicationCommandOptionSubCommandGroup || len(inc.Options) != 2 {
		t.Fatalf("incident: %+v, want a group of list and show", inc)
	}
}

func TestCheckCommandsRefuses(t *testing.T) {
	spec := func(name string, args ...bot.Arg) bot.CommandSpec {
		return bot.CommandSpec{Name: name, Summary: "s", Role: policy.Viewer, Args: args}
	}
	many := func(n int, prefix string) []bot.CommandSpec {
		var out []bot.CommandSpec
		for i := range n {
			out = append(out, spec(fmt.Sprintf("%s%02d", prefix, i)))
		}
		return out
	}
	manyArgs := func(n int) []bot.Arg {
		var out []bot.Arg
		for i := range n {
			out = append(out, bot.Arg{Name: fmt.Sprintf("a%02d", i)})
		}
		return out
	}
	cases := []struct {
		name  string
		specs []bot.CommandSpec
		want  string
	}{
		{"26 subcommands", many(26, "c"), "26 options"},
		{"26 in a group", func() []bot.CommandSpec {
			var out []bot.CommandSpec
			for i := range 26 {
				out = append(out, spec(fmt.Sprintf("grp s%02d", i)))
			}
			return out
		}(), "26 options"},
		{"26 arguments", []bot.CommandSpec{spec("big", manyArgs(26)...)}, "26 options"},
		{"group and command share a name", []bot.CommandSpec{spec("incident"), spec("incident list")}, "name used twice"},
		{"name too long", []bot.CommandSpec{spec(strings.Repeat("x", 33))}, "want 1 to 32"},
		{"bad characters", []bot.CommandSpec{spec("a.b")}, "want 1 to 32"},
		{"too large", func() []bot.CommandSpec {
			var out []bot.CommandSpec
			for i := range 25 {
				s := spec(fmt.Sprintf("c%02d", i), manyArgs(20)...)
				s.Summary = strings.Repeat("y", 100)
				for j := range s.Args {
					s.Args[j].Help = strings.Repeat("z", 100)
				}
				out = append(out, s)
			}
			return out
		}(), "characters of names and descriptions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCommands(Commands("ops", tc.specs))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}

	// What Commands cannot produce, but a hand-made list could.
	optional := &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: "a", Description: "a"}
	required := &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: "b", Description: "b", Required: true}
	bad := []*discordgo.ApplicationCommand{{Name: "ops", Description: "d", Options: []*discordgo.ApplicationCommandOption{optional, required}}}
	if err := CheckCommands(bad); err == nil || !strings.Contains(err.Error(), "required option after an optional one") {
		t.Errorf("required after optional: %v", err)
	}
}

// Discord refuses what CheckCommands would: the stand-in answers 400, and
// RegisterCommands checks before it sends.
func TestRegisterCommandsRefusals(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	good := Commands("ops", []bot.CommandSpec{{Name: "whoami", Summary: "who", Role: policy.Viewer}})
	if err := c.RegisterCommands(ctx, "not-an-id", []string{testGuild}, good); err == nil {
		t.Error("a bad app id was accepted")
	}
	err := c.RegisterCommands(ctx, testApp, []string{"bad-guild", testGuild}, good)
	if err == nil || !strings.Contains(err.Error(), "bad-guild") {
		t.Errorf("error %v: want the bad guild named", err)
	}
	if s.RegisteredCommands(testApp, testGuild) == nil {
		t.Error("the good guild was not registered after the bad one")
	}
	calls := s.Calls(discordstandin.RouteBulkOverwriteGuildCommands)
	if err := c.RegisterCommands(ctx, testApp, []string{testGuild}, Commands("ops", []bot.CommandSpec{{Name: "UPPER", Summary: "x", Role: policy.Viewer}, {Name: "upper", Summary: "x", Role: policy.Viewer}})); err == nil {
		t.Error("a duplicate name was accepted")
	}
	if s.Calls(discordstandin.RouteBulkOverwriteGuildCommands) != calls {
		t.Error("an invalid table was sent to Discord")
	}

	// A rate limit is waited out and tried again; a permanent refusal is
	// not.
	calls = s.Calls(discordstandin.RouteBulkOverwriteGuildCommands)
	s.FailNext(discordstandin.RouteBulkOverwriteGuildCommands, 1, discordstandin.RateLimit{RetryAfter: 50 * time.Millisecond})
	if err := c.RegisterCommands(ctx, testApp, []string{testGuild}, good); err != nil {
		t.Errorf("after one 429: %v", err)
	}
	s.FailNext(discordstandin.RouteBulkOverwriteGuildCommands, 1, discordstandin.Status{Code: 403, APICode: 50001, Message: "Missing Access"})
	if err := c.RegisterCommands(ctx, testApp, []string{testGuild}, good); err == nil || !strings.Contains(err.Error(), "Missing Access") {
		t.Errorf("after a 403: %v", err)
	}
	if n := s.Calls(discordstandin.RouteBulkOverwriteGuildCommands) - calls; n != 3 {
		t.Errorf("%d calls, want 2 for the 429 and 1 for the 403", n)
	}
}
