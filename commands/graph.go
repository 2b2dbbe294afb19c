package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Grapher draws charts from Prometheus (integrations/prometheus). Its
// errors are written for people ("graph unavailable: ...").
type Grapher interface {
	// GraphIncident draws the expression of inc's alert over rng.
	GraphIncident(ctx context.Context, inc bot.IncidentDetail, rng time.Duration) (bot.File, error)
	// GraphService draws a service's CPU by pod over rng.
	GraphService(ctx context.Context, service string, rng time.Duration) (bot.File, error)
}

// The graph command's range.
const (
	defaultGraphRange = time.Hour
	minGraphRange     = 5 * time.Minute
	maxGraphRange     = 7 * 24 * time.Hour
	// graphAlerts is how many of an incident's alerts are read for a
	// generatorURL.
	graphAlerts = 10
)

var errNoPrometheus error = &bot.UserError{Msg: "no Prometheus is configured for this bot (prometheus.url)"}

func graph(g Grapher, incidents IncidentReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "graph",
		Summary: "A chart from Prometheus: an incident's alert expression, or a service's CPU by pod",
		Role:    policy.Viewer,
		Args: []bot.Arg{
			{Name: "target", Positional: true, Required: true, Complete: "service", Help: "an incident number (#12) or a service"},
			{Name: "range", Kind: bot.ArgDuration, Min: int64(minGraphRange / time.Second), Max: int64(maxGraphRange / time.Second), Help: "how far back (5m to 7d, default 1h)"},
		},
		Timeout: 15 * time.Second,
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			rng := inv.Duration("range", defaultGraphRange)
			target := inv.String("target")
			if num, ok := strings.CutPrefix(target, "#"); ok || isDigits(target) {
				id, err := strconv.ParseInt(num, 10, 64)
				if err != nil || id <= 0 {
					return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("%q is not an incident number", bot.Clip(target, 40))}
				}
				return graphIncident(ctx, g, incidents, id, rng)
			}
			if !bot.ValidService(target) {
				return bot.Answer{}, &bot.UsageError{Spec: inv.Spec, Msg: fmt.Sprintf("%q is neither an incident number nor a service name", bot.Clip(target, 40))}
			}
			f, err := g.GraphService(ctx, target, rng)
			if err != nil {
				return bot.Answer{}, err
			}
			return bot.Answer{Title: fmt.Sprintf("%s: CPU by pod over the last %s", target, bot.HumanDuration(rng)), File: &f}, nil
		},
	}
}

func graphIncident(ctx context.Context, g Grapher, incidents IncidentReader, id int64, rng time.Duration) (bot.Answer, error) {
	if incidents == nil {
		return bot.Answer{}, errNoIncidents
	}
	d, err := incidents.IncidentView(ctx, id, graphAlerts, 0)
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Answer{Title: fmt.Sprintf("No incident #%d.", id), Private: true}, nil
	}
	if err != nil {
		return bot.Answer{}, fmt.Errorf("incident %d: %w", id, err)
	}
	f, err := g.GraphIncident(ctx, d, rng)
	if err != nil {
		return bot.Answer{}, err
	}
	return bot.Answer{Title: fmt.Sprintf("#%d %s over the last %s", d.ID, d.Title, bot.HumanDuration(rng)),
		Color: bot.Color(d.Severity, d.Status), File: &f}, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
