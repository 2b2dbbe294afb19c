package discord

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/bakewise/chatops/bot"
)

// Bounds on what an interaction may carry into a command.
const (
	maxInteractionOptions = 25
	maxMemberRoles        = 250 // Discord's own limit on a guild's roles
)

// interactionChannel is the channel object Discord sends with an
// interaction. discordgo v0.29's Interaction keeps only channel_id, so it
// is read from the interaction's raw JSON: it says whether the channel is
// a thread and, if so, its parent.
type interactionChannel struct {
	ID       string                `json:"id"`
	Type     discordgo.ChannelType `json:"type"`
	ParentID string                `json:"parent_id"`
}

// channelOf reads the channel object out of an interaction's JSON; the
// zero value when there is none.
func channelOf(raw []byte) interactionChannel {
	var v struct {
		Channel *interactionChannel `json:"channel"`
	}
	if json.Unmarshal(raw, &v) != nil || v.Channel == nil {
		return interactionChannel{}
	}
	return *v.Channel
}

func isThread(t discordgo.ChannelType) bool {
	return t == discordgo.ChannelTypeGuildPublicThread || t == discordgo.ChannelTypeGuildPrivateThread ||
		t == discordgo.ChannelTypeGuildNewsThread
}

// where is the command's channel and thread: inside a thread, its parent
// channel and the thread; elsewhere the channel and no thread. Without
// the channel object (Discord always sends it) a thread passes for a
// channel, and the router refuses it unless it is allowed itself.
func where(ix *discordgo.Interaction, ch interactionChannel) (channel, thread string) {
	id := ix.ChannelID
	if id == "" {
		id = ch.ID
	}
	if ch.ID == id && isThread(ch.Type) && ch.ParentID != "" {
		return ch.ParentID, id
	}
	return id, ""
}

// commandPath walks an application command's options down to the
// subcommand used: the words after the root ("incident show") and the
// subcommand's own options.
func commandPath(data discordgo.ApplicationCommandInteractionData) ([]string, []*discordgo.ApplicationCommandInteractionDataOption) {
	opts := data.Options
	var words []string
	for depth := 0; depth < 2 && len(opts) == 1 && opts[0] != nil; depth++ {
		o := opts[0]
		if o.Type != discordgo.ApplicationCommandOptionSubCommandGroup && o.Type != discordgo.ApplicationCommandOptionSubCommand {
			break
		}
		words = append(words, o.Name)
		opts = o.Options
	}
	return words, opts
}

// optionValue is a typed option's value as the router reads arguments.
func optionValue(o *discordgo.ApplicationCommandInteractionDataOption) (string, error) {
	switch v := o.Value.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		if o.Type == discordgo.ApplicationCommandOptionInteger {
			if v != math.Trunc(v) || math.Abs(v) > maxSafeInteger {
				return "", fmt.Errorf("%s: %v is not a whole number", o.Name, v)
			}
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("%s: a %s option is not understood here", o.Name, o.Type)
}

// errUnreadable is an interaction that cannot become a command; its
// message is for the person.
type errUnreadable struct{ msg string }

func (e *errUnreadable) Error() string { return e.msg }

func unreadable(format string, v ...any) error { return &errUnreadable{fmt.Sprintf(format, v...)} }

// toCommand normalizes an application command interaction: who (member
// roles as groups), where (a thread's parent channel, and the thread),
// the subcommand path as Text and the typed options by name.
func toCommand(root string, ix *discordgo.Interaction, ch interactionChannel, now time.Time) (bot.Command, error) {
	data, ok := ix.Data.(discordgo.ApplicationCommandInteractionData)
	if !ok {
		return bot.Command{}, unreadable("That interaction carries no command.")
	}
	if data.CommandType != 0 && data.CommandType != discordgo.ChatApplicationCommand {
		return bot.Command{}, unreadable("Only /%s commands are understood.", root)
	}
	id := identity(ix)
	if id.UserID == "" {
		return bot.Command{}, unreadable("The interaction does not say who you are.")
	}
	channel, thread := where(ix, ch)
	if channel == "" {
		return bot.Command{}, unreadable("The interaction does not say where it was used.")
	}
	words, leaves := commandPath(data)
	if data.Name != root {
		// An old registration under another name: let the router answer
		// with help.
		words = append([]string{data.Name}, words...)
	}
	if len(leaves) > maxInteractionOptions {
		return bot.Command{}, unreadable("More than %d options.", maxInteractionOptions)
	}
	var options map[string]string
	for _, o := range leaves {
		if o == nil {
			continue
		}
		if o.Type == discordgo.ApplicationCommandOptionSubCommand || o.Type == discordgo.ApplicationCommandOptionSubCommandGroup {
			return bot.Command{}, unreadable("Only one subcommand at a time.")
		}
		v, err := optionValue(o)
		if err != nil {
			return bot.Command{}, unreadable("%v", err)
		}
		if options == nil {
			options = map[string]string{}
		}
		options[o.Name] = v
	}
	return bot.Command{
		Platform:   Platform,
		User:       id,
		Channel:    channel,
		Thread:     thread,
		Text:       strings.Join(words, " "),
		Options:    options,
		ReceivedAt: now,
	}, nil
}

// identity is the person behind an interaction: a guild member (nickname
// first, roles as groups) or, in a DM, the user.
func identity(ix *discordgo.Interaction) bot.Identity {
	var (
		u     *discordgo.User
		nick  string
		roles []string
	)
	if ix.Member != nil {
		u, nick = ix.Member.User, ix.Member.Nick
		roles = ix.Member.Roles
	}
	if u == nil {
		u = ix.User
	}
	if u == nil {
		return bot.Identity{Platform: Platform}
	}
	// As the guild shows the person: nickname, else the name they chose
	// for Discord, else the username; no API call.
	name := bot.PersonName(nick, u.GlobalName, u.Username)
	if len(roles) > maxMemberRoles {
		roles = roles[:maxMemberRoles]
	}
	var groups []string
	if len(roles) > 0 {
		groups = append(groups, roles...)
	}
	return bot.Identity{Platform: Platform, UserID: u.ID, Name: name, Groups: groups}
}

// focused finds the option being typed in an autocomplete interaction.
func focused(leaves []*discordgo.ApplicationCommandInteractionDataOption) (name, prefix string, err error) {
	for _, o := range leaves {
		if o == nil || !o.Focused {
			continue
		}
		switch v := o.Value.(type) {
		case string:
			return o.Name, v, nil
		case float64:
			return o.Name, strconv.FormatFloat(v, 'f', -1, 64), nil
		case nil:
			return o.Name, "", nil
		}
		return "", "", fmt.Errorf("option %s: unexpected value", o.Name)
	}
	return "", "", errors.New("no focused option")
}

// fileBase names a command's attachments: its words and positional
// arguments ("logs orders-service" → "logs-orders-service").
func fileBase(router Router, cmd bot.Command) string {
	words := strings.Fields(cmd.Text)
	parts := words
	if spec, _ := router.Lookup(words); spec != nil {
		parts = strings.Fields(spec.Name)
		for _, a := range spec.Args {
			if v := cmd.Options[a.Name]; a.Positional && v != "" {
				parts = append(parts, v)
			}
		}
	}
	return strings.Join(parts, "-")
}
