package webauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Paths the authenticator serves itself; everything else under /ui/ is
// the console's.
const (
	LoginPath    = "/ui/login"
	CallbackPath = "/ui/callback"
	LogoutPath   = "/ui/logout"
)

// auditTimeout bounds writing a sign-in to the audit log: the page waits
// for it, since a sign-in that is not recorded is not let in.
const auditTimeout = 5 * time.Second

// Failures of strangers (a wrong state, a forged callback) are audited at
// most this often, so that nobody can grow the audit log by hammering
// /ui/callback; past it they are logged only.
const (
	anonAuditRate  = rate.Limit(1)
	anonAuditBurst = 20
)

// ChatRoles is the chat's role mapping (bot/access.Roles): Sign in with
// Slack maps a Slack user id through it, as chat maps the same person.
type ChatRoles interface {
	RoleOf(ctx context.Context, id bot.Identity, channel string) (policy.Role, error)
}

// Audit appends rows to the audit log.
type Audit interface {
	AppendAudit(ctx context.Context, recs ...bot.AuditRecord) error
}

// Config is how people sign in.
type Config struct {
	// PublicURL is the console's origin as browsers reach it; the OIDC
	// redirect URI is PublicURL + CallbackPath.
	PublicURL string
	// SessionKey signs the cookies (HMAC-SHA-256); at least 32 bytes.
	SessionKey []byte
	SessionTTL time.Duration
	// InsecureCookie drops Secure from the cookies (http tests on a
	// loopback address only; config validation enforces that).
	InsecureCookie bool
	// OIDC, when set, signs people in with an OpenID Connect provider.
	OIDC *OIDCConfig
	// Proxy, when set, trusts an authenticating proxy's headers.
	Proxy *ProxyConfig
	// Roles maps Slack people (Sign in with Slack).
	Roles ChatRoles
	Audit Audit
	// Log is scoped with component already.
	Log *zap.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Authenticator signs people in and lets the console's pages see who they
// are (ViewerFrom), with the role they hold at this request.
type Authenticator struct {
	cfg     Config
	cookies *cookies
	oidc    *oidcLogin
	proxy   *proxyAuth
	anon    *rate.Limiter
	log     *zap.Logger
	now     func() time.Time
}

// New builds the authenticator. It does not reach the OIDC provider: that
// happens at the first sign-in, so a provider down at start does not stop
// the bot.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("webauth: session key shorter than 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		return nil, errors.New("webauth: session ttl must be positive")
	}
	if cfg.OIDC == nil && cfg.Proxy == nil {
		return nil, errors.New("webauth: neither OIDC nor a proxy is configured")
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("webauth: public url %q: want scheme://host", cfg.PublicURL)
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authenticator{
		cfg:     cfg,
		cookies: newCookies(cfg.SessionKey, cfg.SessionTTL, !cfg.InsecureCookie),
		anon:    rate.NewLimiter(anonAuditRate, anonAuditBurst),
		log:     cfg.Log,
		now:     cfg.Now,
	}
	if cfg.OIDC != nil {
		if cfg.OIDC.Slack && cfg.Roles == nil {
			return nil, errors.New("webauth: Sign in with Slack needs the chat's roles")
		}
		a.oidc = newOIDCLogin(*cfg.OIDC, strings.TrimSuffix(pub.String(), "/")+CallbackPath, cfg.Log)
	}
	if cfg.Proxy != nil {
		a.proxy = newProxyAuth(*cfg.Proxy, cfg.SessionTTL)
	}
	return a, nil
}

// Handler serves the sign-in pages and, behind them, console for people
// holding at least Viewer. Mount it at /ui/.
func (a *Authenticator) Handler(console http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LoginPath, a.login)
	mux.HandleFunc("GET "+CallbackPath, a.callback)
	mux.HandleFunc("GET "+LogoutPath, a.logoutPage)
	csrf := http.NewCrossOriginProtection()
	if err := csrf.AddTrustedOrigin(strings.TrimSuffix(a.cfg.PublicURL, "/")); err != nil {
		a.log.Warn("public url is not an origin: sign-out accepts same-origin requests only", zap.Error(err))
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.page(w, http.StatusForbidden, "Refused", "This request came from another site.", false)
	}))
	mux.Handle("POST "+LogoutPath, csrf.Handler(http.HandlerFunc(a.logout)))
	mux.Handle("/ui/", a.Require(policy.Viewer, console))
	return mux
}

// Require serves next to people holding at least min, with their Viewer
// in the request's context; others get a plain 401 (not signed in: a GET
// is sent to sign in when OIDC is on) or 403 (signed in, role too low).
func (a *Authenticator) Require(min policy.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := a.viewer(w, r)
		switch {
		case !ok && a.oidc != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case !ok:
			a.page(w, http.StatusUnauthorized, "Not signed in", "Sign in to see the console.", a.oidc != nil)
		case !v.Role.Allows(min):
			a.page(w, http.StatusForbidden, "Forbidden",
				fmt.Sprintf("Signed in as %s with the role %s; this page needs %s.", v.Name, v.Role, min), false)
		default:
			next.ServeHTTP(w, r.WithContext(WithViewer(r.Context(), v)))
		}
	})
}

// viewer is who is asking, with their role now: from a trusted proxy's
// headers, else from the session cookie. ok is false when nobody is
// signed in (a missing, forged, edited or expired cookie, which is then
// cleared).
func (a *Authenticator) viewer(w http.ResponseWriter, r *http.Request) (Viewer, bool) {
	if a.proxy != nil {
		if v, ok := a.proxy.viewer(r, peer(r)); ok {
			a.proxy.auditOnce(r.Context(), a, v, peer(r))
			return v, true
		}
	}
	var s session
	if err := a.cookies.read(r, sessionCookie, &s, a.now()); err != nil {
		if !errors.Is(err, http.ErrNoCookie) {
			a.log.Info("session cookie refused", zap.String("reason", cookieReason(err)), zap.String("peer", r.RemoteAddr))
			a.cookies.clear(w, sessionCookie)
		}
		return Viewer{}, false
	}
	return a.sessionViewer(r.Context(), s), true
}

// sessionViewer maps a session to the role its person holds now.
func (a *Authenticator) sessionViewer(ctx context.Context, s session) Viewer {
	v := Viewer{Name: displayName(s.Name, s.Email, s.Subject), Via: "oidc"}
	switch s.Platform {
	case "slack":
		v.ID = "slack:" + s.Subject
		if a.oidc == nil || !a.oidc.cfg.Slack {
			return v // Sign in with Slack was turned off since: no role.
		}
		role, err := a.cfg.Roles.RoleOf(ctx, bot.Identity{Platform: "slack", UserID: s.Subject, Name: s.Name}, "")
		if err != nil {
			a.log.Warn("role unknown: no access for this request", zap.String("user", v.ID), zap.Error(err))
			return v
		}
		v.Role = role
	default:
		v.ID = "oidc:" + s.Subject
		if a.oidc == nil || a.oidc.cfg.Slack {
			return v
		}
		// Email is in the session only when verified; the table has no
		// empty key.
		v.Role = max(a.oidc.cfg.Users[s.Subject], a.oidc.cfg.Users[s.Email])
	}
	return v
}

func cookieReason(err error) string {
	switch {
	case errors.Is(err, errExpired):
		return "expired"
	default:
		var ce securecookie.Error
		if errors.As(err, &ce) && ce.IsDecode() {
			return "not signed with the session key, or edited"
		}
		return err.Error()
	}
}

func displayName(name, email, id string) string {
	for _, s := range []string{name, email, id} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return "someone"
}

// peer is the TCP peer's address: RemoteAddr as the server set it, never
// a header.
func peer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// audit records a sign-in, a refusal or a sign-out. actor is the person
// when known; a stranger's failures are audited within a rate so the log
// cannot be flooded, and always logged.
func (a *Authenticator) audit(ctx context.Context, actor bot.Identity, action, outcome, detail string) error {
	fields := []zap.Field{zap.String("action", action), zap.String("outcome", outcome),
		zap.String("user", actor.Platform+":"+actor.UserID), zap.String("detail", detail)}
	if actor.UserID == "" {
		actor = bot.Identity{Platform: "web", UserID: "anonymous"}
		if !a.anon.Allow() {
			a.log.Warn("sign-in failure not audited: too many", fields...)
			return nil
		}
	}
	a.log.Info("console sign-in", fields...)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	err := a.cfg.Audit.AppendAudit(ctx, bot.AuditRecord{
		At: a.now(), Actor: actor, Kind: bot.AuditSignIn, Action: action, Outcome: outcome, Detail: detail,
	})
	if err != nil {
		a.log.Error("sign-in not audited", append(fields, zap.Error(err))...)
	}
	return err
}
