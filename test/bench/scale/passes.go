package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot/escalation"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/integrations/postgres"
)

// passTimeout bounds one timed pass; the bot's own bound on a correlation
// pass is 5 s.
const passTimeout = 30 * time.Second

// PassTimes are one background pass timed n times, in ms.
type PassTimes struct {
	What string  `json:"what"`
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	Max  float64 `json:"max_ms"`
}

// timePasses runs, in this process against the store at dbURL, the
// passes the bot repeats while idle, n times each: a correlation pass
// (the bot's every 30 s, and after every critical notification), an
// escalator tick (every second: the due reminders, fired if any), and the
// two counts a /metrics scrape makes over the open incidents. The bot has
// no metric of its own for a correlation pass (it is one store
// transaction, op="tx", among the webhooks' and the reminders'), so this
// is how the report gets its time.
func timePasses(ctx context.Context, dbURL string, n int) ([]PassTimes, error) {
	store, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 4}, nil)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	engine := incident.New(store, incident.Config{Correlation: incident.CorrelationConfig{Enabled: true}}, zap.NewNop(), nil)
	esc := escalation.New(store, escalation.Config{Holder: "bench-scale"}, zap.NewNop(), nil)
	passes := []struct {
		what string
		run  func(context.Context) error
	}{
		{"correlation pass (no outage open)", engine.Correlate},
		{"escalator tick (due reminders, fired if any)", func(ctx context.Context) error { _, err := esc.FireDue(ctx); return err }},
		{"scrape: open incidents by severity", func(ctx context.Context) error { _, err := store.CountOpenIncidents(ctx); return err }},
		{"scrape: incidents past their deadline", func(ctx context.Context) error {
			_, err := store.CountPastDeadline(ctx, time.Now())
			return err
		}},
	}
	var out []PassTimes
	for _, p := range passes {
		var ds []time.Duration
		for range n {
			pctx, cancel := context.WithTimeout(ctx, passTimeout)
			t0 := time.Now()
			err := p.run(pctx)
			ds = append(ds, time.Since(t0))
			cancel()
			if err != nil {
				return out, fmt.Errorf("%s: %w", p.what, err)
			}
		}
		slices.Sort(ds)
		out = append(out, PassTimes{What: p.what, N: n, P50: msOf(ds[len(ds)/2]), Max: msOf(ds[len(ds)-1])})
	}
	return out, nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
