package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bakewise/chatops/bot"
)

// maxFilterBytes bounds a filter's text: longer is no name anyone has.
const maxFilterBytes = 200

// listFilter is the incident list's filters as the form sends them.
type listFilter struct {
	Status, Severity, Service, AlertName, Text string
}

// query is the filter as the store reads it; ok is false when a value
// makes no sense (then the page says so).
func (f listFilter) query() (q bot.IncidentQuery, ok bool) {
	q.Service, q.AlertName, q.Text = f.Service, f.AlertName, f.Text
	switch f.Status {
	case "", "open", "resolved":
		q.Status = bot.IncidentStatus(f.Status)
	default:
		return q, false
	}
	q.AnySeverity = f.Severity == ""
	if !q.AnySeverity {
		sev, err := bot.ParseSeverity(f.Severity)
		if err != nil {
			return q, false
		}
		q.Severity = sev
	}
	return q, true
}

func (f listFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "severity": f.Severity, "service": f.Service,
		"alertname": f.AlertName, "q": f.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func formValue(r *http.Request, key string) string {
	s := strings.TrimSpace(r.URL.Query().Get(key))
	if len(s) > maxFilterBytes {
		s = s[:maxFilterBytes]
	}
	return strings.ToValidUTF8(s, "")
}

// The list cursor in a URL: "o.<severity>.<id>" in the open part,
// "r.<id>" in the resolved part.
func formatCursor(c bot.ListCursor) string {
	if c.Resolved {
		return "r." + strconv.FormatInt(c.ID, 10)
	}
	return fmt.Sprintf("o.%d.%d", int(c.Severity), c.ID)
}

func parseCursor(s string) (bot.ListCursor, bool) {
	if s == "" {
		return bot.ListCursor{}, true
	}
	parts := strings.Split(s, ".")
	switch {
	case len(parts) == 2 && parts[0] == "r":
		id, err := strconv.ParseInt(parts[1], 10, 64)
		return bot.ListCursor{Resolved: true, ID: id}, err == nil && id > 0
	case len(parts) == 3 && parts[0] == "o":
		sev, err1 := strconv.Atoi(parts[1])
		id, err2 := strconv.ParseInt(parts[2], 10, 64)
		c := bot.ListCursor{Severity: bot.Severity(sev), ID: id}
		return c, err1 == nil && err2 == nil && c.Severity.Valid() && id > 0
	}
	return bot.ListCursor{}, false
}

type sevCount struct {
	Severity bot.Severity
	Count    int
}

type listData struct {
	Strip        []sevCount
	PastDeadline int
	Severities   []string
	Filter       listFilter
	Filtered     bool
	Incidents    []bot.Incident
	First, Next  string
	// Partial: the page is not full, yet the search goes on below
	// incident SearchedTo.
	Partial    bool
	SearchedTo int64
}

func (c *Console) incidentList(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	f := listFilter{Status: formValue(r, "status"), Severity: formValue(r, "severity"), Service: formValue(r, "service"),
		AlertName: formValue(r, "alertname"), Text: formValue(r, "q")}
	q, ok := f.query()
	after, okCursor := parseCursor(r.URL.Query().Get("after"))
	if !ok || !okCursor {
		c.fail(w, r, http.StatusBadRequest, "The filter or page asked for makes no sense.")
		return
	}
	q.After, q.Limit = after, c.cfg.PageSize
	d := listData{Filter: f, Filtered: len(f.values()) > 0, Severities: []string{"P0", "P1", "P2", "P3"}}
	counts, err := c.store.CountOpenIncidents(ctx)
	if err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	for _, s := range []bot.Severity{bot.P0, bot.P1, bot.P2, bot.P3} {
		d.Strip = append(d.Strip, sevCount{s, counts[s]})
	}
	if d.PastDeadline, err = c.store.CountPastDeadline(ctx, c.cfg.Now()); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	next := bot.ListCursor{}
	if d.Incidents, next, err = c.store.IncidentList(ctx, q); err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	v := f.values()
	if !after.IsZero() {
		d.First = "/ui/incidents" + encodeQuery(v)
	}
	if !next.IsZero() {
		v.Set("after", formatCursor(next))
		d.Next = "/ui/incidents" + encodeQuery(v)
		// A title search that read its window without filling the page
		// says how far it looked.
		d.SearchedTo = next.ID
		d.Partial = len(d.Incidents) < q.Limit
	}
	p := c.newPage(r, "incidents", "Incidents", d)
	p.Live = true
	c.render(w, http.StatusOK, "incidents", p)
}

func encodeQuery(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
