package harness

import (
	"context"
	"time"
)

const (
	// WaitTimeout is the generous deadline of every wait for a state and
	// of every request. Tests never assert on timing; they only wait up to
	// this long for what they expect.
	WaitTimeout = 30 * time.Second
	// PollInterval is how often a wait looks again.
	PollInterval = 150 * time.Millisecond
)

// Eventually calls check until it reports done or WaitTimeout passes; then
// it fails t with what it waited for and the last state check described.
func Eventually(t TB, what string, check func() (done bool, state string)) {
	t.Helper()
	EventuallyWithin(t, WaitTimeout, what, check)
}

// EventuallyWithin is Eventually with its own deadline, for what takes
// longer by design (a rate-limited platform catching up).
func EventuallyWithin(t TB, timeout time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s; last observed state:\n%s", timeout, what, state)
		}
		time.Sleep(PollInterval)
	}
}

// Sleep waits for d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
