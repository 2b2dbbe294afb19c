package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Events limits: what one events command reads from the API server, a
// page at a time, and how many it hands back.
const (
	eventsPage = 500
	maxEvents  = 2000
	// maxEventsShown bounds the events in one answer.
	maxEventsShown = 200
)

// Events reads the recent events of the namespace, or of one service's
// Deployment, its ReplicaSets and their pods, newer than since: newest
// first, or Warning events first when warningsFirst (each part newest
// first), at most maxEventsShown.
func (c *Cluster) Events(ctx context.Context, service string, since time.Duration, warningsFirst bool) (bot.EventsReport, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.EventsReport{}, err
	}
	rep := bot.EventsReport{Namespace: ns, Service: service, Since: since}
	var about map[objectRef]bool
	var rsPrefixes []string
	if service != "" {
		d, err := c.deployment(ctx, ns, service)
		if err != nil {
			return rep, err
		}
		if about, rsPrefixes, err = c.serviceObjects(ctx, d); err != nil {
			return rep, err
		}
	}

	now := time.Now()
	cutoff := now.Add(-since)
	var evs []eventRow
	opts := metav1.ListOptions{Limit: eventsPage}
	for read := 0; ; {
		list, err := c.cs.CoreV1().Events(ns).List(ctx, opts)
		if err != nil {
			return rep, fmt.Errorf("list events in %s: %w", ns, err)
		}
		read += len(list.Items)
		for i := range list.Items {
			e := &list.Items[i]
			if about != nil && !about[objectRef{e.InvolvedObject.Kind, e.InvolvedObject.Name}] && !formerPod(e.InvolvedObject, rsPrefixes) {
				continue
			}
			last := eventTime(e)
			if last.Before(cutoff) {
				continue
			}
			count := e.Count
			if e.Series != nil && e.Series.Count > count {
				count = e.Series.Count
			}
			evs = append(evs, eventRow{id: e.Name, KubeEvent: bot.KubeEvent{Type: e.Type, Reason: e.Reason, Message: strings.TrimSpace(e.Message),
				Kind: e.InvolvedObject.Kind, Name: e.InvolvedObject.Name, Count: max(count, 1), Last: last}})
		}
		if list.Continue == "" {
			break
		}
		if read >= maxEvents {
			rep.Incomplete = true
			break
		}
		opts.Continue = list.Continue
	}
	sortEvents(evs, warningsFirst)
	rep.Matched = len(evs)
	for i, e := range evs {
		if e.Type == corev1.EventTypeWarning {
			rep.Warnings++
		}
		if i < maxEventsShown {
			rep.Events = append(rep.Events, e.KubeEvent)
		}
	}
	return rep, nil
}

// objectRef is an object an event can be about.
type objectRef struct{ kind, name string }

// serviceObjects are d, the ReplicaSets it owns and their pods, and the
// ReplicaSets' names as the prefixes of the pods they made (those gone
// since included: a crashed pod that was replaced is part of the story).
func (c *Cluster) serviceObjects(ctx context.Context, d *appsv1.Deployment) (map[objectRef]bool, []string, error) {
	about := map[objectRef]bool{{"Deployment", d.Name}: true}
	rss, err := c.ownedReplicaSets(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	owned := map[types.UID]bool{}
	var prefixes []string
	for _, rs := range rss {
		about[objectRef{"ReplicaSet", rs.Name}] = true
		owned[rs.UID] = true
		prefixes = append(prefixes, rs.Name+"-")
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s: selector: %w", d.Name, err)
	}
	pods, err := c.cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, fmt.Errorf("list pods of %s: %w", d.Name, err)
	}
	for _, p := range pods.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && owned[ref.UID] {
			about[objectRef{"Pod", p.Name}] = true
		}
	}
	return about, prefixes, nil
}

// formerPod: the event is about a pod named as one of the ReplicaSets
// names its pods (the ReplicaSet's name, a dash, five generated
// characters), gone or not.
func formerPod(o corev1.ObjectReference, rsPrefixes []string) bool {
	if o.Kind != "Pod" {
		return false
	}
	for _, p := range rsPrefixes {
		if rest, ok := strings.CutPrefix(o.Name, p); ok && len(rest) == 5 && !strings.Contains(rest, "-") {
			return true
		}
	}
	return false
}

// eventTime is when an event last happened, from whichever field its
// reporter filled: a series' last observation (events.k8s.io), else
// lastTimestamp (core), else eventTime, else firstTimestamp, and only
// without any of them when it was stored (an event recorded late would
// otherwise look new).
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// kindOrder breaks ties between events of the same second the way they
// happen: a Deployment scales a ReplicaSet, which creates a pod, so of
// equal times the pod's is the newest.
var kindOrder = map[string]int{"Pod": 0, "ReplicaSet": 1, "Deployment": 2}

// eventRow is an event with its own name, which its recorder makes from
// the object's name and the time in nanoseconds.
type eventRow struct {
	bot.KubeEvent
	id string
}

// sortEvents orders events newest first, Warning ones before the others
// when warningsFirst. Ties (times have a second's resolution) go pod,
// ReplicaSet, Deployment, then by object name, then by the events' own
// names, newest first.
func sortEvents(evs []eventRow, warningsFirst bool) {
	rank := func(k string) int {
		if r, ok := kindOrder[k]; ok {
			return r
		}
		return len(kindOrder)
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if warningsFirst && (a.Type == corev1.EventTypeWarning) != (b.Type == corev1.EventTypeWarning) {
			return a.Type == corev1.EventTypeWarning
		}
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		if rank(a.Kind) != rank(b.Kind) {
			return rank(a.Kind) < rank(b.Kind)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.id > b.id
	})
}
