package discordstandin

import (
	"net/http"
	"regexp"
	"slices"
	"time"
)

// Route names of the guild side, for Calls and FailNext.
const (
	RouteGetChannel = "get_channel" // GET /channels/{channel}
	RouteGetMember  = "get_member"  // GET /guilds/{guild}/members/{user}
)

// Discord error codes of the guild side.
const (
	codeUnknownGuild  = 10004
	codeUnknownMember = 10007
)

var (
	reChannel = regexp.MustCompile(`^` + apiPrefix + `channels/([^/]+)$`)
	reMember  = regexp.MustCompile(`^` + apiPrefix + `guilds/([^/]+)/members/([^/]+)$`)
)

// SetMember makes user a member of guild holding roles (role ids),
// replacing the roles they held: the next GET of the member says so.
func (s *Server) SetMember(guild, user string, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[guild] == nil {
		s.members[guild] = map[string][]string{}
	}
	s.members[guild][user] = slices.Clone(roles)
}

// RemoveMember makes user leave guild: GET of the member answers 404
// Unknown Member (code 10007).
func (s *Server) RemoveMember(guild, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members[guild], user)
}

// SetChannelGuild puts channels in guild (every channel is in
// DefaultGuildID until told otherwise; a thread is in its parent's guild).
func (s *Server) SetChannelGuild(guild string, channels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range channels {
		s.channelGuild[c] = guild
	}
}

func parseGuildRoute(method, path string) (request, bool) {
	if method != http.MethodGet {
		return request{}, false
	}
	if m := reChannel.FindStringSubmatch(path); m != nil {
		return request{route: RouteGetChannel, channel: m[1], guildRoute: true}, true
	}
	if m := reMember.FindStringSubmatch(path); m != nil {
		return request{route: RouteGetMember, guild: m[1], user: m[2], guildRoute: true}, true
	}
	return request{}, false
}

// handleGuild runs one request of the guild side.
func (s *Server) handleGuild(w http.ResponseWriter, rq request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var e *apiError
	switch rq.route {
	case RouteGetChannel:
		e = s.getChannel(w, rq.channel, now)
	case RouteGetMember:
		e = s.getMember(w, rq.guild, rq.user, now)
	}
	if e != nil {
		writeError(w, e)
	}
}

// wireGuildChannel is a channel object with its guild, as GET
// /channels/{channel} answers.
type wireGuildChannel struct {
	wireChannel
	GuildID string `json:"guild_id"`
}

func (s *Server) getChannel(w http.ResponseWriter, id string, now time.Time) *apiError {
	if e := s.checkChannel(id); e != nil {
		return e
	}
	out := wireGuildChannel{wireChannel: wireChannel{ID: id, Type: 0, Name: "channel-" + id}}
	guildOf := id
	if t, ok := s.threads[id]; ok {
		out.wireChannel = wireThread(t, now)
		guildOf = t.Parent
	}
	out.GuildID = DefaultGuildID
	if g, ok := s.channelGuild[guildOf]; ok {
		out.GuildID = g
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// wireMember is a guild member as Discord sends it.
type wireMember struct {
	User     wireUser `json:"user"`
	Roles    []string `json:"roles"`
	JoinedAt string   `json:"joined_at"`
	Deaf     bool     `json:"deaf"`
	Mute     bool     `json:"mute"`
}

func (s *Server) getMember(w http.ResponseWriter, guild, user string, now time.Time) *apiError {
	if !isSnowflake(guild) {
		return &apiError{status: http.StatusNotFound, code: codeUnknownGuild, message: "Unknown Guild"}
	}
	roles, ok := s.members[guild][user]
	if !ok || !isSnowflake(user) {
		return &apiError{status: http.StatusNotFound, code: codeUnknownMember, message: "Unknown Member"}
	}
	writeJSON(w, http.StatusOK, wireMember{
		User:     wireUser{ID: user, Username: "user-" + user, Discriminator: "0"},
		Roles:    append([]string{}, roles...),
		JoinedAt: now.Add(-24 * time.Hour).UTC().Format(timeFormat),
	})
	return nil
}
