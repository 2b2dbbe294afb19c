package bot

import (
	"regexp"
	"strings"
	"time"
)

// FiringAlert is an alert as Alertmanager holds it now (API v2), with
// whatever mutes it.
type FiringAlert struct {
	Fingerprint string
	Labels      map[string]string
	StartsAt    time.Time
	// SilencedBy and InhibitedBy are the ids of the silences that mute it
	// and the fingerprints of the alerts that inhibit it.
	SilencedBy  []string
	InhibitedBy []string
}

// The silence button of an alerts answer: chatops:silence:<alert>:<service>.
// It carries two names checked on the way in and on the way back, never a
// label value as it came, and the click rebuilds the matchers from them.
const silenceButtonPrefix = "chatops:silence:"

// SilenceButtonDuration is how long a silence made by the button lasts,
// as the silence command reads it; SilenceButtonReason is its comment in
// Alertmanager.
const (
	SilenceButtonDuration = "1h"
	SilenceButtonReason   = "silenced from the alerts list (button)"
)

// alertName is what an alertname must look like to ride in a button id: a
// Prometheus metric-style name without colons (the id's separator).
var alertName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SilenceButtonID is the id of the button that silences alert on service;
// ok is false when either is not a plain name or the id would be longer
// than a platform takes (Button's 100 characters): such a group gets no
// button.
func SilenceButtonID(alert, service string) (string, bool) {
	id := silenceButtonPrefix + alert + ":" + service
	if !alertName.MatchString(alert) || !ValidService(service) || len(id) > maxButtonID {
		return "", false
	}
	return id, true
}

// maxButtonID is the longest button id every platform takes (Discord's
// custom_id).
const maxButtonID = 100

// ParseSilenceButtonID reads a SilenceButtonID, checking both names again:
// ok is false for any other button and for an id nobody could have been
// given.
func ParseSilenceButtonID(id string) (alert, service string, ok bool) {
	rest, found := strings.CutPrefix(id, silenceButtonPrefix)
	if !found {
		return "", "", false
	}
	alert, service, found = strings.Cut(rest, ":")
	if _, valid := SilenceButtonID(alert, service); !found || !valid {
		return "", "", false
	}
	return alert, service, true
}

// SilenceButtonCommand is the command a silence button stands for: the
// silence command typed with the group's matchers, the default duration
// and reason, so its plan and approval rules apply.
func SilenceButtonCommand(alert, service string) string {
	return "silence alertname=" + alert + ",service=" + service + " " +
		SilenceButtonDuration + " " + SilenceButtonReason
}
