package commands

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Silences is Alertmanager as the silence command uses it.
type Silences interface {
	CreateSilence(ctx context.Context, s bot.Silence) (string, error)
	// ParseMatchers reads matchers as people type them:
	// alertname=ServiceDown,service=orders-service.
	ParseMatchers(s string) ([]policy.SilenceMatcher, error)
}

// Silence durations people may ask for.
const (
	minSilence = time.Minute
	maxSilence = 7 * 24 * time.Hour
)

func silence(s Silences, incidents IncidentReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name: "silence",
		Summary: "Silence alerts in Alertmanager: matchers (alertname=X,service=Y) or an incident's number; " +
			"narrow ones at once, broad ones after a second person approves",
		Role:        policy.Member,
		Destructive: true,
		Args: []bot.Arg{
			{Name: "matchers", Positional: true, Required: true, Help: "alertname=X,service=Y (or =~, !=, !~), or an incident number like #12"},
			{Name: "duration", Kind: bot.ArgDuration, Positional: true, Required: true, Min: int64(minSilence / time.Second), Max: int64(maxSilence / time.Second), Help: "how long, like 30m or 2h"},
			{Name: "reason", Positional: true, Required: true, Rest: true, Help: "why, shown in Alertmanager"},
		},
		Plan: func(ctx context.Context, inv bot.Invocation) (bot.Plan, error) {
			ms, group, err := silenceMatchers(ctx, s, incidents, inv.String("matchers"))
			var internal *storeError
			if errors.As(err, &internal) {
				return bot.Plan{}, fmt.Errorf("silence: read the incident: %w", internal.err)
			}
			if err != nil {
				return bot.Plan{}, &bot.UsageError{Spec: inv.Spec, Msg: err.Error()}
			}
			d := inv.Duration("duration", 0)
			text := matcherText(ms)
			plan := bot.Plan{
				Target:  "silence",
				Params:  map[string]string{"matchers": text, "duration": d.String(), "reason": inv.String("reason")},
				Preview: []string{fmt.Sprintf("silence {%s} for %s", text, d), "reason: " + inv.String("reason")},
				Role:    policy.Member,
			}
			if why := silenceBreadth(ms, group); why != "" {
				plan.Warnings = append(plan.Warnings, "broad silence, so a second person must approve it: "+why)
			} else {
				plan.NoApproval = true
			}
			return plan, nil
		},
		Execute: func(ctx context.Context, inv bot.Invocation, p bot.Plan) (string, error) {
			ms, err := s.ParseMatchers(p.Params["matchers"])
			if err != nil {
				return "", fmt.Errorf("silence: %w", err)
			}
			d, err := time.ParseDuration(p.Params["duration"])
			if err != nil {
				return "", fmt.Errorf("silence: duration: %w", err)
			}
			u := inv.Command.User
			now := time.Now().UTC()
			id, err := s.CreateSilence(ctx, bot.Silence{
				Matchers: ms, StartsAt: now, EndsAt: now.Add(d),
				CreatedBy: fmt.Sprintf("%s (%s %s) via chatops", displayName(u), u.Platform, u.UserID),
				Comment:   p.Params["reason"],
			})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("silence %s: {%s} until %s", id, p.Params["matchers"], now.Add(d).Format("2006-01-02 15:04 MST")), nil
		},
	}
}

// silenceBreadth says why a silence needs a second person, or "" when a
// Member may create it alone: it names the alert and the service, or it is
// exactly the group of the incident it was made from.
func silenceBreadth(ms []policy.SilenceMatcher, group map[string]string) string {
	if policy.IncidentGroupSilence(ms, group) {
		return ""
	}
	return policy.BroadSilenceReason(ms)
}

// silenceMatchers reads what to silence: an incident's grouping labels, or
// matchers as typed. group is the incident's group labels when the
// matchers are exactly those, nil otherwise.
func silenceMatchers(ctx context.Context, s Silences, incidents IncidentReader, what string) (ms []policy.SilenceMatcher, group map[string]string, err error) {
	num := strings.TrimPrefix(what, "#")
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		ms, err = s.ParseMatchers(what)
		return ms, nil, err
	}
	if incidents == nil || id <= 0 {
		return nil, nil, fmt.Errorf("no incident %s", what)
	}
	d, err := incidents.IncidentView(ctx, id, 0, 0) // its labels: no alert, no event
	if errors.Is(err, bot.ErrNotFound) {
		return nil, nil, fmt.Errorf("no incident #%d", id)
	}
	if err != nil {
		return nil, nil, &storeError{err}
	}
	// Without group labels (a route with group_by: []) the common labels
	// are a guess at the incident's scope, not its group: they are judged
	// like typed matchers.
	labels := d.GroupLabels
	if len(labels) == 0 {
		labels = d.CommonLabels
	} else {
		group = d.GroupLabels
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ms = append(ms, policy.SilenceMatcher{Name: k, Value: labels[k], Equal: true})
	}
	if len(ms) == 0 {
		return nil, nil, fmt.Errorf("incident #%d has no labels to silence by", id)
	}
	return ms, group, nil
}

// storeError marks a failure to read the store, which is not the asker's
// mistake: it must reach chat as an internal error, not as usage.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }

// matcherText writes matchers back in the form ParseMatchers reads.
func matcherText(ms []policy.SilenceMatcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}
