package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/bakewise/chatops/bot"
)

// What GET /v1/incidents/{id} holds: the alerts a thread's root lists
// first, and the newest events; /alerts and /timeline page through the
// rest. A storm's incident of 60,000 alerts answers in a few kilobytes.
const (
	detailAlerts = 20
	detailEvents = 50
	// maxCursorLen bounds a cursor before it is decoded: the longest the
	// API hands out (an alert's fingerprint, at most 64 bytes, and an
	// incident id) is about 150 characters.
	maxCursorLen = 256
	// maxFingerprintLen is the longest fingerprint the webhook stores.
	maxFingerprintLen = 64
)

// Listings a cursor belongs to.
const (
	listIncidents = "incidents"
	listAlerts    = "alerts"
	listTimeline  = "timeline"
)

// cursor is where a page ended. Clients get it opaque (base64url of its
// JSON) and hand it back for the next page; it names the listing it
// belongs to, so one listing's cursor is refused by another.
type cursor struct {
	List string `json:"l"`
	// Incident is the incident whose alerts or timeline are listed.
	Incident int64 `json:"i,omitempty"`
	// ID is the last incident or event of the page; FP the last alert's
	// fingerprint.
	ID int64  `json:"n,omitempty"`
	FP string `json:"f,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // a struct of strings and numbers always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// errBadCursor is the 400 for a cursor the API did not hand out for this
// listing.
var errBadCursor = errors.New("cursor is not one this listing handed out: start again without it")

// decodeCursor reads a cursor of list (of incident, for an incident's
// alerts or timeline) and checks that it can be one the API handed out.
func decodeCursor(s, list string, incident int64) (cursor, error) {
	var c cursor
	if len(s) > maxCursorLen {
		return c, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.List != list || c.Incident != incident {
		return cursor{}, errBadCursor
	}
	switch {
	case list == listAlerts && (c.FP == "" || len(c.FP) > maxFingerprintLen || c.ID != 0):
		return cursor{}, errBadCursor
	case list != listAlerts && (c.ID < 1 || c.FP != ""):
		return cursor{}, errBadCursor
	}
	return c, nil
}

// page is what a listing was asked for: how many, and after which cursor
// (nil: from the start).
type page struct {
	limit int
	after *cursor
}

// parsePage reads ?limit= and ?cursor= for list; its error is the 400's
// message.
func parsePage(r *http.Request, list string, incident int64) (page, error) {
	p := page{limit: defaultLimit}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, errors.New("limit must be an integer from 1 to " + strconv.Itoa(maxLimit))
		}
		p.limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v, list, incident)
		if err != nil {
			return p, err
		}
		p.after = &c
	}
	return p, nil
}

// incidentID reads the path's incident id; false after a 400.
func incidentID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "incident id must be a positive integer")
		return 0, false
	}
	return id, true
}

// alerts answers GET /v1/incidents/{id}/alerts: a page of the incident's
// alerts by fingerprint, which walks every alert once however they change
// meanwhile.
func (a *api) alerts(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	p, err := parsePage(r, listAlerts, id)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after := ""
	if p.after != nil {
		after = p.after.FP
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	// One more than asked: whether a next page exists, without an empty
	// last request.
	alerts, err := a.store.AlertPage(ctx, id, after, p.limit+1)
	if a.readFailed(r.Context(), w, "incident alerts", id, err) {
		return
	}
	body := map[string]any{"alerts": alerts[:min(len(alerts), p.limit)]}
	if len(alerts) > p.limit {
		body["next_cursor"] = cursor{List: listAlerts, Incident: id, FP: alerts[p.limit-1].Fingerprint}.encode()
	}
	writeJSON(w, http.StatusOK, body)
}

// timeline answers GET /v1/incidents/{id}/timeline: a page of the
// incident's events, oldest first.
func (a *api) timeline(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	p, err := parsePage(r, listTimeline, id)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := bot.EventQuery{IncidentID: id, Limit: p.limit + 1}
	if p.after != nil {
		q.After = p.after.ID
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	events, err := a.store.EventPage(ctx, q)
	if a.readFailed(r.Context(), w, "incident timeline", id, err) {
		return
	}
	body := map[string]any{"timeline": events[:min(len(events), p.limit)]}
	if len(events) > p.limit {
		body["next_cursor"] = cursor{List: listTimeline, Incident: id, ID: events[p.limit-1].ID}.encode()
	}
	writeJSON(w, http.StatusOK, body)
}

// readFailed answers a failed read of incident id (404 when there is no
// such incident) and reports whether it did.
func (a *api) readFailed(ctx context.Context, w http.ResponseWriter, what string, id int64, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, bot.ErrNotFound):
		writeError(w, http.StatusNotFound, "no incident "+strconv.FormatInt(id, 10))
	default:
		a.storeError(ctx, w, what, err)
	}
	return true
}
