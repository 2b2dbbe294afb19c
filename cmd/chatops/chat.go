package main

import (
	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/discord"
	"github.com/bakewise/chatops/integrations/slack"
	"go.uber.org/zap"
)

// chatPlatforms builds the outbound side of every configured chat platform.
func chatPlatforms(cfg config.Config, metrics *bot.ChatMetrics, log *zap.Logger) (map[string]bot.Chat, error) {
	chats := map[string]bot.Chat{}
	if cfg.SlackEnabled() {
		c, err := slack.New(slack.Config{Token: cfg.Slack.BotToken.Reveal(), APIURL: cfg.Slack.APIURL},
			metrics, log.With(zap.String("component", "slack")))
		if err != nil {
			return nil, err
		}
		chats["slack"] = c
	}
	if cfg.DiscordEnabled() {
		c, err := discord.New(discord.Config{Token: cfg.Discord.BotToken.Reveal(), APIURL: cfg.Discord.APIURL,
			AutoArchive: cfg.Discord.ThreadAutoArchive}, metrics, log.With(zap.String("component", "discord")))
		if err != nil {
			return nil, err
		}
		chats["discord"] = c
	}
	return chats, nil
}
