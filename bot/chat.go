package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is a chat message in no platform's format: the root of an
// incident's thread, or a reply in it. integrations/slack and
// integrations/discord render it within their platform's limits.
type Message struct {
	// Marker is unique to the incident and destination
	// ("chatops:incident:12"); renderers put it where FindRoot can see it.
	Marker   string
	Title    string
	Severity Severity
	Status   IncidentStatus
	// Color is the side colour, 0xRRGGBB: by severity, green once resolved.
	Color int
	// Summary and Description come from the alerts' annotations.
	Summary     string
	Description string
	Fields      []Field
	// Alerts lists alerts, firing first; MoreAlerts says how many more
	// there are beyond the list.
	Alerts     []AlertLine
	MoreAlerts int
	// Lines are a reply's lines (what changed); MoreLines counts the rest.
	Lines     []string
	MoreLines int
	Links     []Link
	Buttons   []Button
	// Mention is a user group (Slack) or role (Discord) id to notify; the
	// renderer limits the message's mentions to exactly it.
	Mention string
}

// Field is a short fact: Started, Duration, service...
type Field struct {
	Name, Value string
}

// AlertLine is one alert in a message.
type AlertLine struct {
	Status AlertStatus
	Text   string
}

// Link is a labelled URL.
type Link struct {
	Text, URL string
}

// Button is an action on the message; ID is the platform custom id
// (at most 100 characters, as Discord requires).
type Button struct {
	ID, Label string
	Danger    bool
}

// ThreadRef locates an incident's thread at one destination.
type ThreadRef struct {
	Channel string
	// RootID is the root message (Slack: its ts; Discord: its id).
	RootID string
	// ThreadID is where replies go (Slack: the root's ts; Discord: the
	// thread channel, whose id equals the root message's).
	ThreadID string
}

// Chat is one chat platform's outbound side.
type Chat interface {
	PostRoot(ctx context.Context, channel string, m Message) (ThreadRef, error)
	EditRoot(ctx context.Context, ref ThreadRef, m Message) error
	Reply(ctx context.Context, ref ThreadRef, m Message) error
}

// RootFinder is the optional capability to look for a root message posted
// by an attempt whose outcome is unknown (the connection dropped after the
// request was sent, or the bot died before storing the answer), so the
// root is not posted twice.
type RootFinder interface {
	FindRoot(ctx context.Context, channel, marker string, since time.Time) (ThreadRef, bool, error)
}

// CallKind is what a chat call does in a channel, for the budgets
// platforms keep per channel.
type CallKind int

const (
	// CallRoot posts a new root message in the channel (and, where the
	// platform needs it, starts its thread).
	CallRoot CallKind = iota
	// CallReply posts a message in one of the channel's threads.
	CallReply
	// CallEdit edits a message of the channel.
	CallEdit
)

// Pacer is the optional capability of a chat client to say how long until
// a call of kind k in channel would go out at once: neither held by the
// client's own limiter nor refused for a Retry-After the platform gave.
// The outbox asks before it claims work for a channel, so work is claimed
// when it can be delivered instead of claimed, held back and retried.
type Pacer interface {
	Delay(channel string, k CallKind) time.Duration
}

// ErrNotSent marks a delivery error for a request that never left the bot
// (its own limiter refused it, its context ended first): nothing was
// posted, so there is nothing to look for before posting again.
var ErrNotSent = errors.New("not sent")

// CardPoster is the optional chat capability to post a standalone message
// (an approval card) in a channel or a thread and edit it later.
type CardPoster interface {
	// PostCard posts m in channel, inside thread when thread is not "".
	// The returned ref locates the message for EditCard (RootID is the
	// message; ThreadID the thread or "").
	PostCard(ctx context.Context, channel, thread string, m Message) (ThreadRef, error)
	EditCard(ctx context.Context, ref ThreadRef, m Message) error
}

// FileReplier is the optional chat capability to post a file (a PNG
// chart) in an incident's thread, with m as its message.
type FileReplier interface {
	ReplyFile(ctx context.Context, ref ThreadRef, m Message, f File) error
}

// GroupLookup is the optional capability to tell which groups a person is
// in when the platform does not say so with each request (Slack user
// groups). Implementations cache with a short TTL.
type GroupLookup interface {
	Groups(ctx context.Context, userID string) ([]string, error)
}

// RateLimitedError is a platform's 429: retry after After.
type RateLimitedError struct {
	After time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %s", e.After)
}

// ErrPermanent marks a delivery error that retrying soon cannot fix (a
// channel that does not exist, a token without the scope). The job is kept
// and retried at the slowest backoff, so fixing the configuration is enough.
var ErrPermanent = errors.New("permanent delivery error")

// Permanent wraps err as ErrPermanent.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Severity colours: one table for every platform.
var severityColors = map[Severity]int{P0: 0x8B0000, P1: 0xE01E5A, P2: 0xECB22E, P3: 0x36C5F0}

const resolvedColor = 0x2EB67D

// Color is the side colour for an incident in this state.
func Color(sev Severity, status IncidentStatus) int {
	if status == IncidentResolved {
		return resolvedColor
	}
	if c, ok := severityColors[sev]; ok {
		return c
	}
	return severityColors[P3]
}

// HumanDuration is a duration as people say it: 45s, 17m, 3h05m, 2d04h.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Clip shortens s to at most n bytes at a word boundary, with an ellipsis,
// never cutting a UTF-8 character in two.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n-len("…")], ' ')
	if cut < n/2 {
		cut = n - len("…")
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
