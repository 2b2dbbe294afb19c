package webauth_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/webauth"
	"github.com/bakewise/chatops/policy"
	"github.com/bakewise/chatops/test/harness"
)

// memAudit keeps audit rows in memory.
type memAudit struct {
	mu   sync.Mutex
	rows []bot.AuditRecord
}

func (m *memAudit) AppendAudit(_ context.Context, recs ...bot.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = append(m.rows, recs...)
	return nil
}

func (m *memAudit) has(actor, action, outcome, detail string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.rows {
		if r.Kind == bot.AuditSignIn && r.Actor.Platform+":"+r.Actor.UserID == actor && r.Action == action &&
			r.Outcome == outcome && strings.Contains(r.Detail, detail) {
			return true
		}
	}
	return false
}

func (m *memAudit) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

// slackRoles is the chat's mapping, changeable between requests.
type slackRoles struct {
	mu     sync.Mutex
	access policy.Access
}

func (s *slackRoles) RoleOf(_ context.Context, id bot.Identity, channel string) (policy.Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access.RoleOf(policy.Person{Platform: id.Platform, UserID: id.UserID, Channel: channel}), nil
}

func (s *slackRoles) set(user string, r policy.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access.Users[policy.Key("slack", user)] = r
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// console is the page behind the sign-in: it says who it sees.
var console = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	v, ok := webauth.ViewerFrom(r.Context())
	if !ok {
		http.Error(w, "no viewer", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "console %s id=%s role=%s via=%s", r.URL.Path, v.ID, v.Role, v.Via)
})

type fixture struct {
	t        *testing.T
	public   string
	provider *harness.OIDCProvider
	audit    *memAudit
	clock    *clock
	roles    *slackRoles
	// authorize is the provider URL the last sign-in was sent to.
	authorize *url.URL
}

type options struct {
	slack  bool
	proxy  *webauth.ProxyConfig
	noOIDC bool
}

const (
	slackTeam  = "T0TEAM"
	slackAdmin = "U0ADMIN"
	slackOther = "U0OTHER"
)

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, public: "http://" + ln.Addr().String(), audit: &memAudit{},
		clock: &clock{t: time.Now()},
		roles: &slackRoles{access: policy.Access{Users: map[string]policy.Role{}, Default: policy.NoAccess}}}
	cfg := webauth.Config{
		PublicURL: f.public, SessionKey: []byte(strings.Repeat("k", 32)), SessionTTL: time.Hour,
		InsecureCookie: true, Audit: f.audit, Roles: f.roles, Now: f.clock.now, Proxy: o.proxy,
	}
	if !o.noOIDC {
		po := harness.OIDCOptions{RedirectURIs: []string{f.public + webauth.CallbackPath}}
		if o.slack {
			po.SlackTeam = slackTeam
			po.SlackUsers = map[string]string{harness.OIDCSubject1: slackAdmin, harness.OIDCSubject2: slackOther}
		}
		f.provider = harness.StartOIDCProvider(t, po)
		cfg.OIDC = &webauth.OIDCConfig{
			Issuer: f.provider.Issuer, ClientID: f.provider.ClientID, ClientSecret: f.provider.ClientSecret,
			Scopes: []string{"openid", "email", "profile"},
			Users:  map[string]policy.Role{harness.OIDCEmail1: policy.Admin, harness.OIDCSubject2: policy.Viewer},
		}
		if o.slack {
			cfg.OIDC.Slack, cfg.OIDC.SlackTeamID, cfg.OIDC.Users = true, slackTeam, nil
		}
	}
	a, err := webauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler(console))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// browser is a client with cookies that stops before following a
// redirect to the console's callback, so tests can hold it.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/auth") {
			f.authorize = req.URL
		}
		if req.URL.Path == webauth.CallbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// signInUntilCallback signs user in at the provider's login page and
// returns the callback URL the provider sends the browser to.
func (f *fixture) signInUntilCallback(c *http.Client, user string) string {
	f.t.Helper()
	resp := get(f.t, c, f.public+webauth.LoginPath+"?next=/ui/incidents?status=open")
	if resp.code != http.StatusOK || !strings.Contains(resp.body, `name="password"`) {
		f.t.Fatalf("login page: %d %s", resp.code, resp.body)
	}
	id := resp.url.Query().Get("authRequestID")
	r, err := c.PostForm(f.provider.Issuer+"/login/username", url.Values{"id": {id}, "username": {user}, "password": {harness.OIDCPassword}})
	if err != nil {
		f.t.Fatal(err)
	}
	r.Body.Close()
	loc := r.Header.Get("Location")
	if r.StatusCode/100 != 3 || !strings.HasPrefix(loc, f.public+webauth.CallbackPath) {
		f.t.Fatalf("provider did not send back to the callback: %d %q", r.StatusCode, loc)
	}
	return loc
}

type response struct {
	code int
	body string
	url  *url.URL
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return response{r.StatusCode, string(b), r.Request.URL}
}

func TestOIDCSignInWithPKCEStateAndNonce(t *testing.T) {
	f := newFixture(t, options{})
	c := f.browser()
	cb := f.signInUntilCallback(c, harness.OIDCUser1())
	q := f.authorize.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorisation request without PKCE S256, state and nonce: %s", f.authorize)
	}
	pub, _ := url.Parse(f.public)
	flowCookies := c.Jar.Cookies(pub)
	resp := get(t, c, cb)
	if resp.code != http.StatusOK || resp.body != "console /ui/incidents id=oidc:"+harness.OIDCSubject1+" role=admin via=oidc" {
		t.Fatalf("after sign-in: %d %q", resp.code, resp.body)
	}
	if !f.audit.has("oidc:"+harness.OIDCSubject1, "ui sign-in", "allowed", "as admin") {
		t.Fatalf("sign-in not audited: %+v", f.audit.rows)
	}
	// The same callback again (a replayed code and state), even with
	// the flow cookie it came with, is refused by the console itself
	// before the provider is asked (which would refuse the used code too).
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(pub, flowCookies)
	if resp := get(t, &http.Client{Jar: jar}, cb); resp.code != http.StatusUnauthorized {
		t.Fatalf("replayed callback: %d %s", resp.code, resp.body)
	}
	if !f.audit.has("web:anonymous", "ui sign-in", "refused", "callback replayed") {
		t.Fatalf("replay not refused as such: %+v", f.audit.rows)
	}
	// The session still works; the mapping by subject gives viewer.
	if resp := get(t, c, f.public+"/ui/"); resp.code != http.StatusOK || !strings.Contains(resp.body, "role=admin") {
		t.Fatalf("session: %d %s", resp.code, resp.body)
	}
}

func TestOIDCRefusals(t *testing.T) {
	f := newFixture(t, options{})
	t.Run("wrong state", func(t *testing.T) {
		c := f.browser()
		cb, _ := url.Parse(f.signInUntilCallback(c, harness.OIDCUser1()))
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		if resp := get(t, c, cb.String()); resp.code != http.StatusUnauthorized || strings.Contains(resp.body, "id=") {
			t.Fatalf("wrong state: %d %s", resp.code, resp.body)
		}
		if !f.audit.has("web:anonymous", "ui sign-in", "refused", "state does not match") {
			t.Fatal("refusal not audited")
		}
	})
	t.Run("callback in another browser", func(t *testing.T) {
		cb := f.signInUntilCallback(f.browser(), harness.OIDCUser1())
		// An attacker's browser (no flow cookie) cannot complete someone's sign-in.
		if resp := get(t, f.browser(), cb); resp.code != http.StatusUnauthorized {
			t.Fatalf("callback without the flow cookie: %d %s", resp.code, resp.body)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		if resp := get(t, f.browser(), f.public+webauth.CallbackPath+"?error=access_denied&state=x"); resp.code != http.StatusUnauthorized {
			t.Fatalf("error callback: %d", resp.code)
		}
	})
	t.Run("mapped by subject", func(t *testing.T) {
		c := f.browser()
		resp := get(t, c, f.signInUntilCallback(c, harness.OIDCUser2))
		if resp.code != http.StatusOK || !strings.Contains(resp.body, "id=oidc:"+harness.OIDCSubject2+" role=viewer") {
			t.Fatalf("viewer by subject: %d %s", resp.code, resp.body)
		}
	})
}

func TestSessionExpiredAndTamperedRefused(t *testing.T) {
	f := newFixture(t, options{})
	c := f.browser()
	if resp := get(t, c, f.signInUntilCallback(c, harness.OIDCUser1())); resp.code != http.StatusOK {
		t.Fatalf("sign-in: %d", resp.code)
	}
	u, _ := url.Parse(f.public + "/ui/")
	cookies := c.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != "chatops_ui" {
		t.Fatalf("cookies: %v", cookies)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	with := func(value string) int {
		req, _ := http.NewRequest(http.MethodGet, f.public+"/ui/", nil)
		req.AddCookie(&http.Cookie{Name: "chatops_ui", Value: value})
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	good := cookies[0].Value
	if code := with(good); code != http.StatusOK {
		t.Fatalf("good cookie: %d", code)
	}
	for i := range []int{0, len(good) / 2, len(good) - 1} {
		b := []byte(good)
		b[i] ^= 1
		if code := with(string(b)); code != http.StatusSeeOther {
			t.Fatalf("cookie edited at %d: %d, want a redirect to sign in", i, code)
		}
	}
	f.clock.add(time.Hour)
	if code := with(good); code != http.StatusSeeOther {
		t.Fatalf("expired session: %d, want a redirect to sign in", code)
	}
}

func TestSlackSignInRolesReadAtEachRequest(t *testing.T) {
	f := newFixture(t, options{slack: true})
	f.roles.set(slackAdmin, policy.Admin)
	c := f.browser()
	resp := get(t, c, f.signInUntilCallback(c, harness.OIDCUser1()))
	if resp.code != http.StatusOK || !strings.Contains(resp.body, "id=slack:"+slackAdmin+" role=admin") {
		t.Fatalf("Slack sign-in: %d %s", resp.code, resp.body)
	}
	if !f.audit.has("slack:"+slackAdmin, "ui sign-in", "allowed", "as admin") {
		t.Fatal("not audited")
	}
	f.roles.set(slackAdmin, policy.NoAccess)
	if resp := get(t, c, f.public+"/ui/"); resp.code != http.StatusForbidden {
		t.Fatalf("after the role was revoked: %d %s", resp.code, resp.body)
	}
	// A Slack person the mapping does not name (default none) is refused
	// at sign-in, and that is audited under their id.
	c2 := f.browser()
	if resp := get(t, c2, f.signInUntilCallback(c2, harness.OIDCUser2)); resp.code != http.StatusForbidden {
		t.Fatalf("no role: %d %s", resp.code, resp.body)
	}
	if !f.audit.has("slack:"+slackOther, "ui sign-in", "refused", "no role") {
		t.Fatal("refusal not audited")
	}
}

func TestSlackOtherWorkspaceRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + ln.Addr().String()
	p := harness.StartOIDCProvider(t, harness.OIDCOptions{RedirectURIs: []string{public + webauth.CallbackPath},
		SlackTeam: "T0ELSEWHERE", SlackUsers: map[string]string{harness.OIDCSubject1: slackAdmin}})
	roles := &slackRoles{access: policy.Access{Users: map[string]policy.Role{policy.Key("slack", slackAdmin): policy.Owner}}}
	audit := &memAudit{}
	a, err := webauth.New(webauth.Config{PublicURL: public, SessionKey: []byte(strings.Repeat("k", 40)), SessionTTL: time.Hour,
		InsecureCookie: true, Audit: audit, Roles: roles,
		OIDC: &webauth.OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Scopes: []string{"openid"}, Slack: true, SlackTeamID: slackTeam}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler(console))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	f := &fixture{t: t, public: public, provider: p, audit: audit}
	c := f.browser()
	if resp := get(t, c, f.signInUntilCallback(c, harness.OIDCUser1())); resp.code != http.StatusUnauthorized {
		t.Fatalf("another workspace: %d %s", resp.code, resp.body)
	}
	if !audit.has("web:anonymous", "ui sign-in", "refused", "slack workspace") {
		t.Fatalf("not audited: %+v", audit.rows)
	}
}

func TestProxyHeaders(t *testing.T) {
	proxyCfg := func(trusted string) *webauth.ProxyConfig {
		return &webauth.ProxyConfig{
			Trusted:    []netip.Prefix{netip.MustParsePrefix(trusted)},
			UserHeader: "X-Forwarded-User", EmailHeader: "X-Forwarded-Email", GroupsHeader: "X-Forwarded-Groups",
			Users:  map[string]policy.Role{"alice": policy.Viewer},
			Groups: map[string]policy.Role{"sre": policy.Admin},
		}
	}
	t.Run("trusted peer", func(t *testing.T) {
		f := newFixture(t, options{noOIDC: true, proxy: proxyCfg("127.0.0.1/32")})
		c := &http.Client{}
		resp := get(t, c, f.public+"/ui/", "X-Forwarded-User", "alice", "X-Forwarded-Groups", "dev, sre")
		if resp.code != http.StatusOK || resp.body != "console /ui/ id=proxy:alice role=admin via=proxy" {
			t.Fatalf("from the proxy: %d %q", resp.code, resp.body)
		}
		get(t, c, f.public+"/ui/", "X-Forwarded-User", "alice", "X-Forwarded-Groups", "dev, sre")
		if !f.audit.has("proxy:alice", "ui sign-in", "allowed", "as admin") || f.audit.count() != 1 {
			t.Fatalf("proxy sign-in audited once: %+v", f.audit.rows)
		}
		if resp := get(t, c, f.public+"/ui/", "X-Forwarded-User", "mallory"); resp.code != http.StatusForbidden {
			t.Fatalf("unmapped proxy user: %d", resp.code)
		}
		if resp := get(t, c, f.public+"/ui/"); resp.code != http.StatusUnauthorized {
			t.Fatalf("no header: %d", resp.code)
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		f := newFixture(t, options{noOIDC: true, proxy: proxyCfg("10.0.0.0/8")})
		c := &http.Client{}
		// Neither the headers nor an X-Forwarded-For naming a trusted
		// address make a stranger someone.
		resp := get(t, c, f.public+"/ui/", "X-Forwarded-User", "alice", "X-Forwarded-Groups", "sre", "X-Forwarded-For", "10.1.2.3")
		if resp.code != http.StatusUnauthorized || strings.Contains(resp.body, "id=proxy") {
			t.Fatalf("headers from an untrusted peer: %d %s", resp.code, resp.body)
		}
		if f.audit.count() != 0 {
			t.Fatalf("audited: %+v", f.audit.rows)
		}
	})
}

func TestLogout(t *testing.T) {
	f := newFixture(t, options{})
	c := f.browser()
	get(t, c, f.signInUntilCallback(c, harness.OIDCUser1()))
	post := func(origin string) int {
		req, _ := http.NewRequest(http.MethodPost, f.public+webauth.LogoutPath, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", map[bool]string{true: "same-origin", false: "cross-site"}[origin == f.public])
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := post("https://evil.example"); code != http.StatusForbidden {
		t.Fatalf("cross-site sign-out: %d", code)
	}
	if resp := get(t, c, f.public+"/ui/"); resp.code != http.StatusOK {
		t.Fatalf("still signed in after a refused cross-site sign-out: %d", resp.code)
	}
	if code := post(f.public); code != http.StatusOK {
		t.Fatalf("sign-out: %d", code)
	}
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp := get(t, &noRedirect, f.public+"/ui/"); resp.code != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", resp.code)
	}
	if !f.audit.has("oidc:"+harness.OIDCSubject1, "ui sign-out", "ok", "") {
		t.Fatal("sign-out not audited")
	}
}

func TestSecureCookies(t *testing.T) {
	p := harness.StartOIDCProvider(t, harness.OIDCOptions{RedirectURIs: []string{"https://chatops.example/ui/callback"}})
	a, err := webauth.New(webauth.Config{PublicURL: "https://chatops.example", SessionKey: []byte(strings.Repeat("k", 32)),
		SessionTTL: time.Hour, Audit: &memAudit{},
		OIDC: &webauth.OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, Scopes: []string{"openid"}, Users: map[string]policy.Role{"x": policy.Viewer}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Handler(console).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://chatops.example/ui/login?next=//evil.example/", nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	sc := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-chatops_ui_flow=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("flow cookie %q lacks %s", sc, want)
		}
	}
	if !strings.HasPrefix(rec.Header().Get("Location"), p.Issuer) {
		t.Fatalf("not sent to the provider: %s", rec.Header().Get("Location"))
	}
}
