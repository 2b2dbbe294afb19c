package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Metrics is one scrape of a /metrics page in Prometheus' text format, as
// the bot and Alertmanager write it (client_golang: no spaces between
// labels, no timestamps).
type Metrics []Sample

// Sample is one line of a scrape.
type Sample struct {
	Name string
	// Labels is what the braces hold, as written: `op="first_seen",le="0.1"`.
	Labels string
	Value  float64
}

// ScrapeMetrics reads the /metrics page at url.
func ScrapeMetrics(ctx context.Context, c *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	code, body, err := do(c, req)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, code)
	}
	return parseMetrics(body)
}

func parseMetrics(page []byte) (Metrics, error) {
	var m Metrics
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var s Sample
		var rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metric line %q: unbalanced braces", line)
			}
			s.Name, s.Labels, rest = line[:i], line[i+1:j], line[j+1:]
		} else {
			s.Name, rest, _ = strings.Cut(line, " ")
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metric line %q: no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		s.Value = v
		m = append(m, s)
	}
	return m, sc.Err()
}

// Sum adds up the samples of name that carry every one of labels (each
// written `key="value"`), and says whether there was any.
func (m Metrics) Sum(name string, labels ...string) (sum float64, found bool) {
	for _, s := range m {
		if s.Name != name || !s.has(labels) {
			continue
		}
		sum += s.Value
		found = true
	}
	return sum, found
}

func (s Sample) has(labels []string) bool {
	all := "," + s.Labels + ","
	for _, l := range labels {
		if !strings.Contains(all, ","+l+",") {
			return false
		}
	}
	return true
}

// Metrics scrapes the bot's /metrics.
func (b *Bot) Metrics(ctx context.Context) (Metrics, error) {
	return ScrapeMetrics(ctx, b.Client, b.BaseURL+"/metrics")
}
