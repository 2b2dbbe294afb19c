package console

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/outbox"
)

// What one incident's page reads at most of each part; the rest is paged.
const (
	alertsPerPage       = 50
	eventsPerPage       = 200
	severityHistory     = 50
	linksShown          = 50
	approvalsOfIncident = 20
)

type threadLink struct {
	Destination, Platform, Channel, Thread string
	// URL is the permalink, when the console knows the workspace or server.
	URL string
}

type incidentData struct {
	bot.IncidentDetail
	Alerts       []bot.Alert
	NextAlerts   string
	Events       []bot.Event
	NextEvents   string
	FirstEvents  string
	SevEvents    []bot.Event
	Links        bot.IncidentLinks
	Threads      []threadLink
	Approvals    []bot.Approval
	MoreApproval bool
}

func incidentID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	return id, err == nil && id > 0
}

func (c *Console) incidentPage(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(r)
	if !ok {
		c.fail(w, r, http.StatusNotFound, "There is no such incident.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	qv := r.URL.Query()
	alertsAfter := strings.ToValidUTF8(qv.Get("alerts_after"), "")
	eventsAfter, err := strconv.ParseInt(qv.Get("events_after"), 10, 64)
	if qv.Get("events_after") != "" && (err != nil || eventsAfter < 0) {
		c.fail(w, r, http.StatusBadRequest, "The page asked for makes no sense.")
		return
	}
	var d incidentData
	if d.IncidentDetail, err = c.store.IncidentView(ctx, id, 0, 0); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	if d.Alerts, err = c.store.AlertPage(ctx, id, alertsAfter, alertsPerPage); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	if len(d.Alerts) == alertsPerPage {
		d.NextAlerts = pageURL(r, "alerts_after", d.Alerts[len(d.Alerts)-1].Fingerprint)
	}
	if d.Events, err = c.store.EventPage(ctx, bot.EventQuery{IncidentID: id, After: eventsAfter, Limit: eventsPerPage}); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	if len(d.Events) == eventsPerPage {
		d.NextEvents = pageURL(r, "events_after", strconv.FormatInt(d.Events[len(d.Events)-1].ID, 10))
	}
	if eventsAfter > 0 {
		d.FirstEvents = pageURL(r, "events_after", "")
	}
	if d.SevEvents, err = c.store.EventPage(ctx, bot.EventQuery{IncidentID: id, Kind: bot.EventSeverityChanged, Limit: severityHistory}); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	if d.Links, err = c.store.IncidentLinks(ctx, id, linksShown); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	threads, err := c.store.Threads(ctx, id)
	if err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	for _, th := range threads {
		if th.Ref.RootID == "" {
			continue
		}
		d.Threads = append(d.Threads, c.threadLink(th))
	}
	if d.Approvals, err = c.store.ApprovalList(ctx, bot.ApprovalQuery{IncidentID: id, Limit: approvalsOfIncident + 1}); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	if len(d.Approvals) > approvalsOfIncident {
		d.Approvals, d.MoreApproval = d.Approvals[:approvalsOfIncident], true
	}
	p := c.newPage(r, "incidents", "#"+strconv.FormatInt(id, 10)+" "+clipText(d.Title, maxTitleRunes), d)
	p.Live = d.Status == bot.IncidentOpen
	c.render(w, http.StatusOK, "incident", p)
}

// pageURL is the request's own address with key set to value ("":
// removed).
func pageURL(r *http.Request, key, value string) string {
	v := r.URL.Query()
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	return r.URL.Path + encodeQuery(v)
}

// threadLink names a thread and, where the console knows the workspace
// (Slack) or server (Discord), links to it.
func (c *Console) threadLink(th bot.Thread) threadLink {
	l := threadLink{Destination: th.Destination, Platform: th.Platform, Channel: th.Ref.Channel, Thread: th.Ref.ThreadID}
	switch th.Platform {
	case "slack":
		if base := webURL(c.cfg.SlackURL); base != "" {
			// A message's permalink is its ts without the dot.
			l.URL = strings.TrimRight(base, "/") + "/archives/" + url.PathEscape(th.Ref.Channel) + "/p" +
				url.PathEscape(strings.ReplaceAll(th.Ref.RootID, ".", ""))
		}
	case "discord":
		if c.cfg.DiscordGuildID != "" {
			l.URL = "https://discord.com/channels/" + url.PathEscape(c.cfg.DiscordGuildID) + "/" + url.PathEscape(th.Ref.ThreadID)
		}
	}
	return l
}

type postMortemData struct {
	ID    int64
	Title string
	HTML  template.HTML
}

// draft is the incident's post-mortem draft, as the CLI's incident export
// writes it.
func (c *Console) draft(w http.ResponseWriter, r *http.Request) (int64, string, bool) {
	id, ok := incidentID(r)
	if !ok {
		c.fail(w, r, http.StatusNotFound, "There is no such incident.")
		return 0, "", false
	}
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	md, err := outbox.ExportPostMortem(ctx, c.store, id)
	if err != nil {
		c.storeFailed(w, r, "incident", err)
		return 0, "", false
	}
	return id, md, true
}

// markdown renders a draft. goldmark without its unsafe option leaves raw
// HTML out and drops javascript: and other dangerous links, so alert text
// quoted in the draft stays text.
var markdown = goldmark.New()

func (c *Console) postMortemPage(w http.ResponseWriter, r *http.Request) {
	id, md, ok := c.draft(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := markdown.Convert([]byte(md), &b); err != nil {
		c.storeFailed(w, r, "post-mortem", err)
		return
	}
	d := postMortemData{ID: id, HTML: template.HTML(b.String())} //nolint:gosec // goldmark's safe mode, see markdown
	c.render(w, http.StatusOK, "postmortem", c.newPage(r, "incidents", "Post-mortem draft of #"+strconv.FormatInt(id, 10), d))
}

func (c *Console) postMortemFile(w http.ResponseWriter, r *http.Request) {
	id, md, ok := c.draft(w, r)
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="incident-`+strconv.FormatInt(id, 10)+`-postmortem.md"`)
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(md)) //nolint:errcheck // the client went away
}
