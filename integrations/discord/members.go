package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bwmarrin/discordgo"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/bakewise/chatops/bot"
)

// Reading a member's current roles.
const (
	// MaxMemberCacheTTL is the longest a member's roles read from Discord
	// are used (and the default): a role taken away stops counting for
	// approvals within it.
	MaxMemberCacheTTL = time.Minute
	// channelGuildTTL is how long a channel's guild is remembered. A
	// channel never moves to another guild; the entry ages out only so a
	// deleted channel is forgotten.
	channelGuildTTL = time.Hour
	// maxCachedMembers and maxCachedChannels bound the caches: the least
	// recently used entries go first.
	maxCachedMembers  = 10_000
	maxCachedChannels = 1_000
)

// MembersConfig configures Members.
type MembersConfig struct {
	// Guilds are the guilds whose members may be read (discord.guild_ids):
	// a channel of any other guild is refused.
	Guilds []string
	// TTL is how long one member's roles are used; 0 or more than
	// MaxMemberCacheTTL: MaxMemberCacheTTL.
	TTL time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Members reads guild members' roles as Discord holds them now
// (bot.CurrentGroups), for the two-person rule: GET /channels/{channel}
// tells the channel's guild (remembered), GET
// /guilds/{guild}/members/{user} the member's role ids, used for at most
// TTL. Both go through the client's limits. A failure is an error and is
// never cached; a person who is not a member is bot.ErrNotMember. Lookups
// of one member at once share one call.
type Members struct {
	c      *Client
	guilds map[string]bool
	ttl    time.Duration
	now    func() time.Time
	log    *zap.Logger
	flight singleflight.Group

	members  *lru.Cache[string, memberEntry]  // by guild/user
	channels *lru.Cache[string, channelEntry] // by channel
}

type memberEntry struct {
	roles  []string
	member bool
	at     time.Time
}

type channelEntry struct {
	guild string
	at    time.Time
}

var _ bot.CurrentGroups = (*Members)(nil)

// NewMembers returns the member role reader over c.
func NewMembers(c *Client, cfg MembersConfig, log *zap.Logger) *Members {
	if cfg.TTL <= 0 || cfg.TTL > MaxMemberCacheTTL {
		cfg.TTL = MaxMemberCacheTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	m := &Members{c: c, guilds: map[string]bool{}, ttl: cfg.TTL, now: cfg.Now, log: log}
	for _, g := range cfg.Guilds {
		m.guilds[g] = true
	}
	// lru.New fails only for a size below one.
	m.members, _ = lru.New[string, memberEntry](maxCachedMembers)
	m.channels, _ = lru.New[string, channelEntry](maxCachedChannels)
	return m
}

// CurrentGroups implements bot.CurrentGroups: the role ids userID holds now
// in the guild of channel.
func (m *Members) CurrentGroups(ctx context.Context, userID, channel string) ([]string, error) {
	if !isSnowflake(userID) {
		return nil, fmt.Errorf("discord: member roles: %q is not a user id", clip(userID, maxSnowflakeChars))
	}
	guild, err := m.guildOf(ctx, channel)
	if err != nil {
		return nil, err
	}
	if !m.guilds[guild] {
		return nil, fmt.Errorf("discord: member roles: channel %s is in guild %s, which is not in discord.guild_ids", channel, guild)
	}
	key := guild + "/" + userID
	e, ok := m.members.Get(key)
	if !ok || !m.fresh(e.at, m.ttl) {
		v, err := m.shared(ctx, "member:"+key, func(ctx context.Context) (any, error) { return m.readMember(ctx, guild, userID) })
		if err != nil {
			return nil, err
		}
		e = v.(memberEntry)
	}
	if !e.member {
		return nil, fmt.Errorf("discord: user %s in guild %s: %w", userID, guild, bot.ErrNotMember)
	}
	return append([]string(nil), e.roles...), nil
}

// fresh reports whether an entry read at at is younger than ttl (a clock
// that went back makes it old).
func (m *Members) fresh(at time.Time, ttl time.Duration) bool {
	age := m.now().Sub(at)
	return age >= 0 && age < ttl
}

// shared runs fetch once for everyone asking key at the same time. It runs
// detached from the caller who started it (others may be waiting on it),
// bounded by the client's call timeout; each caller's ctx bounds only its
// own wait.
func (m *Members) shared(ctx context.Context, key string, fetch func(ctx context.Context) (any, error)) (any, error) {
	ch := m.flight.DoChan(key, func() (any, error) { return fetch(context.WithoutCancel(ctx)) })
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("discord: member roles: %w", ctx.Err())
	}
}

// guildOf is the guild channel belongs to, remembered for channelGuildTTL.
func (m *Members) guildOf(ctx context.Context, channel string) (string, error) {
	if !isSnowflake(channel) {
		return "", fmt.Errorf("discord: member roles: %q is not a channel id", clip(channel, maxSnowflakeChars))
	}
	if e, ok := m.channels.Get(channel); ok && m.fresh(e.at, channelGuildTTL) {
		return e.guild, nil
	}
	v, err := m.shared(ctx, "channel:"+channel, func(ctx context.Context) (any, error) { return m.readChannel(ctx, channel) })
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (m *Members) readChannel(ctx context.Context, channel string) (string, error) {
	var ch struct {
		GuildID string `json:"guild_id"`
	}
	if err := m.get(ctx, "get_channel", discordgo.EndpointChannel(channel), discordgo.EndpointChannel(channel), "read channel "+channel, &ch); err != nil {
		return "", err
	}
	if !isSnowflake(ch.GuildID) {
		return "", fmt.Errorf("discord: channel %s is not in a guild", channel)
	}
	m.channels.Add(channel, channelEntry{guild: ch.GuildID, at: m.now()})
	return ch.GuildID, nil
}

func (m *Members) readMember(ctx context.Context, guild, userID string) (memberEntry, error) {
	var mem struct {
		Roles []string `json:"roles"`
	}
	err := m.get(ctx, "get_member", discordgo.EndpointGuildMember(guild, userID), discordgo.EndpointGuildMember(guild, ""),
		"read member "+userID+" of guild "+guild, &mem)
	e := memberEntry{at: m.now()}
	switch {
	case apiCode(err) == discordgo.ErrCodeUnknownMember:
		// A definite answer: they left the guild (or never joined).
	case err != nil:
		return memberEntry{}, err
	default:
		if len(mem.Roles) > maxMemberRoles {
			return memberEntry{}, fmt.Errorf("discord: member %s of guild %s: %d roles, more than Discord allows (%d)", userID, guild, len(mem.Roles), maxMemberRoles)
		}
		for _, r := range mem.Roles {
			if !isSnowflake(r) {
				return memberEntry{}, fmt.Errorf("discord: member %s of guild %s: role %q is not an id", userID, guild, clip(r, maxSnowflakeChars))
			}
		}
		e.member, e.roles = true, mem.Roles
	}
	m.members.Add(guild+"/"+userID, e)
	m.log.Debug("member roles read", zap.String("guild", guild), zap.String("user", userID), zap.Bool("member", e.member), zap.Int("roles", len(e.roles)))
	return e, nil
}

// get makes one GET through the client's limits and decodes its JSON
// answer into v. discordgo's own typed calls are not used: they dereference
// what they decode, and an unreadable answer would panic.
func (m *Members) get(ctx context.Context, method, url, bucket, what string, v any) error {
	var body []byte
	err := m.c.call(ctx, method, bucket, what, func(opts ...discordgo.RequestOption) (err error) {
		body, err = m.c.s.RequestWithBucketID(http.MethodGet, url, nil, bucket, opts...)
		return err
	})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("discord: %s: unreadable answer: %w", what, errors.Join(discordgo.ErrJSONUnmarshal, err))
	}
	return nil
}
