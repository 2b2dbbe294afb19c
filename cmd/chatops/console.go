package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot/config"
	"github.com/bakewise/chatops/integrations/console"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/sqlstore"
)

// webConsole is the console's part of serve: its mount under /ui/, the
// notifier the engine and the escalator also tell, and its background work.
type webConsole struct {
	mounts []httpapi.Mount
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
// need a signed-in viewer (webauth sets one); without a sign-in in front
// they answer 401.
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
	}, store, log.With(zap.String("component", "console")))
	if err != nil {
		return webConsole{}, err
	}
	return webConsole{mounts: []httpapi.Mount{{Pattern: "/ui/", Handler: c}}, notify: c, run: c.Run}, nil
}
