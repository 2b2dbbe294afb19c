package main

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/console"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/bakewise/chatops/integrations/webauth"
)

// webConsole is the console's part of serve: its pages, the notifier the
// engine and the escalator also tell, and its background work.
type webConsole struct {
	pages  http.Handler
	notify notifier
	run    func(ctx context.Context) error
}

type notifier interface{ Notify() }

// notifiers tell each of theirs: the outbox and the console's live pages
// learn of a commit from the same call.
type notifiers []notifier

func (ns notifiers) Notify() {
	for _, n := range ns {
		n.Notify()
	}
}

// newWebConsole builds the console when ui.enabled says so. Its pages
// need a signed-in viewer: mounts puts the sign-in in front of them.
func newWebConsole(cfg config.Config, store *sqlstore.Store, log *zap.Logger) (webConsole, error) {
	if !cfg.UI.Enabled {
		return webConsole{}, nil
	}
	key, err := auditKey(cfg)
	if err != nil {
		return webConsole{}, err
	}
	c, err := console.New(console.Config{
		PageSize:       cfg.UI.PageSize,
		SlackURL:       cfg.UI.SlackWorkspace,
		DiscordGuildID: cfg.UI.DiscordGuildID,
		MaxLiveClients: cfg.UI.MaxLiveClients,
		LiveFor:        cfg.UI.LiveFor,
		PollInterval:   cfg.UI.PollInterval,
		AuditKey:       key,
		VerifyInterval: cfg.UI.AuditVerifyInterval,
		LogoutPath:     webauth.LogoutPath,
	}, store, log.With(zap.String("component", "console")))
	if err != nil {
		return webConsole{}, err
	}
	return webConsole{pages: c, notify: c, run: c.Run}, nil
}

// mounts is the console under /ui/ behind its sign-in (OIDC or the trusted
// proxy), which maps people through roles, the chat's mapping, and audits
// every sign-in in store; none when the console is off.
func (w webConsole) mounts(cfg config.Config, roles webauth.ChatRoles, store *sqlstore.Store, log *zap.Logger) ([]httpapi.Mount, error) {
	if w.pages == nil {
		return nil, nil
	}
	ac := webauth.Config{
		PublicURL: cfg.UI.PublicURL, SessionKey: []byte(cfg.UI.SessionKey.Reveal()), SessionTTL: cfg.UI.SessionTTL,
		InsecureCookie: cfg.UI.InsecureCookie, Roles: roles, Audit: store,
		Log: log.With(zap.String("component", "webauth")),
	}
	if o := cfg.UI.OIDC; o.Issuer != "" {
		ac.OIDC = &webauth.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(),
			Scopes: o.Scopes, Slack: o.Slack, SlackTeamID: o.SlackTeamID, Users: config.UIRoles(o.Users)}
	}
	if p := cfg.UI.Proxy; len(p.TrustedCIDRs) > 0 {
		ac.Proxy = &webauth.ProxyConfig{Trusted: cfg.UIProxyCIDRs(),
			UserHeader: p.UserHeader, EmailHeader: p.EmailHeader, GroupsHeader: p.GroupsHeader,
			Users: config.UIRoles(p.Users), Groups: config.UIRoles(p.Groups)}
	}
	auth, err := webauth.New(ac)
	if err != nil {
		return nil, err
	}
	return []httpapi.Mount{{Pattern: "/ui/", Handler: auth.Handler(w.pages)}}, nil
}
