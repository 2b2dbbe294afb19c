package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// sent is what the sender leaves for the checks: every alert a 2xx
// acknowledged, with the newest status acknowledged, and each group.
type sent struct {
	acked    map[string]ackedAlert // by fingerprint
	groups   []*group
	stopped  time.Time // the last webhook's answer
	lastKill time.Time
}

type ackedAlert struct {
	group  string
	status string
}

// send posts webhooks at -rate for -duration, round-robin over the two
// replicas, while chaos kills them; it returns what was acknowledged.
func (s *soak) send(ctx context.Context) *sent {
	c := s.cfg
	runID := harness.RandHex(4)
	out := &sent{acked: map[string]ackedAlert{}}
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		lats, e2e []time.Duration
		seqN      int
		active    []*group
		next      int // round-robin over active groups
		rr        int // round-robin over replicas
	)
	errs := map[string]int{}
	seq := func() int { seqN++; return seqN }
	start := time.Now()
	for range c.groups {
		g := newGroup(len(out.groups), runID, start, c, s.rng)
		out.groups, active = append(out.groups, g), append(active, g)
	}
	res := &s.res.Sender

	chaosCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); s.chaos(chaosCtx, start) }()

	logf("sending: %g webhooks/s for %s over 2 replicas, %d groups at a time; a SIGKILL every %s–%s; stand-ins fail %g%% (429) + %g%% (5xx) of thread calls",
		c.rate, c.duration, c.groups, c.killMin, c.killMax, 100*c.fail429, 100*c.fail5xx)
	interval := time.Duration(float64(time.Second) / c.rate)
	lastLog := start
	for i := 0; ctx.Err() == nil; i++ {
		target := start.Add(time.Duration(i) * interval)
		if target.Sub(start) >= c.duration {
			break
		}
		if d := time.Until(target); d > 0 {
			_ = harness.Sleep(ctx, d)
		}
		now := time.Now()
		mu.Lock()
		// Retire the groups whose resolution was acknowledged; a new one
		// takes each one's place.
		active = slices.DeleteFunc(active, func(g *group) bool { return g.resolved && !g.busy })
		for len(active) < c.groups {
			g := newGroup(len(out.groups), runID, now, c, s.rng)
			out.groups, active = append(out.groups, g), append(active, g)
		}
		var g *group
		for k := range active {
			cand := active[(next+k)%len(active)]
			if !cand.busy && !cand.resolved {
				g, next = cand, (next+k+1)%len(active)
				break
			}
		}
		if g == nil {
			res.Skipped++
			mu.Unlock()
			continue
		}
		g.busy = true
		body, status := g.webhook(now, seq, runID)
		first := rr
		rr = (rr + 1) % len(s.replicas)
		res.Webhooks++
		mu.Unlock()

		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			id, lat, retried, kinds, err := s.deliver(ctx, first, body)
			mu.Lock()
			defer mu.Unlock()
			g.busy = false
			for _, k := range kinds {
				errs[k]++
			}
			if retried {
				res.Retried++
			}
			if err != nil {
				res.GivenUp++
				return
			}
			res.Acked++
			lats = append(lats, lat)
			e2e = append(e2e, time.Since(t0))
			if g.incident == 0 {
				g.incident = id
			} else if id != g.incident && !slices.Contains(g.split, id) {
				g.split = append(g.split, id)
			}
			resolvedAll := true
			for fp, st := range status {
				out.acked[fp] = ackedAlert{group: g.name, status: st}
				resolvedAll = resolvedAll && st == "resolved"
			}
			if resolvedAll {
				g.resolved = true
			}
			if t := time.Now(); t.After(out.stopped) {
				out.stopped = t
			}
		}()
		if time.Since(lastLog) >= 15*time.Second {
			mu.Lock()
			logf("sending: %.0f s, %d webhooks, %d acked, %d given up, %d retried, %d groups opened, errors %s",
				time.Since(start).Seconds(), res.Webhooks, res.Acked, res.GivenUp, res.Retried, len(out.groups), harness.Counts(errs))
			mu.Unlock()
			lastLog = time.Now()
		}
	}
	stopChaos()
	<-chaosDone
	wg.Wait()
	res.SendS = time.Since(start).Seconds()
	res.RatePerS = float64(res.Webhooks) / res.SendS
	res.Errors = errs
	res.GroupsOpened = len(out.groups)
	for _, g := range out.groups {
		if g.resolved {
			res.GroupsDone++
		}
	}
	res.AckP50MS, res.AckP99MS, res.AckMaxMS = pct(lats, 0.5), pct(lats, 0.99), pct(lats, 1)
	res.EndToEndP99, res.EndToEndMax = pct(e2e, 0.99), pct(e2e, 1)
	if n := len(s.res.Kills); n > 0 {
		out.lastKill = start.Add(time.Duration(s.res.Kills[n-1].AtS * float64(time.Second)))
	}
	logf("sender stopped: %d webhooks in %.1f s (%.1f/s), %d acked (p50 %.1f ms, p99 %.1f ms), %d given up, %d retried, %d skipped ticks; %d kills; errors %s",
		res.Webhooks, res.SendS, res.RatePerS, res.Acked, res.AckP50MS, res.AckP99MS, res.GivenUp, res.Retried, res.Skipped, len(s.res.Kills), harness.Counts(errs))
	return out
}

// deliver posts one webhook to replica first, and on a connection error or
// a 5xx to the other one, alternating with a growing pause, for at most
// retryFor, as Alertmanager retries a notification. It returns the
// incident id of the 2xx, that attempt's latency, whether it retried, and
// the kind of each failed attempt.
func (s *soak) deliver(ctx context.Context, first int, body []byte) (int64, time.Duration, bool, []string, error) {
	deadline := time.Now().Add(retryFor)
	backoff := firstBackoff
	var kinds []string
	for attempt := 0; ; attempt++ {
		r := s.replica((first + attempt) % len(s.replicas))
		t0 := time.Now()
		code, answer, err := s.post(ctx, r.cfg.Addr, r.cfg.WebhookToken, body)
		lat := time.Since(t0)
		var kind string
		switch {
		case err != nil:
			kind = "connection: " + connErrKind(err)
		case code >= 500:
			kind = fmt.Sprintf("HTTP %d", code)
		case code >= 300:
			// Alertmanager drops a notification answered 4xx for good.
			return 0, lat, attempt > 0, append(kinds, fmt.Sprintf("HTTP %d (dropped)", code)), fmt.Errorf("HTTP %d: %s", code, answer)
		default:
			id, err := harness.WebhookAck(code, answer)
			if err != nil {
				return 0, lat, attempt > 0, append(kinds, "bad 2xx body"), err
			}
			return id, lat, attempt > 0, kinds, nil
		}
		kinds = append(kinds, kind)
		if time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			return 0, lat, attempt > 0, kinds, errors.New("gave up: " + kind)
		}
		if attempt%2 == 1 { // both replicas tried: wait before the next round
			_ = harness.Sleep(ctx, backoff)
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

func (s *soak) post(ctx context.Context, addr, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/alertmanager", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, answer, err
}

// connErrKind names a transport error by what happened, not by its
// addresses: refused, reset, EOF, timeout.
func connErrKind(err error) string {
	msg := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "broken pipe", "EOF", "timeout", "deadline exceeded"} {
		if bytes.Contains([]byte(msg), []byte(k)) {
			return k
		}
	}
	return "other"
}

// pct is the q-quantile of ds in milliseconds (1: the maximum).
func pct(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, max(0, int(math.Ceil(float64(len(s))*q))-1))
	return float64(s[i].Microseconds()) / 1000
}
