// Package console is the web console: read-only pages under /ui/ for the
// people who look rather than act (the incident commander, the manager
// reading last night's timeline, the auditor). It renders incidents,
// approvals, the audit log and reliability charts on the server with
// html/template, its CSS and one small script embedded in the binary, and
// keeps the list and an open incident live with Server-Sent Events.
//
// It never changes anything: actions stay in chat, behind roles and the
// two-person rule. It never signs anyone in either: the sign-in middleware
// (integrations/webauth) puts the viewer in the request's context, and the
// console only checks their role. Alert text is an attacker's: it reaches
// a page only through html/template's escaping, as text.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/webauth"
	"github.com/bakewise/chatops/policy"
)

//go:embed templates/*.html assets/*
var files embed.FS

// Store is what the pages read.
type Store interface {
	bot.ConsoleReads
	bot.AuditSource
	IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error)
	AlertPage(ctx context.Context, incidentID int64, after string, limit int) ([]bot.Alert, error)
	EventPage(ctx context.Context, q bot.EventQuery) ([]bot.Event, error)
	CountOpenIncidents(ctx context.Context) (map[bot.Severity]int, error)
	CountPastDeadline(ctx context.Context, now time.Time) (int, error)
}

// Defaults for Config's zero fields.
const (
	DefaultPageSize       = 50
	DefaultMaxLiveClients = 100
	// DefaultLiveFor ends a live connection after a while: the browser
	// reconnects, so a client that went away without a word holds its slot
	// no longer than this.
	DefaultLiveFor = 30 * time.Minute
	// DefaultPollInterval is how often, while someone watches, the console
	// asks the store whether anything changed (a change another replica
	// committed reaches no Notify here), and how often a browser without
	// Server-Sent Events reloads what it shows.
	DefaultPollInterval = 5 * time.Second
	// DefaultVerifyInterval is how often the audit chain is walked again
	// for the audit page's status.
	DefaultVerifyInterval = 15 * time.Minute
)

// pageTimeout bounds the store's work for one page.
const pageTimeout = 10 * time.Second

// Config is the console's settings.
type Config struct {
	// PageSize is how many rows a list shows (at most bot.MaxConsolePage).
	PageSize int
	// SlackURL is the workspace's address (https://team.slack.com) that
	// Slack thread links start with; without it threads are named, not
	// linked.
	SlackURL string
	// DiscordGuildID is the server whose threads Discord links open.
	DiscordGuildID string
	// MaxLiveClients bounds the open Server-Sent Events streams; LiveFor
	// how long each lasts before the browser reconnects.
	MaxLiveClients int
	LiveFor        time.Duration
	PollInterval   time.Duration
	// AuditKey verifies keyed audit rows (nil: the status says keyed
	// rows cannot be verified here).
	AuditKey       *bot.AuditKey
	VerifyInterval time.Duration
	// LogoutPath, when set, is where the page's sign-out button posts.
	LogoutPath string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	c.PageSize = bot.ConsolePage(c.PageSize)
	if c.MaxLiveClients <= 0 {
		c.MaxLiveClients = DefaultMaxLiveClients
	}
	if c.LiveFor <= 0 {
		c.LiveFor = DefaultLiveFor
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.VerifyInterval <= 0 {
		c.VerifyInterval = DefaultVerifyInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Console serves the pages. Run keeps its live feed and the audit status
// going; Notify tells it that something was committed.
type Console struct {
	cfg    Config
	store  Store
	log    *zap.Logger
	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
	live   *hub
	audit  *auditStatus
	charts *chartCache
}

// New builds the console over store.
func New(cfg Config, store Store, log *zap.Logger) (*Console, error) {
	cfg.defaults()
	c := &Console{cfg: cfg, store: store, log: log, mux: http.NewServeMux()}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if c.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	c.live = newHub(store, cfg, log)
	c.audit = &auditStatus{}
	c.charts = &chartCache{}
	c.routes()
	return c, nil
}

// Notify wakes the live feed: a change was committed. It never blocks.
func (c *Console) Notify() { c.live.notify() }

// Run feeds the live pages and re-verifies the audit chain until ctx ends.
func (c *Console) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.audit.run(ctx, c.store, c.cfg, c.log)
	}()
	err := c.live.run(ctx)
	<-done // the walk of the chain ends with ctx too
	return err
}

func (c *Console) routes() {
	viewer := func(h http.HandlerFunc) http.Handler { return c.require(policy.Viewer, h) }
	admin := func(h http.HandlerFunc) http.Handler { return c.require(policy.Admin, h) }
	c.mux.Handle("GET /ui/{$}", viewer(c.incidentList))
	c.mux.Handle("GET /ui/incidents", viewer(c.incidentList))
	c.mux.Handle("GET /ui/incidents/{id}", viewer(c.incidentPage))
	c.mux.Handle("GET /ui/incidents/{id}/postmortem", viewer(c.postMortemPage))
	c.mux.Handle("GET /ui/incidents/{id}/postmortem.md", viewer(c.postMortemFile))
	c.mux.Handle("GET /ui/approvals", viewer(c.approvalsPage))
	c.mux.Handle("GET /ui/reliability", viewer(c.reliabilityPage))
	c.mux.Handle("GET /ui/events", viewer(c.events))
	c.mux.Handle("GET /ui/audit", admin(c.auditPage))
	c.mux.Handle("GET /ui/audit/export", admin(c.auditExport))
	// Assets are the same for everyone, so the refusal pages have their style.
	c.mux.HandleFunc("GET /ui/assets/{name}", c.asset)
	c.mux.Handle("/ui/", viewer(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "There is no such page.")
	}))
}

// The security headers every answer carries. The policy allows this
// origin's script, style and images and nothing inline, so even markup
// that slipped through escaping could run nothing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP serves /ui/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// require lets through viewers holding role: no viewer is a 401, too low
// a role a 403.
func (c *Console) require(role policy.Role, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := webauth.ViewerFrom(r.Context())
		switch {
		case !ok || v.ID == "":
			c.fail(w, r, http.StatusUnauthorized, "Sign in to see this page.")
		case !v.Role.Allows(role):
			c.fail(w, r, http.StatusForbidden, "This page needs the "+role.String()+" role; you are "+v.Role.String()+".")
		default:
			next(w, r)
		}
	})
}

// page is what every template gets.
type page struct {
	Title  string
	Viewer webauth.Viewer
	// Nav names the section in the menu.
	Nav     string
	IsAdmin bool
	// Live makes the page refresh itself on changes.
	Live       bool
	PollMillis int64
	LogoutPath string
	Now        time.Time
	Data       any
}

func (c *Console) newPage(r *http.Request, nav, title string, data any) page {
	v, _ := webauth.ViewerFrom(r.Context())
	return page{Title: title, Viewer: v, Nav: nav, IsAdmin: v.Role.Allows(policy.Admin), Data: data,
		PollMillis: c.cfg.PollInterval.Milliseconds(), LogoutPath: c.cfg.LogoutPath, Now: c.cfg.Now().UTC()}
}

// render writes a page, whole or not at all: a template that fails half
// way shows an error, not half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no page " + name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		c.log.Error("render page", zap.String("component", "console"), zap.String("page", name), zap.Error(err))
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes()) //nolint:errcheck // the client went away
}

// fail answers a plain error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := c.newPage(r, "", http.StatusText(status), msg)
	c.render(w, status, "error", p)
}

// storeFailed answers a store error: an unknown id is a 404, the rest a
// 503 with the cause logged, not shown.
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, bot.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "There is no such "+what+".")
		return
	}
	c.log.Warn("console read failed", zap.String("component", "console"), zap.String("what", what), zap.Error(err))
	c.fail(w, r, http.StatusServiceUnavailable, "The store did not answer; try again in a moment.")
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		name := n[len("templates/") : len(n)-len(".html")]
		pages[name] = t
	}
	return pages, nil
}
