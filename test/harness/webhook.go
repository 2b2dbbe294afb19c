package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Webhook is the body Alertmanager's webhook notifier posts (payload
// version 4): what the bot's POST /v1/alertmanager decodes. Like the API's
// types it is the harness's own, not the receiver's, so that the tests
// speak Alertmanager's format rather than the bot's idea of it.
type Webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	// Alerts stays the last field: JSONWith splices encoded alerts in
	// where its encoding ends.
	Alerts []WebhookAlert `json:"alerts"`
}

// WebhookAlert is one alert of a Webhook.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

const (
	// NoEnd is the endsAt of an alert still firing: Go's zero time.
	NoEnd = "0001-01-01T00:00:00Z"
	// ExternalURL is the Alertmanager the harness's webhooks say they come
	// from.
	ExternalURL = "http://127.0.0.1:9093"
)

// RFC3339 is ts as Alertmanager writes times.
func RFC3339(ts time.Time) string { return ts.UTC().Format(time.RFC3339Nano) }

// FiringAlert is an alert firing since startsAt.
func FiringAlert(labels, annotations map[string]string, startsAt time.Time, fingerprint string) WebhookAlert {
	return WebhookAlert{Status: "firing", Labels: labels, Annotations: annotations,
		StartsAt: RFC3339(startsAt), EndsAt: NoEnd, Fingerprint: fingerprint}
}

// ResolvedAt is the alert resolved at t.
func (a WebhookAlert) ResolvedAt(t time.Time) WebhookAlert {
	a.Status, a.EndsAt = "resolved", RFC3339(t)
	return a
}

// NewWebhook is what Alertmanager sends receiver about the group with
// groupLabels holding alerts: the labels and annotations all alerts share,
// and "firing" while any alert is.
func NewWebhook(receiver string, groupLabels map[string]string, alerts ...WebhookAlert) Webhook {
	w := Webhook{Version: "4", GroupKey: GroupKey(groupLabels), Status: "resolved", Receiver: receiver,
		GroupLabels: groupLabels, ExternalURL: ExternalURL, Alerts: alerts}
	for i, a := range alerts {
		if a.Status == "firing" {
			w.Status = "firing"
		}
		if i == 0 {
			w.CommonLabels, w.CommonAnnotations = maps.Clone(a.Labels), maps.Clone(a.Annotations)
			continue
		}
		maps.DeleteFunc(w.CommonLabels, func(k, v string) bool { return a.Labels[k] != v })
		maps.DeleteFunc(w.CommonAnnotations, func(k, v string) bool { return a.Annotations[k] != v })
	}
	return w
}

// GroupKey is the key Alertmanager's root route gives the group with
// groupLabels.
func GroupKey(groupLabels map[string]string) string {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(groupLabels)) {
		pairs = append(pairs, fmt.Sprintf("%s=%q", k, groupLabels[k]))
	}
	return "{}:{" + strings.Join(pairs, ",") + "}"
}

// JSON is the webhook's body.
func (w Webhook) JSON() []byte {
	b, err := json.Marshal(w)
	if err != nil {
		panic(err) // strings and string maps always encode
	}
	return b
}

// JSONWith is the webhook's body with alerts, each already encoded, in
// place of w.Alerts: a tool that sends a group's thousand alerts again and
// again encodes each of them once.
func (w Webhook) JSONWith(alerts [][]byte) []byte {
	w.Alerts = []WebhookAlert{}
	head := bytes.TrimSuffix(w.JSON(), []byte("[]}"))
	size := len(head) + 3
	for _, a := range alerts {
		size += len(a) + 1
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.Write(head)
	buf.WriteByte('[')
	for i, a := range alerts {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(a)
	}
	buf.WriteString("]}")
	return buf.Bytes()
}
