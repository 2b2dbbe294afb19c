package bot

import (
	"context"
	"sync"
)

// Inflight holds the work that follows a command's acknowledgement, for a
// platform's inbound side: bounded in number, run under one context, and
// drained on shutdown, so a stopping bot finishes the answers it promised.
type Inflight struct {
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{} // nil: unbounded
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// NewInflight allows at most max pieces of work at once (0: no bound).
func NewInflight(max int) *Inflight {
	f := &Inflight{}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	if max > 0 {
		f.slots = make(chan struct{}, max)
	}
	return f
}

// Context is the parent of every piece of work; Shutdown ends it when its
// own deadline passes.
func (f *Inflight) Context() context.Context { return f.ctx }

// Closed reports whether Shutdown has begun.
func (f *Inflight) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Start takes a place for one piece of work. ok is false when shutting down
// or full; otherwise release must be called once the work is done (calling
// it more than once is harmless).
func (f *Inflight) Start() (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, false
	}
	if f.slots != nil {
		select {
		case f.slots <- struct{}{}:
		default:
			return nil, false
		}
	}
	f.wg.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			if f.slots != nil {
				<-f.slots
			}
			f.wg.Done()
		})
	}, true
}

// Shutdown refuses new work and waits for the running work until ctx ends;
// then it cancels what is left and waits for it to return.
func (f *Inflight) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		f.cancel()
		return nil
	case <-ctx.Done():
		f.cancel()
		<-done
		return ctx.Err()
	}
}
