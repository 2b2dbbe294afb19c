package escalation_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/escalation"
)

// skewInterval is the escalation interval of the skew tests: the
// configuration's shortest, so that a doubled reminder would stand out.
const skewInterval = time.Minute

// testEscalationClockSkew runs two replicas whose clocks are apart (one
// fast, one slow, by skew each) side by side on one store for four
// minutes of true time, ticking every half second in turns, with three P0
// incidents reminded every minute. With the design's margins:
//
//   - a relative skew under TTL − renewal − tick (15 − 5 − 1 = 9 s) never
//     lets the standby take a live holder's lease (never both hold it);
//   - whatever the lease does, a reminder is claimed under its incident's
//     row lock and only when due by the firing replica's clock: reminders
//     of one incident are never closer than the interval less the relative
//     skew, so none fires twice while the skew stays under the interval
//     (a minute at least).
func testEscalationClockSkew(t *testing.T, s bot.Store) {
	for k, tc := range []struct {
		skew      time.Duration // each clock's offset: +skew and −skew
		leaseOnce bool          // the lease never held by both
	}{
		{skew: 4 * time.Second, leaseOnce: true},
		{skew: 5 * time.Second},
		{skew: 20 * time.Second},
	} {
		t.Run(fmt.Sprintf("±%s", tc.skew), func(t *testing.T) {
			// An hour apart: the lease the previous case left is long over.
			clock := bottest.NewClock(t0.Add(time.Duration(k) * time.Hour))
			e := escEngine(s, clock, nil)
			type replica struct {
				esc *escalation.Escalator
				reg *prometheus.Registry
			}
			start := clock.Now()
			var rs []replica
			// The slow one first: it takes the lease, and the fast one's
			// clock is the one that sees it expire early.
			for i, off := range []time.Duration{-tc.skew, tc.skew} {
				reg := prometheus.NewRegistry()
				esc := escalation.New(s, escalation.Config{
					Destinations: escDests, Routes: escRoutes, Deadlines: bot.DefaultDeadlines,
					Interval: skewInterval, Holder: fmt.Sprintf("skewed-%s-%d", tc.skew, i),
					Now: func() time.Time { return clock.Now().Add(off) },
				}, zap.NewNop(), reg)
				rs = append(rs, replica{esc, reg})
			}
			var ids []int64
			for i := range 3 {
				ids = append(ids, openAt(t, e, fmt.Sprintf("skew-%s-%d", tc.skew, i), bot.P0, clock.Now()))
				clock.Advance(20 * time.Second / 3)
			}
			splits := 0
			for step := 0; clock.Now().Sub(start) < 4*time.Minute; step++ {
				for i := range rs {
					tick(t, rs[(step+i)%2].esc) // each goes first in turn
				}
				if gather(t, rs[0].reg, "chatops_timer_lease_held", nil)+gather(t, rs[1].reg, "chatops_timer_lease_held", nil) > 1 {
					splits++
				}
				clock.Advance(500 * time.Millisecond)
			}
			if tc.leaseOnce && splits > 0 {
				t.Errorf("clocks %s apart: both replicas held the timer lease at %d ticks", 2*tc.skew, splits)
			}
			for _, id := range ids {
				d := bottest.Get(t, s, id)
				var times []time.Time
				for _, ev := range d.Timeline {
					if ev.Kind == bot.EventReminder {
						times = append(times, ev.At)
					}
				}
				if len(times) != d.Reminders || len(times) < 4 {
					t.Errorf("incident %d: %d reminder events, reminders = %d; want the same, at least 4 in 4 minutes", id, len(times), d.Reminders)
				}
				for i := 1; i < len(times); i++ {
					// Event times are the firing replica's clock, and a
					// reminder fires only when its clock reads the stored
					// next reminder (the previous event's time plus the
					// interval) or later: the gap is at least the interval
					// in those terms, at least the interval less the
					// relative skew in true time.
					if gap := times[i].Sub(times[i-1]); gap < skewInterval {
						t.Errorf("incident %d: reminders %d and %d fired %s apart by the replicas' clocks, want about %s: one fired twice",
							id, i, i+1, gap, skewInterval)
					}
				}
			}
		})
	}
}
