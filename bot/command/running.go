package command

import (
	"sync"

	"github.com/bakewise/chatops/bot"
)

// DefaultMaxPerUser bounds the commands one person has running at once
// when Config.MaxPerUser is 0: a few side by side (health, logs, status)
// is how people work; more is a script or a stuck finger, and each one
// holds a share of the bot's memory and of the cluster's API.
const DefaultMaxPerUser = 3

// running counts each person's commands in flight, so that one person
// cannot take every place a platform's inbound side has.
type running struct {
	max int
	mu  sync.Mutex
	n   map[string]int // platform and user id → commands running
}

func newRunning(max int) *running {
	if max <= 0 {
		max = DefaultMaxPerUser
	}
	return &running{max: max, n: map[string]int{}}
}

// start takes a place for id's command; ok is false when they already
// have max running. release gives it back (calling it again is harmless).
func (r *running) start(platform string, id bot.Identity) (release func(), ok bool) {
	key := platform + "\x00" + id.UserID
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n[key] >= r.max {
		return nil, false
	}
	r.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			// Forget people with nothing running: the map holds only
			// those with commands in flight.
			if r.n[key]--; r.n[key] <= 0 {
				delete(r.n, key)
			}
		})
	}, true
}
