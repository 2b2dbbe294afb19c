package slack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
)

const testToken = "xoxb-123-456-secretsecret"

type fixture struct {
	srv     *slackstandin.Server
	c       *Client
	reg     *prometheus.Registry
	logs    *observer.ObservedLogs
	message bot.Message
}

// newFixture is a Client of a fresh stand-in. cfg's zero fields take the
// defaults (1 post/s per channel); tests that do not test pacing raise it.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	srv := slackstandin.New()
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	core, logs := observer.New(zap.DebugLevel)
	cfg.Token = testToken
	cfg.APIURL = srv.URL()
	c, err := New(cfg, bot.NewChatMetrics(reg), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, c: c, reg: reg, logs: logs}
	f.message = outbox.RootMessage(preview(t, loadGroup(t, "service-down-firing.json")), testDest)
	t.Cleanup(func() {
		for _, e := range logs.All() {
			if strings.Contains(e.Message, testToken) || strings.Contains(fmtFields(e.ContextMap()), testToken) {
				t.Errorf("the token reached a log line: %s", e.Message)
			}
		}
	})
	return f
}

// fast never holds a test on the adapter's own limiter.
var fast = Config{PerChannelRate: 1000, Burst: 1000, UpdateRate: 1000}

func fmtFields(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// counter reads one series of the chat metrics.
func (f *fixture) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestPostEditReply(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	ref, err := f.c.PostRoot(ctx, "C1", f.message)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "C1" || ref.RootID == "" || ref.ThreadID != ref.RootID {
		t.Fatalf("ref = %+v", ref)
	}

	resolved := outbox.RootMessage(preview(t, loadGroup(t, "service-down-firing.json"), loadGroup(t, "service-down-resolved.json")), testDest)
	if err := f.c.EditRoot(ctx, ref, resolved); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.c.Reply(ctx, ref, bot.Message{Title: "1 change", Lines: []string{"ServiceDown resolved"}, Status: bot.IncidentResolved}); err != nil {
			t.Fatal(err)
		}
	}

	msgs := f.srv.Messages("C1")
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want root and two replies", len(msgs))
	}
	root := msgs[0]
	if root.TS != ref.RootID || !root.IsRoot() || root.Edits != 1 {
		t.Errorf("root = %+v", root)
	}
	if !strings.HasPrefix(root.Text, "✅") || !strings.Contains(string(root.Attachments), "#2EB67D") {
		t.Errorf("the edit did not turn the root resolved and green: %q %s", root.Text, root.Attachments)
	}
	if root.Metadata.EventType != "chatops_incident" || root.Metadata.EventPayload["marker"] != f.message.Marker {
		t.Errorf("root metadata = %+v", root.Metadata)
	}
	for _, r := range msgs[1:] {
		if r.ThreadTS != ref.RootID {
			t.Errorf("reply %s threads under %q, want the root %s", r.TS, r.ThreadTS, ref.RootID)
		}
	}
	if got := f.counter(t, "chatops_chat_calls_total", map[string]string{"platform": "slack", "method": "chat.postMessage", "outcome": "ok"}); got != 3 {
		t.Errorf("ok posts counted = %v", got)
	}
	if got := f.counter(t, "chatops_chat_calls_total", map[string]string{"method": "chat.update", "outcome": "ok"}); got != 1 {
		t.Errorf("ok updates counted = %v", got)
	}
}

func TestReplyThreadsUnderTheRootNotAReply(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	ref, err := f.c.PostRoot(ctx, "C1", f.message)
	if err != nil {
		t.Fatal(err)
	}
	// A caller that kept a reply's ts as RootID still threads under ThreadID.
	if err := f.c.Reply(ctx, bot.ThreadRef{Channel: "C1", RootID: "999.000001", ThreadID: ref.ThreadID}, bot.Message{Title: "x"}); err != nil {
		t.Fatal(err)
	}
	if rs := f.srv.Replies("C1", ref.RootID); len(rs) != 1 {
		t.Fatalf("replies = %+v", rs)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		fault     slackstandin.Fault
		permanent bool
		after     time.Duration // a RateLimitedError with this After
	}{
		{"429 with Retry-After", slackstandin.RateLimit{RetryAfter: 3 * time.Second}, false, 3 * time.Second},
		{"500", slackstandin.ServerError{}, false, 0},
		{"connection dropped", slackstandin.DropAfterProcessing{}, false, 0},
		{"channel_not_found", slackstandin.SlackError{Code: "channel_not_found"}, true, 0},
		{"not_in_channel", slackstandin.SlackError{Code: "not_in_channel"}, true, 0},
		{"is_archived", slackstandin.SlackError{Code: "is_archived"}, true, 0},
		{"invalid_auth", slackstandin.SlackError{Code: "invalid_auth"}, true, 0},
		{"token_revoked", slackstandin.SlackError{Code: "token_revoked"}, true, 0},
		{"missing_scope", slackstandin.SlackError{Code: "missing_scope"}, true, 0},
		{"invalid_blocks", slackstandin.SlackError{Code: "invalid_blocks"}, true, 0},
		{"msg_too_long", slackstandin.SlackError{Code: "msg_too_long"}, true, 0},
		{"internal_error is transient", slackstandin.SlackError{Code: "internal_error"}, false, 0},
		{"ratelimited in the body", slackstandin.SlackError{Code: "ratelimited"}, false, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fast)
			f.srv.FailNext(slackstandin.MethodPostMessage, 1, tc.fault)
			_, err := f.c.PostRoot(context.Background(), "C1", f.message)
			if err == nil {
				t.Fatal("no error")
			}
			var rl *bot.RateLimitedError
			if got := errors.As(err, &rl); got != (tc.after > 0) || (got && rl.After != tc.after) {
				t.Errorf("err = %v, want a RateLimitedError after %s: %v", err, tc.after, got)
			}
			if got := errors.Is(err, bot.ErrPermanent); got != tc.permanent {
				t.Errorf("err = %v: permanent %v, want %v", err, got, tc.permanent)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error shows the token: %v", err)
			}
			if n := f.srv.Calls(slackstandin.MethodPostMessage); n != 1 {
				t.Errorf("%d calls: slack-go must not retry by itself", n)
			}
		})
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	cfg := fast
	cfg.CallTimeout = 100 * time.Millisecond
	f := newFixture(t, cfg)
	f.srv.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.Slow{Delay: 5 * time.Second})
	start := time.Now()
	_, err := f.c.PostRoot(context.Background(), "C1", f.message)
	if err == nil || errors.Is(err, bot.ErrPermanent) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %s, want a transient error after the call timeout", err, time.Since(start))
	}
}

// TestDroppedPostIsFound is the "posted, then the connection dropped"
// case: the post fails, yet FindRoot finds the root Slack recorded, so the
// outbox stores it instead of posting a second root.
func TestDroppedPostIsFound(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	since := time.Now()
	f.srv.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.DropAfterProcessing{})
	if _, err := f.c.PostRoot(ctx, "C1", f.message); err == nil || errors.Is(err, bot.ErrPermanent) {
		t.Fatalf("PostRoot over a dropped connection: %v, want a transient error", err)
	}
	// Another incident's root in the channel must not be mistaken for it.
	other := f.message
	other.Marker = "chatops:incident:2:slack-incidents"
	if _, err := f.c.PostRoot(ctx, "C1", other); err != nil {
		t.Fatal(err)
	}

	ref, ok, err := f.c.FindRoot(ctx, "C1", f.message.Marker, since)
	if err != nil || !ok {
		t.Fatalf("FindRoot = %v, %v", ok, err)
	}
	roots := f.srv.Roots("C1")
	if len(roots) != 2 || ref.RootID != roots[0].TS || ref.ThreadID != roots[0].TS || ref.Channel != "C1" {
		t.Fatalf("FindRoot = %+v, roots %+v", ref, roots)
	}
	if _, ok, err := f.c.FindRoot(ctx, "C1", "chatops:incident:3:slack-incidents", since); ok || err != nil {
		t.Errorf("FindRoot of a root never posted = %v, %v", ok, err)
	}
	if n := f.srv.Calls(slackstandin.MethodPostMessage); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}

func TestFindRootPagesAndFallsBackToText(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	since := time.Now()
	raw := slackapi.New("xoxb-other", slackapi.OptionAPIURL(f.srv.URL()))
	// A root without metadata (say, posted by an older version) whose text
	// carries the marker, then more roots than one history page holds.
	if _, _, err := raw.PostMessage("C1", slackapi.MsgOptionText("old root\n"+f.message.Marker, false)); err != nil {
		t.Fatal(err)
	}
	for range historyPageSize + 20 {
		if _, _, err := raw.PostMessage("C1", slackapi.MsgOptionText("chatter", false)); err != nil {
			t.Fatal(err)
		}
	}
	ref, ok, err := f.c.FindRoot(ctx, "C1", f.message.Marker, since)
	if err != nil || !ok || ref.RootID != f.srv.Roots("C1")[0].TS {
		t.Fatalf("FindRoot = %+v %v %v", ref, ok, err)
	}
	if n := f.srv.Calls(slackstandin.MethodHistory); n != 2 {
		t.Errorf("%d history pages read, want 2", n)
	}
	// Messages from before since (less the skew margin) are not looked at.
	if _, ok, _ := f.c.FindRoot(ctx, "C1", f.message.Marker, time.Now().Add(time.Hour)); ok {
		t.Error("FindRoot found a root older than since")
	}
}

func TestFindRootErrors(t *testing.T) {
	f := newFixture(t, fast)
	f.srv.FailNext(slackstandin.MethodHistory, 1, slackstandin.SlackError{Code: "missing_scope"})
	if _, _, err := f.c.FindRoot(context.Background(), "C1", "m", time.Now()); !errors.Is(err, bot.ErrPermanent) {
		t.Errorf("missing_scope on history: %v", err)
	}
	f.srv.FailNext(slackstandin.MethodHistory, 1, slackstandin.ServerError{})
	if _, _, err := f.c.FindRoot(context.Background(), "C1", "m", time.Now()); err == nil || errors.Is(err, bot.ErrPermanent) {
		t.Errorf("500 on history: %v", err)
	}
}

// TestOwnLimiterPaces: two posts to one channel back to back with Slack's
// 1/s; the second waits at most a second, and the channel never sees more
// than one post a second.
func TestOwnLimiterPaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.srv.SetRateLimit(1)
	ctx := context.Background()
	ref, err := f.c.PostRoot(ctx, "C1", f.message)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = f.c.Reply(ctx, ref, bot.Message{Title: "1 change"})
	waited := time.Since(start)
	var rl *bot.RateLimitedError
	switch {
	case err == nil && waited <= 1100*time.Millisecond:
	case errors.As(err, &rl) && rl.After <= time.Second:
	default:
		t.Fatalf("second post: %v after %s", err, waited)
	}
	if got := f.srv.MaxPostRate("C1"); got > 1 {
		t.Errorf("channel saw %v posts in a second", got)
	}
	// Another channel is not held by C1's budget.
	start = time.Now()
	if _, err := f.c.PostRoot(ctx, "C2", f.message); err != nil || time.Since(start) > 500*time.Millisecond {
		t.Errorf("post to another channel: %v after %s", err, time.Since(start))
	}
}

// TestOwnLimiterNeverBlocksLong: many posts to one channel at once; those
// that would wait more than a couple of seconds get a RateLimitedError
// without a call, and the channel stays within 1/s.
func TestOwnLimiterNeverBlocksLong(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.srv.SetRateLimit(1)
	ctx := context.Background()
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		posted, heldBack  int
		longest, maxAfter time.Duration
	)
	for range 6 {
		wg.Go(func() {
			start := time.Now()
			_, err := f.c.PostRoot(ctx, "C1", f.message)
			d := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			longest = max(longest, d)
			var rl *bot.RateLimitedError
			switch {
			case err == nil:
				posted++
			case errors.As(err, &rl):
				heldBack++
				maxAfter = max(maxAfter, rl.After)
			default:
				t.Errorf("post: %v", err)
			}
		})
	}
	wg.Wait()
	if posted != 3 || heldBack != 3 {
		t.Errorf("posted %d, held back %d; want 3 and 3 (now, +1s, +2s)", posted, heldBack)
	}
	if longest > maxLimiterWait+time.Second {
		t.Errorf("a call was held %s", longest)
	}
	if maxAfter <= maxLimiterWait || maxAfter > 6*time.Second {
		t.Errorf("longest RateLimitedError.After = %s", maxAfter)
	}
	if n := f.srv.Calls(slackstandin.MethodPostMessage); n != posted {
		t.Errorf("%d calls for %d posts: held-back posts reached Slack", n, posted)
	}
	if got := f.srv.MaxPostRate("C1"); got > 1 {
		t.Errorf("channel saw %v posts in a second", got)
	}
	if got := f.counter(t, "chatops_chat_rate_limited_total", map[string]string{"source": "local"}); got < 3 {
		t.Errorf("held back counted %v times", got)
	}
}

// TestSlackRetryAfterHoldsTheChannel: after a 429 the adapter keeps away
// from the channel for Retry-After on its own, without calling.
func TestSlackRetryAfterHoldsTheChannel(t *testing.T) {
	f := newFixture(t, fast)
	f.srv.FailNext(slackstandin.MethodPostMessage, 1, slackstandin.RateLimit{RetryAfter: 5 * time.Second})
	ctx := context.Background()
	_, err := f.c.PostRoot(ctx, "C1", f.message)
	var rl *bot.RateLimitedError
	if !errors.As(err, &rl) || rl.After != 5*time.Second {
		t.Fatalf("429: %v", err)
	}
	_, err = f.c.PostRoot(ctx, "C1", f.message)
	if !errors.As(err, &rl) || rl.After > 5*time.Second || rl.After < 4*time.Second {
		t.Fatalf("second post after a 429: %v", err)
	}
	if n := f.srv.Calls(slackstandin.MethodPostMessage); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	if got := f.counter(t, "chatops_chat_rate_limited_total", map[string]string{"source": "platform"}); got != 1 {
		t.Errorf("platform 429s counted %v", got)
	}
	if _, err := f.c.PostRoot(ctx, "C2", f.message); err != nil {
		t.Errorf("another channel: %v", err)
	}
}

func TestUpdateLimiter(t *testing.T) {
	cfg := fast
	cfg.UpdateRate = rate.Every(time.Minute)
	f := newFixture(t, cfg)
	ctx := context.Background()
	ref, err := f.c.PostRoot(ctx, "C1", f.message)
	if err != nil {
		t.Fatal(err)
	}
	for i := range updateBurst {
		if err := f.c.EditRoot(ctx, ref, f.message); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
	}
	err = f.c.EditRoot(ctx, ref, f.message)
	var rl *bot.RateLimitedError
	if !errors.As(err, &rl) || rl.After < 50*time.Second {
		t.Fatalf("edit beyond the burst: %v", err)
	}
	if n := f.srv.Calls(slackstandin.MethodUpdate); n != updateBurst {
		t.Errorf("%d updates reached Slack", n)
	}
}

func TestContextCancelWhileHeld(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.c.PostRoot(context.Background(), "C1", f.message); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.c.PostRoot(ctx, "C1", f.message); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held post with a cancelled context: %v", err)
	}
	if n := f.srv.Calls(slackstandin.MethodPostMessage); n != 1 {
		t.Errorf("%d calls", n)
	}
}

func TestBadThreadRefIsPermanent(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	if err := f.c.EditRoot(ctx, bot.ThreadRef{Channel: "C1"}, f.message); !errors.Is(err, bot.ErrPermanent) {
		t.Errorf("EditRoot without a ts: %v", err)
	}
	if err := f.c.Reply(ctx, bot.ThreadRef{}, f.message); !errors.Is(err, bot.ErrPermanent) {
		t.Errorf("Reply without a thread: %v", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("no token accepted")
	}
	if _, err := New(Config{Token: "x", APIURL: "ftp://x/"}, nil, nil); err == nil {
		t.Error("ftp api url accepted")
	}
	_, err := New(Config{Token: "x", APIURL: "http://user:hunter2@[::1"}, nil, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad url: %v", err)
	}
	c, err := New(Config{Token: testToken, APIURL: "http://127.0.0.1:1/api"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Token: testToken, APIURL: "http://127.0.0.1:1/api/", PerChannelRate: 1, Burst: 1, UpdateRate: DefaultUpdateRate, CallTimeout: DefaultCallTimeout}
	if c.cfg != want {
		t.Errorf("cfg = %+v", c.cfg)
	}
	if strings.Contains(c.cfg.String(), testToken) {
		t.Error("Config.String shows the token")
	}
}

// TestStandinAcceptsEveryRendering: the stand-in checks Slack's limits as
// Slack counts them; the largest renderings pass them, posted and edited.
func TestStandinAcceptsEveryRendering(t *testing.T) {
	f := newFixture(t, fast)
	ctx := context.Background()
	for name, m := range map[string]bot.Message{
		"300 alerts": outbox.RootMessage(preview(t, stormGroup(300)), testDest),
		"overlong":   overlongMessage(),
	} {
		ref, err := f.c.PostRoot(ctx, "C1", m)
		if err != nil {
			t.Fatalf("%s: post: %v", name, err)
		}
		if err := f.c.EditRoot(ctx, ref, m); err != nil {
			t.Errorf("%s: edit: %v", name, err)
		}
		if err := f.c.Reply(ctx, ref, overlongReply()); err != nil {
			t.Errorf("%s: reply: %v", name, err)
		}
	}
}
