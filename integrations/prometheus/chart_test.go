package prometheus

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 6 * time.Hour, 7 * 24 * time.Hour, 90 * 24 * time.Hour} {
		s := Step(d)
		if s < time.Second {
			t.Errorf("%s: step %s", d, s)
		}
		if points := int(d/s) + 1; points > MaxPoints {
			t.Errorf("%s: step %s gives %d points", d, s, points)
		}
	}
	if s := Step(time.Hour); s != 15*time.Second {
		t.Errorf("1h: step %s, want 15s", s)
	}
}

func series(labels map[string]string, start time.Time, step time.Duration, vals ...float64) Series {
	s := Series{Labels: labels}
	for i, v := range vals {
		s.Points = append(s.Points, Point{T: start.Add(time.Duration(i) * step), V: v})
	}
	return s
}

func TestTopSeries(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)
	var ss []Series
	for i := range 12 {
		ss = append(ss, series(map[string]string{"pod": string(rune('a' + i))}, t0, time.Minute, 1, float64(i), math.NaN()))
	}
	ss = append(ss, series(map[string]string{"pod": "inf"}, t0, time.Minute, math.Inf(1), 0.5))
	top, more := TopSeries(ss, MaxSeries)
	if len(top) != MaxSeries || more != 13-MaxSeries {
		t.Fatalf("%d series, %d more", len(top), more)
	}
	for i, s := range top {
		if want := string(rune('a' + 11 - i)); s.Labels["pod"] != want {
			t.Errorf("rank %d: pod %s, want %s", i, s.Labels["pod"], want)
		}
	}
}

func TestLegendNames(t *testing.T) {
	ss := []Series{
		{Labels: map[string]string{"__name__": "cpu", "namespace": "bakery-ia", "pod": "orders-1"}},
		{Labels: map[string]string{"__name__": "cpu", "namespace": "bakery-ia", "pod": "orders-2"}},
	}
	got := legendNames(ss)
	if got[0] != "pod=orders-1" || got[1] != "pod=orders-2" {
		t.Errorf("legend %q", got)
	}
	if got := legendNames(ss[:1]); got[0] != "namespace=bakery-ia, pod=orders-1" {
		t.Errorf("one series: %q", got)
	}
	if got := legendNames([]Series{{Labels: map[string]string{}}}); got[0] != "value" {
		t.Errorf("no labels: %q", got)
	}
}

func TestRender(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)
	var ss []Series
	for i := range 3 {
		var vals []float64
		for j := range 240 {
			vals = append(vals, float64(i)*0.2+0.5+0.4*math.Sin(float64(j)/20))
		}
		ss = append(ss, series(map[string]string{"pod": "orders-service-" + string(rune('a'+i))}, t0, 15*time.Second, vals...))
	}
	// A gap and a NaN split a line; they must not break the picture.
	ss[0].Points = append(ss[0].Points[:100], ss[0].Points[140:]...)
	ss[1].Points[50].V = math.NaN()
	th := Threshold{Expr: "x", Op: ">", Value: 0.9}
	img, err := Render(Chart{Title: "HighCPU", Expr: "x > 0.9", Series: ss, More: 2, Start: t0, End: t0.Add(time.Hour),
		Marker: t0.Add(40 * time.Minute), Threshold: &th, Step: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, img)
	// CHATOPS_GRAPH_PNG=/tmp/x.png keeps the picture, to look at it.
	if p := os.Getenv("CHATOPS_GRAPH_PNG"); p != "" {
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Render(Chart{Title: "x", Start: t0, End: t0.Add(time.Hour)}); err != ErrNoData {
		t.Errorf("no series: %v", err)
	}
	nan := series(nil, t0, time.Minute, math.NaN(), math.NaN())
	if _, err := Render(Chart{Title: "x", Series: []Series{nan}, Start: t0, End: t0.Add(time.Hour)}); err != ErrNoData {
		t.Errorf("only NaN: %v", err)
	}
}

// checkPNG decodes a chart: a PNG of the chart's size, not blank, within
// the size bound.
func checkPNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	if len(b) < 5<<10 || len(b) > MaxPNGBytes {
		t.Fatalf("png of %d bytes", len(b))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != widthPx || r.Dy() != heightPx {
		t.Fatalf("png %v, want %dx%d", r, widthPx, heightPx)
	}
	colors := map[[3]uint32]bool{}
	for y := 0; y < heightPx; y += 3 {
		for x := 0; x < widthPx; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	if len(colors) < 8 {
		t.Fatalf("png has %d colours: blank", len(colors))
	}
	return img
}
