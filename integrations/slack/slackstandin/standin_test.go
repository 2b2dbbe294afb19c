package slackstandin

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func newClient(t *testing.T) (*Server, *slack.Client) {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	return s, slack.New("xoxb-test", slack.OptionAPIURL(s.URL()))
}

func TestPostReplyUpdateHistory(t *testing.T) {
	s, api := newClient(t)
	ctx := context.Background()
	md := slack.SlackMetadata{EventType: "chatops_incident", EventPayload: map[string]any{"marker": "m-1"}}
	ch, root, err := api.PostMessageContext(ctx, "C1",
		slack.MsgOptionText("root", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*root*", false, true), nil, nil)),
		slack.MsgOptionAttachments(slack.Attachment{Color: "#E01E5A"}),
		slack.MsgOptionMetadata(md))
	if err != nil || ch != "C1" || root == "" {
		t.Fatalf("post root: %q %q %v", ch, root, err)
	}
	_, reply, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(root))
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", root, slack.MsgOptionText("root v2", false)); err != nil {
		t.Fatalf("update: %v", err)
	}

	msgs := s.Messages("C1")
	if len(msgs) != 2 {
		t.Fatalf("messages: %+v", msgs)
	}
	r := msgs[0]
	if r.TS != root || r.ThreadTS != "" || r.Text != "root v2" || r.Edits != 1 {
		t.Errorf("root: %+v", r)
	}
	if !strings.Contains(string(r.Blocks), `"*root*"`) || !strings.Contains(string(r.Attachments), "#E01E5A") {
		t.Errorf("root kept blocks %s and attachments %s across the edit", r.Blocks, r.Attachments)
	}
	if r.Metadata.EventType != "chatops_incident" || r.Metadata.EventPayload["marker"] != "m-1" {
		t.Errorf("metadata: %+v", r.Metadata)
	}
	if msgs[1].TS != reply || msgs[1].ThreadTS != root || msgs[1].Text != "reply" {
		t.Errorf("reply: %+v", msgs[1])
	}
	if got := s.Replies("C1", root); len(got) != 1 || got[0].TS != reply {
		t.Errorf("Replies: %+v", got)
	}
	if got := s.Roots("C1"); len(got) != 1 || got[0].TS != root {
		t.Errorf("Roots: %+v", got)
	}
	if s.Calls(MethodPostMessage) != 2 || s.Calls(MethodUpdate) != 1 {
		t.Errorf("calls: post %d update %d", s.Calls(MethodPostMessage), s.Calls(MethodUpdate))
	}

	// History shows roots only; metadata only when asked for.
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Timestamp != root || h.Messages[0].Metadata.EventPayload["marker"] != "m-1" || h.Messages[0].ReplyCount != 1 {
		t.Fatalf("history: %+v", h.Messages)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Metadata.EventType != "" {
		t.Fatalf("history without include_all_metadata: %+v %v", h, err)
	}
}

func TestTimestampsUniqueWithinOneSecond(t *testing.T) {
	s, api := newClient(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	msgs := s.Messages("C1")
	seen := map[string]bool{}
	for i, m := range msgs {
		if seen[m.TS] {
			t.Fatalf("ts %s handed out twice", m.TS)
		}
		seen[m.TS] = true
		if i > 0 && !(msgs[i-1].TS < m.TS) {
			t.Fatalf("ts not increasing: %s then %s", msgs[i-1].TS, m.TS)
		}
	}
	if len(msgs) != 20 {
		t.Fatalf("%d messages", len(msgs))
	}
}

func TestHistoryOldestAndPaging(t *testing.T) {
	s, api := newClient(t)
	var tss []string
	for range 5 {
		_, ts, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
		if err != nil {
			t.Fatal(err)
		}
		tss = append(tss, ts)
	}
	var got []string
	params := &slack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: tss[1], Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		h, err := api.GetConversationHistory(params)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range h.Messages {
			got = append(got, m.Timestamp)
		}
		if !h.HasMore {
			break
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
	want := []string{tss[4], tss[3], tss[2]} // newest first, oldest exclusive
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("history = %v, want %v", got, want)
	}
	if s.Calls(MethodHistory) != 2 {
		t.Errorf("history calls = %d", s.Calls(MethodHistory))
	}
}

func TestFaults(t *testing.T) {
	s, api := newClient(t)
	ctx := context.Background()
	post := func() (string, error) {
		_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
		return ts, err
	}

	s.FailNext(MethodPostMessage, 1, RateLimit{RetryAfter: 1500 * time.Millisecond})
	_, err := post()
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("rate limit: %v", err)
	}

	s.FailNext(MethodPostMessage, 2, ServerError{})
	for range 2 {
		var sc slack.StatusCodeError
		if _, err := post(); !errors.As(err, &sc) || sc.Code != 500 {
			t.Fatalf("server error: %v", err)
		}
	}

	s.FailNext(MethodPostMessage, 1, SlackError{Code: "channel_not_found"})
	if _, err := post(); err == nil || err.Error() != "channel_not_found" {
		t.Fatalf("slack error: %v", err)
	}
	if n := len(s.Messages("C1")); n != 0 {
		t.Fatalf("faults processed %d posts", n)
	}

	s.FailNext(MethodPostMessage, 1, Slow{Delay: 100 * time.Millisecond})
	start := time.Now()
	if _, err := post(); err != nil || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("slow: %v after %s", err, time.Since(start))
	}

	s.FailNext(MethodPostMessage, 1, DropAfterProcessing{})
	if _, err := post(); err == nil {
		t.Fatal("dropped connection: no error")
	}
	if n := len(s.Messages("C1")); n != 2 {
		t.Fatalf("after slow and drop: %d messages, want 2 (both processed)", n)
	}
	// The queue is used up: calls answer normally again.
	if _, err := post(); err != nil {
		t.Fatal(err)
	}
	if s.Calls(MethodPostMessage) != 7 {
		t.Errorf("calls = %d, want 7", s.Calls(MethodPostMessage))
	}
}

func TestSlowGivesUpOnClose(t *testing.T) {
	s := New()
	api := slack.New("xoxb-test", slack.OptionAPIURL(s.URL()))
	s.FailNext(MethodPostMessage, 1, Slow{Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
		done <- err
	}()
	for s.Calls(MethodPostMessage) == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a slow answer")
	}
	<-done
}

func TestRateLimitAndMaxPostRate(t *testing.T) {
	s, api := newClient(t)
	s.SetRateLimit(1)
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("1", false)); err != nil {
		t.Fatal(err)
	}
	_, _, err := api.PostMessage("C1", slack.MsgOptionText("2", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("second post within a second: %v", err)
	}
	// Another channel has its own budget.
	if _, _, err := api.PostMessage("C2", slack.MsgOptionText("1", false)); err != nil {
		t.Fatal(err)
	}
	if got := s.MaxPostRate("C1"); got != 2 {
		t.Errorf("MaxPostRate(C1) = %v, want 2 (the refused post counts)", got)
	}
	if got := s.MaxPostRate("C2"); got != 1 {
		t.Errorf("MaxPostRate(C2) = %v", got)
	}
	if n := len(s.Messages("C1")); n != 1 {
		t.Errorf("%d messages in C1", n)
	}
}

func TestRateLimitedCountAndMaxRateWindows(t *testing.T) {
	s, api := newClient(t)
	s.SetRateLimit(1)
	before := time.Now()
	for range 3 {
		_, _, _ = api.PostMessage("C1", slack.MsgOptionText("x", false))
	}
	s.FailNext(MethodUpdate, 1, RateLimit{RetryAfter: time.Second})
	_, _, _, _ = api.UpdateMessage("C1", "1.000001", slack.MsgOptionText("x", false))
	if got := s.RateLimited(""); got != 3 {
		t.Errorf("RateLimited(all) = %d, want 3 (two posts over the limit, one queued fault)", got)
	}
	if got, got2 := s.RateLimited(MethodPostMessage), s.RateLimited(MethodUpdate); got != 2 || got2 != 1 {
		t.Errorf("RateLimited(post) = %d, RateLimited(update) = %d, want 2 and 1", got, got2)
	}
	if got := s.MaxRate(MethodPostMessage, "C1", time.Second, before, time.Time{}); got != 3 {
		t.Errorf("MaxRate(post, C1, 1s, since before) = %v, want 3", got)
	}
	if got := s.MaxRate(MethodPostMessage, "C1", time.Second, time.Now(), time.Time{}); got != 0 {
		t.Errorf("MaxRate from now = %v, want 0", got)
	}
	if got := s.MaxRate(MethodPostMessage, "C1", time.Second, time.Time{}, before); got != 0 {
		t.Errorf("MaxRate until before = %v, want 0", got)
	}
	if got := s.MaxRate(MethodUpdate, "", time.Minute, time.Time{}, time.Time{}); got != 1 {
		t.Errorf("MaxRate(update, all channels) = %v, want 1", got)
	}
}

func TestSetDown(t *testing.T) {
	s, api := newClient(t)
	ctx := context.Background()
	_, root, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("root", false))
	if err != nil {
		t.Fatal(err)
	}
	s.FailNext(MethodPostMessage, 1, ServerError{})
	s.SetDown(true)
	var sc slack.StatusCodeError
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); !errors.As(err, &sc) || sc.Code != 503 {
		t.Fatalf("post while down: %v, want HTTP 503", err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", root, slack.MsgOptionText("v2", false)); !errors.As(err, &sc) || sc.Code != 503 {
		t.Fatalf("update while down: %v, want HTTP 503", err)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"}); !errors.As(err, &sc) || sc.Code != 503 {
		t.Fatalf("history while down: %v, want HTTP 503", err)
	}
	if got := s.Messages("C1"); len(got) != 1 || got[0].Text != "root" || got[0].Edits != 0 {
		t.Fatalf("a call was processed while down: %+v", got)
	}
	if s.Calls(MethodPostMessage) != 2 || s.Calls(MethodUpdate) != 1 || s.Calls(MethodHistory) != 1 {
		t.Errorf("calls while down not counted: post %d update %d history %d",
			s.Calls(MethodPostMessage), s.Calls(MethodUpdate), s.Calls(MethodHistory))
	}

	s.SetDown(false)
	// The fault queued before the outage is still there for the next call.
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); !errors.As(err, &sc) || sc.Code != 500 {
		t.Fatalf("first post after the outage: %v, want the queued 500", err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", root, slack.MsgOptionText("v2", false)); err != nil {
		t.Fatalf("update after the outage: %v", err)
	}
	if got := s.Messages("C1"); len(got) != 1 || got[0].Text != "v2" {
		t.Fatalf("after the outage: %+v", got)
	}
}

func TestRejectsWhatSlackRejects(t *testing.T) {
	s, api := newClient(t)
	long := strings.Repeat("x", 151)
	cases := map[string][]slack.MsgOption{
		"invalid_blocks": {slack.MsgOptionBlocks(slack.NewHeaderBlock(slack.NewTextBlockObject("plain_text", long, false, false)))},
		"no_text":        {slack.MsgOptionText("", false)},
		"msg_too_long":   {slack.MsgOptionText(strings.Repeat("x", 40001), false)},
	}
	for want, opts := range cases {
		if _, _, err := api.PostMessage("C1", opts...); err == nil || err.Error() != want {
			t.Errorf("%s: got %v", want, err)
		}
	}
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001")); err == nil || err.Error() != "thread_not_found" {
		t.Errorf("reply to nothing: %v", err)
	}
	if _, err := slack.New("", slack.OptionAPIURL(s.URL())).AuthTest(); err == nil || err.Error() != "not_authed" {
		t.Errorf("auth.test without a token: %v", err)
	}
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("auth.test: %v", err)
	}
}

func TestUnknownMethod(t *testing.T) {
	s, api := newClient(t)
	_, err := api.GetUserGroupMembers("S0ONCALL")
	if err == nil || err.Error() != "unknown_method" {
		t.Fatalf("unknown method: %v", err)
	}
	if s.Calls("unknown") != 1 {
		t.Errorf("unknown calls = %d", s.Calls("unknown"))
	}
}

func TestMessagesAreCopies(t *testing.T) {
	s, api := newClient(t)
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false), slack.MsgOptionBlocks(slack.NewDividerBlock())); err != nil {
		t.Fatal(err)
	}
	m := s.Messages("C1")[0]
	m.Blocks[0] = 'X'
	if !json.Valid(s.Messages("C1")[0].Blocks) {
		t.Fatal("Messages shares its blocks with the server")
	}
}

// A FaultFunc faults the calls it chooses, after the queued faults, and
// only those: a faulted post records nothing.
func TestFaultFunc(t *testing.T) {
	s, api := newClient(t)
	ctx := context.Background()
	var asked []string
	s.SetFaultFunc(func(method string) Fault {
		asked = append(asked, method)
		if len(asked)%2 == 1 {
			return ServerError{}
		}
		return nil
	})
	s.FailNext(MethodPostMessage, 1, RateLimit{RetryAfter: time.Second})
	var rl *slack.RateLimitedError
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); !errors.As(err, &rl) {
		t.Fatalf("queued fault first: %v", err)
	}
	if len(asked) != 0 {
		t.Fatalf("FaultFunc asked %v while a queued fault was due", asked)
	}
	var sc slack.StatusCodeError
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); !errors.As(err, &sc) || sc.Code != 500 {
		t.Fatalf("FaultFunc's server error: %v", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("FaultFunc's no fault: %v", err)
	}
	if n := len(s.Messages("C1")); n != 1 {
		t.Fatalf("%d messages, want 1 (faulted calls post nothing)", n)
	}
	s.SetFaultFunc(nil)
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("after SetFaultFunc(nil): %v", err)
	}
	if want := []string{MethodPostMessage, MethodPostMessage}; !slices.Equal(asked, want) {
		t.Errorf("FaultFunc asked for %v, want %v", asked, want)
	}
}
