package webauth

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
	"github.com/bakewise/chatops/test/harness"
)

type nopAudit struct{}

func (nopAudit) AppendAudit(context.Context, ...bot.AuditRecord) error { return nil }

// TestExchangeChecksVerifierAndNonce holds a real code from the provider
// and shows that it buys a session only with this flow's PKCE verifier
// (the provider checks it) and when the ID token carries this flow's nonce
// (the console checks it).
func TestExchangeChecksVerifierAndNonce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + ln.Addr().String()
	p := harness.StartOIDCProvider(t, harness.OIDCOptions{RedirectURIs: []string{public + CallbackPath}})
	a, err := New(Config{PublicURL: public, SessionKey: []byte(strings.Repeat("s", 32)), SessionTTL: time.Hour,
		InsecureCookie: true, Audit: nopAudit{},
		OIDC: &OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret, Scopes: []string{"openid", "email"},
			Users: map[string]policy.Role{harness.OIDCSubject1: policy.Viewer}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler(http.NotFoundHandler()))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	// code runs a sign-in up to the callback and returns its code and the
	// flow this browser holds.
	code := func() (string, flow) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == CallbackPath {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		r, err := c.Get(public + LoginPath)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		r, err = c.PostForm(p.Issuer+"/login/username", url.Values{"id": {r.Request.URL.Query().Get("authRequestID")},
			"username": {harness.OIDCUser1()}, "password": {harness.OIDCPassword}})
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		cb, err := url.Parse(r.Header.Get("Location"))
		if err != nil || cb.Query().Get("code") == "" {
			t.Fatalf("no code: %q", r.Header.Get("Location"))
		}
		req := httptest.NewRequest(http.MethodGet, cb.String(), nil)
		u, _ := url.Parse(public)
		for _, ck := range jar.Cookies(u) {
			req.AddCookie(ck)
		}
		var f flow
		if err := a.cookies.read(req, flowCookie, &f, time.Now()); err != nil {
			t.Fatal(err)
		}
		return cb.Query().Get("code"), f
	}
	ctx := context.Background()

	c, f := code()
	other := f
	other.Verifier = strings.Repeat("v", 43)
	if _, err := a.oidc.exchange(ctx, c, other, time.Now); err == nil {
		t.Fatal("a code was exchanged with another verifier")
	}

	c, f = code()
	other = f
	other.Nonce = randomToken()
	if _, err := a.oidc.exchange(ctx, c, other, time.Now); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("another nonce: %v", err)
	}

	c, f = code()
	s, err := a.oidc.exchange(ctx, c, f, time.Now)
	if err != nil || s.Subject != harness.OIDCSubject1 || s.Email != harness.OIDCEmail1 {
		t.Fatalf("the flow's own verifier and nonce: %+v %v", s, err)
	}
	if _, err := a.oidc.exchange(ctx, c, f, time.Now); err == nil {
		t.Fatal("the provider took a code twice")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/incidents/3?x=1": "/ui/incidents/3?x=1",
		"":                    "/ui/",
		"//evil.example/ui/":  "/ui/",
		"https://evil/ui/":    "/ui/",
		"/ui/\\evil":          "/ui/",
		"/uix":                "/ui/",
		"/ui/login?next=/ui/": "/ui/",
		"/other":              "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
