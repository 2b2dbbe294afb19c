package incident

import (
	"fmt"
	"maps"
	"time"

	"github.com/bakewise/chatops/bot"
)

// change is what one notification does to one incident: its new state, the
// alert rows to write and the timeline events to append. It is computed from
// state alone, so applying the same notification twice yields no change the
// second time.
type change struct {
	incident bot.Incident
	at       time.Time
	isNew    bool
	dirty    bool // the incident row must be written
	upserts  []bot.Alert
	events   []bot.Event
	// What each incoming alert did, for the metrics.
	alertsChanged, alertsUpdated, alertsUnchanged int
}

// reconcile merges group g into incident cur (nil: a new incident). stored
// holds the incident's alerts that g mentions (others may exist), counts all
// of them. It never resolves an alert because it is absent: Alertmanager
// may truncate a group, and only an explicit "resolved" counts.
func reconcile(cur *bot.Incident, stored []bot.Alert, counts bot.AlertCounts, g bot.AlertGroup, now time.Time) change {
	ch := change{at: now}
	if cur == nil {
		ch.isNew, ch.dirty = true, true
		ch.incident = bot.Incident{
			Receiver: g.Receiver,
			GroupKey: g.GroupKey,
			Status:   bot.IncidentOpen,
			Severity: bot.SeverityUnknown,
			OpenedAt: now,
		}
	} else {
		ch.incident = *cur
	}
	inc := &ch.incident

	byFP := make(map[string]bot.Alert, len(stored)+len(g.Alerts))
	for _, a := range stored {
		byFP[a.Fingerprint] = a
	}
	upsertAt := map[string]int{} // one row per fingerprint, even if it comes twice
	for _, in := range g.Alerts {
		old, known := byFP[in.Fingerprint]
		next, ev, ok := mergeAlert(old, known, in)
		switch {
		case !ok:
			ch.alertsUnchanged++
			continue
		case ev != "":
			ch.alertsChanged++
		default:
			ch.alertsUpdated++
		}
		if known {
			counts.Add(old, -1)
		}
		counts.Add(next, 1)
		byFP[in.Fingerprint] = next
		if i, dup := upsertAt[in.Fingerprint]; dup {
			ch.upserts[i] = next
		} else {
			upsertAt[in.Fingerprint] = len(ch.upserts)
			ch.upserts = append(ch.upserts, next)
		}
		if ev != "" {
			ch.events = append(ch.events, bot.Event{At: now, Kind: ev, Detail: alertDetail(next)})
		}
	}
	// Group metadata follows the newest notification that changed something;
	// a stale retry must not roll it back.
	if (ch.isNew || len(ch.upserts) > 0) && applyGroupMeta(inc, g) {
		ch.dirty = true
	}
	if inc.TruncatedAlerts != g.TruncatedAlerts {
		inc.TruncatedAlerts = g.TruncatedAlerts
		ch.dirty = true
	}

	firing, resolved := 0, 0
	worstFiring, worstAll := bot.SeverityUnknown, bot.SeverityUnknown
	for sev := bot.P3; sev >= bot.P0; sev-- {
		firing += counts.Firing[sev]
		resolved += counts.Resolved[sev]
		if counts.Firing[sev] > 0 {
			worstFiring = sev
		}
		if counts.Firing[sev]+counts.Resolved[sev] > 0 {
			worstAll = sev
		}
	}
	if inc.Firing != firing || inc.Resolved != resolved {
		inc.Firing, inc.Resolved = firing, resolved
		ch.dirty = true
	}

	sev := inc.Severity
	switch {
	case worstFiring != bot.SeverityUnknown:
		sev = worstFiring
	case inc.Severity == bot.SeverityUnknown:
		sev = worstAll // a group first seen already resolved
	}
	if inc.SeverityOverride != nil && firing > 0 {
		sev = *inc.SeverityOverride // a person's choice sticks while it fires
	}
	if ch.isNew {
		inc.Severity = sev
		ch.events = append([]bot.Event{{At: now, Kind: bot.EventOpened, Detail: fmt.Sprintf("%s opened at %s: %s", inc.Title, sev, pluralAlerts(firing, "firing"))}}, ch.events...)
	} else if sev != inc.Severity {
		ch.events = append(ch.events, bot.Event{At: now, Kind: bot.EventSeverityChanged, Detail: fmt.Sprintf("severity %s → %s", inc.Severity, sev)})
		inc.Severity = sev
		ch.dirty = true
	}

	switch {
	case firing == 0 && inc.Status == bot.IncidentOpen:
		inc.Status = bot.IncidentResolved
		t := now
		inc.ResolvedAt = &t
		inc.SeverityOverride = nil
		ch.events = append(ch.events, bot.Event{At: now, Kind: bot.EventResolved, Detail: "all alerts resolved"})
		ch.dirty = true
	case firing > 0 && inc.Status == bot.IncidentResolved:
		inc.Status = bot.IncidentOpen
		inc.ResolvedAt = nil
		inc.AckedAt, inc.AckedBy = nil, "" // new trouble wants a new acknowledgement
		ch.events = append(ch.events, bot.Event{At: now, Kind: bot.EventReopened, Detail: fmt.Sprintf("fired again: %s", pluralAlerts(firing, "firing"))})
		ch.dirty = true
	}
	if ch.dirty {
		inc.UpdatedAt = now
	}
	return ch
}

// applyGroupMeta copies g's group-level fields onto inc and reports whether
// any differed.
func applyGroupMeta(inc *bot.Incident, g bot.AlertGroup) bool {
	gl, cl, ca := nonNil(g.GroupLabels), nonNil(g.CommonLabels), nonNil(g.CommonAnnotations)
	title := bot.Title(g.GroupLabels, g.CommonLabels)
	if maps.Equal(inc.GroupLabels, gl) && maps.Equal(inc.CommonLabels, cl) && maps.Equal(inc.CommonAnnotations, ca) &&
		inc.ExternalURL == g.ExternalURL && inc.Title == title {
		return false
	}
	inc.GroupLabels, inc.CommonLabels, inc.CommonAnnotations = gl, cl, ca
	inc.ExternalURL, inc.Title = g.ExternalURL, title
	return true
}

// mergeAlert decides what an incoming alert does to the stored one. An alert
// occurrence is identified by fingerprint and startsAt: an older startsAt is a
// stale retry, a newer one a new occurrence, and for the same occurrence
// "resolved" is final. ok is false when nothing changes.
func mergeAlert(old bot.Alert, known bool, in bot.Alert) (next bot.Alert, ev bot.EventKind, ok bool) {
	if !known {
		if in.Status == bot.AlertFiring {
			return in, bot.EventAlertFiring, true
		}
		return in, bot.EventAlertResolved, true
	}
	switch {
	case in.StartsAt.Before(old.StartsAt):
		return old, "", false
	case in.StartsAt.After(old.StartsAt):
		if in.Status == bot.AlertFiring {
			return in, bot.EventAlertFiring, true
		}
		return in, bot.EventAlertResolved, true
	case old.Status == bot.AlertResolved && in.Status == bot.AlertFiring:
		return old, "", false
	case old.Status == bot.AlertFiring && in.Status == bot.AlertResolved:
		return in, bot.EventAlertResolved, true
	}
	// Same occurrence, same status: refresh what may legitimately move
	// (annotations, endsAt, a severity under new rules) without an event.
	if in.EndsAt.Equal(old.EndsAt) && in.GeneratorURL == old.GeneratorURL && in.Severity == old.Severity &&
		maps.Equal(in.Annotations, old.Annotations) && maps.Equal(in.Labels, old.Labels) {
		return old, "", false
	}
	return in, "", true
}

func alertDetail(a bot.Alert) string {
	name := a.Labels["alertname"]
	if name == "" {
		name = a.Fingerprint
	}
	where := ""
	for _, k := range []string{"service", "pod", "instance", "database"} {
		if v := a.Labels[k]; v != "" {
			where = " " + k + "=" + v
			break
		}
	}
	return fmt.Sprintf("%s%s %s (%s)", name, where, a.Status, a.Severity)
}

func pluralAlerts(n int, what string) string {
	if n == 1 {
		return "1 alert " + what
	}
	return fmt.Sprintf("%d alerts %s", n, what)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
