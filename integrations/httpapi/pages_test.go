package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bakewise/chatops/bot"
)

// view is what a store's IncidentView hands out of d: its first alerts,
// its newest events, and how many it has of each.
func view(d bot.IncidentDetail, alerts, events int) bot.IncidentDetail {
	d.AlertsTotal, d.EventsTotal = d.AlertCount(), d.EventCount()
	d.Alerts = d.Alerts[:min(len(d.Alerts), max(alerts, 0))]
	d.Timeline = d.Timeline[len(d.Timeline)-min(len(d.Timeline), max(events, 0)):]
	return d
}

// alertPage is a store's AlertPage over alerts: by fingerprint, after
// after.
func alertPage(alerts []bot.Alert, after string, limit int) []bot.Alert {
	sorted := slices.SortedFunc(slices.Values(alerts), func(a, b bot.Alert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	i, _ := slices.BinarySearchFunc(sorted, after, func(a bot.Alert, fp string) int {
		if a.Fingerprint <= fp {
			return -1
		}
		return 1
	})
	return sorted[i:min(i+limit, len(sorted))]
}

// eventPage is a store's EventPage over events held by id: after after.
func eventPage(events []bot.Event, after int64, limit int) []bot.Event {
	out := []bot.Event{}
	for _, e := range events {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out
}

// stormDetail is incident 7 with n alerts and n events.
func stormDetail(n int) bot.IncidentDetail {
	d := sampleDetail()
	d.Alerts, d.Timeline = nil, nil
	for i := range n {
		d.Alerts = append(d.Alerts, bot.Alert{Fingerprint: fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15), Status: bot.AlertFiring,
			Severity: bot.P1, Labels: map[string]string{"alertname": "ServiceDown", "pod": fmt.Sprintf("orders-%d", i)},
			Annotations: map[string]string{"description": strings.Repeat("the pod is down. ", 10)}, StartsAt: d.OpenedAt})
		d.Timeline = append(d.Timeline, bot.Event{ID: int64(i + 1), IncidentID: 7, At: d.OpenedAt, Kind: bot.EventAlertFiring,
			Detail: fmt.Sprintf("ServiceDown pod=orders-%d firing (P1)", i)})
	}
	d.Firing = n
	return d
}

// The detail of an incident with 5,000 alerts is a few kilobytes: the
// first alerts, the newest events, and the totals.
func TestGetBigIncidentIsBounded(t *testing.T) {
	const n = 5000
	store := &fakeReader{details: map[int64]bot.IncidentDetail{7: stormDetail(n)}}
	h, _ := newAPI(t, store)
	rec := do(h, http.MethodGet, "/v1/incidents/7", "Bearer "+testToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if size := rec.Body.Len(); size > 64<<10 {
		t.Fatalf("the detail of a %d-alert incident is %d bytes; want at most 64 KiB", n, size)
	}
	var d struct {
		Alerts      []bot.Alert `json:"alerts"`
		AlertsTotal int         `json:"alerts_total"`
		Timeline    []bot.Event `json:"timeline"`
		EventsTotal int         `json:"events_total"`
		Firing      int         `json:"firing"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Alerts) != detailAlerts || d.AlertsTotal != n || len(d.Timeline) != detailEvents || d.EventsTotal != n || d.Firing != n {
		t.Fatalf("detail: %d alerts of %d, %d events of %d, %d firing; want %d of %d, the newest %d of %d",
			len(d.Alerts), d.AlertsTotal, len(d.Timeline), d.EventsTotal, d.Firing, detailAlerts, n, detailEvents, n)
	}
	if last := d.Timeline[len(d.Timeline)-1]; last.ID != n {
		t.Fatalf("the detail's last event is #%d, want the newest, #%d", last.ID, n)
	}
}

// walk follows next_cursor from path until the last page and returns the
// pages' items under key.
func walk[T any](t *testing.T, h http.Handler, path, key string) ([]T, int) {
	t.Helper()
	var all []T
	next := ""
	for pages := 1; ; pages++ {
		target := path
		if next != "" {
			target += "&cursor=" + url.QueryEscape(next)
		}
		rec := do(h, http.MethodGet, target, "Bearer "+testToken)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body.String())
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		var items []T
		if err := json.Unmarshal(body[key], &items); err != nil || items == nil {
			t.Fatalf("GET %s: %q is not a list: %s", target, key, rec.Body.String())
		}
		all = append(all, items...)
		raw, more := body["next_cursor"]
		if !more {
			return all, pages
		}
		if err := json.Unmarshal(raw, &next); err != nil || next == "" || pages > 10000 {
			t.Fatalf("GET %s: next_cursor %s", target, raw)
		}
	}
}

// Following next_cursor walks every alert and every event exactly once,
// and the last page says there is no next one.
func TestPagesWalkEverything(t *testing.T) {
	const n = 1234
	d := stormDetail(n)
	store := &fakeReader{details: map[int64]bot.IncidentDetail{7: d}}
	h, _ := newAPI(t, store)

	alerts, pages := walk[bot.Alert](t, h, "/v1/incidents/7/alerts?limit=100", "alerts")
	fps := make([]string, len(alerts))
	for i, a := range alerts {
		fps[i] = a.Fingerprint
	}
	want := make([]string, n)
	for i, a := range d.Alerts {
		want[i] = a.Fingerprint
	}
	slices.Sort(want)
	if !slices.Equal(fps, want) || pages != 13 {
		t.Fatalf("walked %d alerts in %d pages; want each of %d once, by fingerprint, in 13 pages", len(fps), pages, n)
	}
	events, pages := walk[bot.Event](t, h, "/v1/incidents/7/timeline?limit=1000", "timeline")
	if len(events) != n || pages != 2 || events[0].ID != 1 || events[n-1].ID != n {
		t.Fatalf("walked %d events in %d pages; want %d, oldest first, in 2", len(events), pages, n)
	}
	for i := 1; i < len(events); i++ {
		if events[i].ID != events[i-1].ID+1 {
			t.Fatalf("event %d is #%d after #%d", i, events[i].ID, events[i-1].ID)
		}
	}
	// A page exactly full is the last one: no empty page after it.
	if _, pages := walk[bot.Event](t, h, fmt.Sprintf("/v1/incidents/7/timeline?limit=%d", n/2), "timeline"); pages != 2 {
		t.Fatalf("%d pages of %d events for %d events; want 2", pages, n/2, n)
	}
	// The default page.
	rec := do(h, http.MethodGet, "/v1/incidents/7/alerts", "Bearer "+testToken)
	var body struct {
		Alerts []bot.Alert `json:"alerts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Alerts) != defaultLimit {
		t.Fatalf("default page: %d alerts, %v; want %d", len(body.Alerts), err, defaultLimit)
	}
}

// pagedIncidents is a store of n incidents that lists them as the
// database does: newest first, below the cursor.
type pagedIncidents struct {
	fakeReader
	n int64
}

func (p *pagedIncidents) ListIncidents(_ context.Context, f bot.IncidentFilter) ([]bot.Incident, error) {
	p.mu.Lock()
	p.filters = append(p.filters, f)
	p.mu.Unlock()
	id := p.n
	if f.Before > 0 {
		id = min(id, f.Before-1)
	}
	var out []bot.Incident
	for ; id >= 1 && len(out) < f.Limit; id-- {
		inc := sampleIncident()
		inc.ID = id
		out = append(out, inc)
	}
	return out, nil
}

// More than a thousand incidents, a thousand at most a page: the cursor
// walks them all, each once, newest first.
func TestListPastAThousand(t *testing.T) {
	store := &pagedIncidents{n: 2500}
	h, _ := newAPI(t, store)
	incs, pages := walk[bot.Incident](t, h, "/v1/incidents?status=all&limit=1000", "incidents")
	if len(incs) != 2500 || pages != 3 {
		t.Fatalf("walked %d incidents in %d pages; want 2500 in 3", len(incs), pages)
	}
	for i, inc := range incs {
		if inc.ID != int64(2500-i) {
			t.Fatalf("incident %d is #%d, want #%d: newest first, each once", i, inc.ID, 2500-i)
		}
	}
	if last := store.filters[len(store.filters)-1]; last.Before != 501 || last.Limit != 1001 || last.Status != "" {
		t.Fatalf("the last page asked the store for %+v; want below #501, 1001 (one to tell a next page), any status", last)
	}
}

// A cursor the API did not hand out for this listing, or a bad limit, is
// a 400 that says so, and the store is not read.
func TestBadPageRequests(t *testing.T) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	alertsOf7 := cursor{List: listAlerts, Incident: 7, FP: "0a5f525a4a3f70b4"}.encode()
	eventsOf7 := cursor{List: listTimeline, Incident: 7, ID: 3}.encode()
	const cursorMsg = "cursor is not one this listing handed out: start again without it"
	tests := []struct {
		name, target string
		want         int
		msg          string
	}{
		{"garbage cursor", "/v1/incidents?cursor=!!!", 400, cursorMsg},
		{"not base64", "/v1/incidents/7/alerts?cursor=@@@@", 400, cursorMsg},
		{"base64 of no JSON", "/v1/incidents/7/alerts?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("fp-17")), 400, cursorMsg},
		{"another listing's cursor", "/v1/incidents/7/timeline?cursor=" + alertsOf7, 400, cursorMsg},
		{"alerts cursor on the incident list", "/v1/incidents?cursor=" + alertsOf7, 400, cursorMsg},
		{"another incident's cursor", "/v1/incidents/8/alerts?cursor=" + alertsOf7, 400, cursorMsg},
		{"incident cursor at id 0", "/v1/incidents?cursor=" + enc(cursor{List: listIncidents}), 400, cursorMsg},
		{"negative event id", "/v1/incidents/7/timeline?cursor=" + enc(cursor{List: listTimeline, Incident: 7, ID: -5}), 400, cursorMsg},
		{"fingerprint too long", "/v1/incidents/7/alerts?cursor=" + enc(cursor{List: listAlerts, Incident: 7, FP: strings.Repeat("f", 65)}), 400, cursorMsg},
		{"cursor too long", "/v1/incidents/7/alerts?cursor=" + strings.Repeat("A", maxCursorLen+1), 400, cursorMsg},
		{"limit 0", "/v1/incidents/7/alerts?limit=0", 400, "limit must be an integer from 1 to 1000"},
		{"limit 1001", "/v1/incidents/7/timeline?limit=1001", 400, "limit must be an integer from 1 to 1000"},
		{"limit not a number", "/v1/incidents?limit=many&cursor=" + eventsOf7, 400, "limit must be an integer from 1 to 1000"},
		{"bad incident id", "/v1/incidents/x/alerts", 400, "incident id must be a positive integer"},
		{"unknown incident", "/v1/incidents/8/timeline", 404, "no incident 8"},
		{"its own cursor", "/v1/incidents/7/timeline?cursor=" + eventsOf7, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeReader{details: map[int64]bot.IncidentDetail{7: sampleDetail()}}
			h, _ := newAPI(t, store)
			rec := do(h, http.MethodGet, tt.target, "Bearer "+testToken)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body.String())
			}
			if tt.want == 400 {
				if got := errorOf(t, rec); got != tt.msg {
					t.Errorf("error %q, want %q", got, tt.msg)
				}
				if len(store.gets)+len(store.filters) != 0 {
					t.Errorf("the store was read for a bad request")
				}
			}
		})
	}
}

// The pages need the token like the rest of the API, and a failing store
// is a 503 that hides its error.
func TestPagesAuthAndStoreErrors(t *testing.T) {
	for _, path := range []string{"/v1/incidents/7/alerts", "/v1/incidents/7/timeline"} {
		store := &fakeReader{details: map[int64]bot.IncidentDetail{7: sampleDetail()}}
		h, _ := newAPI(t, store)
		if rec := do(h, http.MethodGet, path, "Bearer nope"); rec.Code != http.StatusUnauthorized || len(store.gets) != 0 {
			t.Errorf("%s with a wrong token: %d, store read %v", path, rec.Code, store.gets)
		}
		store.err = fmt.Errorf("dial 10.0.0.5: %w", context.DeadlineExceeded)
		rec := do(h, http.MethodGet, path, "Bearer "+testToken)
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "10.0.0.5") {
			t.Errorf("%s with the store down: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}
