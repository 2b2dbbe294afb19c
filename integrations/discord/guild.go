package discord

import (
	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

// Answers to an interaction from a place chatops does not serve; only the
// person who used it sees them.
const (
	guildDirectMessage = "chatops answers only in its servers' channels, not in direct messages."
	guildNotServed     = "chatops does not serve this server."
)

// guildServed reports whether ix comes from a guild of GuildIDs. An
// interaction from a direct message (no guild) or from another guild is
// answered at once, privately (autocomplete: with no choices), and goes no
// further: nobody there was given a role, and roles read from another
// guild would mean nothing here.
func (in *Inbound) guildServed(ix *discordgo.Interaction, ack ackFunc, log *zap.Logger) bool {
	if ix.GuildID != "" && in.guilds[ix.GuildID] {
		return true
	}
	msg := guildNotServed
	if ix.GuildID == "" {
		msg = guildDirectMessage
	}
	log.Warn("interaction refused: not from a served guild", zap.String("guild", clip(ix.GuildID, maxSnowflakeChars)), zap.Stringer("type", ix.Type))
	resp := privateMessage(msg)
	if ix.Type == discordgo.InteractionApplicationCommandAutocomplete {
		resp = &discordgo.InteractionResponse{
			Type: discordgo.InteractionApplicationCommandAutocompleteResult,
			Data: &discordgo.InteractionResponseData{Choices: []*discordgo.ApplicationCommandOptionChoice{}},
		}
	}
	if err := ack(resp); err != nil {
		log.Warn("answer not delivered", zap.Error(err))
	}
	return false
}
