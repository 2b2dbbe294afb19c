package webauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Timeouts of the calls to the provider.
const (
	// discoveryTimeout bounds reading the provider's discovery document
	// (and so the sign-in page's first load after a start).
	discoveryTimeout = 10 * time.Second
	// exchangeTimeout bounds trading the code for tokens and checking
	// the ID token's signature (which may fetch the provider's keys).
	exchangeTimeout = 10 * time.Second
	// maxFlowsRemembered bounds the completed sign-ins remembered to
	// refuse a replayed callback; past it the oldest are forgotten, and a
	// replay of theirs still meets the provider's single-use code.
	maxFlowsRemembered = 10000
)

// Slack's claims in a Sign in with Slack ID token.
const (
	slackUserClaim = "https://slack.com/user_id"
	slackTeamClaim = "https://slack.com/team_id"
)

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{1,30}$`)

// OIDCConfig is sign-in with an OpenID Connect provider.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Slack is Sign in with Slack: people are Slack users of SlackTeamID,
	// mapped by the chat's roles.
	Slack       bool
	SlackTeamID string
	// Users maps a subject or a verified email to a role (not Slack).
	Users map[string]policy.Role
}

type oidcLogin struct {
	cfg      OIDCConfig
	redirect string
	client   *http.Client
	log      *zap.Logger

	mu       sync.Mutex
	provider *oidc.Provider
	// used holds the states of completed sign-ins, so the same callback
	// URL cannot sign in twice.
	usedMu sync.Mutex
	used   *expirable.LRU[string, struct{}]
}

func newOIDCLogin(cfg OIDCConfig, redirect string, log *zap.Logger) *oidcLogin {
	return &oidcLogin{
		cfg: cfg, redirect: redirect, log: log,
		client: &http.Client{Timeout: exchangeTimeout},
		used:   expirable.NewLRU[string, struct{}](maxFlowsRemembered, nil, flowTTL),
	}
}

// discover reads the provider's discovery document once; a failure is
// retried at the next sign-in.
func (o *oidcLogin) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.client), discoveryTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery at %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcLogin) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: o.redirect, Scopes: o.cfg.Scopes,
	}
}

// claim marks state used; false if it was already.
func (o *oidcLogin) claim(state string) bool {
	o.usedMu.Lock()
	defer o.usedMu.Unlock()
	if o.used.Contains(state) {
		return false
	}
	o.used.Add(state, struct{}{})
	return true
}

// claims are the ID token's claims the console reads.
type claims struct {
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
	Name          string          `json:"name"`
	SlackUser     string          `json:"https://slack.com/user_id"`
	SlackTeam     string          `json:"https://slack.com/team_id"`
}

// verified reads email_verified, which some providers send as a string.
func (c claims) verified() bool {
	s := strings.Trim(string(c.EmailVerified), `"`)
	return s == "true"
}

// exchange trades code for tokens (with the PKCE verifier), checks the
// ID token (signature, issuer, audience, expiry, and the nonce of this
// browser's flow) and tells who signed in.
func (o *oidcLogin) exchange(ctx context.Context, code string, f flow, now func() time.Time) (session, error) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	p, err := o.discover(ctx)
	if err != nil {
		return session{}, err
	}
	ctx = context.WithValue(oidc.ClientContext(ctx, o.client), oauth2.HTTPClient, o.client)
	tok, err := o.oauth(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return session{}, fmt.Errorf("code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return session{}, errors.New("the token response has no id_token")
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: o.cfg.ClientID, Now: now}).Verify(ctx, raw)
	if err != nil {
		return session{}, fmt.Errorf("id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return session{}, errors.New("id token: nonce is not this sign-in's")
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return session{}, fmt.Errorf("id token claims: %w", err)
	}
	if c.Email == "" && p.UserInfoEndpoint() != "" {
		// Providers that issue an access token may keep the profile and
		// email claims for the userinfo endpoint (OIDC Core 5.4).
		o.userInfo(ctx, p, tok, idt.Subject, &c)
	}
	s := session{Platform: "oidc", Subject: idt.Subject, Name: clip(c.Name, 200)}
	if c.verified() {
		s.Email = clip(c.Email, 320)
	}
	if o.cfg.Slack {
		if c.SlackTeam != o.cfg.SlackTeamID {
			return session{}, fmt.Errorf("slack workspace %q is not %s", clip(c.SlackTeam, 40), o.cfg.SlackTeamID)
		}
		if !slackUserID.MatchString(c.SlackUser) {
			return session{}, fmt.Errorf("id token: %s %q is not a Slack user id", slackUserClaim, clip(c.SlackUser, 40))
		}
		s.Platform, s.Subject = "slack", c.SlackUser
	}
	if s.Subject == "" || len(s.Subject) > 255 {
		return session{}, errors.New("id token: no usable subject")
	}
	return s, nil
}

// userInfo fills c's email and name from the userinfo endpoint, for the
// subject the ID token names. Without them a person is known by subject
// only, so a failure is logged and not fatal.
func (o *oidcLogin) userInfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, subject string, c *claims) {
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	var uc claims
	if err == nil {
		err = ui.Claims(&uc)
	}
	switch {
	case err != nil:
		o.log.Warn("userinfo unread: the person is known by subject only", zap.Error(err))
		return
	case ui.Subject != subject:
		o.log.Warn("userinfo names another subject than the id token: ignored")
		return
	}
	c.Email, c.EmailVerified = uc.Email, uc.EmailVerified
	if c.Name == "" {
		c.Name = uc.Name
	}
}

// login starts a sign-in: a fresh state, nonce and PKCE verifier in a
// signed cookie of this browser, and the provider's authorisation page.
func (a *Authenticator) login(w http.ResponseWriter, r *http.Request) {
	if a.oidc == nil {
		a.page(w, http.StatusNotFound, "No sign-in page", "Sign in through the proxy in front of the console.", false)
		return
	}
	p, err := a.oidc.discover(r.Context())
	if err != nil {
		a.log.Error("sign-in unavailable", zap.Error(err))
		a.page(w, http.StatusServiceUnavailable, "Sign-in unavailable", "The identity provider cannot be reached; try again shortly.", false)
		return
	}
	f := flow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: a.now().Add(flowTTL).Unix()}
	if err := a.cookies.write(w, flowCookie, &f, a.now().Add(flowTTL)); err != nil {
		a.log.Error("flow cookie", zap.Error(err))
		a.page(w, http.StatusInternalServerError, "Sign-in failed", "The sign-in could not be started.", false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, a.oidc.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

// callback completes a sign-in: the state must be the one this browser's
// flow cookie holds, used once; the code is exchanged with the flow's
// verifier; the ID token must carry the flow's nonce; the person must
// hold at least Viewer. Every outcome is audited.
func (a *Authenticator) callback(w http.ResponseWriter, r *http.Request) {
	if a.oidc == nil {
		a.page(w, http.StatusNotFound, "No sign-in page", "Sign in through the proxy in front of the console.", false)
		return
	}
	var f flow
	ferr := a.cookies.read(r, flowCookie, &f, a.now())
	a.cookies.clear(w, flowCookie)
	q := r.URL.Query()
	refuse := func(status int, actor bot.Identity, reason string) {
		_ = a.audit(r.Context(), actor, "ui sign-in", "refused", reason+" (from "+r.RemoteAddr+")")
		msg := "The sign-in could not be completed. Start again."
		if status == http.StatusForbidden {
			msg = "You signed in, but hold no role in chatops: ask an admin."
		}
		a.page(w, status, http.StatusText(status), msg, status != http.StatusForbidden)
	}
	switch {
	case ferr != nil:
		refuse(http.StatusUnauthorized, bot.Identity{}, "no sign-in in progress in this browser (flow cookie: "+cookieReason(ferr)+")")
		return
	case q.Get("error") != "":
		refuse(http.StatusUnauthorized, bot.Identity{}, "the provider refused: "+clip(q.Get("error"), 100))
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1:
		refuse(http.StatusUnauthorized, bot.Identity{}, "state does not match this browser's sign-in")
		return
	case !a.oidc.claim(f.State):
		refuse(http.StatusUnauthorized, bot.Identity{}, "callback replayed: this sign-in was completed already")
		return
	}
	s, err := a.oidc.exchange(r.Context(), q.Get("code"), f, a.now)
	if err != nil {
		refuse(http.StatusUnauthorized, bot.Identity{}, clip(err.Error(), 500))
		return
	}
	v := a.sessionViewer(r.Context(), s)
	actor := bot.Identity{Platform: s.Platform, UserID: s.Subject, Name: v.Name}
	if !v.Role.Allows(policy.Viewer) {
		refuse(http.StatusForbidden, actor, "no role")
		return
	}
	s.Expires = a.now().Add(a.cfg.SessionTTL).Unix()
	if err := a.audit(r.Context(), actor, "ui sign-in", "allowed", "via oidc as "+v.Role.String()); err != nil {
		a.page(w, http.StatusServiceUnavailable, "Sign-in failed", "The sign-in could not be recorded; try again shortly.", true)
		return
	}
	if err := a.cookies.write(w, sessionCookie, &s, time.Unix(s.Expires, 0)); err != nil {
		a.log.Error("session cookie", zap.Error(err))
		a.page(w, http.StatusInternalServerError, "Sign-in failed", "The session could not be kept.", true)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// safeNext is where to go after signing in: a console path on this site,
// else the console's start.
func safeNext(s string) string {
	const home = "/ui/"
	if len(s) > 2048 || !strings.HasPrefix(s, home) || strings.ContainsAny(s, "\\\r\n\t") {
		return home
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return home
	}
	for _, p := range []string{LoginPath, CallbackPath, LogoutPath} {
		if strings.HasPrefix(u.Path, p) {
			return home
		}
	}
	return s
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clip bounds text from the outside (a claim, a provider's error) to n
// bytes of valid UTF-8.
func clip(s string, n int) string {
	return bot.Clip(strings.ToValidUTF8(s, "\uFFFD"), n)
}
