package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The console's sign-in settings: every mistake is reported at its path,
// and the secrets come only from the environment.
func TestUISignIn(t *testing.T) {
	key := strings.Repeat("k", 32)
	base := map[string]string{EnvWebhookToken: "w", EnvAPIToken: "a", EnvUISessionKey: key}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // problems; none: accepted
	}{
		{"off", "ui: {enabled: false, public_url: nonsense}", nil, nil},
		{"oidc", `ui:
  enabled: true
  public_url: https://chatops.example.com
  oidc: {issuer: https://idp.example.com, client_id: c, users: {alice@example.com: admin}}`, nil, nil},
		{"slack", `ui:
  enabled: true
  public_url: https://chatops.example.com
  oidc: {issuer: https://slack.com, client_id: c, slack: true, slack_team_id: T0123}`, map[string]string{EnvUIOIDCClientSecret: "s"}, nil},
		{"proxy on loopback http", `ui:
  enabled: true
  public_url: http://127.0.0.1:8080
  insecure_cookie: true
  proxy: {trusted_cidrs: [127.0.0.1, 10.0.0.0/8], groups: {sre: admin}}`, nil, nil},
		{"mistakes", `ui:
  enabled: true
  public_url: http://chatops.example.com
  insecure_cookie: true
  session_ttl: 1m
  oidc: {issuer: http://idp.example.com, client_id: "", scopes: [email], users: {bob: none}}
  proxy: {trusted_cidrs: [0.0.0.0/0, nonsense], user_header: X-Forwarded-For}`, map[string]string{EnvUISessionKey: "short"}, []string{
			`ui.public_url: "http://chatops.example.com": want https`,
			"ui.insecure_cookie: true, but",
			"ui.session_ttl: 1m0s: want 5m0s..168h0m0s",
			"CHATOPS_UI_SESSION_KEY: 5 bytes: want at least 32",
			`ui.oidc.issuer: "http://idp.example.com": want an https URL`,
			"ui.oidc.client_id: want the client id",
			`ui.oidc.scopes: ["email"]: must contain openid`,
			`ui.oidc.users.bob: "none": want viewer, member, admin or owner`,
			`ui.proxy.trusted_cidrs[0]: "0.0.0.0/0" trusts /0`,
			`ui.proxy.trusted_cidrs[1]: "nonsense": want an address or a CIDR`,
			`ui.proxy.user_header: "X-Forwarded-For" carries addresses`,
			"ui.proxy: no users and no groups",
		}},
		{"slack without team or secret", `ui:
  enabled: true
  public_url: https://c.example
  oidc: {issuer: https://slack.com, client_id: c, slack: true, users: {x: admin}}`, nil, []string{
			`ui.oidc.slack_team_id: "": Sign in with Slack needs the workspace id`,
			"ui.oidc.users: with slack: true roles come from access.slack_users",
			"ui.oidc: Sign in with Slack needs the client secret",
		}},
		{"no key, no way in", "ui: {enabled: true, public_url: https://c.example}", map[string]string{EnvUISessionKey: ""}, []string{
			"ui: no session key: set CHATOPS_UI_SESSION_KEY or CHATOPS_UI_SESSION_KEY_FILE",
			"ui: no way to sign in",
		}},
		{"secret in the YAML", "ui: {enabled: true, session_key: x}", nil, []string{"session_key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			e := map[string]string{}
			for k, v := range base {
				e[k] = v
			}
			for k, v := range tc.env {
				e[k] = v
			}
			_, err := Load(path, env(e))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no problem %q in:\n%v", w, err)
				}
			}
		})
	}
}
