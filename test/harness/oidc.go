package harness

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// OIDC people of the provider's example store (zitadel's), who sign in
// on its login page with OIDCPassword. The first is named by its host:
// OIDCUser1 is "test-user@127.0.0.1" for an issuer on 127.0.0.1.
const (
	OIDCPassword = "verysecure"
	OIDCUser2    = "test-user2"
	// Their subjects and verified emails, for the role tables.
	OIDCSubject1 = "id1"
	OIDCEmail1   = "test-user@zitadel.ch"
	OIDCSubject2 = "id2"
	OIDCEmail2   = "test-user2@zitadel.ch"
)

// OIDCUser1 is the first example person's login name.
func OIDCUser1() string { return "test-user@127.0.0.1" }

// OIDCProvider is a real OpenID Connect provider (zitadel's op package and
// its example storage and login page) on 127.0.0.1: authorisation code
// flow with PKCE (S256), single-use codes, signed ID tokens, discovery.
type OIDCProvider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
}

// OIDCOptions shape the provider.
type OIDCOptions struct {
	// RedirectURIs are the client's allowed redirect URIs.
	RedirectURIs []string
	// SlackTeam and SlackUsers (subject → Slack user id), when set, add
	// Sign in with Slack's claims (https://slack.com/team_id and
	// https://slack.com/user_id) to the ID tokens.
	SlackTeam  string
	SlackUsers map[string]string
}

// StartOIDCProvider starts the provider; it stops with the test.
func StartOIDCProvider(t TB, o OIDCOptions) *OIDCProvider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidc provider: listen: %v", err)
	}
	p := &OIDCProvider{Issuer: "http://" + ln.Addr().String(), ClientID: "chatops-console", ClientSecret: "console-secret"}
	clients := map[string]*storage.Client{p.ClientID: storage.WebClient(p.ClientID, p.ClientSecret, o.RedirectURIs...)}
	var st exampleop.Storage = storage.NewStorageWithClients(storage.NewUserStore(p.Issuer), clients)
	if o.SlackTeam != "" {
		st = slackClaims{Storage: st.(*storage.Storage), team: o.SlackTeam, users: o.SlackUsers}
	}
	srv := &http.Server{Handler: exampleop.SetupServer(p.Issuer, st, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("oidc provider: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return p
}

// slackClaims adds Sign in with Slack's claims to the ID token, as
// Slack's provider does.
type slackClaims struct {
	*storage.Storage
	team  string
	users map[string]string
}

func (s slackClaims) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	ui.AppendClaims("https://slack.com/team_id", s.team)
	if u, ok := s.users[req.GetSubject()]; ok {
		ui.AppendClaims("https://slack.com/user_id", u)
	}
	return nil
}
