package webauth

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Limits on what a proxy's headers may carry.
const (
	maxProxyValue  = 320
	maxProxyGroups = 256
	// maxProxySeen bounds the people whose proxy sign-in was audited
	// within a session's lifetime (one row per person, role and session
	// lifetime, not one per request).
	maxProxySeen = 4096
)

// ProxyConfig is sign-in by an authenticating proxy (oauth2-proxy style):
// its headers name the person on every request, and are believed only
// when the TCP peer is one of Trusted.
type ProxyConfig struct {
	Trusted                               []netip.Prefix
	UserHeader, EmailHeader, GroupsHeader string
	// Users (user or email) and Groups map to roles; the highest wins.
	Users, Groups map[string]policy.Role
}

type proxyAuth struct {
	cfg  ProxyConfig
	seen *expirable.LRU[string, struct{}]
}

func newProxyAuth(cfg ProxyConfig, ttl time.Duration) *proxyAuth {
	return &proxyAuth{cfg: cfg, seen: expirable.NewLRU[string, struct{}](maxProxySeen, nil, ttl)}
}

func (p *proxyAuth) trusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, pfx := range p.cfg.Trusted {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// viewer is the person the proxy names, when the request comes from the
// proxy itself and names someone; the headers of anyone else are ignored.
func (p *proxyAuth) viewer(r *http.Request, addr netip.Addr) (Viewer, bool) {
	if !p.trusted(addr) {
		return Viewer{}, false
	}
	user := strings.TrimSpace(r.Header.Get(p.cfg.UserHeader))
	if user == "" || len(user) > maxProxyValue {
		return Viewer{}, false
	}
	email := strings.TrimSpace(r.Header.Get(p.cfg.EmailHeader))
	if len(email) > maxProxyValue {
		email = ""
	}
	role := p.cfg.Users[user]
	if email != "" {
		role = max(role, p.cfg.Users[email])
	}
	n := 0
	for _, h := range r.Header.Values(p.cfg.GroupsHeader) {
		for g := range strings.SplitSeq(h, ",") {
			if n++; n > maxProxyGroups {
				break
			}
			role = max(role, p.cfg.Groups[strings.TrimSpace(g)])
		}
	}
	return Viewer{ID: "proxy:" + user, Name: displayName("", email, user), Role: role, Via: "proxy"}, true
}

// auditOnce audits a proxy sign-in the first time this person is seen
// with this role within a session's lifetime.
func (p *proxyAuth) auditOnce(ctx context.Context, a *Authenticator, v Viewer, addr netip.Addr) {
	key := v.ID + "\x00" + v.Role.String()
	if p.seen.Contains(key) {
		return
	}
	p.seen.Add(key, struct{}{})
	outcome := "allowed"
	if !v.Role.Allows(policy.Viewer) {
		outcome = "refused"
	}
	actor := bot.Identity{Platform: "proxy", UserID: strings.TrimPrefix(v.ID, "proxy:"), Name: v.Name}
	_ = a.audit(ctx, actor, "ui sign-in", outcome, "via proxy at "+addr.String()+" as "+v.Role.String())
}
