package discord

import "github.com/bwmarrin/discordgo"

// BotPermissions is what the bot's role needs in every destination channel
// and every channel where /ops is used. The README's invite URL grants
// exactly this, and a test keeps the README's integer, URL and list equal
// to it; a call added here without its bit fails with Missing Permissions
// only on a real server.
//
// Not asked for: Mention Everyone (the one role a root pings must be
// mentionable instead, see the README), Manage Threads and Manage Messages
// (the bot edits only its own messages, and posting into its own archived
// threads unarchives them).
const BotPermissions int64 = discordgo.PermissionViewChannel | // every channel call: the channel must be visible at all
	discordgo.PermissionSendMessages | // PostRoot, PostCard: ChannelMessageSendComplex into the channel
	discordgo.PermissionSendMessagesInThreads | // Reply, PostCard in a thread: Send Messages does not reach into threads
	discordgo.PermissionCreatePublicThreads | // startThread: MessageThreadStartComplex from the root
	discordgo.PermissionReadMessageHistory | // FindRoot (ChannelMessages) and threadNameFor (ChannelMessage)
	discordgo.PermissionEmbedLinks | // roots, replies and cards are embeds
	// Answers attach long output (logs, timelines) to InteractionResponseEdit
	// and FollowupMessageCreate. Discord has let interaction responses carry
	// files without this bit, so that path works today even without it; it is
	// asked for so that the role says what the bot does.
	discordgo.PermissionAttachFiles
