package config

import (
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/bakewise/chatops/policy"
)

// Limits on the access and approval settings.
const (
	maxAccessEntries = 10000
	maxQuorum        = 5
	maxExpiry        = 24 * time.Hour
	maxScale         = 1000
	// maxGroupMaxStale keeps a Slack group list that cannot be refreshed
	// from granting roles for more than a few minutes.
	maxGroupMaxStale = 15 * time.Minute
)

var slackUser = regexp.MustCompile(`^[UW][A-Z0-9]{1,30}$`)

func validateAccess(c *Config, ps *Problems) {
	a := &c.Access
	if r, err := policy.ParseRole(a.DefaultRole); err != nil || r > policy.Viewer {
		ps.add("access.default_role", "%q: want viewer or none (strangers never get more)", a.DefaultRole)
	}
	roleMap := func(path string, m map[string]string, id *regexp.Regexp, what string) {
		if len(m) > maxAccessEntries {
			ps.add(path, "%d entries: at most %d", len(m), maxAccessEntries)
		}
		for _, k := range sortedKeys(m) {
			if !id.MatchString(k) {
				ps.add(path+"."+k, "%q is not a %s", k, what)
			}
			if r, err := policy.ParseRole(m[k]); err != nil || r == policy.NoAccess && path != "access.slack_channel_caps" && path != "access.discord_channel_caps" {
				ps.add(path+"."+k, "%q: want viewer, member, admin or owner", m[k])
			}
		}
	}
	roleMap("access.slack_users", a.SlackUsers, slackUser, "Slack user id (U…)")
	roleMap("access.slack_groups", a.SlackGroups, slackGroup, "Slack user group id (S…)")
	roleMap("access.discord_users", a.DiscordUsers, snowflake, "Discord user id")
	roleMap("access.discord_roles", a.DiscordRoles, snowflake, "Discord role id")
	roleMap("access.slack_channel_caps", a.SlackChannelCaps, slackChannel, "Slack channel id")
	roleMap("access.discord_channel_caps", a.DiscordChannelCaps, snowflake, "Discord channel id")
	if a.GroupCacheTTL < time.Second || a.GroupCacheTTL > time.Hour {
		ps.add("access.group_cache_ttl", "%s: want 1s..1h", a.GroupCacheTTL)
	}
	if a.GroupMaxStale < 0 || a.GroupMaxStale > maxGroupMaxStale {
		ps.add("access.group_max_stale", "%s: want 0s..%s (0: never use a list Slack could not refresh)", a.GroupMaxStale, maxGroupMaxStale)
	}

	ap := &c.Approvals
	if ap.Quorum < 1 || ap.Quorum > maxQuorum {
		ps.add("approvals.quorum", "%d: want 1..%d approvers besides the requester", ap.Quorum, maxQuorum)
	}
	if ap.Expiry < time.Minute || ap.Expiry > maxExpiry {
		ps.add("approvals.expiry", "%s: want 1m..%s", ap.Expiry, maxExpiry)
	}
	if ap.MaxRequestsPerHour < 1 || ap.MaxRequestsPerHour > 1000 {
		ps.add("approvals.max_requests_per_hour", "%d: want 1..1000", ap.MaxRequestsPerHour)
	}
	if ap.BreakGlassSlack != "" && !slackChannel.MatchString(ap.BreakGlassSlack) {
		ps.add("approvals.break_glass_slack_channel", "%q is not a Slack channel id", ap.BreakGlassSlack)
	}
	if ap.BreakGlassDiscord != "" && !snowflake.MatchString(ap.BreakGlassDiscord) {
		ps.add("approvals.break_glass_discord_channel", "%q is not a Discord channel id", ap.BreakGlassDiscord)
	}
	if ap.DefaultScaleMax < 1 || ap.DefaultScaleMax > maxScale {
		ps.add("approvals.default_scale_max", "%d: want 1..%d", ap.DefaultScaleMax, maxScale)
	}
	seen := map[string]bool{}
	for i, b := range ap.ScaleBounds {
		p := fmt.Sprintf("approvals.scale_bounds[%d]", i)
		if !dns1123Label.MatchString(b.Service) {
			ps.add(p+".service", "%q is not a deployment name", b.Service)
		}
		if seen[b.Service] {
			ps.add(p+".service", "%q is bounded twice", b.Service)
		}
		seen[b.Service] = true
		if b.Min < 0 || b.Max < b.Min || b.Max > maxScale {
			ps.add(p, "min %d, max %d: want 0 <= min <= max <= %d", b.Min, b.Max, maxScale)
		}
	}
}

// AccessPolicy is the role mapping as policy uses it.
func (c *Config) AccessPolicy() policy.Access {
	a := policy.Access{Users: map[string]policy.Role{}, Groups: map[string]policy.Role{}, ChannelCaps: map[string]policy.Role{}}
	a.Default, _ = policy.ParseRole(c.Access.DefaultRole)
	put := func(dst map[string]policy.Role, platform string, m map[string]string) {
		for k, v := range m {
			if r, err := policy.ParseRole(v); err == nil {
				dst[policy.Key(platform, k)] = r
			}
		}
	}
	put(a.Users, "slack", c.Access.SlackUsers)
	put(a.Users, "discord", c.Access.DiscordUsers)
	put(a.Groups, "slack", c.Access.SlackGroups)
	put(a.Groups, "discord", c.Access.DiscordRoles)
	put(a.ChannelCaps, "slack", c.Access.SlackChannelCaps)
	put(a.ChannelCaps, "discord", c.Access.DiscordChannelCaps)
	return a
}

// ApprovalRule is the two-person rule as policy uses it.
func (c *Config) ApprovalRule() policy.Rule {
	return policy.Rule{
		Quorum: c.Approvals.Quorum, Expiry: c.Approvals.Expiry,
		BreakGlass: c.Approvals.BreakGlass, MaxRequestsPerHour: c.Approvals.MaxRequestsPerHour,
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
