package slack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
)

// throttle is one of the adapter's own rate limits: a token bucket, plus
// the time before which Slack told us (429) not to call again.
//
// Without bursts (burst 1) it also spaces the calls' actual starts by
// 1/rate: the bucket hands out slots a second apart, but a call that
// starts late (a busy machine) would otherwise go out less than a second
// before the next one, and Slack counts what arrives. The lag this adds
// is the longest such delay in a busy spell, not their sum.
type throttle struct {
	lim     *rate.Limiter
	spacing time.Duration

	mu        sync.Mutex
	notBefore time.Time
	lastStart time.Time
}

func newThrottle(r rate.Limit, burst int) *throttle {
	t := &throttle{lim: rate.NewLimiter(r, burst)}
	if burst == 1 && r > 0 && r != rate.Inf {
		t.spacing = time.Duration(float64(time.Second) / float64(r))
	}
	return t
}

// pace waits, if needed, until spacing has passed since the previous call
// through t started, and marks this call's start.
func (t *throttle) pace(ctx context.Context) error {
	if t.spacing == 0 {
		return nil
	}
	for {
		t.mu.Lock()
		now := time.Now()
		wait := t.lastStart.Add(t.spacing).Sub(now)
		if wait <= 0 {
			t.lastStart = now
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// delay is how long from now until t lets a call through without holding
// it: the platform's Retry-After, the spacing since the last start and the
// bucket, none of them reserved.
func (t *throttle) delay(now time.Time) time.Duration {
	t.mu.Lock()
	d := t.notBefore.Sub(now)
	if t.spacing > 0 {
		d = max(d, t.lastStart.Add(t.spacing).Sub(now))
	}
	t.mu.Unlock()
	if tokens := t.lim.TokensAt(now); tokens < 1 && t.lim.Limit() > 0 {
		d = max(d, time.Duration((1-tokens)/float64(t.lim.Limit())*float64(time.Second)))
	}
	return max(d, 0)
}

// Delay implements bot.Pacer: roots and replies draw on the channel's post
// budget (one message a second, threads included), edits on the
// workspace's chat.update budget.
func (c *Client) Delay(channel string, k bot.CallKind) time.Duration {
	if k == bot.CallEdit {
		return c.update.delay(time.Now())
	}
	return c.channel(channel).delay(time.Now())
}

// backOff keeps calls away for d, as a 429's Retry-After asks.
func (t *throttle) backOff(d time.Duration) {
	nb := time.Now().Add(d)
	t.mu.Lock()
	if nb.After(t.notBefore) {
		t.notBefore = nb
	}
	t.mu.Unlock()
}

// channel is the post throttle of one channel.
func (c *Client) channel(id string) *throttle {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.channels[id]
	if !ok {
		t = newThrottle(c.cfg.PerChannelRate, c.cfg.Burst)
		c.channels[id] = t
	}
	return t
}

// alias makes channel id share the post throttle of name.
func (c *Client) alias(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := c.channels[id]; known {
		return
	}
	if t, ok := c.channels[name]; ok {
		c.channels[id] = t
	}
}

// hold waits until t lets a call through. A wait longer than
// maxLimiterWait is not taken: the caller gets a *bot.RateLimitedError
// saying how long to stay away and no call is made.
func (c *Client) hold(ctx context.Context, t *throttle) error {
	now := time.Now()
	t.mu.Lock()
	wait := t.notBefore.Sub(now)
	t.mu.Unlock()

	r := t.lim.ReserveN(now, 1)
	if !r.OK() {
		// Only a zero burst gets here; New never makes one.
		return notSent(&bot.RateLimitedError{After: maxLimiterWait})
	}
	wait = max(wait, r.DelayFrom(now))
	if wait <= 0 {
		return nil
	}
	c.metrics.HeldBack(platform)
	if wait > maxLimiterWait {
		r.CancelAt(now)
		return notSent(&bot.RateLimitedError{After: wait})
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return notSent(ctx.Err())
	}
}

// notSent marks err as the refusal of a call that never left the bot.
func notSent(err error) error { return fmt.Errorf("%w: %w", bot.ErrNotSent, err) }
