package discordstandin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const channel = "1100000000000000001"

func newServer(t *testing.T) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	return s
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	list   []map[string]any
}

func do(t *testing.T, s *Server, method, path, body string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &a.list); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	} else if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s answered %q: %v", method, path, raw, err)
	}
	return a
}

func (a answer) code() int {
	c, _ := a.body["code"].(float64)
	return int(c)
}

func post(t *testing.T, s *Server, ch, body string) string {
	t.Helper()
	a := do(t, s, http.MethodPost, "channels/"+ch+"/messages", body)
	if a.status != http.StatusOK {
		t.Fatalf("post: %d %v", a.status, a.body)
	}
	return a.body["id"].(string)
}

func TestUnauthorized(t *testing.T) {
	s := newServer(t)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"channels/"+channel+"/messages", strings.NewReader(`{"content":"x"}`))
	req.Header.Set("Authorization", "token-without-prefix")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(s.Messages(channel)) != 0 {
		t.Errorf("status %d, %d messages", resp.StatusCode, len(s.Messages(channel)))
	}
}

func TestCreateEditAndIDs(t *testing.T) {
	s := newServer(t)
	a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"hi <@&42> @everyone","allowed_mentions":{"parse":[],"roles":["42"]},"embeds":[{"title":"t"}]}`)
	if a.status != http.StatusOK || a.body["channel_id"] != channel || a.body["author"].(map[string]any)["bot"] != true {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Bucket"} {
		if a.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	id := a.body["id"].(string)
	next := post(t, s, channel, `{"content":"second"}`)
	if a, b := mustUint(t, id), mustUint(t, next); b <= a || time.UnixMilli(int64(a>>22)+discordEpoch).Sub(time.Now()).Abs() > time.Minute {
		t.Errorf("ids %d then %d: want increasing snowflakes of now", a, b)
	}
	m := s.Messages(channel)[0]
	if len(m.MentionRoles) != 1 || m.MentionRoles[0] != "42" || m.MentionEveryone {
		t.Errorf("mentions %v everyone %v", m.MentionRoles, m.MentionEveryone)
	}

	e := do(t, s, http.MethodPatch, "channels/"+channel+"/messages/"+id, `{"content":"edited"}`)
	if e.status != http.StatusOK || e.body["edited_timestamp"] == nil {
		t.Fatalf("edit: %d %v", e.status, e.body)
	}
	m = s.Messages(channel)[0]
	if m.Content != "edited" || m.Edits != 1 || !strings.Contains(string(m.Embeds), `"title":"t"`) {
		t.Errorf("after edit %+v: content replaced, embeds kept", m)
	}
	if e := do(t, s, http.MethodPatch, "channels/"+channel+"/messages/1", `{"content":"x"}`); e.status != 404 || e.code() != codeUnknownMessage {
		t.Errorf("edit of unknown message: %d %v", e.status, e.body)
	}
	if g := do(t, s, http.MethodGet, "channels/"+channel+"/messages/"+id, ""); g.status != 200 || g.body["content"] != "edited" {
		t.Errorf("get: %d %v", g.status, g.body)
	}
	if s.Calls(RouteCreateMessage) != 2 || s.Calls(RouteEditMessage) != 2 || s.Calls(RouteGetMessage) != 1 {
		t.Errorf("calls %v", s.AllCalls())
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDefaultMentionsPingEverything(t *testing.T) {
	s := newServer(t)
	post(t, s, channel, `{"content":"<@&42> @here"}`)
	if m := s.Messages(channel)[0]; len(m.MentionRoles) != 1 || !m.MentionEveryone {
		t.Errorf("without allowed_mentions Discord parses everything: %v %v", m.MentionRoles, m.MentionEveryone)
	}
}

func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	field := fmt.Sprintf(`{"name":"n","value":%q}`, long(1000))
	fields := strings.TrimSuffix(strings.Repeat(field+",", 7), ",")
	cases := []struct {
		name, body string
		code       int
	}{
		{"empty", `{"content":""}`, codeEmptyMessage},
		{"bad json", `{"content":`, codeInvalidJSON},
		{"content", fmt.Sprintf(`{"content":%q}`, long(2001)), codeInvalidFormBody},
		{"title", fmt.Sprintf(`{"embeds":[{"title":%q}]}`, long(257)), codeInvalidFormBody},
		{"description", fmt.Sprintf(`{"embeds":[{"description":%q}]}`, long(4097)), codeInvalidFormBody},
		{"empty field", `{"embeds":[{"fields":[{"name":"n","value":""}]}]}`, codeInvalidFormBody},
		{"field value", fmt.Sprintf(`{"embeds":[{"fields":[{"name":"n","value":%q}]}]}`, long(1025)), codeInvalidFormBody},
		{"embed total", fmt.Sprintf(`{"embeds":[{"fields":[%s]}]}`, fields), codeInvalidFormBody},
		{"footer", fmt.Sprintf(`{"embeds":[{"footer":{"text":%q}}]}`, long(2049)), codeInvalidFormBody},
		{"six buttons", `{"components":[{"type":1,"components":[` + strings.TrimSuffix(strings.Repeat(`{"type":2,"style":2,"label":"x","custom_id":"a"},`, 6), ",") + `]}]}`, codeInvalidFormBody},
		{"custom id", fmt.Sprintf(`{"components":[{"type":1,"components":[{"type":2,"style":2,"label":"x","custom_id":%q}]}]}`, long(101)), codeInvalidFormBody},
		{"no custom id", `{"components":[{"type":1,"components":[{"type":2,"style":2,"label":"x"}]}]}`, codeInvalidFormBody},
		{"duplicate custom id", `{"components":[{"type":1,"components":[{"type":2,"style":2,"label":"x","custom_id":"a"},{"type":2,"style":2,"label":"y","custom_id":"a"}]}]}`, codeInvalidFormBody},
		{"roles twice", `{"content":"x","allowed_mentions":{"parse":["roles"],"roles":["1"]}}`, codeInvalidFormBody},
		{"role not snowflake", `{"content":"x","allowed_mentions":{"parse":[],"roles":["oncall"]}}`, codeInvalidFormBody},
	}
	s := newServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", tc.body)
			if a.status != http.StatusBadRequest || a.code() != tc.code {
				t.Errorf("%d %v, want 400 code %d", a.status, a.body, tc.code)
			}
			if tc.code == codeInvalidFormBody && a.body["errors"] == nil {
				t.Error("no errors detail")
			}
		})
	}
	if n := len(s.Messages(channel)); n != 0 {
		t.Errorf("%d invalid messages stored", n)
	}
}

func TestThreads(t *testing.T) {
	s := newServer(t)
	root := post(t, s, channel, `{"content":"root"}`)
	path := "channels/" + channel + "/messages/" + root + "/threads"

	// Posting in a thread that was never started: Unknown Channel.
	if a := do(t, s, http.MethodPost, "channels/"+root+"/messages", `{"content":"x"}`); a.status != 404 || a.code() != codeUnknownChannel {
		t.Errorf("post in missing thread: %d %v", a.status, a.body)
	}
	if a := do(t, s, http.MethodPost, path, `{"name":"t","auto_archive_duration":30}`); a.status != 400 {
		t.Errorf("archive 30: %d", a.status)
	}
	if a := do(t, s, http.MethodPost, path, fmt.Sprintf(`{"name":%q}`, strings.Repeat("n", 101))); a.status != 400 {
		t.Errorf("name of 101: %d", a.status)
	}
	a := do(t, s, http.MethodPost, path, `{"name":"incident","auto_archive_duration":1440}`)
	if a.status != http.StatusCreated || a.body["id"] != root || a.body["parent_id"] != channel || a.body["type"] != float64(11) {
		t.Fatalf("start: %d %v", a.status, a.body)
	}
	if a := do(t, s, http.MethodPost, path, `{"name":"incident"}`); a.status != 400 || a.code() != codeThreadAlreadyCreated {
		t.Errorf("second start: %d %v", a.status, a.body)
	}
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages/1/threads", `{"name":"x"}`); a.status != 404 || a.code() != codeUnknownMessage {
		t.Errorf("start on unknown message: %d %v", a.status, a.body)
	}
	reply := post(t, s, root, `{"content":"in thread"}`)
	if a := do(t, s, http.MethodPost, "channels/"+root+"/messages/"+reply+"/threads", `{"name":"x"}`); a.status != 400 || a.code() != codeWrongChannelType {
		t.Errorf("thread in a thread: %d %v", a.status, a.body)
	}
	s.ArchiveThread(root)
	post(t, s, root, `{"content":"again"}`)
	if th, _ := s.Thread(root); th.Archived || th.AutoArchive != 1440 || th.Name != "incident" {
		t.Errorf("thread %+v: posting must unarchive", th)
	}
	if got := s.Threads(); len(got) != 1 || got[root] != channel {
		t.Errorf("threads %v", got)
	}
	if n := len(s.Messages(root)); n != 2 {
		t.Errorf("%d messages in the thread, want 2", n)
	}
	list := do(t, s, http.MethodGet, "channels/"+channel+"/messages", "")
	if len(list.list) != 1 || list.list[0]["thread"] == nil {
		t.Errorf("list %v: the root carries its thread", list.list)
	}
}

func TestUnknownChannels(t *testing.T) {
	s := newServer(t)
	s.DeleteChannel(channel)
	for _, ch := range []string{channel, "general"} {
		if a := do(t, s, http.MethodPost, "channels/"+ch+"/messages", `{"content":"x"}`); a.status != 404 || a.code() != codeUnknownChannel {
			t.Errorf("channel %s: %d %v", ch, a.status, a.body)
		}
	}
}

func TestListOrderAndPaging(t *testing.T) {
	s := newServer(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, post(t, s, channel, fmt.Sprintf(`{"content":"%d"}`, i)))
	}
	got := func(q string) []string {
		a := do(t, s, http.MethodGet, "channels/"+channel+"/messages"+q, "")
		var out []string
		for _, m := range a.list {
			out = append(out, m["content"].(string))
		}
		return out
	}
	cases := map[string]string{
		"":                               "6 5 4 3 2 1 0",
		"?limit=2":                       "6 5",
		"?after=" + ids[1] + "&limit=3":  "4 3 2",
		"?after=0&limit=2":               "1 0",
		"?before=" + ids[5] + "&limit=2": "4 3",
	}
	for q, want := range cases {
		if g := strings.Join(got(q), " "); g != want {
			t.Errorf("list%s = %q, want %q", q, g, want)
		}
	}
	if a := do(t, s, http.MethodGet, "channels/"+channel+"/messages?limit=101", ""); a.status != 400 {
		t.Errorf("limit 101: %d", a.status)
	}
}

func TestFaults(t *testing.T) {
	s := newServer(t)
	s.FailNext(RouteCreateMessage, 1, RateLimit{RetryAfter: 1500 * time.Millisecond})
	s.FailNext(RouteCreateMessage, 2, ServerError{})
	s.FailNext(RouteCreateMessage, 1, Status{Code: 403, APICode: 50001, Message: "Missing Access"})

	a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`)
	if a.status != 429 || a.header.Get("Retry-After") != "2" || a.body["retry_after"] != 1.5 || a.body["global"] != false ||
		a.body["message"] != "You are being rate limited." {
		t.Errorf("rate limit: %d %v %v", a.status, a.header, a.body)
	}
	for range 2 {
		if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`); a.status != 500 {
			t.Errorf("server error: %d", a.status)
		}
	}
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`); a.status != 403 || a.code() != 50001 {
		t.Errorf("status: %d %v", a.status, a.body)
	}
	if len(s.Messages(channel)) != 0 {
		t.Error("a faulted request was processed")
	}
	post(t, s, channel, `{"content":"x"}`)
	if s.Calls(RouteCreateMessage) != 5 {
		t.Errorf("calls %d, want 5", s.Calls(RouteCreateMessage))
	}

	s.FailNext(RouteCreateMessage, 1, Slow{Delay: 100 * time.Millisecond})
	start := time.Now()
	post(t, s, channel, `{"content":"slow"}`)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("slow answer took %s", d)
	}

	s.FailNext(RouteCreateMessage, 1, DropAfterProcessing{})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"channels/"+channel+"/messages", strings.NewReader(`{"content":"dropped"}`))
	req.Header.Set("Authorization", "Bot token")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %s", resp.Status)
	}
	ms := s.Messages(channel)
	if ms[len(ms)-1].Content != "dropped" {
		t.Error("the dropped request was not processed")
	}
}

func TestRouteLimit(t *testing.T) {
	s := newServer(t)
	s.SetRouteLimit(5)
	ok, limited := 0, 0
	for range 8 {
		a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`)
		switch a.status {
		case 200:
			ok++
			if a.header.Get("X-RateLimit-Limit") != "5" {
				t.Errorf("limit header %q", a.header.Get("X-RateLimit-Limit"))
			}
		case 429:
			limited++
			if a.header.Get("Retry-After") == "" || a.body["retry_after"].(float64) <= 0 {
				t.Errorf("429 without retry after: %v %v", a.header, a.body)
			}
		}
	}
	if ok != 5 || limited != 3 {
		t.Errorf("%d accepted, %d limited, want 5 and 3", ok, limited)
	}
	if r := s.MaxRate(channel); r != 8 {
		t.Errorf("MaxRate %v, want 8 (every request counts)", r)
	}
	post(t, s, "1100000000000000002", `{"content":"other channel, other bucket"}`)
	if r := s.MaxGlobalRate(); r != 9 {
		t.Errorf("MaxGlobalRate %v, want 9", r)
	}
}

func TestRateLimitedAndMaxRouteRate(t *testing.T) {
	s := newServer(t)
	s.SetRouteLimit(1)
	before := time.Now()
	id := post(t, s, channel, `{"content":"root"}`)
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`); a.status != 429 {
		t.Fatalf("second post within the window: %d", a.status)
	}
	// Another route on the same channel has a budget of its own.
	if a := do(t, s, http.MethodPatch, "channels/"+channel+"/messages/"+id, `{"content":"v2"}`); a.status != 200 {
		t.Fatalf("edit: %d %v", a.status, a.body)
	}
	s.FailNext(RouteEditMessage, 1, RateLimit{RetryAfter: time.Second})
	if a := do(t, s, http.MethodPatch, "channels/"+channel+"/messages/"+id, `{"content":"v3"}`); a.status != 429 {
		t.Fatalf("queued 429: %d", a.status)
	}
	if got := s.RateLimited(""); got != 2 {
		t.Errorf("RateLimited(all) = %d, want 2 (one over the route limit, one queued)", got)
	}
	if c, e := s.RateLimited(RouteCreateMessage), s.RateLimited(RouteEditMessage); c != 1 || e != 1 {
		t.Errorf("RateLimited(create) = %d, RateLimited(edit) = %d, want 1 and 1", c, e)
	}
	if got := s.MaxRouteRate(RouteCreateMessage, channel, before, time.Time{}); got != 2 {
		t.Errorf("MaxRouteRate(create) = %v, want 2", got)
	}
	if got := s.MaxRouteRate(RouteEditMessage, channel, time.Time{}, time.Time{}); got != 2 {
		t.Errorf("MaxRouteRate(edit) = %v, want 2", got)
	}
	if got := s.MaxRouteRate("", channel, time.Time{}, time.Time{}); got != 4 {
		t.Errorf("MaxRouteRate(all routes) = %v, want 4", got)
	}
	if got := s.MaxRouteRate("", "", time.Now(), time.Time{}); got != 0 {
		t.Errorf("MaxRouteRate from now = %v, want 0", got)
	}
	if got := s.MaxRouteRate("", "", time.Time{}, before); got != 0 {
		t.Errorf("MaxRouteRate until before = %v, want 0", got)
	}
}

func TestSetDown(t *testing.T) {
	s := newServer(t)
	id := post(t, s, channel, `{"content":"root"}`)
	s.FailNext(RouteCreateMessage, 1, ServerError{})
	s.SetDown(true)
	for _, r := range []struct{ method, path, body string }{
		{http.MethodPost, "channels/" + channel + "/messages", `{"content":"x"}`},
		{http.MethodPatch, "channels/" + channel + "/messages/" + id, `{"content":"v2"}`},
		{http.MethodGet, "channels/" + channel + "/messages?limit=10", ""},
		{http.MethodPost, "channels/" + channel + "/messages/" + id + "/threads", `{"name":"t"}`},
	} {
		if a := do(t, s, r.method, r.path, r.body); a.status != http.StatusServiceUnavailable {
			t.Errorf("%s %s while down: %d %v, want 503", r.method, r.path, a.status, a.body)
		}
	}
	if ms := s.Messages(channel); len(ms) != 1 || ms[0].Content != "root" || ms[0].Edits != 0 || len(s.Threads()) != 0 {
		t.Fatalf("a request was processed while down: %+v, threads %v", ms, s.Threads())
	}
	if got := s.AllCalls(); got[RouteCreateMessage] != 2 || got[RouteEditMessage] != 1 || got[RouteListMessages] != 1 || got[RouteStartThread] != 1 {
		t.Errorf("calls while down not counted: %v", got)
	}

	s.SetDown(false)
	// The fault queued before the outage is still there for the next call.
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`); a.status != 500 {
		t.Fatalf("first post after the outage: %d, want the queued 500", a.status)
	}
	if a := do(t, s, http.MethodPatch, "channels/"+channel+"/messages/"+id, `{"content":"v2"}`); a.status != 200 {
		t.Fatalf("edit after the outage: %d %v", a.status, a.body)
	}
	if ms := s.Messages(channel); len(ms) != 1 || ms[0].Content != "v2" {
		t.Fatalf("after the outage: %+v", ms)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newServer(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := fmt.Sprintf("11000000000000000%02d", i%3)
			id := post(t, s, ch, `{"content":"x"}`)
			do(t, s, http.MethodPost, "channels/"+ch+"/messages/"+id+"/threads", `{"name":"t"}`)
			_ = s.Messages(ch)
			_ = s.Threads()
		}()
	}
	wg.Wait()
	if len(s.Threads()) != 20 {
		t.Errorf("%d threads", len(s.Threads()))
	}
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	if got := maxInWindow(at(0, 100, 999, 1000, 1500, 1998), time.Second); got != 4 {
		t.Errorf("got %v, want 4 (999..1998)", got)
	}
	if got := maxInWindow(nil, time.Second); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

// A FaultFunc faults the requests it chooses, after the queued faults,
// and only those: a faulted post records nothing.
func TestFaultFunc(t *testing.T) {
	s := newServer(t)
	var asked []string
	s.SetFaultFunc(func(route string) Fault {
		asked = append(asked, route)
		if len(asked)%2 == 1 {
			return RateLimit{RetryAfter: time.Second}
		}
		return nil
	})
	s.FailNext(RouteCreateMessage, 1, ServerError{})
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`); a.status != 500 || len(asked) != 0 {
		t.Fatalf("queued fault first: %d, FaultFunc asked %v", a.status, asked)
	}
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"x"}`); a.status != 429 || a.header.Get("Retry-After") != "1" {
		t.Fatalf("FaultFunc's rate limit: %d %v", a.status, a.header)
	}
	post(t, s, channel, `{"content":"x"}`)
	if n := len(s.Messages(channel)); n != 1 {
		t.Fatalf("%d messages, want 1 (faulted requests post nothing)", n)
	}
	s.SetFaultFunc(nil)
	post(t, s, channel, `{"content":"x"}`)
	if want := []string{RouteCreateMessage, RouteCreateMessage}; !slices.Equal(asked, want) {
		t.Errorf("FaultFunc asked for %v, want %v", asked, want)
	}
}
