package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// The live feed. The outbox learns of new work from the engine and the
// escalator (Notify, in this process) and from its own polling of the
// store (what other replicas committed); the hub learns the same way:
// Notify wakes it, and while anyone watches it reads the store's change
// mark every PollInterval. When the mark moved, each open stream gets one
// "change" event, and the browser fetches its page again.
const (
	// minBroadcastGap coalesces a storm's changes: at most one event a
	// second reaches a browser, whatever the rate of commits.
	minBroadcastGap = time.Second
	// heartbeat keeps proxies from closing a quiet stream.
	heartbeat = 25 * time.Second
	// markTimeout bounds one read of the change mark.
	markTimeout = 5 * time.Second
	// retryMillis is how long a browser waits before reconnecting.
	retryMillis = 5000
)

type hub struct {
	store interface {
		ChangeMark(ctx context.Context) (bot.ChangeMark, error)
	}
	cfg  Config
	log  *zap.Logger
	wake chan struct{}

	mu      sync.Mutex
	clients map[chan bot.ChangeMark]struct{}
}

func newHub(store Store, cfg Config, log *zap.Logger) *hub {
	return &hub{store: store, cfg: cfg, log: log, wake: make(chan struct{}, 1), clients: map[chan bot.ChangeMark]struct{}{}}
}

func (h *hub) notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// subscribe adds a client unless MaxLiveClients are connected.
func (h *hub) subscribe() (chan bot.ChangeMark, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.cfg.MaxLiveClients {
		return nil, false
	}
	ch := make(chan bot.ChangeMark, 1)
	h.clients[ch] = struct{}{}
	return ch, true
}

func (h *hub) unsubscribe(ch chan bot.ChangeMark) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, ch)
}

func (h *hub) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients) > 0
}

// broadcast hands m to every client; one still holding an older mark has
// it replaced, so a slow browser never blocks the hub.
func (h *hub) broadcast(m bot.ChangeMark) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.clients {
		select {
		case <-ch:
		default:
		}
		ch <- m
	}
}

// run reads the change mark on every wake and poll while anyone watches,
// and broadcasts when it moved.
func (h *hub) run(ctx context.Context) error {
	var last bot.ChangeMark
	known := false
	tick := time.NewTicker(h.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.wake:
		case <-tick.C:
		}
		if !h.watched() {
			known = false // nobody to tell; read afresh when someone comes
			continue
		}
		mctx, cancel := context.WithTimeout(ctx, markTimeout)
		m, err := h.store.ChangeMark(mctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("change mark unread", zap.String("component", "console"), zap.Error(err))
			}
			continue
		}
		if known && m != last {
			h.broadcast(m)
			// Coalesce: the changes of the next second go out together.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(minBroadcastGap):
			}
		}
		last, known = m, true
	}
}

// events is the Server-Sent Events stream: one "change" event per moved
// mark, a comment as heartbeat, and an end after LiveFor (the browser
// reconnects). Beyond MaxLiveClients it answers 503, and the page polls.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	ch, ok := c.live.subscribe()
	if !ok {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many live pages open; this one polls instead", http.StatusServiceUnavailable)
		return
	}
	defer c.live.unsubscribe(ch)
	c.live.notify() // read the mark now, so the first change is not missed
	rc := http.NewResponseController(w)
	// The server's timeouts suit pages, not a stream: a write after its
	// write deadline fails. The read deadline moves with it, so that
	// nothing waiting on the connection times out first.
	until := time.Now().Add(c.cfg.LiveFor + heartbeat)
	if err := rc.SetWriteDeadline(until); err != nil {
		http.Error(w, "streaming is not supported here", http.StatusNotImplemented)
		return
	}
	_ = rc.SetReadDeadline(until)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", retryMillis); err != nil || rc.Flush() != nil {
		return
	}
	end := time.NewTimer(c.cfg.LiveFor)
	defer end.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			return
		case <-beat.C:
			_, err = fmt.Fprint(w, ": keep-alive\n\n")
		case m := <-ch:
			_, err = fmt.Fprintf(w, "event: change\nid: %s\ndata: %s\n\n", markID(m), markID(m))
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}

func markID(m bot.ChangeMark) string {
	return strconv.FormatInt(m.Event, 10) + "." + strconv.FormatInt(m.Approval, 10) + "." + strconv.FormatInt(m.Audit, 10)
}
