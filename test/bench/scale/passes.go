package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
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
		{"correlation pass", engine.Correlate},
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

// StoreCounts says what a store holds at a moment.
type StoreCounts struct {
	Incidents   int64 `json:"incidents"`
	Open        int64 `json:"open"`
	OpenOutages int64 `json:"open_outages"`
	OutageLinks int64 `json:"outage_links"`
}

func storeCounts(ctx context.Context, dbURL string) (*StoreCounts, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var c StoreCounts
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM incidents),
		(SELECT count(*) FROM incidents WHERE status = 'open'),
		(SELECT count(*) FROM incidents WHERE status = 'open' AND group_key = $1),
		(SELECT count(*) FROM incident_links)`, bot.OutageGroupKey).Scan(&c.Incidents, &c.Open, &c.OpenOutages, &c.OutageLinks)
	if err != nil {
		return nil, fmt.Errorf("count the store: %w", err)
	}
	return &c, nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
