package discordstandin

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fault is what FailNext makes a request suffer: RateLimit, ServerError,
// Slow, DropAfterProcessing or Status.
type Fault interface{ fault() }

// RateLimit answers 429 with a Retry-After header and Discord's JSON body;
// the request is not processed.
type RateLimit struct {
	RetryAfter time.Duration
	// Global marks the 429 as Discord's global limit (X-RateLimit-Global).
	Global bool
}

// ServerError answers 500; the request is not processed.
type ServerError struct{}

// Slow waits Delay, then handles the request as usual, whether or not the
// client is still waiting (as Discord would once it has the request).
type Slow struct{ Delay time.Duration }

// DropAfterProcessing handles the request (the message is recorded, the
// thread started), then closes the connection without answering.
type DropAfterProcessing struct{}

// Status answers Code with Discord's error JSON {"code": APICode,
// "message": Message}; the request is not processed. For example
// Status{403, 50001, "Missing Access"}.
type Status struct {
	Code    int
	APICode int
	Message string
}

func (RateLimit) fault()           {}
func (ServerError) fault()         {}
func (Slow) fault()                {}
func (DropAfterProcessing) fault() {}
func (Status) fault()              {}

type queuedFault struct {
	left int
	f    Fault
}

// FailNext makes the next n requests on route suffer f. Calls queue: a
// second FailNext applies after the first one's n requests.
func (s *Server) FailNext(route string, n int, f Fault) {
	if n <= 0 || f == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], &queuedFault{left: n, f: f})
}

// FaultFunc chooses the fault, if any, for one request on route that no
// queued fault (FailNext) claimed: a soak fails a share of requests at
// random with it. It is called with the stand-in's lock held, so it must
// not call the stand-in; nil means no fault.
type FaultFunc func(route string) Fault

// SetFaultFunc makes every later request ask f for its fault once the
// FailNext queue of its route is empty; nil turns it off.
func (s *Server) SetFaultFunc(f FaultFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultFunc = f
}

// takeFault pops the fault for one request on route, if any, else asks
// the FaultFunc. Called with s.mu held.
func (s *Server) takeFault(route string) Fault {
	q := s.faults[route]
	if len(q) == 0 {
		if s.faultFunc != nil {
			return s.faultFunc(route)
		}
		return nil
	}
	f := q[0].f
	q[0].left--
	if q[0].left == 0 {
		s.faults[route] = q[1:]
	}
	return f
}

// bucket is one route's budget on one channel: limit requests per window,
// as Discord announces it in X-RateLimit-* headers.
type bucket struct {
	start time.Time
	count int
}

// bucketShape turns a rate into Discord's terms: limit requests per
// window. Called with s.mu held.
func (s *Server) bucketShape() (limit int, window time.Duration) {
	if s.routeLimit <= 0 {
		return defaultRouteLimit, time.Second
	}
	limit = max(1, int(math.Floor(s.routeLimit)))
	return limit, time.Duration(float64(limit) / s.routeLimit * float64(time.Second))
}

// admit counts one request against route's bucket on channel and sets the
// X-RateLimit-* headers; it reports false when the request must get 429.
// Called with s.mu held.
func (s *Server) admit(h http.Header, route, channel string, now time.Time) (ok bool, retryAfter time.Duration) {
	limit, window := s.bucketShape()
	key := route + ":" + channel
	b := s.buckets[key]
	if b == nil || now.Sub(b.start) >= window {
		b = &bucket{start: now}
		s.buckets[key] = b
	}
	reset := b.start.Add(window)
	left := reset.Sub(now)
	ok = s.routeLimit <= 0 || b.count < limit
	if ok {
		b.count++
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-b.count)))
	h.Set("X-RateLimit-Reset", fmt.Sprintf("%.3f", float64(reset.UnixMilli())/1000))
	h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", left.Seconds()))
	h.Set("X-RateLimit-Bucket", fmt.Sprintf("%08x", fnv32(route)))
	return ok, left
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// writeRateLimited answers Discord's 429.
func writeRateLimited(w http.ResponseWriter, after time.Duration, global bool) {
	secs := after.Seconds()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	h.Set("X-RateLimit-Scope", "user")
	if global {
		h.Set("X-RateLimit-Global", "true")
		h.Set("X-RateLimit-Scope", "global")
	} else {
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", secs))
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message":     "You are being rate limited.",
		"retry_after": math.Round(secs*1000) / 1000,
		"global":      global,
	})
}
