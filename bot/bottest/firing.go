package bottest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/bakewise/chatops/bot"
)

// Firing is Alertmanager's list of firing alerts as the alerts command
// reads it: it filters by the service label as the API's filter does and
// remembers what was asked.
type Firing struct {
	Alerts []bot.FiringAlert
	Err    error

	mu       sync.Mutex
	services []string
}

// FiringAlerts implements commands.AlertLister.
func (f *Firing) FiringAlerts(_ context.Context, service string, max int) ([]bot.FiringAlert, int, error) {
	f.mu.Lock()
	f.services = append(f.services, service)
	f.mu.Unlock()
	if f.Err != nil {
		return nil, 0, f.Err
	}
	var out []bot.FiringAlert
	total := 0
	for _, a := range f.Alerts {
		if service != "" && a.Labels["service"] != service {
			continue
		}
		total++
		if len(out) < max {
			out = append(out, a)
		}
	}
	return out, total, nil
}

// Asked is the service filters of every call so far.
func (f *Firing) Asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.services...)
}

// SampleFiring is a night's firing alerts as of now, hostile label values
// included: a P1 group of two (one silenced), a P2 group, an inhibited
// one, a group without a service, and groups whose alertname or service
// would smuggle text into a button or a message.
func SampleFiring(now time.Time) []bot.FiringAlert {
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	return []bot.FiringAlert{
		{Fingerprint: "a1", Labels: l("alertname", "HighErrorRate", "service", "orders-service", "severity", "critical", "pod", "orders-1"), StartsAt: at(65 * time.Minute)},
		{Fingerprint: "a2", Labels: l("alertname", "HighErrorRate", "service", "orders-service", "severity", "critical", "pod", "orders-2"), StartsAt: at(20 * time.Minute),
			SilencedBy: []string{"3f2a9c1e-0d4b-4c3e-9a51-2b7e6f1d8c00"}},
		{Fingerprint: "b1", Labels: l("alertname", "HighMemoryUsage", "service", "inventory-service", "severity", "warning"), StartsAt: at(3 * time.Hour)},
		{Fingerprint: "c1", Labels: l("alertname", "ServiceDown", "service", "gateway", "priority", "P0"), StartsAt: at(7 * time.Minute)},
		{Fingerprint: "c2", Labels: l("alertname", "HighLatency", "service", "gateway", "severity", "warning"), StartsAt: at(6 * time.Minute),
			InhibitedBy: []string{"c1"}},
		{Fingerprint: "d1", Labels: l("alertname", "Watchdog"), StartsAt: at(26 * time.Hour)},
		{Fingerprint: "e1", Labels: l("alertname", "Disk<!channel>`Full`", "service", "auth-service", "severity", "critical"), StartsAt: at(2 * time.Minute)},
		{Fingerprint: "e2", Labels: l("alertname", "CertExpiring", "service", "billing  30m <@U0BOSS>\n```injected``` "+strings.Repeat("x", 80), "severity", "warning"), StartsAt: at(90 * time.Minute)},
	}
}
