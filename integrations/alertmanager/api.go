package alertmanager

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	"github.com/prometheus/alertmanager/api/v2/client/alert"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// apiTimeout bounds one call to Alertmanager's API.
const apiTimeout = 5 * time.Second

// API reads Alertmanager through its API v2 client: what is firing now.
type API struct {
	c *amclient.AlertmanagerAPI
}

// NewAPI builds a client for the Alertmanager at base (http(s)://host:port,
// optionally with a path prefix).
func NewAPI(base string) (*API, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alertmanager API: %q is not an http(s) URL", base)
	}
	cfg := amclient.DefaultTransportConfig().WithHost(u.Host).WithSchemes([]string{u.Scheme}).
		WithBasePath(u.Path + amclient.DefaultBasePath)
	return &API{c: amclient.NewHTTPClientWithConfig(strfmt.Default, cfg)}, nil
}

// FiringBySeverity counts the active alerts (not silenced, not inhibited) by
// their severity label ("none" when they have none); with a service, only
// that service's (label service).
func (a *API) FiringBySeverity(ctx context.Context, service string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	yes, no := true, false
	params := alert.NewGetAlertsParamsWithContext(ctx).WithActive(&yes).WithSilenced(&no).WithInhibited(&no)
	if service != "" {
		params = params.WithFilter([]string{"service=" + strconv.Quote(service)})
	}
	res, err := a.c.Alert.GetAlerts(params)
	if err != nil {
		return nil, fmt.Errorf("alertmanager API: get alerts: %w", err)
	}
	out := map[string]int{}
	for _, al := range res.Payload {
		sev := al.Labels["severity"]
		if sev == "" {
			sev = "none"
		}
		out[sev]++
	}
	return out, nil
}

// ParseMatchers reads matchers as people type them, in the grammar of the
// Alertmanager this API talks to (see the package function ParseMatchers).
func (a *API) ParseMatchers(s string) ([]policy.SilenceMatcher, error) { return ParseMatchers(s) }

// FiringAlerts lists the alerts Alertmanager holds as firing now, muted
// or not (active, silenced, inhibited and not yet processed), with what
// mutes each; with a service, only that service's (label service, which
// the caller has checked is a plain name). It keeps the first max of
// them and reports how many there were.
func (a *API) FiringAlerts(ctx context.Context, service string, max int) ([]bot.FiringAlert, int, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	yes := true
	params := alert.NewGetAlertsParamsWithContext(ctx).
		WithActive(&yes).WithSilenced(&yes).WithInhibited(&yes).WithUnprocessed(&yes)
	if service != "" {
		params = params.WithFilter([]string{"service=" + strconv.Quote(service)})
	}
	res, err := a.c.Alert.GetAlerts(params)
	if err != nil {
		return nil, 0, fmt.Errorf("alertmanager API: get alerts: %w", err)
	}
	out := make([]bot.FiringAlert, 0, min(len(res.Payload), max))
	for _, al := range res.Payload {
		if len(out) == max {
			break
		}
		if al == nil {
			continue
		}
		f := bot.FiringAlert{Labels: al.Labels}
		if al.Fingerprint != nil {
			f.Fingerprint = *al.Fingerprint
		}
		if al.StartsAt != nil {
			f.StartsAt = time.Time(*al.StartsAt)
		}
		if al.Status != nil {
			f.SilencedBy, f.InhibitedBy = al.Status.SilencedBy, al.Status.InhibitedBy
		}
		out = append(out, f)
	}
	return out, len(res.Payload), nil
}
