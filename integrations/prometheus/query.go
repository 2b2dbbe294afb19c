package prometheus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Query limits.
const (
	// DefaultTimeout bounds one query: a graph is worth a few seconds,
	// never a stuck thread.
	DefaultTimeout = 5 * time.Second
	// MaxTimeout is the longest timeout the configuration may ask for.
	MaxTimeout = 30 * time.Second
	// MaxPoints bounds the points of one series: the step is the range
	// divided by it (and never under a second).
	MaxPoints = 300
	// MaxSeries is how many series a chart draws: the top ones by their
	// highest value in the range.
	MaxSeries = 8
	// maxResponseBytes bounds an answer read from Prometheus: 300 points
	// of a few thousand series, no more.
	maxResponseBytes = 16 << 20
)

// Config locates the Prometheus the bot queries.
type Config struct {
	// URL is Prometheus's base URL (http://prometheus:9090).
	URL string
	// BearerToken, or Username and Password, authenticate the queries
	// (a Prometheus behind an authenticating proxy).
	BearerToken        string
	Username, Password string
	// Timeout bounds one query (default DefaultTimeout, at most MaxTimeout).
	Timeout time.Duration
}

// Client queries one Prometheus.
type Client struct {
	api     v1.API
	timeout time.Duration
}

// New builds a client for cfg.URL.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus url %q is not an http(s) URL", cfg.URL)
	}
	if u.User != nil {
		return nil, errors.New("prometheus url: put credentials in the bearer token or basic auth settings, not in the URL")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timeout = min(timeout, MaxTimeout)
	rt := &transport{next: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       time.Minute,
	}, bearer: cfg.BearerToken, user: cfg.Username, password: cfg.Password}
	c, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	return &Client{api: v1.NewAPI(c), timeout: timeout}, nil
}

// Timeout is the bound of one query.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Series is one time series of a range query's answer.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// niceSteps are the steps a range rounds up to, so points fall on
// round times.
var niceSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// Step is the resolution of a range of length d: the smallest round step
// that gives at most MaxPoints points.
func Step(d time.Duration) time.Duration {
	least := (d + MaxPoints - 2) / (MaxPoints - 1) // ceil(d / (MaxPoints-1))
	for _, s := range niceSteps {
		if s >= least {
			return s
		}
	}
	return ((least + time.Hour - 1) / time.Hour) * time.Hour
}

// QueryRange runs expr over [start, end] at Step(end-start), under the
// client's timeout (also sent to Prometheus, which then gives up too).
func (c *Client) QueryRange(ctx context.Context, expr string, start, end time.Time) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r := v1.Range{Start: start, End: end, Step: Step(end.Sub(start))}
	val, _, _, err := c.api.QueryRange(ctx, expr, r, v1.WithTimeout(c.timeout))
	if err != nil {
		return nil, queryError(ctx, c.timeout, err)
	}
	switch v := val.(type) {
	case model.Matrix:
		return fromMatrix(v), nil
	default:
		return nil, fmt.Errorf("prometheus answered a %s, not a range of series", val.Type())
	}
}

func fromMatrix(m model.Matrix) []Series {
	out := make([]Series, 0, len(m))
	for _, s := range m {
		ser := Series{Labels: make(map[string]string, len(s.Metric)), Points: make([]Point, 0, min(len(s.Values), MaxPoints+1))}
		for k, v := range s.Metric {
			ser.Labels[string(k)] = string(v)
		}
		for _, p := range s.Values {
			ser.Points = append(ser.Points, Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
		}
		out = append(out, ser)
	}
	return out
}

// QueryError is a query that failed, with a reason people read in a
// thread ("Prometheus did not answer in 5s").
type QueryError struct {
	Reason string
	// Down: Prometheus did not answer (timeout, connection refused), as
	// opposed to refusing the query.
	Down bool
	Err  error
}

func (e *QueryError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *QueryError) Unwrap() error { return e.Err }

func queryError(ctx context.Context, timeout time.Duration, err error) error {
	var apiErr *v1.Error
	var netErr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return &QueryError{Reason: fmt.Sprintf("Prometheus did not answer in %s", timeout.Round(time.Millisecond)), Down: true, Err: err}
	case errors.As(err, &apiErr) && apiErr.Type == v1.ErrBadData:
		return &QueryError{Reason: "Prometheus cannot run the expression: " + clipReason(apiErr.Msg), Err: err}
	case errors.As(err, &apiErr) && (apiErr.Type == v1.ErrTimeout || apiErr.Type == v1.ErrCanceled):
		return &QueryError{Reason: fmt.Sprintf("Prometheus did not answer in %s", timeout.Round(time.Millisecond)), Err: err}
	case errors.As(err, &apiErr):
		return &QueryError{Reason: "Prometheus refused the query (" + string(apiErr.Type) + ")", Err: err}
	case errors.Is(err, errTooLarge):
		return &QueryError{Reason: "Prometheus's answer is too large to draw", Err: err}
	}
	return &QueryError{Reason: "Prometheus could not be reached", Down: true, Err: err}
}

// clipReason keeps Prometheus's own message to one short line.
func clipReason(s string) string {
	const n = 160
	for i, r := range s {
		if r == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// TopSeries keeps the n series with the highest values in the range
// (NaN and infinities aside), highest first; ties keep their labels'
// order, so a chart is the same for the same data.
func TopSeries(ss []Series, n int) (top []Series, more int) {
	type ranked struct {
		s   Series
		max float64
		key string
	}
	rs := make([]ranked, 0, len(ss))
	for _, s := range ss {
		m := math.Inf(-1)
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) && p.V > m {
				m = p.V
			}
		}
		rs = append(rs, ranked{s: s, max: m, key: model.LabelSet(toLabelSet(s.Labels)).String()})
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].max != rs[j].max {
			return rs[i].max > rs[j].max
		}
		return rs[i].key < rs[j].key
	})
	if len(rs) > n {
		more = len(rs) - n
		rs = rs[:n]
	}
	for _, r := range rs {
		top = append(top, r.s)
	}
	return top, more
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// transport authenticates requests and bounds the bytes of answers.
type transport struct {
	next                   http.RoundTripper
	bearer, user, password string
}

var errTooLarge = errors.New("answer larger than the limit")

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.bearer != "" || t.user != "" {
		r = r.Clone(r.Context())
		if t.bearer != "" {
			r.Header.Set("Authorization", "Bearer "+t.bearer)
		} else {
			r.SetBasicAuth(t.user, t.password)
		}
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxResponseBytes}
	return resp, nil
}

// limitedBody fails a read past its limit, rather than cutting the JSON
// short into a confusing decode error.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
