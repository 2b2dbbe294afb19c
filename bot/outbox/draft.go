package outbox

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bakewise/chatops/bot"
)

// What a post-mortem draft holds at most besides maxPostMortemEvents and
// maxPostMortemAlerts, and the page its export reads the store by.
const (
	maxPostMortemActions  = 1000
	maxPostMortemServices = 100
	exportPage            = 500
)

// draftAnnotations are the alert annotations a draft's summary quotes.
var draftAnnotations = []string{"summary", "description"}

// drafter gathers a post-mortem draft's material from an incident's
// alerts and events, fed in pages, holding only what the draft shows: the
// earliest alerts, the first events and actions, the services named, and
// counts of the rest. A storm of 60,000 alerts drafts in the memory of a
// few pages.
type drafter struct {
	rec     record
	unended int
	// seq numbers the alerts in the order they came, which breaks ties
	// between alerts that started at the same time.
	seq      int
	earliest []seqAlert
	annots   map[string]seqValue
	services map[string]bool
	// servicesCut: more services than maxPostMortemServices were named.
	servicesCut bool
	events      []bot.Event
	eventCount  int
}

type seqAlert struct {
	bot.Alert
	seq int
}

// before orders alerts by start, then by the order they came in.
func (a seqAlert) before(b seqAlert) bool {
	if !a.StartsAt.Equal(b.StartsAt) {
		return a.StartsAt.Before(b.StartsAt)
	}
	return a.seq < b.seq
}

// seqValue is an annotation's value on the earliest alert that has it.
type seqValue struct {
	seqAlert
	value string
}

// addAlerts counts a page of alerts in.
func (dr *drafter) addAlerts(alerts []bot.Alert) {
	span := &dr.rec.span
	for _, a := range alerts {
		sa := seqAlert{Alert: a, seq: dr.seq}
		dr.seq++
		span.Alerts++
		if !a.StartsAt.IsZero() && (span.FirstStart.IsZero() || a.StartsAt.Before(span.FirstStart)) {
			span.FirstStart = a.StartsAt
		}
		if a.Status != bot.AlertResolved || a.EndsAt.IsZero() {
			dr.unended++
		} else if a.EndsAt.After(span.LastEnd) {
			span.LastEnd = a.EndsAt
		}
		for _, k := range draftAnnotations {
			if v := a.Annotations[k]; v != "" {
				if cur, ok := dr.annots[k]; !ok || sa.before(cur.seqAlert) {
					if dr.annots == nil {
						dr.annots = map[string]seqValue{}
					}
					dr.annots[k] = seqValue{sa, v}
				}
			}
		}
		if s := a.Labels["service"]; s != "" {
			dr.addService(s)
		}
		dr.earliest = append(dr.earliest, sa)
	}
	span.Ended = span.Alerts > 0 && dr.unended == 0
	// Sorted and cut once a page, not once an alert.
	sort.SliceStable(dr.earliest, func(i, j int) bool { return dr.earliest[i].before(dr.earliest[j]) })
	dr.earliest = dr.earliest[:min(len(dr.earliest), maxPostMortemAlerts)]
}

func (dr *drafter) addService(s string) {
	if dr.services[s] {
		return
	}
	if len(dr.services) == maxPostMortemServices {
		dr.servicesCut = true
		return
	}
	if dr.services == nil {
		dr.services = map[string]bool{}
	}
	dr.services[s] = true
}

// addEvents counts a page of events in, oldest first.
func (dr *drafter) addEvents(events []bot.Event) {
	for _, e := range events {
		dr.eventCount++
		if len(dr.events) < maxPostMortemEvents {
			dr.events = append(dr.events, e)
		}
		switch e.Kind {
		case bot.EventReopened:
			dr.rec.reopened++
		case bot.EventAction:
			dr.rec.actionCount++
			if len(dr.rec.actions) < maxPostMortemActions {
				dr.rec.actions = append(dr.rec.actions, e)
			}
		case bot.EventLinked:
			if dr.rec.outage == "" {
				dr.rec.outage = outageOf(e)
			}
		}
	}
}

// annotation is the incident's common annotation key; without one, that
// of its earliest alert that has it.
func (dr *drafter) annotation(inc *bot.Incident, key string) string {
	if v := inc.CommonAnnotations[key]; v != "" {
		return v
	}
	return dr.annots[key].value
}

// groupAnnotation is annotation, saying when it is one alert's of several.
func (dr *drafter) groupAnnotation(inc *bot.Incident, key string) string {
	v := dr.annotation(inc, key)
	if v == "" || inc.CommonAnnotations[key] != "" || dr.rec.span.Alerts < 2 {
		return v
	}
	return fmt.Sprintf("%s (and %d other alerts)", v, dr.rec.span.Alerts-1)
}

// serviceList is the services the incident's alerts name, sorted.
func (dr *drafter) serviceList(inc *bot.Incident) string {
	seen := map[string]bool{}
	for s := range dr.services {
		seen[s] = true
	}
	if s := inc.CommonLabels["service"]; s != "" {
		seen[s] = true
	}
	if s := inc.CommonAnnotations["services"]; s != "" && inc.GroupKey == bot.OutageGroupKey {
		for _, v := range strings.Split(s, ",") {
			seen[strings.TrimSpace(v)] = true
		}
	}
	names := make([]string, 0, len(seen))
	for s := range seen {
		names = append(names, mdText(s))
	}
	slices.Sort(names)
	if dr.servicesCut {
		names = append(names, "and others")
	}
	return strings.Join(names, ", ")
}

// PostMortemReader is what drafting a post-mortem from the store reads:
// the incident, then its alerts and events a page at a time.
type PostMortemReader interface {
	IncidentView(ctx context.Context, id int64, alerts, events int) (bot.IncidentDetail, error)
	AlertPage(ctx context.Context, incidentID int64, after string, limit int) ([]bot.Alert, error)
	EventPage(ctx context.Context, q bot.EventQuery) ([]bot.Event, error)
}

// ExportPostMortem drafts incident id's post-mortem from the store, as
// PostMortem drafts one held in memory. It reads every alert and event,
// a page at a time, and keeps only what the draft shows, so however large
// the incident the export holds a few pages. bot.ErrNotFound (wrapped) for
// an unknown incident.
func ExportPostMortem(ctx context.Context, r PostMortemReader, id int64) (string, error) {
	d, err := r.IncidentView(ctx, id, 0, 0)
	if err != nil {
		return "", err
	}
	var dr drafter
	for after := ""; ; {
		page, err := r.AlertPage(ctx, id, after, exportPage)
		if err != nil {
			return "", fmt.Errorf("incident %d: read alerts: %w", id, err)
		}
		dr.addAlerts(page)
		if len(page) < exportPage {
			break
		}
		after = page[len(page)-1].Fingerprint
	}
	for after := int64(0); ; {
		page, err := r.EventPage(ctx, bot.EventQuery{IncidentID: id, After: after, Limit: exportPage})
		if err != nil {
			return "", fmt.Errorf("incident %d: read timeline: %w", id, err)
		}
		dr.addEvents(page)
		if len(page) < exportPage {
			break
		}
		after = page[len(page)-1].ID
	}
	return dr.render(&d.Incident), nil
}
