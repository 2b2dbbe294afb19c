// Package discord is chatops' Discord adapter. Outbound, it renders the
// platform-neutral bot.Message as embeds, content and buttons within
// Discord's limits, posts an incident's root message, starts its thread,
// edits the root in place and replies in the thread, and posts and edits
// approval cards (bot.CardPoster), through discordgo's REST client.
// Inbound (Inbound), it receives interactions over the HTTP endpoint or
// the gateway, verifies them, acknowledges them at once and hands commands
// to the router and button clicks to the bot.ClickHandler, rendering their
// bot.Answer as the deferred response; it registers the /ops command from
// the command table (Commands, RegisterCommands).
//
// Inbound, nothing in a request is acted on before its signature, age
// and novelty are checked, and an interaction token, like the bot token,
// never reaches a log line or an error.
//
// It never blocks a caller for long: a 429, or a wait our own limiter or
// discordgo's route buckets would impose beyond a couple of seconds, comes
// back as *bot.RateLimitedError for the outbox to reschedule. It must never
// log or return the bot token, and no message it sends may ping anyone but
// the one role it was asked to mention.
package discord

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
	"github.com/bwmarrin/discordgo"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Platform is this adapter's name in metrics and logs.
const Platform = "discord"

// Defaults for Config.
const (
	DefaultAPIURL      = "https://discord.com/api/v10/"
	DefaultAutoArchive = 1440 // minutes: one day
	// DefaultGlobalRate is Discord's global limit for a bot: 50 requests/s.
	DefaultGlobalRate rate.Limit = 50
	// DefaultCallTimeout bounds one REST call, from sending to the end of
	// the answer.
	DefaultCallTimeout = 10 * time.Second
)

const (
	// maxLocalWait is the longest a call waits for our own limiter or for a
	// discordgo route bucket before it returns *bot.RateLimitedError.
	maxLocalWait = 2 * time.Second
	// maxThreadStartWait is how long a new root waits for its turn to start
	// its thread: longer than other calls, because a root left without a
	// thread costs more calls later (a reply that fails, a lookup of the
	// root's title, the start itself). A storm of new incidents in one
	// channel queues its thread starts at the channel's pace.
	maxThreadStartWait = 15 * time.Second
	// findRootPageSize and findRootMaxPages bound FindRoot's scan of a
	// channel's history: 500 messages after `since`.
	findRootPageSize = 100
	findRootMaxPages = 5
	// findRootClockSkew widens FindRoot's window for clocks that disagree.
	findRootClockSkew = time.Minute
	// discordEpoch is the first millisecond of 2015, where snowflakes start.
	discordEpoch = 1420070400000
)

// Config is what the Discord adapter needs.
type Config struct {
	// Token is the bot token (with or without the "Bot " prefix).
	Token string
	// APIURL is the REST API base, default https://discord.com/api/v10/;
	// set it for a proxy or a test stand-in.
	APIURL string
	// AutoArchive is the threads' auto-archive time in minutes: 60, 1440
	// (default), 4320 or 10080. Posting in an archived thread unarchives it.
	AutoArchive int
	// GlobalRate is the bot's overall request rate, default 50/s.
	GlobalRate rate.Limit
	// CallTimeout bounds each REST call, default 10 s.
	CallTimeout time.Duration
}

// Client posts incident threads and approval cards to Discord. It
// implements bot.Chat, bot.RootFinder and bot.CardPoster and is safe for
// concurrent use.
type Client struct {
	s       *discordgo.Session
	cfg     Config
	limiter *rate.Limiter
	metrics *bot.ChatMetrics
	log     *zap.Logger
	// pausedUntil (unix nanoseconds) is set by a global 429: until then
	// every call is answered locally.
	pausedUntil atomic.Int64

	// threadPace paces thread starts per channel. discordgo keys that
	// route's bucket by message, so it never learns that Discord limits
	// thread creation per channel; without this a storm of new incidents
	// met 429s on thread starts.
	threadMu   sync.Mutex
	threadPace map[string]*rate.Limiter
	// replyPace paces posts into each thread: a thread is a channel, and
	// Discord allows about one message a second in one (an incident's
	// runbook and its first change reply would otherwise meet a 429).
	replyPace map[string]*rate.Limiter
}

// threadStartRate is how fast threads are started in one channel;
// threadPostRate how fast replies are posted in one thread.
// Both keep 10% under one a second: a start paced at exactly 1 s can
// reach Discord a few milliseconds early and count twice in its second.
const (
	threadStartRate = rate.Limit(1 / 1.1)
	threadPostRate  = rate.Limit(1 / 1.1)
	// maxPaced bounds each pacing map; idle limiters are dropped beyond it.
	maxPaced = 4096
)

var (
	_ bot.Chat       = (*Client)(nil)
	_ bot.RootFinder = (*Client)(nil)
)

// New builds a Discord client. It makes no call: a wrong token shows up as
// a permanent error on the first post. metrics may be nil.
func New(cfg Config, metrics *bot.ChatMetrics, log *zap.Logger) (*Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	token := strings.Fields(cfg.Token) // tokens hold no spaces; a "Bot " prefix is dropped
	if len(token) > 0 && token[0] == "Bot" {
		token = token[1:]
	}
	if len(token) != 1 {
		return nil, errors.New("discord: no bot token")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("discord: api_url %q: want an http(s) URL", cfg.APIURL)
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	switch cfg.AutoArchive {
	case 0:
		cfg.AutoArchive = DefaultAutoArchive
	case 60, 1440, 4320, 10080:
	default:
		return nil, fmt.Errorf("discord: auto_archive %d: want 60, 1440, 4320 or 10080 minutes", cfg.AutoArchive)
	}
	if cfg.GlobalRate == 0 {
		cfg.GlobalRate = DefaultGlobalRate
	}
	if cfg.GlobalRate < 0 {
		return nil, fmt.Errorf("discord: global rate %v: want a positive rate", cfg.GlobalRate)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	tr, err := newTransport(cfg.APIURL)
	if err != nil {
		return nil, fmt.Errorf("discord: api_url: %w", err)
	}
	metrics.Known(Platform, "create_message", "edit_message")

	routeLibraryLog(log)
	s, err := discordgo.New("Bot " + token[0])
	if err != nil {
		return nil, fmt.Errorf("discord: session: %w", err)
	}
	s.Client.Transport = tr
	s.Client.Timeout = 0 // each call carries its own deadline (CallTimeout)
	// A 429 comes back to us (the outbox reschedules), a 502 is not
	// retried inside the call: discordgo would otherwise sleep and retry
	// while the caller waits. Its per-route buckets stay on.
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
	s.StateEnabled = false
	cfg.Token = ""

	return &Client{
		s:   s,
		cfg: cfg,
		// A burst of one spreads calls evenly, so no one-second window
		// sees much more than the rate.
		limiter:    rate.NewLimiter(cfg.GlobalRate, 1),
		threadPace: map[string]*rate.Limiter{},
		replyPace:  map[string]*rate.Limiter{},
		metrics:    metrics,
		log:        log,
	}, nil
}

// PostRoot posts an incident's root message in channel and starts its
// thread. Once the message is posted the ref is returned even if the thread
// could not be started: Reply starts it when it is missing.
func (c *Client) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	r := c.render(renderRoot(m), channel)
	var msg *discordgo.Message
	err := c.call(ctx, "create_message", discordgo.EndpointChannelMessages(channel), "post root in channel "+channel,
		func(opts ...discordgo.RequestOption) (err error) {
			msg, err = c.s.ChannelMessageSendComplex(channel, r.send(), opts...)
			return err
		})
	if err != nil {
		return bot.ThreadRef{}, err
	}
	if msg == nil || msg.ID == "" {
		return bot.ThreadRef{}, fmt.Errorf("discord: post root in channel %s: answer without a message id", channel)
	}
	ref := bot.ThreadRef{Channel: channel, RootID: msg.ID, ThreadID: msg.ID}
	if err := c.startThread(ctx, ref, r.threadName); err != nil {
		c.log.Warn("root posted but its thread could not be started; the next reply starts it",
			zap.String("channel", channel), zap.String("message", msg.ID), zap.Error(err))
	}
	return ref, nil
}

// EditRoot replaces the root message's content, embed and buttons.
func (c *Client) EditRoot(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	r := c.render(renderRoot(m), ref.Channel)
	return c.call(ctx, "edit_message", discordgo.EndpointChannelMessage(ref.Channel, ""),
		"edit root "+ref.RootID+" in channel "+ref.Channel,
		func(opts ...discordgo.RequestOption) error {
			_, err := c.s.ChannelMessageEditComplex(r.edit(ref.Channel, ref.RootID), opts...)
			return err
		})
}

// Reply posts m in the incident's thread. Posting unarchives an archived
// thread; a thread that was never started (Unknown Channel) is started
// from the root message and the reply posted again.
func (c *Client) Reply(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	return c.reply(ctx, ref, m, nil)
}

// reply posts m, with files when not nil (fresh readers for every try).
func (c *Client) reply(ctx context.Context, ref bot.ThreadRef, m bot.Message, files func() []*discordgo.File) error {
	r := c.render(renderReply(m), ref.Channel)
	thread := ref.ThreadID
	if thread == "" {
		thread = ref.RootID
	}
	post := func() error {
		if err := c.reserve(ctx, c.pace(c.replyPace, thread, threadPostRate)); err != nil {
			return err
		}
		return c.call(ctx, "create_message", discordgo.EndpointChannelMessages(thread), "reply in thread "+thread,
			func(opts ...discordgo.RequestOption) error {
				send := r.send()
				if files != nil {
					send.Files = files()
				}
				_, err := c.s.ChannelMessageSendComplex(thread, send, opts...)
				return err
			})
	}
	err := post()
	if err == nil || apiCode(err) != codeUnknownChannel || thread != ref.RootID {
		return err
	}
	if err := c.startThread(ctx, ref, c.threadNameFor(ctx, ref)); err != nil {
		return err
	}
	return post()
}

// threadNameFor names a thread started late after its root's title; when
// the root cannot be read the thread is still started, with a plain name.
func (c *Client) threadNameFor(ctx context.Context, ref bot.ThreadRef) string {
	var msg *discordgo.Message
	err := c.call(ctx, "get_message", discordgo.EndpointChannelMessage(ref.Channel, ""),
		"read root "+ref.RootID+" in channel "+ref.Channel,
		func(opts ...discordgo.RequestOption) (err error) {
			msg, err = c.s.ChannelMessage(ref.Channel, ref.RootID, opts...)
			return err
		})
	if err == nil && msg != nil && len(msg.Embeds) > 0 && msg.Embeds[0].Title != "" {
		title := msg.Embeds[0].Title
		if _, rest, ok := strings.Cut(title, " "); ok { // drop the severity emoji
			title = rest
		}
		return clip(title, maxThreadName)
	}
	return "incident"
}

// startThread starts the public thread of ref's root message; a thread that
// already exists is success.
func (c *Client) startThread(ctx context.Context, ref bot.ThreadRef, name string) error {
	if err := c.reserveWithin(ctx, c.pace(c.threadPace, ref.Channel, threadStartRate), maxThreadStartWait); err != nil {
		return err
	}
	err := c.call(ctx, "start_thread", discordgo.EndpointChannelMessageThread(ref.Channel, ref.RootID),
		"start thread on "+ref.RootID+" in channel "+ref.Channel,
		func(opts ...discordgo.RequestOption) error {
			_, err := c.s.MessageThreadStartComplex(ref.Channel, ref.RootID, threadStart(name, c.cfg.AutoArchive), opts...)
			return err
		})
	if apiCode(err) == codeThreadAlreadyCreated {
		return nil
	}
	return err
}

// pace returns key's limiter in m (one of the pacing maps), making it at
// rate r on first use. Beyond maxPaced keys, limiters that are idle (a full
// bucket) are dropped: a new one for them starts full too.
func (c *Client) pace(m map[string]*rate.Limiter, key string, r rate.Limit) *rate.Limiter {
	c.threadMu.Lock()
	defer c.threadMu.Unlock()
	lim := m[key]
	if lim == nil {
		if len(m) >= maxPaced {
			for k, l := range m {
				if l.Tokens() >= 1 {
					delete(m, k)
				}
			}
		}
		lim = rate.NewLimiter(r, 1)
		m[key] = lim
	}
	return lim
}

// threadStart is the body that starts a public thread from a message (the
// thread type follows from the message's channel).
func threadStart(name string, autoArchive int) *discordgo.ThreadStart {
	return &discordgo.ThreadStart{Name: name, AutoArchiveDuration: autoArchive}
}

// FindRoot looks through channel's messages posted since since (a few
// pages at most) for a root whose embed footer is marker. A zero since
// scans back from the newest message instead.
func (c *Client) FindRoot(ctx context.Context, channel, marker string, since time.Time) (bot.ThreadRef, bool, error) {
	forward := !since.IsZero()
	var after, before string
	if forward {
		after = snowflakeAt(since.Add(-findRootClockSkew))
	}
	for page := 0; page < findRootMaxPages; page++ {
		var msgs []*discordgo.Message
		err := c.call(ctx, "list_messages", discordgo.EndpointChannelMessages(channel),
			"list messages in channel "+channel,
			func(opts ...discordgo.RequestOption) (err error) {
				msgs, err = c.s.ChannelMessages(channel, findRootPageSize, before, after, "", opts...)
				return err
			})
		if err != nil {
			return bot.ThreadRef{}, false, err
		}
		for _, msg := range msgs {
			if msg != nil && hasMarker(msg, marker) {
				return bot.ThreadRef{Channel: channel, RootID: msg.ID, ThreadID: msg.ID}, true, nil
			}
		}
		if len(msgs) < findRootPageSize {
			return bot.ThreadRef{}, false, nil
		}
		// Discord lists newest first, whichever way we page.
		for _, msg := range msgs {
			switch {
			case msg == nil:
			case forward && snowflakeLess(after, msg.ID):
				after = msg.ID
			case !forward && (before == "" || snowflakeLess(msg.ID, before)):
				before = msg.ID
			}
		}
	}
	return bot.ThreadRef{}, false, nil
}

func hasMarker(msg *discordgo.Message, marker string) bool {
	if marker == "" {
		return false
	}
	for _, e := range msg.Embeds {
		if e == nil || e.Footer == nil {
			continue
		}
		for _, line := range strings.Split(e.Footer.Text, "\n") {
			if strings.TrimSpace(line) == marker {
				return true
			}
		}
	}
	return false
}

// snowflakeAt is the smallest snowflake of a message created at t.
func snowflakeAt(t time.Time) string {
	ms := t.UnixMilli() - discordEpoch
	if ms < 0 || t.IsZero() {
		return "0"
	}
	return strconv.FormatUint(uint64(ms)<<22, 10)
}

func snowflakeLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (c *Client) render(r rendered, channel string) rendered {
	for _, p := range r.problems {
		c.log.Warn("message rendered without part of it", zap.String("channel", channel), zap.String("problem", p))
	}
	return r
}

// call makes one REST call through our limits: a global pause after a
// global 429, the route's discordgo bucket, our global rate. Any of them
// that would hold the call longer than maxLocalWait answers
// *bot.RateLimitedError at once. bucket is the discordgo bucket id of the
// route; method names the call in metrics.
func (c *Client) call(ctx context.Context, method, bucket, what string, fn func(opts ...discordgo.RequestOption) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("discord: %s: %w: %w", what, bot.ErrNotSent, err)
	}
	if err := c.admit(ctx, bucket); err != nil {
		return err
	}
	return c.send(ctx, method, what, fn)
}

// send makes one admitted REST call: fn runs with the call's deadline and
// state, a call still queued on its discordgo bucket after maxLocalWait is
// abandoned, and the outcome is classified and counted. Interaction
// responses come here directly: Discord exempts them from the global
// limit, and each interaction is its own route.
func (c *Client) send(ctx context.Context, method, what string, fn func(opts ...discordgo.RequestOption) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	ctx, span := telemetry.StartChatCall(ctx, Platform, method)
	st := &callState{}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- fn(discordgo.WithContext(withCallState(ctx, st))) }()

	// Until the request leaves, the call may be queued on its discordgo
	// bucket (behind another call on the same route, or sleeping until the
	// bucket resets). Give up on that after maxLocalWait; the transport
	// then refuses to send it.
	wait := time.NewTimer(maxLocalWait)
	defer wait.Stop()
	var err error
	select {
	case err = <-done:
	case <-wait.C:
		if st.phase.CompareAndSwap(phasePending, phaseAbandoned) {
			c.metrics.HeldBack(Platform)
			err := notSent(&bot.RateLimitedError{After: maxLocalWait})
			span.SetAttributes(attribute.Bool("chat.held_back", true))
			telemetry.EndChatCall(span, err)
			return err
		}
		err = <-done // sent: the call's deadline bounds the rest
	case <-ctx.Done():
		if st.phase.CompareAndSwap(phasePending, phaseAbandoned) {
			err := fmt.Errorf("discord: %s: %w: %w", what, bot.ErrNotSent, ctx.Err())
			telemetry.EndChatCall(span, err)
			return err
		}
		err = <-done
	}
	err = classify(err, st, what)
	var rl *bot.RateLimitedError
	if errors.As(err, &rl) && st.global {
		c.pause(rl.After)
	}
	c.metrics.Observe(Platform, method, start, err)
	if st.status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", st.status))
	}
	telemetry.EndChatCall(span, err)
	return err
}

// Delay implements bot.Pacer: how long until a call of kind k in channel
// goes out at once, as our limits and discordgo's route buckets see it.
// Roots also wait for the channel's thread start; replies go to the
// thread, a channel of its own, so only the global limits hold them.
func (c *Client) Delay(channel string, k bot.CallKind) time.Duration {
	now := time.Now()
	d := time.Unix(0, c.pausedUntil.Load()).Sub(now)
	d = max(d, limiterDelay(c.limiter, now))
	switch k {
	case bot.CallRoot:
		d = max(d, c.bucketDelay(discordgo.EndpointChannelMessages(channel)))
		d = max(d, limiterDelay(c.pace(c.threadPace, channel, threadStartRate), now))
	case bot.CallEdit:
		d = max(d, c.bucketDelay(discordgo.EndpointChannelMessage(channel, "")))
	}
	return max(d, 0)
}

// bucketDelay is how long discordgo's bucket for a route would hold a
// call; a bucket in use by a call right now counts as free.
func (c *Client) bucketDelay(bucket string) time.Duration {
	b := c.s.Ratelimiter.GetBucket(bucket)
	if !b.TryLock() {
		return 0
	}
	defer b.Unlock()
	return c.s.Ratelimiter.GetWaitTime(b, 1)
}

// limiterDelay is how long lim would hold a call, without reserving.
func limiterDelay(lim *rate.Limiter, now time.Time) time.Duration {
	if tokens := lim.TokensAt(now); tokens < 1 && lim.Limit() > 0 {
		return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
	}
	return 0
}

// admit holds a call for our own limits, or answers *bot.RateLimitedError
// when that would take longer than maxLocalWait.
func (c *Client) admit(ctx context.Context, bucket string) error {
	if until := time.Unix(0, c.pausedUntil.Load()); time.Now().Before(until) {
		c.metrics.HeldBack(Platform)
		return notSent(&bot.RateLimitedError{After: time.Until(until)})
	}
	// discordgo sleeps, holding the bucket, when a route is exhausted:
	// look first. A bucket in use is left to the wait in call.
	if w := c.bucketDelay(bucket); w > maxLocalWait {
		c.metrics.HeldBack(Platform)
		return notSent(&bot.RateLimitedError{After: w})
	}
	return c.reserve(ctx, c.limiter)
}

// reserve waits for lim when that takes at most maxLocalWait, and answers
// *bot.RateLimitedError otherwise.
func (c *Client) reserve(ctx context.Context, lim *rate.Limiter) error {
	return c.reserveWithin(ctx, lim, maxLocalWait)
}

// reserveWithin is reserve with its own bound on the wait.
func (c *Client) reserveWithin(ctx context.Context, lim *rate.Limiter, maxWait time.Duration) error {
	res := lim.Reserve()
	if !res.OK() {
		c.metrics.HeldBack(Platform)
		return notSent(&bot.RateLimitedError{After: time.Second})
	}
	d := res.Delay()
	if d == 0 {
		return nil
	}
	if d > maxWait {
		res.Cancel()
		c.metrics.HeldBack(Platform)
		return notSent(&bot.RateLimitedError{After: d})
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		res.Cancel()
		return notSent(ctx.Err())
	}
}

// notSent marks err as the refusal of a call that never left the bot.
func notSent(err error) error { return fmt.Errorf("%w: %w", bot.ErrNotSent, err) }

func (c *Client) pause(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.pausedUntil.Load()
		if cur >= until || c.pausedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// discordgo logs through a package-level hook, by default as plain text
// on stderr: a missed heartbeat ACK or a failed reconnect would break a
// JSON log. The first client routes it to its zap logger (a process has
// one Discord client). Sessions log errors only (their default level):
// lower levels print raw payloads, interaction tokens among them.
var libraryLog sync.Once

func routeLibraryLog(log *zap.Logger) {
	libraryLog.Do(func() {
		l := log.WithOptions(zap.AddCallerSkip(2)).With(zap.String("library", "discordgo"))
		discordgo.Logger = func(level, _ int, format string, a ...any) {
			msg := fmt.Sprintf(format, a...)
			switch level {
			case discordgo.LogError:
				l.Warn(msg)
			case discordgo.LogWarning:
				l.Info(msg)
			default:
				l.Debug(msg)
			}
		}
	})
}
