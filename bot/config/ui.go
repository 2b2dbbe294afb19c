package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bakewise/chatops/policy"
)

// UI is the web console (integrations/console): read-only pages under
// /ui/ on the main listener: whether it runs, how its pages link to chat,
// the bounds on its live updates, where people reach it and how they sign
// in (integrations/webauth: OpenID Connect, a trusted authenticating
// proxy, or both). Its secrets come only from the environment: the session
// key (CHATOPS_UI_SESSION_KEY or the file CHATOPS_UI_SESSION_KEY_FILE
// names) and the OIDC client secret (CHATOPS_UI_OIDC_CLIENT_SECRET[_FILE]).
type UI struct {
	Enabled bool `yaml:"enabled"`
	// SlackWorkspace is the Slack workspace's address (https://team.slack.com):
	// thread links start with it. Without it threads are named, not linked.
	SlackWorkspace string `yaml:"slack_workspace"`
	// DiscordGuildID is the Discord server whose threads the pages link.
	DiscordGuildID string `yaml:"discord_guild_id"`
	// PageSize is how many rows a list shows.
	PageSize int `yaml:"page_size"`
	// MaxLiveClients bounds the pages kept live by Server-Sent Events at
	// once (the rest poll); LiveFor how long one stream lasts before the
	// browser reconnects; PollInterval how often the console checks the
	// store for changes while someone watches.
	MaxLiveClients int           `yaml:"max_live_clients"`
	LiveFor        time.Duration `yaml:"live_for"`
	PollInterval   time.Duration `yaml:"poll_interval"`
	// AuditVerifyInterval is how often the audit page's chain status is
	// recomputed by walking the whole log.
	AuditVerifyInterval time.Duration `yaml:"audit_verify_interval"`

	// PublicURL is the console's address as browsers reach it
	// (https://chatops.example.com); the OIDC redirect URI is
	// PublicURL + /ui/callback.
	PublicURL string `yaml:"public_url"`
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// InsecureCookie drops the cookie's Secure flag, for a public_url of
	// http on a loopback address (tests) and nothing else.
	InsecureCookie bool    `yaml:"insecure_cookie"`
	OIDC           UIOIDC  `yaml:"oidc"`
	Proxy          UIProxy `yaml:"proxy"`

	SessionKey Secret `yaml:"-"`
}

// UIOIDC is sign-in with an OpenID Connect provider (authorisation code
// flow with PKCE). Empty issuer: off.
type UIOIDC struct {
	Issuer   string   `yaml:"issuer"`
	ClientID string   `yaml:"client_id"`
	Scopes   []string `yaml:"scopes"`
	// Slack is Sign in with Slack: the user id claim is mapped through
	// access.slack_users and access.slack_groups as chat maps it, and only
	// people of SlackTeamID's workspace are let in.
	Slack       bool   `yaml:"slack"`
	SlackTeamID string `yaml:"slack_team_id"`
	// Users maps a subject or a verified email to a role (any other
	// provider than Slack); people it does not name are refused.
	Users map[string]string `yaml:"users"`

	ClientSecret Secret `yaml:"-"`
}

// UIProxy is sign-in by an authenticating proxy in front of the bot
// (oauth2-proxy style headers), trusted only from TrustedCIDRs: the TCP
// peer's address, never X-Forwarded-For.
type UIProxy struct {
	TrustedCIDRs []string `yaml:"trusted_cidrs"`
	UserHeader   string   `yaml:"user_header"`
	EmailHeader  string   `yaml:"email_header"`
	GroupsHeader string   `yaml:"groups_header"`
	// Users (user or email header values) and Groups (groups header
	// values) map to roles; the highest entry wins; people neither
	// names are refused.
	Users  map[string]string `yaml:"users"`
	Groups map[string]string `yaml:"groups"`
}

// Environment variables of the console's secrets.
const (
	EnvUISessionKey           = "CHATOPS_UI_SESSION_KEY"
	EnvUISessionKeyFile       = "CHATOPS_UI_SESSION_KEY_FILE"
	EnvUIOIDCClientSecret     = "CHATOPS_UI_OIDC_CLIENT_SECRET"
	EnvUIOIDCClientSecretFile = "CHATOPS_UI_OIDC_CLIENT_SECRET_FILE"
)

// Console defaults and limits.
const (
	maxUIPageSize       = 200
	maxUILiveClients    = 10000
	minUIPollInterval   = 100 * time.Millisecond
	minUIVerifyInterval = time.Minute

	DefaultUISessionTTL = 12 * time.Hour
	minUISessionTTL     = 5 * time.Minute
	maxUISessionTTL     = 7 * 24 * time.Hour
	// MinUISessionKey is the shortest session key: an HMAC-SHA-256 key
	// shorter than the hash is weaker than it needs to be.
	MinUISessionKey = 32
	maxUIScopes     = 20
	maxProxyCIDRs   = 64
	// minProxyPrefix refuses trusting whole /0../7 ranges: a CIDR that
	// wide trusts the internet, not a proxy.
	minProxyPrefix = 8
)

var (
	slackTeam  = regexp.MustCompile(`^T[A-Z0-9]{1,30}$`)
	headerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
)

func defaultUI() UI {
	return UI{
		SessionTTL: DefaultUISessionTTL,
		OIDC:       UIOIDC{Scopes: []string{"openid", "email", "profile"}},
		Proxy:      UIProxy{UserHeader: "X-Forwarded-User", EmailHeader: "X-Forwarded-Email", GroupsHeader: "X-Forwarded-Groups"},
	}
}

func applyUIEnv(c *Config, getenv func(string) string, ps *Problems) {
	c.UI.SessionKey, _ = envSecret(getenv, EnvUISessionKey, EnvUISessionKeyFile, ps)
	c.UI.OIDC.ClientSecret, _ = envSecret(getenv, EnvUIOIDCClientSecret, EnvUIOIDCClientSecretFile, ps)
}

func validateUI(c *Config, ps *Problems) {
	validateUIPages(&c.UI, ps)
	validateUISignIn(&c.UI, ps)
}

func validateUIPages(u *UI, ps *Problems) {
	if u.SlackWorkspace != "" {
		p, err := url.Parse(u.SlackWorkspace)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			ps.add("ui.slack_workspace", "%q: want the workspace's https address (https://team.slack.com)", u.SlackWorkspace)
		}
	}
	for _, c := range u.DiscordGuildID {
		if c < '0' || c > '9' {
			ps.add("ui.discord_guild_id", "%q: want the server's numeric id", u.DiscordGuildID)
			break
		}
	}
	if u.PageSize < 0 || u.PageSize > maxUIPageSize {
		ps.add("ui.page_size", "%d: want 0 (default) to %d", u.PageSize, maxUIPageSize)
	}
	if u.MaxLiveClients < 0 || u.MaxLiveClients > maxUILiveClients {
		ps.add("ui.max_live_clients", "%d: want 0 (default) to %d", u.MaxLiveClients, maxUILiveClients)
	}
	if u.LiveFor < 0 {
		ps.add("ui.live_for", "must not be negative")
	}
	if u.PollInterval != 0 && u.PollInterval < minUIPollInterval {
		ps.add("ui.poll_interval", "%s: want at least %s", u.PollInterval, minUIPollInterval)
	}
	if u.AuditVerifyInterval != 0 && u.AuditVerifyInterval < minUIVerifyInterval {
		ps.add("ui.audit_verify_interval", "%s: want at least %s", u.AuditVerifyInterval, minUIVerifyInterval)
	}
}

func validateUISignIn(u *UI, ps *Problems) {
	if !u.Enabled {
		return
	}
	pub, err := url.Parse(u.PublicURL)
	switch {
	case u.PublicURL == "":
		ps.add("ui.public_url", "empty: the console needs the address browsers reach it at")
	case err != nil || pub.Host == "" || pub.User != nil || pub.RawQuery != "" || pub.Fragment != "" || (pub.Path != "" && pub.Path != "/"):
		ps.add("ui.public_url", "%q: want scheme://host[:port] and nothing more", u.PublicURL)
	case pub.Scheme != "https" && !(pub.Scheme == "http" && loopback(pub.Hostname())):
		ps.add("ui.public_url", "%q: want https (http only on a loopback address)", u.PublicURL)
	}
	if u.InsecureCookie && (pub == nil || pub.Scheme != "http" || !loopback(pub.Hostname())) {
		ps.add("ui.insecure_cookie", "true, but ui.public_url is not http on a loopback address: a session cookie without Secure leaks over plain http")
	}
	if u.SessionTTL < minUISessionTTL || u.SessionTTL > maxUISessionTTL {
		ps.add("ui.session_ttl", "%s: want %s..%s", u.SessionTTL, minUISessionTTL, maxUISessionTTL)
	}
	switch n := len(u.SessionKey); {
	case n == 0:
		ps.add("ui", "no session key: set %s or %s (at least %d bytes, e.g. openssl rand -base64 48)", EnvUISessionKey, EnvUISessionKeyFile, MinUISessionKey)
	case n < MinUISessionKey:
		ps.add(EnvUISessionKey, "%d bytes: want at least %d", n, MinUISessionKey)
	}
	if u.OIDC.Issuer == "" && len(u.Proxy.TrustedCIDRs) == 0 {
		ps.add("ui", "no way to sign in: set ui.oidc.issuer or ui.proxy.trusted_cidrs")
	}
	if u.OIDC.Issuer != "" {
		validateUIOIDC(&u.OIDC, ps)
	}
	if len(u.Proxy.TrustedCIDRs) > 0 {
		validateUIProxy(&u.Proxy, ps)
	}
}

func validateUIOIDC(o *UIOIDC, ps *Problems) {
	if iu, err := url.Parse(o.Issuer); err != nil || iu.Host == "" || iu.User != nil || iu.RawQuery != "" || iu.Fragment != "" ||
		(iu.Scheme != "https" && !(iu.Scheme == "http" && loopback(iu.Hostname()))) {
		ps.add("ui.oidc.issuer", "%q: want an https URL (http only on a loopback address)", o.Issuer)
	}
	if o.ClientID == "" || len(o.ClientID) > 256 {
		ps.add("ui.oidc.client_id", "want the client id the provider gave (1..256 characters)")
	}
	if len(o.Scopes) > maxUIScopes {
		ps.add("ui.oidc.scopes", "%d scopes: at most %d", len(o.Scopes), maxUIScopes)
	}
	if !slices.Contains(o.Scopes, "openid") {
		ps.add("ui.oidc.scopes", "%q: must contain openid", o.Scopes)
	}
	if o.Slack {
		if !slackTeam.MatchString(o.SlackTeamID) {
			ps.add("ui.oidc.slack_team_id", "%q: Sign in with Slack needs the workspace id (T…) whose people may sign in", o.SlackTeamID)
		}
		if len(o.Users) > 0 {
			ps.add("ui.oidc.users", "with slack: true roles come from access.slack_users and access.slack_groups; remove this table")
		}
		if o.ClientSecret == "" {
			ps.add("ui.oidc", "Sign in with Slack needs the client secret: set %s or %s", EnvUIOIDCClientSecret, EnvUIOIDCClientSecretFile)
		}
		return
	}
	if o.SlackTeamID != "" {
		ps.add("ui.oidc.slack_team_id", "set, but slack is false")
	}
	if len(o.Users) == 0 {
		ps.add("ui.oidc.users", "empty: nobody could sign in; map subjects or emails to roles")
	}
	uiRoleMap("ui.oidc.users", o.Users, ps)
}

func validateUIProxy(p *UIProxy, ps *Problems) {
	if len(p.TrustedCIDRs) > maxProxyCIDRs {
		ps.add("ui.proxy.trusted_cidrs", "%d entries: at most %d", len(p.TrustedCIDRs), maxProxyCIDRs)
	}
	for i, s := range p.TrustedCIDRs {
		pfx, err := parseCIDR(s)
		path := fmt.Sprintf("ui.proxy.trusted_cidrs[%d]", i)
		switch {
		case err != nil:
			ps.add(path, "%q: want an address or a CIDR (10.0.0.0/8): %v", s, err)
		case pfx.Bits() < minProxyPrefix:
			ps.add(path, "%q trusts /%d: name the proxy's addresses (at least /%d)", s, pfx.Bits(), minProxyPrefix)
		}
	}
	for _, h := range []struct{ path, v string }{{"ui.proxy.user_header", p.UserHeader}, {"ui.proxy.email_header", p.EmailHeader}, {"ui.proxy.groups_header", p.GroupsHeader}} {
		switch {
		case !headerName.MatchString(h.v):
			ps.add(h.path, "%q is not a header name", h.v)
		case strings.EqualFold(h.v, "X-Forwarded-For") || strings.EqualFold(h.v, "Forwarded"):
			ps.add(h.path, "%q carries addresses, not a person", h.v)
		}
	}
	if len(p.Users) == 0 && len(p.Groups) == 0 {
		ps.add("ui.proxy", "no users and no groups: nobody could sign in through the proxy")
	}
	uiRoleMap("ui.proxy.users", p.Users, ps)
	uiRoleMap("ui.proxy.groups", p.Groups, ps)
}

// uiRoleMap checks a table of people or groups to roles: a role the chat
// knows, never none (leaving someone out refuses them).
func uiRoleMap(path string, m map[string]string, ps *Problems) {
	if len(m) > maxAccessEntries {
		ps.add(path, "%d entries: at most %d", len(m), maxAccessEntries)
	}
	for _, k := range sortedKeys(m) {
		if k == "" || len(k) > 320 {
			ps.add(path, "an entry's name must be 1..320 characters")
		}
		if r, err := policy.ParseRole(m[k]); err != nil || r == policy.NoAccess {
			ps.add(path+"."+k, "%q: want viewer, member, admin or owner", m[k])
		}
	}
}

func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// loopback reports whether host names this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// UIProxyCIDRs is ui.proxy.trusted_cidrs, parsed (the valid ones).
func (c *Config) UIProxyCIDRs() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.UI.Proxy.TrustedCIDRs {
		if p, err := parseCIDR(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// UIRoles is a table of ui.oidc.users, ui.proxy.users or ui.proxy.groups
// as roles (the valid entries).
func UIRoles(m map[string]string) map[string]policy.Role {
	out := make(map[string]policy.Role, len(m))
	for k, v := range m {
		if r, err := policy.ParseRole(v); err == nil && r > policy.NoAccess {
			out[k] = r
		}
	}
	return out
}
