package console

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bakewise/chatops/bot"
)

// The reliability charts: the last 30 days, from at most maxTimings
// incidents (a storm's month is drawn from its first maxTimings), computed
// at most once a chartTTL.
const (
	chartDays  = 30
	maxTimings = 50000
	chartTTL   = time.Minute
)

// sevStat is one severity's times over the window.
type sevStat struct {
	Severity bot.Severity
	Count    int
	Acked    int
	Resolved int
	// Medians and 90th percentiles (zero without any).
	AckP50, AckP90, ResP50, ResP90 time.Duration
}

type dayCount struct {
	Day   time.Time
	BySev [4]int
	Total int
}

// bar is one rectangle of an SVG chart, in the chart's own units.
type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type label struct {
	X, Y   float64
	Text   string
	Anchor string
}

// chart is an SVG drawn by the template from computed shapes: no script,
// no style attribute, classes for colours.
type chart struct {
	W, H   float64
	Bars   []bar
	Labels []label
	Axis   []float64 // y of horizontal grid lines
	Left   float64
}

type reliabilityData struct {
	Since     time.Time
	Stats     []sevStat
	Truncated bool
	Times     chart
	PerDay    chart
	Total     int
}

type chartCache struct {
	mu   sync.Mutex
	at   time.Time
	data reliabilityData
}

func (c *Console) reliabilityPage(w http.ResponseWriter, r *http.Request) {
	d, err := c.reliability(r.Context())
	if err != nil {
		c.storeFailed(w, r, "incident", err)
		return
	}
	c.render(w, http.StatusOK, "reliability", c.newPage(r, "reliability", "Reliability", d))
}

func (c *Console) reliability(ctx context.Context) (reliabilityData, error) {
	c.charts.mu.Lock()
	defer c.charts.mu.Unlock()
	now := c.cfg.Now().UTC()
	if !c.charts.at.IsZero() && now.Sub(c.charts.at) < chartTTL && now.After(c.charts.at) {
		return c.charts.data, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	today := now.Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -(chartDays - 1))
	times, err := c.store.IncidentTimes(ctx, since, maxTimings)
	if err != nil {
		return reliabilityData{}, err
	}
	d := reliabilityData{Since: since, Truncated: len(times) == maxTimings, Total: len(times)}
	d.Stats = severityStats(times)
	d.Times = timesChart(d.Stats)
	d.PerDay = perDayChart(dayCounts(times, since), since)
	c.charts.at, c.charts.data = now, d
	return d, nil
}

func severityStats(times []bot.IncidentTiming) []sevStat {
	var acks, ress [4][]time.Duration
	stats := make([]sevStat, 4)
	for i := range stats {
		stats[i].Severity = bot.Severity(i)
	}
	for _, t := range times {
		if !t.Severity.Valid() {
			continue
		}
		s := &stats[t.Severity]
		s.Count++
		if t.AckedAt != nil {
			s.Acked++
			acks[t.Severity] = append(acks[t.Severity], max(t.AckedAt.Sub(t.OpenedAt), 0))
		}
		if t.ResolvedAt != nil {
			s.Resolved++
			ress[t.Severity] = append(ress[t.Severity], max(t.ResolvedAt.Sub(t.OpenedAt), 0))
		}
	}
	for i := range stats {
		stats[i].AckP50, stats[i].AckP90 = quantile(acks[i], .5), quantile(acks[i], .9)
		stats[i].ResP50, stats[i].ResP90 = quantile(ress[i], .5), quantile(ress[i], .9)
	}
	return stats
}

// quantile is the q-quantile of ds (nearest rank); zero when empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func dayCounts(times []bot.IncidentTiming, since time.Time) []dayCount {
	days := make([]dayCount, chartDays)
	for i := range days {
		days[i].Day = since.AddDate(0, 0, i)
	}
	for _, t := range times {
		i := int(t.OpenedAt.Sub(since) / (24 * time.Hour))
		if i < 0 || i >= chartDays || !t.Severity.Valid() {
			continue
		}
		days[i].BySev[t.Severity]++
		days[i].Total++
	}
	return days
}

// Chart geometry, in SVG user units (the SVG scales to its box).
const (
	chartW    = 600.0
	chartH    = 220.0
	plotTop   = 10.0
	plotBot   = 190.0
	plotLeft  = 60.0
	plotRight = 590.0
)

// timesChart draws the median times to acknowledge and to resolve, a pair
// of bars per severity, on one scale.
func timesChart(stats []sevStat) chart {
	c := chart{W: chartW, H: chartH, Left: plotLeft}
	var top time.Duration
	for _, s := range stats {
		top = max(top, s.AckP50, s.ResP50)
	}
	scale := niceDuration(top)
	slot := (plotRight - plotLeft) / float64(len(stats))
	for i, s := range stats {
		x := plotLeft + float64(i)*slot + slot*.15
		w := slot * .35
		for j, v := range []struct {
			d     time.Duration
			class string
			what  string
		}{{s.AckP50, "fill-ack", "acknowledge"}, {s.ResP50, "fill-res", "resolve"}} {
			h := (plotBot - plotTop) * float64(v.d) / float64(scale)
			c.Bars = append(c.Bars, bar{X: x + float64(j)*w, Y: plotBot - h, W: w * .9, H: h, Class: v.class,
				Title: s.Severity.String() + " median time to " + v.what + ": " + duration(v.d)})
		}
		c.Labels = append(c.Labels, label{X: x + w, Y: plotBot + 16, Text: s.Severity.String(), Anchor: "middle"})
	}
	c.grid(func(f float64) string { return duration(time.Duration(f * float64(scale))) })
	return c
}

// perDayChart draws incidents per day, stacked by severity.
func perDayChart(days []dayCount, since time.Time) chart {
	c := chart{W: chartW, H: chartH, Left: plotLeft}
	top := 0
	for _, d := range days {
		top = max(top, d.Total)
	}
	scale := niceCount(top)
	slot := (plotRight - plotLeft) / float64(len(days))
	for i, d := range days {
		x := plotLeft + float64(i)*slot + slot*.1
		y := plotBot
		for sev := range 4 {
			n := d.BySev[sev]
			if n == 0 {
				continue
			}
			h := (plotBot - plotTop) * float64(n) / float64(scale)
			y -= h
			c.Bars = append(c.Bars, bar{X: x, Y: y, W: slot * .8, H: h, Class: "fill-" + bot.Severity(sev).String(),
				Title: d.Day.Format("Jan 2") + ": " + itoa(n) + " " + bot.Severity(sev).String()})
		}
		if (len(days)-1-i)%7 == 0 { // weekly, counted back from today
			c.Labels = append(c.Labels, label{X: x + slot*.4, Y: plotBot + 16, Text: d.Day.Format("Jan 2"), Anchor: "middle"})
		}
	}
	c.grid(func(f float64) string { return itoa(int(f*float64(scale) + .5)) })
	return c
}

// grid adds four horizontal lines with their values.
func (c *chart) grid(value func(fraction float64) string) {
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		y := plotBot - f*(plotBot-plotTop)
		c.Axis = append(c.Axis, y)
		c.Labels = append(c.Labels, label{X: plotLeft - 6, Y: y + 4, Text: value(f), Anchor: "end"})
	}
}

// niceDuration is a round top for a scale that holds d.
func niceDuration(d time.Duration) time.Duration {
	// Each divides by four into round grid steps.
	for _, s := range []time.Duration{time.Minute, 4 * time.Minute, 8 * time.Minute, 20 * time.Minute, 40 * time.Minute,
		2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 96 * time.Hour, 8 * 24 * time.Hour} {
		if d <= s {
			return s
		}
	}
	return d
}

func niceCount(n int) int {
	for _, s := range []int{4, 8, 20, 40, 100, 200, 400, 1000, 2000, 4000, 10000} {
		if n <= s {
			return s
		}
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
