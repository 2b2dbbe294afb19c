package main

import (
	"sort"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

// snapshot is the stand-ins' counters at one moment: the calls of a phase
// are the difference of two.
type snapshot struct {
	at time.Time
	// Slack
	slCalls   map[string]int
	slRoots   int
	slReplies int
	sl429     map[string]int
	// Discord
	dcCalls   map[string]int
	dcRoots   int
	dcReplies int
	dc429     map[string]int
}

func (b *bench) snap() snapshot {
	s := snapshot{at: time.Now(), slCalls: map[string]int{}, sl429: map[string]int{}, dc429: map[string]int{}}
	for _, m := range []string{slackstandin.MethodPostMessage, slackstandin.MethodUpdate, slackstandin.MethodHistory, slackstandin.MethodAuthTest} {
		s.slCalls[m] = b.slack.Calls(m)
		s.sl429[m] = b.slack.RateLimited(m)
	}
	for _, m := range b.slack.Messages(slackChannel) {
		if m.IsRoot() {
			s.slRoots++
		} else {
			s.slReplies++
		}
	}
	s.dcCalls = b.discord.AllCalls()
	for _, r := range discordRoutes {
		s.dc429[r] = b.discord.RateLimited(r)
	}
	for _, m := range b.discord.Messages(discordChannel) {
		s.dcRoots++
		s.dcReplies += len(b.discord.Messages(m.ID))
	}
	return s
}

var discordRoutes = []string{discordstandin.RouteCreateMessage, discordstandin.RouteEditMessage,
	discordstandin.RouteStartThread, discordstandin.RouteListMessages, discordstandin.RouteGetMessage}

// diff429 is the 429s per method or route between two snapshots, and
// their sum.
func diff429(a, z map[string]int) (map[string]int, int) {
	out, n := map[string]int{}, 0
	for k, v := range z {
		if d := v - a[k]; d > 0 {
			out[k] = d
			n += d
		}
	}
	return out, n
}

func sumCalls(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// calls is what platform received between two snapshots; down says the
// platform answered 503 to everything meanwhile.
func calls(platform string, a, z snapshot, incidents int, down bool) *Calls {
	c := &Calls{Incidents: incidents}
	if platform == "slack" {
		post := z.slCalls[slackstandin.MethodPostMessage] - a.slCalls[slackstandin.MethodPostMessage]
		c.Roots = z.slRoots - a.slRoots
		c.Replies = z.slReplies - a.slReplies
		c.Edits = z.slCalls[slackstandin.MethodUpdate] - a.slCalls[slackstandin.MethodUpdate]
		c.Lookups = z.slCalls[slackstandin.MethodHistory] - a.slCalls[slackstandin.MethodHistory]
		c.RejectedBy, c.Rejected429 = diff429(a.sl429, z.sl429)
		c.Total = sumCalls(z.slCalls) - sumCalls(a.slCalls)
		if down {
			c.Refused = c.Total
			c.Roots, c.Replies, c.Edits, c.Lookups = 0, 0, 0, 0
		} else {
			c.FailedPosts = post - c.Roots - c.Replies
		}
	} else {
		d := func(r string) int { return z.dcCalls[r] - a.dcCalls[r] }
		c.Roots = z.dcRoots - a.dcRoots
		c.Replies = z.dcReplies - a.dcReplies
		c.Edits = d(discordstandin.RouteEditMessage)
		c.ThreadStarts = d(discordstandin.RouteStartThread)
		c.Lookups = d(discordstandin.RouteListMessages) + d(discordstandin.RouteGetMessage)
		c.RejectedBy, c.Rejected429 = diff429(a.dc429, z.dc429)
		c.Total = sumCalls(z.dcCalls) - sumCalls(a.dcCalls)
		if down {
			c.Refused = c.Total
			c.Roots, c.Replies, c.Edits, c.Lookups, c.ThreadStarts = 0, 0, 0, 0, 0
		} else {
			c.FailedPosts = d(discordstandin.RouteCreateMessage) - c.Roots - c.Replies
		}
	}
	if incidents > 0 {
		c.PerInc = float64(c.Total) / float64(incidents)
	}
	return c
}

// rates reads the stand-ins' highest rates for platform in [from, to).
func (b *bench) rates(platform string, from, to time.Time, threads []string) *Rates {
	r := &Rates{WindowS: to.Sub(from).Seconds()}
	if platform == "slack" {
		r.PerChannel = b.slack.MaxRate(slackstandin.MethodPostMessage, slackChannel, time.Second, from, to)
		r.PerChannelLimit = slackPostPerChannel
		r.PerChannelWhat = "chat.postMessage per second in " + slackChannel
		r.Secondary = b.slack.MaxRate(slackstandin.MethodUpdate, "", time.Minute, from, to)
		r.SecondaryLimit = slackUpdatePerMin
		r.SecondaryWhat = "chat.update in any 60 s window (workspace)"
		return r
	}
	best, what := 0.0, ""
	for _, route := range discordRoutes {
		if v := b.discord.MaxRouteRate(route, discordChannel, from, to); v > best {
			best, what = v, route+" on the channel"
		}
		for _, th := range threads {
			if v := b.discord.MaxRouteRate(route, th, from, to); v > best {
				best, what = v, route+" in a thread"
			}
		}
	}
	r.PerChannel = best
	r.PerChannelLimit = discordRoutePerSec
	r.PerChannelWhat = "requests per second per route and channel (worst: " + orDash(what) + ")"
	r.Secondary = b.discord.MaxRouteRate("", "", from, to)
	r.SecondaryLimit = discordGlobalPerSec
	r.SecondaryWhat = "requests per second, all routes and channels (global)"
	r.ParentAllRoutes = b.discord.MaxRouteRate("", discordChannel, from, to)
	return r
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (b *bench) threadIDs() []string {
	var out []string
	for id, parent := range b.discord.Threads() {
		if parent == discordChannel {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (b *bench) platformCalls(platform string) int {
	if platform == "discord" {
		return sumCalls(b.discord.AllCalls())
	}
	n := 0
	for _, m := range []string{slackstandin.MethodPostMessage, slackstandin.MethodUpdate, slackstandin.MethodHistory} {
		n += b.slack.Calls(m)
	}
	return n
}
