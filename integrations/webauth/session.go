package webauth

import (
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// Cookie names. With Secure the __Host- prefix makes browsers refuse the
// cookie unless it is Secure, host-only and for path /, so a sibling
// subdomain cannot plant one.
const (
	sessionCookie = "chatops_ui"
	flowCookie    = "chatops_ui_flow"
	hostPrefix    = "__Host-"
)

// flowTTL bounds a sign-in in progress: from /ui/login to the callback.
const flowTTL = 10 * time.Minute

// session is what the session cookie holds: who signed in, never their
// role, which is worked out again at every request from the mapping the
// bot holds now.
type session struct {
	// Platform is "slack" (Sign in with Slack) or "oidc".
	Platform string `json:"p"`
	// Subject is the Slack user id or the OIDC subject.
	Subject string `json:"s"`
	// Email is set only when the provider said it is verified.
	Email string `json:"e,omitempty"`
	Name  string `json:"n,omitempty"`
	// Expires is a Unix time; the cookie is refused after it.
	Expires int64 `json:"x"`
}

// flow is a sign-in in progress, kept in its own short-lived cookie
// between /ui/login and /ui/callback.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"r"`
	Expires  int64  `json:"x"`
}

// cookies signs and reads the console's cookies: HMAC-SHA-256 over the
// cookie's name, a timestamp and the JSON value (gorilla/securecookie), so
// a flow cookie cannot pass as a session and no cookie can be edited.
type cookies struct {
	codec  *securecookie.SecureCookie
	secure bool
}

func newCookies(key []byte, ttl time.Duration, secure bool) *cookies {
	codec := securecookie.New(key, nil)
	codec.SetSerializer(securecookie.JSONEncoder{})
	// The codec's own age check is a backstop; Expires, checked against
	// the authenticator's clock, is the one that counts.
	codec.MaxAge(int(max(ttl, flowTTL)/time.Second) + 60)
	codec.MaxLength(4096)
	return &cookies{codec: codec, secure: secure}
}

func (c *cookies) name(base string) string {
	if c.secure {
		return hostPrefix + base
	}
	return base
}

var errExpired = errors.New("expired")

// read decodes the cookie base into v, which must then say it has not
// expired at now.
func (c *cookies) read(r *http.Request, base string, v interface{ expires() int64 }, now time.Time) error {
	ck, err := r.Cookie(c.name(base))
	if err != nil {
		return err
	}
	if err := c.codec.Decode(c.name(base), ck.Value, v); err != nil {
		return err
	}
	if now.Unix() >= v.expires() {
		return errExpired
	}
	return nil
}

func (c *cookies) write(w http.ResponseWriter, base string, v any, expires time.Time) error {
	enc, err := c.codec.Encode(c.name(base), v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.name(base), Value: enc, Path: "/", Expires: expires,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (c *cookies) clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: c.name(base), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *session) expires() int64 { return s.Expires }
func (f *flow) expires() int64    { return f.Expires }
