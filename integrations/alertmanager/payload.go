package alertmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/prometheus/common/model"
)

// Limits on one notification besides the body size. They are far above what
// Alertmanager sends for a sane alert, and they bound what a bad sender can
// make the bot store.
const (
	MaxAlerts         = 10000
	maxGroupKeyLen    = 8192
	maxReceiverLen    = 256
	maxURLLen         = 8192
	maxLabels         = 256
	maxLabelNameLen   = 256
	maxLabelValueLen  = 16 << 10
	maxAnnotationLen  = 64 << 10 // all of an alert's annotations together, names included
	maxFingerprintLen = 64
)

// webhook is Alertmanager's notification, version 4. Fields Alertmanager
// may add later are ignored rather than refused: refusing them would make
// Alertmanager drop real alerts after an upgrade.
type webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
	// Sent by Alertmanager 0.35 and later; accepted, not used yet.
	NotificationReason string            `json:"notification_reason,omitempty"`
	RouteLabels        map[string]string `json:"routeLabels,omitempty"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Decode reads one notification and validates it. Its errors are written
// for the sender: they say what is wrong and where.
func Decode(r io.Reader) (bot.AlertGroup, error) {
	dec := json.NewDecoder(r)
	var w webhook
	var tooLarge *http.MaxBytesError
	if err := dec.Decode(&w); err != nil {
		if errors.As(err, &tooLarge) {
			return bot.AlertGroup{}, err
		}
		return bot.AlertGroup{}, describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if errors.As(err, &tooLarge) {
			return bot.AlertGroup{}, err
		}
		return bot.AlertGroup{}, errors.New("bad JSON: data after the notification object")
	}
	return w.validate()
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("bad JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("bad JSON: field %s: %s is not a %s", typ.Field, clip(typ.Value, maxQuoted), typ.Type)
	case errors.As(err, &tim):
		return fmt.Errorf("bad JSON: time %s is not an RFC 3339 time", quote(tim.Value))
	case errors.Is(err, io.EOF):
		return errors.New("bad JSON: empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("bad JSON: body ends in the middle of the object")
	}
	return fmt.Errorf("bad JSON: %s", clip(err.Error(), maxErrorText))
}

// A refusal is the 400's body and a log line: what it quotes of the
// sender's input is clipped, so its size does not grow with the body.
const (
	// maxQuoted bounds one quoted piece of input, in characters.
	maxQuoted = 64
	// maxErrorText bounds an error text of encoding/json's that is shown
	// whole.
	maxErrorText = 256
)

// quote is s in Go quotes, clipped to maxQuoted characters.
func quote(s string) string { return strconv.Quote(clip(s, maxQuoted)) }

func (w *webhook) validate() (bot.AlertGroup, error) {
	switch {
	case w.Version != "4":
		return bot.AlertGroup{}, fmt.Errorf("unsupported version %s: want \"4\"", quote(w.Version))
	case w.GroupKey == "":
		return bot.AlertGroup{}, errors.New("no groupKey")
	case len(w.GroupKey) > maxGroupKeyLen:
		return bot.AlertGroup{}, fmt.Errorf("groupKey longer than %d bytes", maxGroupKeyLen)
	case w.Receiver == "":
		return bot.AlertGroup{}, errors.New("no receiver")
	case len(w.Receiver) > maxReceiverLen:
		return bot.AlertGroup{}, fmt.Errorf("receiver longer than %d bytes", maxReceiverLen)
	case len(w.ExternalURL) > maxURLLen:
		return bot.AlertGroup{}, fmt.Errorf("externalURL longer than %d bytes", maxURLLen)
	case w.TruncatedAlerts < 0:
		return bot.AlertGroup{}, errors.New("truncatedAlerts is negative")
	case len(w.Alerts) == 0:
		return bot.AlertGroup{}, errors.New("no alerts")
	case len(w.Alerts) > MaxAlerts:
		return bot.AlertGroup{}, fmt.Errorf("%d alerts: at most %d in one notification", len(w.Alerts), MaxAlerts)
	}
	status, err := parseStatus(w.Status)
	if err != nil {
		return bot.AlertGroup{}, err
	}
	for name, v := range map[string]string{"groupKey": w.GroupKey, "receiver": w.Receiver, "externalURL": w.ExternalURL} {
		if strings.ContainsRune(v, 0) {
			return bot.AlertGroup{}, fmt.Errorf("%s contains a NUL character", name)
		}
	}
	for _, ls := range []struct {
		name string
		m    map[string]string
		max  int
	}{{"groupLabels", w.GroupLabels, maxLabelValueLen}, {"commonLabels", w.CommonLabels, maxLabelValueLen}, {"commonAnnotations", w.CommonAnnotations, maxAnnotationLen}} {
		if err := checkLabels(ls.name, ls.m, ls.max); err != nil {
			return bot.AlertGroup{}, err
		}
	}
	if err := checkAnnotationsSize("commonAnnotations", w.CommonAnnotations); err != nil {
		return bot.AlertGroup{}, err
	}
	g := bot.AlertGroup{
		Receiver:          w.Receiver,
		GroupKey:          w.GroupKey,
		Status:            status,
		GroupLabels:       w.GroupLabels,
		CommonLabels:      w.CommonLabels,
		CommonAnnotations: w.CommonAnnotations,
		ExternalURL:       w.ExternalURL,
		TruncatedAlerts:   w.TruncatedAlerts,
		Alerts:            make([]bot.Alert, 0, len(w.Alerts)),
	}
	for i, a := range w.Alerts {
		ba, err := a.validate()
		if err != nil {
			return bot.AlertGroup{}, fmt.Errorf("alerts[%d]: %w", i, err)
		}
		g.Alerts = append(g.Alerts, ba)
	}
	return g, nil
}

func (a *webhookAlert) validate() (bot.Alert, error) {
	status, err := parseStatus(a.Status)
	if err != nil {
		return bot.Alert{}, err
	}
	if len(a.Labels) == 0 {
		return bot.Alert{}, errors.New("no labels")
	}
	if err := checkLabels("labels", a.Labels, maxLabelValueLen); err != nil {
		return bot.Alert{}, err
	}
	if err := checkLabels("annotations", a.Annotations, maxAnnotationLen); err != nil {
		return bot.Alert{}, err
	}
	if err := checkAnnotationsSize("annotations", a.Annotations); err != nil {
		return bot.Alert{}, err
	}
	if a.StartsAt.IsZero() {
		return bot.Alert{}, errors.New("no startsAt")
	}
	if !storableTime(a.StartsAt) {
		return bot.Alert{}, fmt.Errorf("startsAt %s is outside the years %d..%d", a.StartsAt.Format(time.RFC3339), minYear, maxYear)
	}
	if len(a.GeneratorURL) > maxURLLen {
		return bot.Alert{}, fmt.Errorf("generatorURL longer than %d bytes", maxURLLen)
	}
	if strings.ContainsRune(a.GeneratorURL, 0) || strings.ContainsRune(a.Fingerprint, 0) {
		return bot.Alert{}, errors.New("generatorURL or fingerprint contains a NUL character")
	}
	fp := a.Fingerprint
	switch {
	case fp == "":
		// Alertmanager always sends one; other senders get the same
		// fingerprint Alertmanager would compute from the labels.
		fp = toLabelSet(a.Labels).Fingerprint().String()
	case len(fp) > maxFingerprintLen:
		return bot.Alert{}, fmt.Errorf("fingerprint longer than %d bytes", maxFingerprintLen)
	}
	ends := a.EndsAt
	if ends.Year() <= 1 {
		ends = time.Time{}
	}
	if !ends.IsZero() && !storableTime(ends) {
		return bot.Alert{}, fmt.Errorf("endsAt %s is outside the years %d..%d", a.EndsAt.Format(time.RFC3339), minYear, maxYear)
	}
	return bot.Alert{
		Fingerprint:  fp,
		Status:       status,
		Labels:       a.Labels,
		Annotations:  nonNil(a.Annotations),
		StartsAt:     a.StartsAt.UTC(),
		EndsAt:       ends.UTC(),
		GeneratorURL: a.GeneratorURL,
	}, nil
}

func parseStatus(s string) (bot.AlertStatus, error) {
	switch bot.AlertStatus(s) {
	case bot.AlertFiring, bot.AlertResolved:
		return bot.AlertStatus(s), nil
	}
	return "", fmt.Errorf("status %s: want \"firing\" or \"resolved\"", quote(s))
}

func checkLabels(what string, m map[string]string, maxValue int) error {
	if len(m) > maxLabels {
		return fmt.Errorf("%s: %d entries, at most %d", what, len(m), maxLabels)
	}
	for k, v := range m {
		switch {
		case k == "":
			return fmt.Errorf("%s: empty name", what)
		case len(k) > maxLabelNameLen:
			return fmt.Errorf("%s: name longer than %d bytes", what, maxLabelNameLen)
		case len(v) > maxValue:
			return fmt.Errorf("%s.%s: value longer than %d bytes", what, k, maxValue)
		case strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0):
			// PostgreSQL cannot store NUL in text: refuse it here rather
			// than fail the transaction on every retry.
			return fmt.Errorf("%s: NUL character in %s", what, quote(strings.ReplaceAll(k, "\x00", `\0`)))
		}
	}
	return nil
}

// checkAnnotationsSize refuses annotations larger than maxAnnotationLen
// all together: 256 annotations of 64 KiB each would be 16 MiB to store
// and render for one alert.
func checkAnnotationsSize(what string, m map[string]string) error {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	if n > maxAnnotationLen {
		return fmt.Errorf("%s: %d bytes in all, at most %d", what, n, maxAnnotationLen)
	}
	return nil
}

// The years an alert's times may fall in, in UTC: RFC 3339's, which is
// how Alertmanager writes them. An offset can carry a time written as
// 9999-12-31 into the year 10000, which the store could write but never
// read back (SQLite), leaving its incident unreadable.
const (
	minYear = 1
	maxYear = 9999
)

func storableTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= minYear && y <= maxYear
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
