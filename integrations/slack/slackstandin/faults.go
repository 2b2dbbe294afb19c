package slackstandin

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault disturbs one call: RateLimit, ServerError, Slow,
// DropAfterProcessing or SlackError.
type Fault interface{ fault() }

// RateLimit answers HTTP 429 with a Retry-After header of RetryAfter,
// rounded up to whole seconds as Slack sends it. Nothing is processed.
type RateLimit struct{ RetryAfter time.Duration }

// ServerError answers HTTP 500 with an HTML body, as Slack's edge does.
// Nothing is processed.
type ServerError struct{}

// Slow waits Delay, then processes the call and answers normally, even if
// the client gave up meanwhile (its outcome is then unknown to it).
type Slow struct{ Delay time.Duration }

// DropAfterProcessing processes the call (a post is recorded), then closes
// the connection without answering: "posted, then the connection dropped".
type DropAfterProcessing struct{}

// SlackError answers HTTP 200 {"ok": false, "error": Code} without
// processing: channel_not_found, invalid_auth, missing_scope...
type SlackError struct{ Code string }

func (RateLimit) fault()           {}
func (ServerError) fault()         {}
func (Slow) fault()                {}
func (DropAfterProcessing) fault() {}
func (SlackError) fault()          {}

// FailNext makes the next n calls of method meet f, after any faults
// already queued for it.
func (s *Server) FailNext(method string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], f)
	}
}

// FaultFunc chooses the fault, if any, for one call of method that no
// queued fault (FailNext) claimed: a soak fails a share of calls at random
// with it. It is called with the stand-in's lock held, so it must not call
// the stand-in; nil means no fault.
type FaultFunc func(method string) Fault

// SetFaultFunc makes every later call of a method the stand-in owns ask f
// for its fault once the FailNext queue of that method is empty; nil turns
// it off.
func (s *Server) SetFaultFunc(f FaultFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultFunc = f
}

// rateWindow is the window post rates are measured over. jitterAllowance
// is taken off it: a client that paces posts exactly one second apart can
// see two of them arrive a hair closer than that (the first one also
// opened the connection), and neither Slack nor a test should hold the
// client to microseconds.
const (
	rateWindow      = time.Second
	jitterAllowance = 50 * time.Millisecond
)

// SetRateLimit makes chat.postMessage answer 429 (Retry-After: 1), without
// posting, when a channel receives posts faster than perChannelPerSecond
// (Slack: about 1). Zero or less turns the check off.
func (s *Server) SetRateLimit(perChannelPerSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = perChannelPerSecond
}

// overRate reports whether one more post to channel now would exceed the
// rate limit. The caller holds s.mu.
func (s *Server) overRate(channel string, now time.Time) bool {
	if s.rateLimit <= 0 {
		return false
	}
	window, allowed := rateWindow, s.rateLimit
	if s.rateLimit < 1 {
		window, allowed = time.Duration(float64(time.Second)/s.rateLimit), 1
	}
	window -= jitterAllowance
	n := 0
	for _, t := range s.accepted[channel] {
		if now.Sub(t) < window {
			n++
		}
	}
	return float64(n+1) > allowed
}

// MaxPostRate is the most chat.postMessage requests channel received in
// any one-second window (less the jitter allowance), answered or not: the
// figure to hold against Slack's limit of about one a second.
func (s *Server) MaxPostRate(channel string) float64 {
	return s.MaxRate(MethodPostMessage, channel, rateWindow, time.Time{}, time.Time{})
}

// MaxRate is the most requests of method (one the stand-in owns) that
// channel received in any window of the given length (less the jitter
// allowance), answered or not, counting only requests that arrived in
// [from, to): a zero from or to leaves that end open. An empty channel
// counts every channel together (chat.update's limit is per workspace).
// A benchmark uses it to look at one phase of a run, for example the
// minutes after an outage, or chat.update calls per minute.
func (s *Server) MaxRate(method, channel string, window time.Duration, from, to time.Time) float64 {
	s.mu.Lock()
	var ts []time.Time
	for key, arr := range s.arrivals {
		m, c, _ := strings.Cut(key, "\x00")
		if m != method || (channel != "" && c != channel) {
			continue
		}
		for _, t := range arr {
			if (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to)) {
				ts = append(ts, t)
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	w := window - jitterAllowance
	if w <= 0 {
		w = window
	}
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return float64(best)
}

// arrivalKey is the arrivals key of a request of method to channel.
func arrivalKey(method, channel string) string { return method + "\x00" + channel }

// SetDown plays a Slack outage: while down is true every request, of any
// method, is counted (Calls, MaxRate) and answered HTTP 503 with an HTML
// body, as Slack's edge answers when Slack is unavailable; nothing is
// processed and no queued fault is used up. SetDown(false) ends it.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RateLimited counts the 429 answers the stand-in gave to method ("" for
// every method): those of SetRateLimit and those queued with FailNext.
func (s *Server) RateLimited(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method != "" {
		return s.rateLimited[method]
	}
	n := 0
	for _, v := range s.rateLimited {
		n += v
	}
	return n
}

// method wraps a handler with what every owned method shares: counting,
// form parsing, and the queued faults.
func (s *Server) method(name string, h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		req := &request{form: r.Form, channel: r.Form.Get("channel")}

		s.mu.Lock()
		now := time.Now()
		s.calls[name]++
		key := arrivalKey(name, req.channel)
		s.arrivals[key] = append(s.arrivals[key], now)
		down := s.down
		var f Fault
		if q := s.faults[name]; len(q) > 0 && !down {
			f, s.faults[name] = q[0], q[1:]
		} else if s.faultFunc != nil && !down {
			f = s.faultFunc(name)
		}
		if _, ok := f.(RateLimit); ok {
			s.rateLimited[name]++
		}
		s.mu.Unlock()

		if down {
			unavailable(w)
			return
		}
		switch f := f.(type) {
		case RateLimit:
			tooMany(w, f.RetryAfter)
			return
		case ServerError:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<html><body>500 Internal Server Error</body></html>\n"))
			return
		case SlackError:
			writeJSON(w, slackError(f.Code))
			return
		case Slow:
			timer := time.NewTimer(f.Delay)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-s.done:
				return
			}
		case DropAfterProcessing:
			h(discard{header: http.Header{}}, r, req)
			dropConnection(w)
			return
		}
		h(w, r, req)
	}
}

func tooMany(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int(math.Ceil(retryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 0)))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}` + "\n"))
}

// unavailable answers 503 as Slack's edge does during an outage.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("<html><body>503 Service Unavailable</body></html>\n"))
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// net/http closes the connection and writes nothing more.
	panic(http.ErrAbortHandler)
}

// discard is a ResponseWriter that forgets the answer.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
