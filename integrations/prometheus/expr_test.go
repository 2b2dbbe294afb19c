package prometheus

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestExprFromGeneratorURL(t *testing.T) {
	good := "http://prometheus:9090/graph?g0.expr=" + url.QueryEscape(`rate(http_requests_total{job="api"}[5m]) > 0.9`) + "&g0.tab=1"
	expr, err := ExprFromGeneratorURL(good)
	if err != nil || expr != `rate(http_requests_total{job="api"}[5m]) > 0.9` {
		t.Fatalf("got %q, %v", expr, err)
	}
	// Only g0.expr counts: another host, user info, fragments change nothing.
	expr, err = ExprFromGeneratorURL("https://evil@attacker.example:1/x?g1.expr=down&g0.expr=up#frag")
	if err != nil || expr != "up" {
		t.Fatalf("got %q, %v", expr, err)
	}
	for name, raw := range map[string]string{
		"empty":         "",
		"no expr":       "http://p/graph?g0.tab=1",
		"blank expr":    "http://p/graph?g0.expr=%20%20",
		"two exprs":     "http://p/graph?g0.expr=up&g0.expr=down",
		"bad escape":    "http://p/graph?g0.expr=%zz",
		"control char":  "http://p/graph?g0.expr=up%00",
		"escape char":   "http://p/graph?g0.expr=up%1b%5b31m",
		"invalid utf8":  "http://p/graph?g0.expr=%ff%fe",
		"too long url":  "http://p/graph?g0.expr=" + strings.Repeat("a", MaxGeneratorURL),
		"too long expr": "http://p/graph?g0.expr=" + strings.Repeat("a", MaxExpr+1),
		"not a url":     "http://[::1/graph?g0.expr=up",
	} {
		if got, err := ExprFromGeneratorURL(raw); err == nil {
			t.Errorf("%s: accepted, %q", name, got)
		}
	}
	if _, err := ExprFromGeneratorURL("http://p/graph"); !errors.Is(err, ErrNoExpr) {
		t.Errorf("no expr: %v", err)
	}
}

func TestSplitThreshold(t *testing.T) {
	cases := []struct {
		expr, lhs, op string
		value         float64
		ok            bool
	}{
		{`rate(x[5m]) > 0.9`, `rate(x[5m])`, ">", 0.9, true},
		{`sum by (pod) (rate(cpu{ns="bakery-ia"}[5m])) >= 1e3`, `sum by (pod) (rate(cpu{ns="bakery-ia"}[5m]))`, ">=", 1000, true},
		{`up == 0`, `up`, "==", 0, true},
		{`x != bool 1`, `x`, "!=", 1, true},
		{`x < -2.5`, `x`, "<", -2.5, true},
		{`0.9 < rate(x[1m])`, `rate(x[1m])`, ">", 0.9, true},
		{`x > 0x10`, `x`, ">", 16, true},
		{`x > (5)`, `x`, ">", 5, true},
		{`a - b > 0`, `a - b`, ">", 0, true},
		{`x{path=~"a>1|b<2"} > 3`, `x{path=~"a>1|b<2"}`, ">", 3, true},
		{`x{l='>'} > 3 # comment > 9`, `x{l='>'}`, ">", 3, true},
		{`band_width > 3`, `band_width`, ">", 3, true},
		{`x offset 5m > 1`, `x offset 5m`, ">", 1, true},
		// No single constant threshold.
		{expr: `up`},
		{expr: `a > b`},
		{expr: `a > 1 and b > 2`},
		{expr: `a > 1 or vector(0)`},
		{expr: `a unless b > 2`},
		{expr: `sum(a > 1)`},
		{expr: `a > 1 < 5`},
		{expr: `0.5 < a < 1`},
		{expr: `1 > 2`},
		{expr: `x > Inf`},
		{expr: `x > NaN`},
		{expr: `x > 5 * 60`},
		{expr: `x > `},
		{expr: `> 1`},
		{expr: `x{a="b} > 1`},
		{expr: `(x > 1`},
		{expr: `x) > 1`},
		{expr: `x > 1e`},
		{expr: `x > 0xZZ`},
	}
	for _, c := range cases {
		th, ok := SplitThreshold(c.expr)
		if ok != c.ok {
			t.Errorf("%q: ok %v, want %v (%+v)", c.expr, ok, c.ok, th)
			continue
		}
		if ok && (th.Expr != c.lhs || th.Op != c.op || th.Value != c.value) {
			t.Errorf("%q: got %+v, want %q %s %v", c.expr, th, c.lhs, c.op, c.value)
		}
	}
}

func FuzzSplitThreshold(f *testing.F) {
	f.Add(`rate(x[5m]) > 0.9`)
	f.Add(`x{a="\"}"} < 1`)
	f.Fuzz(func(t *testing.T, expr string) {
		th, ok := SplitThreshold(expr)
		if ok && (th.Expr == "" || len(th.Expr) >= len(expr)) {
			t.Fatalf("%q: %+v", expr, th)
		}
	})
}
