package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Who made a Slack call, as the front tells them apart: by the bearer
// token, Alertmanager's being the one the tool wrote into its
// slack_configs.
const (
	byChatops      = "chatops"
	byAlertmanager = "alertmanager"
)

// frontTimeout bounds one forwarded call: the stand-in answers at once
// unless it is told to be slow, which this mode never does.
const frontTimeout = 30 * time.Second

// maxFrontBody bounds what the front reads of a call; a chat message is
// far smaller.
const maxFrontBody = 8 << 20

// frontCall is one Slack Web API call as the front saw it.
type frontCall struct {
	At      time.Time `json:"at"`
	Caller  string    `json:"caller"`
	Method  string    `json:"method"`
	Channel string    `json:"channel"`
	// Thread: a chat.postMessage that names a thread_ts (a reply), not a
	// top-level post.
	Thread bool `json:"thread"`
	Status int  `json:"status"`
	// OK: Slack's own verdict, the answer's "ok" field.
	OK bool `json:"ok"`
}

// front stands between the Slack stand-in and its two clients in
// -via-alertmanager mode: chatops (slack-go's form posts) and
// Alertmanager's slack_configs, which POST JSON to their api_url. The
// stand-in reads forms only, so the front turns Alertmanager's JSON into
// the same fields as a form; and it records every call, by caller, method,
// channel and top-level or thread, which the stand-in's own counters do not
// split by client. Both clients' messages land in the one stand-in.
type front struct {
	srv     *httptest.Server
	target  string // the stand-in's Web API base URL, ending in "/"
	amToken string
	client  *http.Client

	mu    sync.Mutex
	calls []frontCall
}

// newFront starts a front on a loopback port that forwards to target.
func newFront(target, amToken string) *front {
	f := &front{target: target, amToken: amToken, client: &http.Client{
		Timeout:   frontTimeout,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32},
	}}
	f.srv = httptest.NewServer(f)
	return f
}

// URL is the Web API base URL to give a client; it ends in "/".
func (f *front) URL() string { return f.srv.URL + "/" }

func (f *front) Close() { f.srv.Close() }

// Calls are the calls that arrived in [from, to); a zero bound is open.
func (f *front) Calls(from, to time.Time) []frontCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []frontCall
	for _, c := range f.calls {
		if (from.IsZero() || !c.At.Before(from)) && (to.IsZero() || c.At.Before(to)) {
			out = append(out, c)
		}
	}
	return out
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFrontBody))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/")
	ctype := r.Header.Get("Content-Type")
	form := r.URL.Query()
	switch {
	case strings.HasPrefix(ctype, "application/json"):
		if form, err = jsonForm(body); err != nil {
			http.Error(w, "front: JSON body: "+err.Error(), http.StatusBadRequest)
			return
		}
		body, ctype = []byte(form.Encode()), "application/x-www-form-urlencoded"
	case strings.HasPrefix(ctype, "application/x-www-form-urlencoded"):
		if q, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range q {
				form[k] = v
			}
		}
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = form.Get("token")
	}
	call := frontCall{At: at, Caller: byChatops, Method: method, Channel: form.Get("channel"),
		Thread: method == "chat.postMessage" && form.Get("thread_ts") != ""}
	if token == f.amToken {
		call.Caller = byAlertmanager
	}

	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.target+method, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.URL.RawQuery = r.URL.RawQuery
	for k, v := range r.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Del("Content-Length")
	// The front reads the answer's "ok": let the transport ask for and
	// undo any compression itself.
	req.Header.Del("Accept-Encoding")
	resp, err := f.client.Do(req)
	if err != nil {
		call.Status = http.StatusBadGateway
		f.record(call)
		http.Error(w, "front: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxFrontBody))
	call.Status = resp.StatusCode
	var ok struct {
		OK bool `json:"ok"`
	}
	call.OK = json.Unmarshal(answer, &ok) == nil && ok.OK
	f.record(call)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (f *front) record(c frontCall) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

// jsonForm turns a JSON object into form fields as Slack's Web API takes
// them either way: strings as they are, anything else (attachments,
// link_names) as its JSON.
func jsonForm(body []byte) (url.Values, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			form.Set(k, s)
			continue
		}
		form.Set(k, string(raw))
	}
	return form, nil
}
