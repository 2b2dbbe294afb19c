package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
)

const testToken = "test-bot-token-never-shown"

func newStandin(t *testing.T) *discordstandin.Server {
	t.Helper()
	s := discordstandin.New()
	t.Cleanup(s.Close)
	return s
}

func newClient(t *testing.T, s *discordstandin.Server, edit func(*Config)) *Client {
	t.Helper()
	cfg := Config{Token: testToken, APIURL: s.URL(), CallTimeout: 2 * time.Second, GlobalRate: 1000}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rootMessage is a P1 root like the dispatcher sends.
func rootMessage(id int64, mention string) bot.Message {
	return bot.Message{
		Marker:   outbox.Marker(id, "incidents"),
		Title:    fmt.Sprintf("P1 · #%d ServiceDown · orders-service", id),
		Severity: bot.P1,
		Status:   bot.IncidentOpen,
		Color:    bot.Color(bot.P1, bot.IncidentOpen),
		Summary:  "orders-service is down",
		Fields:   []bot.Field{{Name: "Status", Value: "Firing: 1 firing, 0 resolved"}},
		Alerts:   []bot.AlertLine{{Status: bot.AlertFiring, Text: "ServiceDown service=orders-service"}},
		Mention:  mention,
	}
}

func embedsOf(t *testing.T, m discordstandin.Message) []discordgo.MessageEmbed {
	t.Helper()
	var es []discordgo.MessageEmbed
	if err := json.Unmarshal(m.Embeds, &es); err != nil {
		t.Fatalf("embeds %s: %v", m.Embeds, err)
	}
	return es
}

func allowedOf(t *testing.T, m discordstandin.Message) discordgo.MessageAllowedMentions {
	t.Helper()
	var am discordgo.MessageAllowedMentions
	if err := json.Unmarshal(m.AllowedMentions, &am); err != nil {
		t.Fatalf("allowed_mentions %s: %v", m.AllowedMentions, err)
	}
	return am
}

func onlyMessage(t *testing.T, s *discordstandin.Server, channel string) discordstandin.Message {
	t.Helper()
	ms := s.Messages(channel)
	if len(ms) != 1 {
		t.Fatalf("channel %s holds %d messages, want 1", channel, len(ms))
	}
	return ms[0]
}

func TestPostRootCreatesMessageAndThread(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, func(cfg *Config) { cfg.AutoArchive = 4320 })
	m := rootMessage(1, "")
	m.Title = "P1 · #1 " + strings.Repeat("very long title ", 20)
	ref, err := c.PostRoot(context.Background(), testChannel, m)
	if err != nil {
		t.Fatal(err)
	}
	root := onlyMessage(t, s, testChannel)
	if ref.Channel != testChannel || ref.RootID != root.ID || ref.ThreadID != root.ID {
		t.Errorf("ref %+v, want channel %s and root = thread = %s", ref, testChannel, root.ID)
	}
	es := embedsOf(t, root)
	if len(es) != 1 || es[0].Footer == nil || es[0].Footer.Text != m.Marker || es[0].Color != m.Color {
		t.Errorf("embed %+v: want the marker in the footer and the severity colour", es)
	}
	th, ok := s.Thread(ref.ThreadID)
	if !ok || th.Parent != testChannel || th.AutoArchive != 4320 || th.Archived {
		t.Fatalf("thread %+v (found %v): want a live thread of %s archiving after 4320 min", th, ok, testChannel)
	}
	if n := len([]rune(th.Name)); n > 100 || !strings.HasPrefix(th.Name, "P1 · #1 very long title") || !strings.HasSuffix(th.Name, "…") {
		t.Errorf("thread name %q (%d characters): want the title clipped to 100", th.Name, n)
	}
	if got := s.AllCalls(); got[discordstandin.RouteCreateMessage] != 1 || got[discordstandin.RouteStartThread] != 1 || len(got) != 2 {
		t.Errorf("calls %v: want one post and one thread start", got)
	}
}

func TestEditRootInPlace(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	ref, err := c.PostRoot(ctx, testChannel, rootMessage(2, testRole))
	if err != nil {
		t.Fatal(err)
	}
	resolved := rootMessage(2, "")
	resolved.Status, resolved.Color = bot.IncidentResolved, bot.Color(bot.P1, bot.IncidentResolved)
	resolved.Buttons = []bot.Button{{ID: "incident:2:reopen", Label: "Reopen"}}
	if err := c.EditRoot(ctx, ref, resolved); err != nil {
		t.Fatal(err)
	}
	root := onlyMessage(t, s, testChannel)
	if root.ID != ref.RootID || root.Edits != 1 {
		t.Errorf("root %s edited %d times, want %s edited once", root.ID, root.Edits, ref.RootID)
	}
	if root.Content != "" {
		t.Errorf("content %q: the mention line must go once resolved", root.Content)
	}
	es := embedsOf(t, root)
	if !strings.HasPrefix(es[0].Title, "✅") || es[0].Color != bot.Color(bot.P1, bot.IncidentResolved) {
		t.Errorf("embed title %q colour %#x: want resolved", es[0].Title, es[0].Color)
	}
	if !strings.Contains(string(root.Components), `"custom_id":"incident:2:reopen"`) {
		t.Errorf("components %s: want the button", root.Components)
	}
}

func TestReplyInThread(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	ref, err := c.PostRoot(ctx, testChannel, rootMessage(3, testRole))
	if err != nil {
		t.Fatal(err)
	}
	s.ArchiveThread(ref.ThreadID) // a day later
	reply := bot.Message{Title: "Resolved after 17m", Severity: bot.P1, Status: bot.IncidentResolved,
		Lines: []string{"ServiceDown service=orders-service resolved (P1)", "@everyone all alerts resolved"}}
	if err := c.Reply(ctx, ref, reply); err != nil {
		t.Fatal(err)
	}
	m := onlyMessage(t, s, ref.ThreadID)
	if !strings.Contains(m.Content, "Resolved after 17m") || !strings.Contains(m.Content, "• ServiceDown") {
		t.Errorf("reply %q", m.Content)
	}
	if m.MentionEveryone || len(m.MentionRoles) != 0 || len(allowedOf(t, m).Parse) != 0 {
		t.Errorf("reply pinged (everyone %v, roles %v, allowed %s)", m.MentionEveryone, m.MentionRoles, m.AllowedMentions)
	}
	if th, _ := s.Thread(ref.ThreadID); th.Archived {
		t.Error("posting did not unarchive the thread")
	}
	if n := len(s.Messages(testChannel)); n != 1 {
		t.Errorf("channel holds %d messages, want only the root", n)
	}
}

func TestMentionsOnlyTheConfiguredRole(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	m := rootMessage(4, testRole)
	m.Summary = "@everyone orders-service is down, ask <@&999999999999999999> and @here"
	m.Description = "ping <@&999999999999999999> @everyone"
	m.Alerts = []bot.AlertLine{{Status: bot.AlertFiring, Text: "ServiceDown: @everyone look"}}
	if _, err := c.PostRoot(context.Background(), testChannel, m); err != nil {
		t.Fatal(err)
	}
	root := onlyMessage(t, s, testChannel)
	if len(root.MentionRoles) != 1 || root.MentionRoles[0] != testRole || root.MentionEveryone {
		t.Errorf("pinged roles %v, everyone %v: want exactly [%s]", root.MentionRoles, root.MentionEveryone, testRole)
	}
	am := allowedOf(t, root)
	if am.Parse == nil || len(am.Parse) != 0 || len(am.Roles) != 1 || am.Roles[0] != testRole || len(am.Users) != 0 {
		t.Errorf("allowed_mentions %s: want parse [] and roles [%s]", root.AllowedMentions, testRole)
	}

	// Without a mention nobody is pinged, whatever the alerts say.
	m = rootMessage(5, "")
	m.Summary = "@everyone <@&999999999999999999>"
	ref, err := c.PostRoot(context.Background(), "1100000000000000009", m)
	if err != nil {
		t.Fatal(err)
	}
	root = onlyMessage(t, s, ref.Channel)
	if len(root.MentionRoles) != 0 || root.MentionEveryone || root.Content != "" {
		t.Errorf("pinged roles %v, everyone %v, content %q: want no one", root.MentionRoles, root.MentionEveryone, root.Content)
	}
	if am := allowedOf(t, root); am.Parse == nil || len(am.Parse) != 0 || len(am.Roles) != 0 {
		t.Errorf("allowed_mentions %s: want parse [] and no roles", root.AllowedMentions)
	}
}

func TestRateLimited(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.RateLimit{RetryAfter: 1500 * time.Millisecond})
	_, err := c.PostRoot(context.Background(), testChannel, rootMessage(6, ""))
	var rl *bot.RateLimitedError
	if !errors.As(err, &rl) || rl.After != 1500*time.Millisecond {
		t.Fatalf("err %v: want RateLimitedError after 1.5s", err)
	}
	if len(s.Messages(testChannel)) != 0 {
		t.Error("a rate-limited post was recorded")
	}
}

func TestServerErrorIsTransient(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.ServerError{})
	_, err := c.PostRoot(context.Background(), testChannel, rootMessage(7, ""))
	var rl *bot.RateLimitedError
	if err == nil || errors.Is(err, bot.ErrPermanent) || errors.As(err, &rl) {
		t.Fatalf("err %v: want a transient error", err)
	}
	if s.Calls(discordstandin.RouteCreateMessage) != 1 {
		t.Errorf("%d posts: a 5xx must not be retried inside the call", s.Calls(discordstandin.RouteCreateMessage))
	}
	// The next attempt works.
	if _, err := c.PostRoot(context.Background(), testChannel, rootMessage(7, "")); err != nil {
		t.Fatal(err)
	}
}

func TestPermanentErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *discordstandin.Server)
		code  string
	}{
		{"unknown channel", func(s *discordstandin.Server) { s.DeleteChannel(testChannel) }, "10003"},
		{"missing access", func(s *discordstandin.Server) {
			s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.Status{Code: 403, APICode: 50001, Message: "Missing Access"})
		}, "50001"},
		{"bad token", func(s *discordstandin.Server) {
			s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.Status{Code: 401, Message: "401: Unauthorized"})
		}, "401"},
		{"invalid form body", func(s *discordstandin.Server) {
			s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.Status{Code: 400, APICode: 50035, Message: "Invalid Form Body"})
		}, "50035"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStandin(t)
			c := newClient(t, s, nil)
			tc.setup(s)
			_, err := c.PostRoot(context.Background(), testChannel, rootMessage(8, ""))
			if !errors.Is(err, bot.ErrPermanent) {
				t.Fatalf("err %v: want permanent", err)
			}
			if !strings.Contains(err.Error(), tc.code) || strings.Contains(err.Error(), testToken) {
				t.Errorf("err %q: want the code %s and never the token", err, tc.code)
			}
			if n := s.Calls(discordstandin.RouteStartThread); n != 0 {
				t.Errorf("%d thread starts after a failed post", n)
			}
		})
	}
}

func TestThreadStartFailureThenReplyStartsIt(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	s.FailNext(discordstandin.RouteStartThread, 1, discordstandin.ServerError{})
	ref, err := c.PostRoot(ctx, testChannel, rootMessage(9, ""))
	if err != nil {
		t.Fatalf("root posted but PostRoot failed: %v", err)
	}
	if ref.ThreadID != ref.RootID || ref.RootID == "" {
		t.Fatalf("ref %+v: want thread id = root id", ref)
	}
	if len(s.Threads()) != 0 {
		t.Fatal("thread exists although its start failed")
	}
	if err := c.Reply(ctx, ref, bot.Message{Title: "1 change", Lines: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	th, ok := s.Thread(ref.ThreadID)
	if !ok || th.Parent != testChannel || th.Name != "P1 · #9 ServiceDown · orders-service" {
		t.Errorf("thread %+v (found %v): want it started late, named after the root", th, ok)
	}
	if n := len(s.Messages(ref.ThreadID)); n != 1 {
		t.Errorf("thread holds %d replies, want 1", n)
	}
	// And later replies go straight in.
	if err := c.Reply(ctx, ref, bot.Message{Title: "1 change", Lines: []string{"y"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls(discordstandin.RouteStartThread); got != 2 {
		t.Errorf("%d thread starts, want 2 (the failed one and the late one)", got)
	}
}

func TestThreadAlreadyCreatedIsSuccess(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	// The thread start is processed but its answer is lost.
	s.FailNext(discordstandin.RouteStartThread, 1, discordstandin.DropAfterProcessing{})
	ref, err := c.PostRoot(ctx, testChannel, rootMessage(10, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Thread(ref.ThreadID); !ok {
		t.Fatal("thread not started")
	}
	if err := c.startThread(ctx, ref, "again"); err != nil {
		t.Errorf("second start: %v, want success (160004 means it exists)", err)
	}
	if err := c.Reply(ctx, ref, bot.Message{Title: "1 change"}); err != nil {
		t.Fatal(err)
	}
}

func TestDroppedPostIsFoundAgain(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	since := time.Now()
	// Another incident's root and some chatter are in the channel too.
	if _, err := c.PostRoot(ctx, testChannel, rootMessage(20, "")); err != nil {
		t.Fatal(err)
	}
	s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.DropAfterProcessing{})
	m := rootMessage(21, "")
	_, err := c.PostRoot(ctx, testChannel, m)
	if err == nil || errors.Is(err, bot.ErrPermanent) {
		t.Fatalf("err %v: want a transient error for a dropped connection", err)
	}
	if n := len(s.Messages(testChannel)); n != 2 {
		t.Fatalf("%d messages, want the dropped post recorded", n)
	}
	ref, found, err := c.FindRoot(ctx, testChannel, m.Marker, since)
	if err != nil || !found {
		t.Fatalf("FindRoot: found %v, err %v", found, err)
	}
	if want := s.Messages(testChannel)[1].ID; ref.RootID != want || ref.ThreadID != want || ref.Channel != testChannel {
		t.Errorf("ref %+v, want root = thread = %s", ref, want)
	}
	if _, found, err := c.FindRoot(ctx, testChannel, outbox.Marker(2, "incidents"), since); err != nil || found {
		t.Errorf("FindRoot of an unposted marker: found %v, err %v", found, err)
	}
	if _, found, err := c.FindRoot(ctx, testChannel, m.Marker, time.Now().Add(time.Hour)); err != nil || found {
		t.Errorf("FindRoot after the post: found %v, err %v", found, err)
	}
	// Its thread was never started: the first reply starts it.
	if err := c.Reply(ctx, ref, bot.Message{Title: "1 change"}); err != nil {
		t.Fatal(err)
	}
	if s.Threads()[ref.ThreadID] != testChannel {
		t.Error("reply did not start the thread")
	}
}

// rawPost posts straight to the stand-in, bypassing the client's limits,
// to fill a channel quickly.
func rawPost(t *testing.T, s *discordstandin.Server, channel, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"channels/"+channel+"/messages", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bot x")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("raw post: %s", resp.Status)
	}
}

func TestFindRootPages(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	since := time.Now()
	for i := range 150 {
		rawPost(t, s, testChannel, fmt.Sprintf(`{"content":"chatter %d"}`, i))
	}
	marker := outbox.Marker(30, "incidents")
	rawPost(t, s, testChannel, `{"embeds":[{"title":"x","footer":{"text":"`+marker+`-eu"}}]}`)
	rawPost(t, s, testChannel, `{"embeds":[{"title":"x","footer":{"text":"`+marker+`"}}]}`)
	rawPost(t, s, testChannel, `{"content":"after"}`)
	ref, found, err := c.FindRoot(context.Background(), testChannel, marker, since)
	if err != nil || !found {
		t.Fatalf("found %v, err %v", found, err)
	}
	if want := s.Messages(testChannel)[151].ID; ref.RootID != want {
		t.Errorf("root %s, want %s (the exact marker, not the one it prefixes)", ref.RootID, want)
	}
	if n := s.Calls(discordstandin.RouteListMessages); n != 2 {
		t.Errorf("%d pages read, want 2", n)
	}

	// The scan is bounded.
	for i := range 600 {
		rawPost(t, s, "1100000000000000002", fmt.Sprintf(`{"content":"chatter %d"}`, i))
	}
	before := s.Calls(discordstandin.RouteListMessages)
	if _, found, err := c.FindRoot(context.Background(), "1100000000000000002", marker, since); err != nil || found {
		t.Fatalf("found %v, err %v", found, err)
	}
	if n := s.Calls(discordstandin.RouteListMessages) - before; n != findRootMaxPages {
		t.Errorf("%d pages read, want the bound %d", n, findRootMaxPages)
	}

	// Without a since, the newest pages are read.
	rawPost(t, s, "1100000000000000002", `{"embeds":[{"title":"x","footer":{"text":"`+marker+`"}}]}`)
	for i := range 150 {
		rawPost(t, s, "1100000000000000002", fmt.Sprintf(`{"content":"later chatter %d"}`, i))
	}
	before = s.Calls(discordstandin.RouteListMessages)
	ref, found, err = c.FindRoot(context.Background(), "1100000000000000002", marker, time.Time{})
	if err != nil || !found || ref.RootID != s.Messages("1100000000000000002")[600].ID {
		t.Fatalf("found %v (%+v), err %v", found, ref, err)
	}
	if n := s.Calls(discordstandin.RouteListMessages) - before; n != 2 {
		t.Errorf("%d pages read backwards, want 2", n)
	}
}

func TestOwnGlobalLimitHoldsBack(t *testing.T) {
	s := newStandin(t)
	reg := prometheus.NewRegistry()
	c, err := New(Config{Token: testToken, APIURL: s.URL(), GlobalRate: rate.Limit(0.1)}, bot.NewChatMetrics(reg), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref, err := c.PostRoot(ctx, testChannel, rootMessage(40, "")) // the root goes, the thread start waits 10 s: held back
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.EditRoot(ctx, ref, rootMessage(40, ""))
	var rl *bot.RateLimitedError
	if !errors.As(err, &rl) || rl.After < 5*time.Second {
		t.Fatalf("err %v: want RateLimitedError of several seconds", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("held the caller %s", time.Since(start))
	}
	if n := s.Calls(discordstandin.RouteEditMessage) + s.Calls(discordstandin.RouteStartThread); n != 0 {
		t.Errorf("%d calls made past the limiter", n)
	}
	got := counters(t, reg)
	if got[`chatops_chat_rate_limited_total{platform="discord",source="local"}`] != 2 ||
		got[`chatops_chat_calls_total{method="create_message",outcome="ok",platform="discord"}`] != 1 {
		t.Errorf("metrics %v", got)
	}
}

func counters(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestRouteBucketHoldsBack(t *testing.T) {
	s := newStandin(t)
	s.SetRouteLimit(0.2) // one request per 5 s per route and channel
	c := newClient(t, s, nil)
	ctx := context.Background()
	if _, err := c.PostRoot(ctx, testChannel, rootMessage(50, "")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.PostRoot(ctx, testChannel, rootMessage(51, ""))
	var rl *bot.RateLimitedError
	if !errors.As(err, &rl) || rl.After < 3*time.Second {
		t.Fatalf("err %v: want RateLimitedError from the exhausted bucket", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("held the caller %s", time.Since(start))
	}
	if n := s.Calls(discordstandin.RouteCreateMessage); n != 1 {
		t.Errorf("%d posts reached the server, want 1", n)
	}
	// Another channel has its own bucket.
	if _, err := c.PostRoot(ctx, "1100000000000000003", rootMessage(52, "")); err != nil {
		t.Fatal(err)
	}
}

func TestGlobal429PausesEveryCall(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.RateLimit{RetryAfter: 3 * time.Second, Global: true})
	_, err := c.PostRoot(ctx, testChannel, rootMessage(60, ""))
	var rl *bot.RateLimitedError
	if !errors.As(err, &rl) || rl.After != 3*time.Second {
		t.Fatalf("err %v: want RateLimitedError after 3s", err)
	}
	_, err = c.PostRoot(ctx, "1100000000000000004", rootMessage(61, ""))
	if !errors.As(err, &rl) || rl.After < 2*time.Second {
		t.Fatalf("err %v: want the global pause to hold other channels too", err)
	}
	if n := s.Calls(discordstandin.RouteCreateMessage); n != 1 {
		t.Errorf("%d posts reached the server during a global 429, want 1", n)
	}
}

func TestSlowAnswerTimesOutThenIsFound(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, func(cfg *Config) { cfg.CallTimeout = 100 * time.Millisecond })
	ctx := context.Background()
	since := time.Now()
	s.FailNext(discordstandin.RouteCreateMessage, 1, discordstandin.Slow{Delay: 300 * time.Millisecond})
	m := rootMessage(70, "")
	start := time.Now()
	_, err := c.PostRoot(ctx, testChannel, m)
	var rl *bot.RateLimitedError
	if err == nil || errors.Is(err, bot.ErrPermanent) || errors.As(err, &rl) {
		t.Fatalf("err %v: want a transient timeout", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("call took %s, want about the 100ms timeout", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(s.Messages(testChannel)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, found, err := c.FindRoot(ctx, testChannel, m.Marker, since); err != nil || !found {
		t.Errorf("FindRoot after a timed-out post: found %v, err %v", found, err)
	}
}

func TestNetworkErrorIsTransientAndHidesToken(t *testing.T) {
	s := discordstandin.New()
	c := newClient(t, s, nil)
	s.Close()
	_, err := c.PostRoot(context.Background(), testChannel, rootMessage(80, ""))
	if err == nil || errors.Is(err, bot.ErrPermanent) || strings.Contains(err.Error(), testToken) {
		t.Fatalf("err %v: want a transient error without the token", err)
	}
}

func TestConcurrentPosts(t *testing.T) {
	s := newStandin(t)
	c := newClient(t, s, func(cfg *Config) { cfg.GlobalRate = DefaultGlobalRate })
	channels := []string{"1100000000000000005", "1100000000000000006"}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		refs = map[string]bool{}
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, err := c.PostRoot(context.Background(), channels[i%2], rootMessage(int64(100+i), ""))
			if err != nil {
				t.Error(err)
				return
			}
			// Thread starts are paced per channel: a reply may be told to
			// come back later, as the dispatcher would.
			for {
				err := c.Reply(context.Background(), ref, bot.Message{Title: "1 change"})
				var rl *bot.RateLimitedError
				if errors.As(err, &rl) {
					time.Sleep(rl.After)
					continue
				}
				if err != nil {
					t.Error(err)
				}
				break
			}
			mu.Lock()
			refs[ref.RootID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(refs) != 20 || len(s.Threads()) != 20 {
		t.Errorf("%d distinct roots, %d threads, want 20 each", len(refs), len(s.Threads()))
	}
	if r := s.MaxGlobalRate(); r > float64(DefaultGlobalRate)+1 {
		t.Errorf("%v requests in one second, over the global limit", r)
	}
}

func TestNewConfig(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no token", Config{}, "no bot token"},
		{"bare Bot prefix", Config{Token: "Bot "}, "no bot token"},
		{"bad archive", Config{Token: "t", AutoArchive: 30}, "auto_archive"},
		{"bad url", Config{Token: "t", APIURL: "discord.com/api"}, "api_url"},
		{"negative rate", Config{Token: "t", GlobalRate: -1}, "rate"},
		{"defaults", Config{Token: "Bot t"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg, nil, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.APIURL != DefaultAPIURL || c.cfg.AutoArchive != 1440 || c.cfg.GlobalRate != 50 || c.cfg.CallTimeout != DefaultCallTimeout {
				t.Errorf("defaults %+v", c.cfg)
			}
			if c.s.Token != "Bot t" || c.cfg.Token != "" {
				t.Errorf("token handling: session %q, config %q", c.s.Token, c.cfg.Token)
			}
		})
	}
}

type recordingTransport struct{ urls []string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String()+" host="+req.Host)
	return nil, errors.New("recorded")
}

func TestTransportRewritesAPIBase(t *testing.T) {
	cases := []struct{ api, want string }{
		{DefaultAPIURL, "https://discord.com/api/v10/channels/1/messages?limit=5 host="},
		{"http://127.0.0.1:9/proxy/discord/api/v10/", "http://127.0.0.1:9/proxy/discord/api/v10/channels/1/messages?limit=5 host="},
	}
	for _, tc := range cases {
		tr, err := newTransport(tc.api)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordingTransport{}
		tr.base = rec
		req, _ := http.NewRequest(http.MethodGet, discordgo.EndpointChannelMessages("1")+"?limit=5", nil)
		tr.RoundTrip(req)
		if len(rec.urls) != 1 || rec.urls[0] != tc.want {
			t.Errorf("api %s: sent %v, want %s", tc.api, rec.urls, tc.want)
		}
	}
}

// Pacing keeps one limiter per key, and stays bounded: beyond maxPaced
// keys, idle limiters are dropped, busy ones kept.
func TestPaceBounded(t *testing.T) {
	c := &Client{}
	m := map[string]*rate.Limiter{}
	busy := c.pace(m, "busy", threadPostRate)
	if !busy.Allow() || c.pace(m, "busy", threadPostRate) != busy {
		t.Fatal("a key's limiter is not kept")
	}
	for i := range maxPaced {
		c.pace(m, fmt.Sprint(i), threadPostRate)
	}
	if len(m) > maxPaced {
		t.Fatalf("%d limiters kept, want at most %d", len(m), maxPaced)
	}
	if m["busy"] != busy {
		t.Fatal("a limiter with no tokens left was dropped: its thread would be paced afresh")
	}
}
