package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// platform labels this adapter's metrics.
const platform = "slack"

// Defaults for Config.
const (
	DefaultAPIURL = slackapi.APIURL
	// Slack allows about one message a second per channel, with short
	// bursts not guaranteed.
	DefaultPerChannelRate = rate.Limit(1)
	DefaultBurst          = 1
	// chat.update is a Tier 3 method: about 50 calls a minute per
	// workspace.
	DefaultUpdateRate = rate.Limit(50.0 / 60.0)
	// DefaultCallTimeout bounds one Web API call.
	DefaultCallTimeout = 10 * time.Second
)

const (
	// updateBurst is 1: edits are paced evenly, so no 60-second window ever
	// holds more than 50 (a burst on top of the rate would exceed Tier 3).
	updateBurst = 1
	// historyRate and historyBurst keep FindRoot (conversations.history,
	// Tier 3) from competing with the edits for the workspace's budget.
	historyRate  = rate.Limit(50.0 / 60.0)
	historyBurst = 3
	// maxLimiterWait is the longest the adapter's own limiter holds a
	// call; beyond it the caller gets a RateLimitedError and reschedules,
	// so no outbox worker sleeps on one busy channel.
	maxLimiterWait = 2 * time.Second
	// defaultRetryAfter is used for a 429 without a usable Retry-After.
	defaultRetryAfter = 1 * time.Second
	// historyPageSize and maxHistoryPages bound FindRoot's search.
	historyPageSize = 200
	maxHistoryPages = 10
	// findRootClockSkew widens FindRoot's window: since is our clock,
	// the messages' ts are Slack's.
	findRootClockSkew = 5 * time.Minute
)

// Slack method names, as metrics and errors name them.
const (
	methodPostMessage = "chat.postMessage"
	methodUpdate      = "chat.update"
	methodHistory     = "conversations.history"
)

// Config configures the Slack client.
type Config struct {
	// Token is the bot token (xoxb-...). Never logged.
	Token string
	// APIURL is the Web API base, ending in "/" (default
	// https://slack.com/api/): a proxy, or a stand-in in tests.
	APIURL string
	// PerChannelRate and Burst limit posts to one channel (default 1/s,
	// burst 1).
	PerChannelRate rate.Limit
	Burst          int
	// UpdateRate limits chat.update across the workspace (default 50/min).
	UpdateRate rate.Limit
	// CallTimeout bounds each Web API call (default 10s).
	CallTimeout time.Duration
}

// String leaves the token out, so a logged Config cannot leak it.
func (c Config) String() string {
	return fmt.Sprintf("slack.Config{APIURL: %q, PerChannelRate: %v, Burst: %d, UpdateRate: %v, CallTimeout: %s}",
		c.APIURL, c.PerChannelRate, c.Burst, c.UpdateRate, c.CallTimeout)
}

// Client posts incident threads and approval cards to Slack. It
// implements bot.Chat, bot.RootFinder and bot.CardPoster and is safe for
// concurrent use.
type Client struct {
	api     *slackapi.Client
	cfg     Config
	metrics *bot.ChatMetrics
	log     *zap.Logger

	mu       sync.Mutex
	channels map[string]*throttle
	update   *throttle
	history  *throttle
}

var (
	_ bot.Chat       = (*Client)(nil)
	_ bot.RootFinder = (*Client)(nil)
)

// New returns a Client for cfg. metrics may be nil.
func New(cfg Config, metrics *bot.ChatMetrics, log *zap.Logger) (*Client, error) {
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("slack: bot token is empty")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("slack: api url %q: want an http(s) URL", redactURL(cfg.APIURL))
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.PerChannelRate <= 0 {
		cfg.PerChannelRate = DefaultPerChannelRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.UpdateRate <= 0 {
		cfg.UpdateRate = DefaultUpdateRate
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if log == nil {
		log = zap.NewNop()
	}
	// No slackapi.OptionRetry: the outbox decides when to try again.
	api := slackapi.New(cfg.Token,
		slackapi.OptionAPIURL(cfg.APIURL),
		slackapi.OptionHTTPClient(&http.Client{Timeout: cfg.CallTimeout}),
	)
	metrics.Known(platform, methodPostMessage, methodUpdate)
	return &Client{
		api:      api,
		cfg:      cfg,
		metrics:  metrics,
		log:      log,
		channels: map[string]*throttle{},
		update:   newThrottle(cfg.UpdateRate, updateBurst),
		history:  newThrottle(historyRate, historyBurst),
	}, nil
}

// PostRoot posts m as the root of a new thread in channel.
func (c *Client) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	if err := c.hold(ctx, c.channel(channel)); err != nil {
		return bot.ThreadRef{}, err
	}
	p := renderRoot(m)
	var gotChannel, ts string
	err := c.call(ctx, methodPostMessage, channel, c.channel(channel), func(ctx context.Context) (err error) {
		gotChannel, ts, err = c.api.PostMessageContext(ctx, channel, p.options()...)
		return err
	})
	if err != nil {
		return bot.ThreadRef{}, err
	}
	if gotChannel == "" {
		gotChannel = channel
	}
	if gotChannel != channel {
		// Posted by name: replies will name the channel by its id, and
		// must draw on the same budget.
		c.alias(channel, gotChannel)
	}
	c.log.Debug("posted root", zap.String("channel", gotChannel), zap.String("ts", ts), zap.String("marker", m.Marker))
	return bot.ThreadRef{Channel: gotChannel, RootID: ts, ThreadID: ts}, nil
}

// EditRoot replaces the root's content with m.
func (c *Client) EditRoot(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	if ref.Channel == "" || ref.RootID == "" {
		return bot.Permanent(fmt.Errorf("slack %s: thread ref %+v has no channel or root ts", methodUpdate, ref))
	}
	if err := c.hold(ctx, c.update); err != nil {
		return err
	}
	p := renderRoot(m)
	return c.call(ctx, methodUpdate, ref.Channel, c.update, func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, ref.Channel, ref.RootID, p.options()...)
		return err
	})
}

// Reply posts m in the thread of ref. It always threads under the root's
// ts: Slack has no threads under replies.
func (c *Client) Reply(ctx context.Context, ref bot.ThreadRef, m bot.Message) error {
	thread := ref.ThreadID
	if thread == "" {
		thread = ref.RootID
	}
	if ref.Channel == "" || thread == "" {
		return bot.Permanent(fmt.Errorf("slack %s: thread ref %+v has no channel or thread ts", methodPostMessage, ref))
	}
	if err := c.hold(ctx, c.channel(ref.Channel)); err != nil {
		return err
	}
	p := renderReply(m)
	opts := append(p.options(), slackapi.MsgOptionTS(thread))
	return c.call(ctx, methodPostMessage, ref.Channel, c.channel(ref.Channel), func(ctx context.Context) error {
		_, _, err := c.api.PostMessageContext(ctx, ref.Channel, opts...)
		return err
	})
}

// FindRoot looks for a root carrying marker posted in channel since
// (minus a margin for clock skew), reading a bounded number of history
// pages. When several match, the oldest wins. channel must be an id
// (C..., G...): conversations.history does not take names.
func (c *Client) FindRoot(ctx context.Context, channel, marker string, since time.Time) (bot.ThreadRef, bool, error) {
	if marker == "" {
		return bot.ThreadRef{}, false, errors.New("slack: FindRoot: empty marker")
	}
	if strings.HasPrefix(channel, "#") {
		// Better a rare second root than an incident stuck on a lookup
		// that cannot work.
		c.log.Warn("cannot look for an earlier root in a channel given by name; configure the channel id", zap.String("channel", channel))
		return bot.ThreadRef{}, false, nil
	}
	params := slackapi.GetConversationHistoryParameters{
		ChannelID:          channel,
		Limit:              historyPageSize,
		IncludeAllMetadata: true,
	}
	if !since.IsZero() {
		params.Oldest = slackTS(since.Add(-findRootClockSkew))
	}
	var found *slackapi.Message
	for page := 0; ; page++ {
		if page == maxHistoryPages {
			c.log.Warn("stopped looking for an earlier root: channel history too long",
				zap.String("channel", channel), zap.String("marker", marker), zap.Int("pages", page))
			break
		}
		if err := c.hold(ctx, c.history); err != nil {
			return bot.ThreadRef{}, false, err
		}
		var resp *slackapi.GetConversationHistoryResponse
		err := c.call(ctx, methodHistory, channel, c.history, func(ctx context.Context) (err error) {
			resp, err = c.api.GetConversationHistoryContext(ctx, &params)
			return err
		})
		if err != nil {
			return bot.ThreadRef{}, false, err
		}
		for i := range resp.Messages {
			msg := &resp.Messages[i]
			if carriesMarker(msg, marker) && (found == nil || tsBefore(msg.Timestamp, found.Timestamp)) {
				found = msg
			}
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
		if !resp.HasMore || params.Cursor == "" {
			break
		}
	}
	if found == nil {
		return bot.ThreadRef{}, false, nil
	}
	c.log.Info("found an earlier root", zap.String("channel", channel), zap.String("ts", found.Timestamp), zap.String("marker", marker))
	return bot.ThreadRef{Channel: channel, RootID: found.Timestamp, ThreadID: found.Timestamp}, true, nil
}

// carriesMarker reports whether msg is a root whose metadata, or failing
// metadata its text, carries marker.
func carriesMarker(msg *slackapi.Message, marker string) bool {
	if msg.ThreadTimestamp != "" && msg.ThreadTimestamp != msg.Timestamp {
		return false
	}
	if msg.Metadata.EventType != "" {
		v, _ := msg.Metadata.EventPayload["marker"].(string)
		return msg.Metadata.EventType == metadataEventType && v == marker
	}
	return strings.Contains(msg.Text, escape(marker))
}

// tsBefore compares two Slack timestamps ("seconds.micros").
func tsBefore(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	if as != bs {
		return as < bs
	}
	return af < bf
}

func slackTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// call runs one Web API call under the call timeout, records it and maps
// its error. A 429 also holds back the throttle th for the time Slack
// asked for.
func (c *Client) call(ctx context.Context, method, channel string, th *throttle, do func(context.Context) error) error {
	if err := th.pace(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	ctx, span := telemetry.StartChatCall(ctx, platform, method)
	start := time.Now()
	err := classify(do(ctx))
	c.metrics.Observe(platform, method, start, err)
	telemetry.EndChatCall(span, err)
	if err == nil {
		return nil
	}
	var rl *bot.RateLimitedError
	if errors.As(err, &rl) {
		th.backOff(rl.After)
		telemetry.Logger(ctx, c.log).Info("slack rate limited", zap.String("method", method), zap.String("channel", channel), zap.Duration("retry_after", rl.After))
		return rl
	}
	return fmt.Errorf("slack %s %s: %w", method, channel, err)
}

// permanentErrors are Slack error codes that retrying soon cannot fix:
// the channel, the token or its scopes, or the message itself is wrong.
var permanentErrors = map[string]bool{
	"channel_not_found": true,
	"not_in_channel":    true,
	"is_archived":       true,
	"invalid_auth":      true,
	"not_authed":        true,
	"account_inactive":  true,
	"token_revoked":     true,
	"missing_scope":     true,
	"invalid_blocks":    true,
	"msg_too_long":      true,
	"no_text":           true,
	// Beyond the obvious: the message is rejected as it is, or the root to
	// edit is gone, or the workspace forbids the bot to post there.
	"invalid_attachments":     true,
	"invalid_metadata_format": true,
	"metadata_too_large":      true,
	"message_not_found":       true,
	"cant_update_message":     true,
	"restricted_action":       true,
}

// classify maps slack-go's errors to the outbox's: *bot.RateLimitedError,
// bot.Permanent, or transient (returned as is).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		after := rl.RetryAfter
		if after <= 0 {
			after = defaultRetryAfter
		}
		return &bot.RateLimitedError{After: after}
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests {
		return &bot.RateLimitedError{After: defaultRetryAfter}
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "ratelimited" {
			return &bot.RateLimitedError{After: defaultRetryAfter}
		}
		if permanentErrors[se.Err] {
			return bot.Permanent(err)
		}
	}
	return err
}

// redactURL drops user info from a URL before it is shown.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
