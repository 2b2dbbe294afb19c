package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func clockSkewTests() []namedTest {
	return []namedTest{
		{"ReplayGuardClockSkew", testReplayGuardClockSkew},
	}
}

// skew is how far apart the two replicas' clocks are in these tests: one
// runs 5 s fast, the other 5 s slow.
const skew = 5 * time.Second

// testReplayGuardClockSkew: a request signed at t0 is accepted by the
// replica whose clock is 5 s fast. At t0+5m+1s (true time) the fast replica
// reads t0+5m+6s and sweeps the keys it thinks expired, while the slow one
// reads t0+4m56s and still takes the signature as fresh (every replica
// checks the 5-minute window on its own clock). The key must still be there
// so the slow replica refuses the replay. Keys do not live for ever either:
// a sweep bot.ReplayClockSkew past the expiry forgets them.
func testReplayGuardClockSkew(t *testing.T, s bot.Store) {
	ctx := context.Background()
	const window = 5 * time.Minute
	fast := func(true time.Time) time.Time { return true.Add(skew) }
	slow := func(true time.Time) time.Time { return true.Add(-skew) }
	signed := t0
	key := "slack:skewed:replay"
	if first, err := s.FirstSeen(ctx, key, fast(signed), signed.Add(window)); err != nil || !first {
		t.Fatalf("first sighting on the fast replica = %v, %v; want true", first, err)
	}
	// The fast replica keeps serving requests near the window's end: enough
	// of them to sweep the table whatever the store's sweeping pace.
	sweepAt := signed.Add(window + time.Second)
	sweep := func(at time.Time, tag string) {
		t.Helper()
		for i := range 2 * sweepPace {
			other := fmt.Sprintf("slack:%s:%d", tag, i)
			if _, err := s.FirstSeen(ctx, other, at, at.Add(window)); err != nil {
				t.Fatalf("FirstSeen(%s): %v", other, err)
			}
		}
	}
	sweep(fast(sweepAt), "fast")
	if slow(sweepAt).Sub(signed) > window {
		t.Fatalf("test setup: the slow replica would refuse the signature as stale")
	}
	again, err := s.FirstSeen(ctx, key, slow(sweepAt), signed.Add(window))
	if err != nil || again {
		t.Fatalf("replay to the slow replica after the fast one swept = first %v, %v; want a replay (false): "+
			"a clock %s fast forgot a key a clock %s slow still accepts", again, err, skew, skew)
	}
	// Past the expiry plus the skew allowance, as the fastest clock reads
	// it, the key is gone: the table stays bounded.
	late := signed.Add(window + bot.ReplayClockSkew + time.Second)
	sweep(late, "late")
	if first, err := s.FirstSeen(ctx, key, late, late.Add(window)); err != nil || !first {
		t.Fatalf("sighting after expiry+%s = %v, %v; want the key forgotten (true)", bot.ReplayClockSkew, first, err)
	}
}

// sweepPace is at least how many FirstSeen calls the stores let pass
// between two sweeps of expired keys.
const sweepPace = 100
