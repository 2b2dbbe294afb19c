package slack

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
)

// Display names.
const (
	// DefaultNamesTTL is how long a person's name is used before users.info
	// is asked again: a renamed person reads under the old name for at most
	// that long.
	DefaultNamesTTL = time.Hour
	// DefaultNamesNegativeTTL is how long a failed lookup is remembered, so
	// a Slack outage or an unknown id costs one call per person per
	// period, not one per click.
	DefaultNamesNegativeTTL = 5 * time.Minute
	// DefaultNamesSize bounds the people remembered.
	DefaultNamesSize = 10_000
	// nameWait is the longest a command waits for a name: past it the
	// command goes on under the name the request carried (or the id), and
	// the lookup finishes for the next one.
	nameWait = 2 * time.Second
	// users.info is a Tier 4 method (100+ calls a minute); the lookup
	// keeps to half of that, with a burst for a channel full of new faces.
	namesRate  = rate.Limit(50.0 / 60.0)
	namesBurst = 10
)

const methodUsersInfo = "users.info"

// NamesConfig configures Names.
type NamesConfig struct {
	// TTL is how long a name is used (default DefaultNamesTTL).
	TTL time.Duration
	// NegativeTTL is how long a failed lookup is remembered (default
	// DefaultNamesNegativeTTL).
	NegativeTTL time.Duration
	// Size is how many people are remembered (default DefaultNamesSize).
	Size int
}

// Names finds the name people see for a Slack user (users.info: the
// profile's display name, else the real name, else the handle), for cards
// and timelines. Answers are cached for TTL, failures for NegativeTTL; one
// call runs per person however many clicks wait for it. A lookup that
// fails or takes too long never fails a command: it goes on without the
// name.
type Names struct {
	c      *Client
	ttl    time.Duration
	negTTL time.Duration
	log    *zap.Logger
	limit  *throttle
	now    func() time.Time
	flight singleflight.Group
	cache  *lru.Cache[string, nameEntry] // safe for concurrent use
}

type nameEntry struct {
	name    string // "" for a failed lookup
	expires time.Time
}

// NewNames returns the name lookup over c.
func NewNames(c *Client, cfg NamesConfig, log *zap.Logger) *Names {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultNamesTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNamesNegativeTTL
	}
	if cfg.Size <= 0 {
		cfg.Size = DefaultNamesSize
	}
	if log == nil {
		log = zap.NewNop()
	}
	cache, _ := lru.New[string, nameEntry](cfg.Size) // fails only for a size below one
	return &Names{
		c:      c,
		ttl:    cfg.TTL,
		negTTL: cfg.NegativeTTL,
		log:    log,
		limit:  newThrottle(namesRate, namesBurst),
		now:    time.Now,
		cache:  cache,
	}
}

// Name is the name Slack shows for userID, and whether there is one. The
// caller's ctx bounds its own wait only: a lookup it started goes on for
// the others and fills the cache.
func (n *Names) Name(ctx context.Context, userID string) (string, bool) {
	if !slackID.MatchString(userID) {
		return "", false
	}
	e, ok := n.cache.Get(userID)
	if ok && n.now().Before(e.expires) {
		return e.name, e.name != ""
	}
	ch := n.flight.DoChan(userID, func() (any, error) { return n.lookup(userID), nil })
	select {
	case r := <-ch:
		name := r.Val.(string)
		return name, name != ""
	case <-ctx.Done():
		return "", false
	}
}

// lookup asks users.info and caches the answer, a failure included. It
// runs detached from the caller that started it, bounded by the client's
// call timeout.
func (n *Names) lookup(userID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), n.c.cfg.CallTimeout)
	defer cancel()
	var u *slackapi.User
	err := n.c.hold(ctx, n.limit)
	if err == nil {
		err = n.c.call(ctx, methodUsersInfo, "workspace", n.limit, func(ctx context.Context) (err error) {
			u, err = n.c.api.GetUserInfoContext(ctx, userID)
			return err
		})
	}
	name, ttl := "", n.negTTL
	if err == nil && u != nil {
		name = bot.PersonName(u.Profile.DisplayName, u.Profile.RealName, u.RealName, u.Name)
		ttl = n.ttl
	}
	if err != nil {
		n.log.Info("slack user's name not found; the id stands in for it", zap.String("user", userID), zap.Duration("for", ttl), zap.Error(err))
	}
	n.cache.Add(userID, nameEntry{name: name, expires: n.now().Add(ttl)})
	return name
}

// named is id with the name Slack shows for it, when the lookup is
// configured and answers within nameWait; otherwise id as the request
// carried it.
func (in *Inbound) named(ctx context.Context, id bot.Identity) bot.Identity {
	if in.cfg.Names == nil {
		return id
	}
	ctx, cancel := context.WithTimeout(ctx, nameWait)
	defer cancel()
	if name, ok := in.cfg.Names.Name(ctx, id.UserID); ok {
		id.Name = name
	}
	return id
}
