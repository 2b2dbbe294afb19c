package prometheus

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The picture: 1000×480 pixels, the legend in a column on the right so
// it never hides a line.
const (
	dpi          = 96
	widthPx      = 1000
	heightPx     = 480
	legendPx     = 250
	maxLegendLen = 36
	maxTitleExpr = 110
	// MaxPNGBytes bounds the image; a chart of this size is 30-80 kB.
	MaxPNGBytes = 1 << 20
)

// ErrNoData is a query that matched no series in the range.
var ErrNoData = errors.New("no data")

// Chart is what a picture shows.
type Chart struct {
	// Title names the alert (or the service); Expr is drawn under it.
	Title, Expr string
	Series      []Series
	// More is how many series were left out (TopSeries).
	More       int
	Start, End time.Time
	// Marker, when not zero, is drawn as a vertical line: the incident's
	// start.
	Marker time.Time
	// Threshold, when set, is drawn as a horizontal line.
	Threshold *Threshold
	// Step splits a line where samples are missing for longer than two
	// steps, rather than drawing across the gap.
	Step time.Duration
}

// Render draws c as a PNG.
func Render(c Chart) ([]byte, error) {
	if len(c.Series) == 0 {
		return nil, ErrNoData
	}
	p := plot.New()
	p.Title.Text = c.Title + "\n" + clipRunes(strings.Join(strings.Fields(c.Expr), " "), maxTitleExpr)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = fmt.Sprintf("time (UTC), %s to %s", c.Start.UTC().Format("2006-01-02 15:04"), c.End.UTC().Format("15:04"))
	if c.End.Sub(c.Start) > 20*time.Hour {
		p.X.Label.Text = fmt.Sprintf("time (UTC), %s to %s", c.Start.UTC().Format("2006-01-02 15:04"), c.End.UTC().Format("2006-01-02 15:04"))
	}
	p.X.Tick.Marker = plot.TimeTicks{Ticker: timeTicker{}, Format: tickFormat(c.End.Sub(c.Start)), Time: plot.UnixTimeIn(time.UTC)}
	p.Y.Label.Text = unitOf(c.Expr)
	p.Y.Tick.Marker = compactTicks{}
	p.X.Min, p.X.Max = unix(c.Start), unix(c.End)
	p.Add(plotter.NewGrid())

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(9)
	legend.Padding = vg.Points(4)
	names := legendNames(c.Series)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range c.Series {
		style := draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1.5)}
		for j, seg := range segments(s.Points, c.Step) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return nil, fmt.Errorf("series %d: %w", i, err)
			}
			l.LineStyle = style
			p.Add(l)
			if j == 0 {
				legend.Add(names[i], l)
			}
			for _, xy := range seg {
				lo, hi = min(lo, xy.Y), max(hi, xy.Y)
			}
		}
	}
	if math.IsInf(lo, 0) {
		return nil, ErrNoData // only NaN or infinite samples
	}
	if c.More > 0 {
		legend.Add(fmt.Sprintf("(%d more series not drawn)", c.More))
	}
	if t := c.Threshold; t != nil && !math.IsNaN(t.Value) && !math.IsInf(t.Value, 0) {
		lo, hi = min(lo, t.Value), max(hi, t.Value)
	}
	pad := (hi - lo) * 0.08
	if pad == 0 {
		pad = math.Max(math.Abs(hi)*0.1, 1)
	}
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	if lo >= 0 && p.Y.Min < 0 {
		p.Y.Min = 0 // counts and ratios do not go under zero
	}
	if t := c.Threshold; t != nil && !math.IsNaN(t.Value) && !math.IsInf(t.Value, 0) {
		l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: t.Value}, {X: p.X.Max, Y: t.Value}})
		if err != nil {
			return nil, err
		}
		l.LineStyle = draw.LineStyle{Color: color.RGBA{R: 0xD0, G: 0x20, B: 0x20, A: 0xFF}, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}
		p.Add(l)
		legend.Add("threshold "+t.Op+" "+formatValue(t.Value), l)
	}
	if !c.Marker.IsZero() && !c.Marker.Before(c.Start) && !c.Marker.After(c.End) {
		x := unix(c.Marker)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: p.Y.Max}})
		if err != nil {
			return nil, err
		}
		l.LineStyle = draw.LineStyle{Color: color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xFF}, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(2), vg.Points(3)}}
		p.Add(l)
		legend.Add("incident start "+c.Marker.UTC().Format("15:04:05"), l)
	}

	w, h := px(widthPx), px(heightPx)
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -px(legendPx), 0, 0))
	legend.Draw(draw.Crop(dc, w-px(legendPx)+px(8), 0, -px(40), -px(40)))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	if buf.Len() > MaxPNGBytes {
		return nil, fmt.Errorf("the chart is %d bytes, over %d", buf.Len(), MaxPNGBytes)
	}
	return buf.Bytes(), nil
}

func px(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }

func unix(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// segments turns points into lines, split where samples are missing for
// more than two steps or a value is NaN or infinite.
func segments(ps []Point, step time.Duration) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	var last time.Time
	for _, p := range ps {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		if len(cur) > 0 && step > 0 && p.T.Sub(last) > 2*step {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, plotter.XY{X: unix(p.T), Y: p.V})
		last = p.T
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	// A lone point is a line of one point: it would not show; repeat it.
	for i, s := range out {
		if len(s) == 1 {
			out[i] = plotter.XYs{s[0], s[0]}
		}
	}
	return out
}

// legendNames names each series by the labels that tell them apart
// ("pod=orders-7f9c"), or by all its labels when there is one series.
func legendNames(ss []Series) []string {
	keys := map[string]bool{}
	for _, s := range ss {
		for k := range s.Labels {
			keys[k] = true
		}
	}
	var distinct []string
	for k := range keys {
		first, firstOK := ss[0].Labels[k]
		for _, s := range ss[1:] {
			if v, ok := s.Labels[k]; ok != firstOK || v != first {
				distinct = append(distinct, k)
				break
			}
		}
	}
	sort.Strings(distinct)
	if len(ss) == 1 {
		for k := range ss[0].Labels {
			if k != "__name__" {
				distinct = append(distinct, k)
			}
		}
		sort.Strings(distinct)
	}
	names := make([]string, len(ss))
	for i, s := range ss {
		var parts []string
		for _, k := range distinct {
			if v, ok := s.Labels[k]; ok {
				if k == "__name__" {
					parts = append(parts, v)
					continue
				}
				parts = append(parts, k+"="+v)
			}
		}
		name := strings.Join(parts, ", ")
		if name == "" {
			name = "value"
			if n := ss[i].Labels["__name__"]; n != "" {
				name = n
			}
		}
		names[i] = clipRunes(name, maxLegendLen)
	}
	return names
}

// clipRunes keeps s to n runes, printable, with an ellipsis when cut.
func clipRunes(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// unitOf guesses the y axis's unit from the metric names in expr, by the
// Prometheus naming conventions (_seconds, _bytes, _ratio...); a rate of
// a counter is per second.
func unitOf(expr string) string {
	e := strings.ToLower(expr)
	perSecond := strings.Contains(e, "rate(") && !strings.Contains(e, "histogram_quantile")
	unit := ""
	for _, u := range []struct{ suffix, name string }{
		{"_seconds", "seconds"}, {"_bytes", "bytes"}, {"_ratio", "ratio"}, {"_percent", "percent"},
		{"_celsius", "°C"}, {"_requests_total", "requests"}, {"_errors_total", "errors"},
	} {
		if strings.Contains(e, u.suffix) {
			unit = u.name
			break
		}
	}
	switch {
	case unit != "" && perSecond && unit != "ratio" && unit != "percent":
		return unit + " per second"
	case unit != "":
		return unit
	case perSecond:
		return "per second"
	}
	return ""
}

// tickFormat shows times as precisely as the range needs.
func tickFormat(d time.Duration) string {
	switch {
	case d <= 10*time.Minute:
		return "15:04:05"
	case d <= 24*time.Hour:
		return "15:04"
	}
	return "Jan 02 15:04"
}

// tickSteps are the times between ticks on the time axis.
var tickSteps = []time.Duration{
	10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// timeTicker puts about six labelled ticks on round times (every 10
// minutes for an hour), with an unlabelled one between each two.
type timeTicker struct{}

func (timeTicker) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 7 {
			step = s
			break
		}
	}
	sec := step.Seconds()
	var ts []plot.Tick
	for v := math.Ceil(lo/(sec/2)) * (sec / 2); v <= hi && len(ts) < 40; v += sec / 2 {
		t := plot.Tick{Value: v}
		if math.Mod(v, sec) == 0 {
			t.Label = "x" // TimeTicks formats it
		}
		ts = append(ts, t)
	}
	return ts
}

// compactTicks are the default ticks with short labels: 1.5k, 2M, 0.25.
type compactTicks struct{}

func (compactTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = formatValue(ts[i].Value)
		}
	}
	return ts
}

// formatValue writes v in at most about 6 characters.
func formatValue(v float64) string {
	a := math.Abs(v)
	for _, s := range []struct {
		f float64
		p string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= s.f {
			return trimZeros(strconv.FormatFloat(v/s.f, 'f', 2, 64)) + s.p
		}
	}
	if a != 0 && a < 0.001 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return trimZeros(strconv.FormatFloat(v, 'f', 3, 64))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// seriesColor is one of eight colours told apart by people with the
// common colour blindnesses (Okabe and Ito's palette, darkened for white).
func seriesColor(i int) color.Color {
	return palette[i%len(palette)]
}

var palette = slices.Clip([]color.Color{
	color.RGBA{R: 0x00, G: 0x72, B: 0xB2, A: 0xFF},
	color.RGBA{R: 0xE6, G: 0x9F, B: 0x00, A: 0xFF},
	color.RGBA{R: 0x00, G: 0x9E, B: 0x73, A: 0xFF},
	color.RGBA{R: 0xCC, G: 0x79, B: 0xA7, A: 0xFF},
	color.RGBA{R: 0x56, G: 0xB4, B: 0xE9, A: 0xFF},
	color.RGBA{R: 0xD5, G: 0x5E, B: 0x00, A: 0xFF},
	color.RGBA{R: 0x00, G: 0x00, B: 0x00, A: 0xFF},
	color.RGBA{R: 0x99, G: 0x99, B: 0x33, A: 0xFF},
})
