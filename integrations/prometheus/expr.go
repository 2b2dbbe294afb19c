package prometheus

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what an alert hands over.
const (
	// MaxGeneratorURL bounds the generatorURL read; Prometheus's are a
	// few hundred bytes.
	MaxGeneratorURL = 8 << 10
	// MaxExpr bounds an expression sent to Prometheus.
	MaxExpr = 4 << 10
)

// Errors of ExprFromGeneratorURL: the alert links to no expression.
var (
	ErrNoExpr  = errors.New("the alert's generatorURL carries no g0.expr")
	ErrBadExpr = errors.New("the alert's expression cannot be graphed")
)

// ExprFromGeneratorURL is the PromQL expression of an alert's
// generatorURL, Prometheus's link to its graph page
// (http://prometheus:9090/graph?g0.expr=...&g0.tab=1). Only the g0.expr
// query value is used: the URL's host, path and other parameters are
// ignored, so a forged alert cannot point the bot at another server.
func ExprFromGeneratorURL(raw string) (string, error) {
	if raw == "" {
		return "", ErrNoExpr
	}
	if len(raw) > MaxGeneratorURL {
		return "", errors.New("the alert's generatorURL is too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("the alert's generatorURL is not a URL")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", errors.New("the alert's generatorURL has a malformed query")
	}
	vs := q["g0.expr"]
	if len(vs) == 0 || strings.TrimSpace(vs[0]) == "" {
		return "", ErrNoExpr
	}
	if len(vs) > 1 {
		return "", errors.New("the alert's generatorURL names g0.expr twice")
	}
	return CheckExpr(vs[0])
}

// CheckExpr trims expr and refuses what is no PromQL Prometheus should be
// sent: empty, too long, not UTF-8, or with control characters other than
// whitespace. Prometheus parses it; this only keeps garbage out of the
// query and of the chart's title.
func CheckExpr(expr string) (string, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return "", ErrNoExpr
	case len(expr) > MaxExpr:
		return "", errors.New("the alert's expression is longer than " + strconv.Itoa(MaxExpr) + " bytes")
	case !utf8.ValidString(expr):
		return "", ErrBadExpr
	}
	for _, r := range expr {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f {
			return "", ErrBadExpr
		}
	}
	return expr, nil
}

// Threshold is an alert expression split at its comparison with a
// constant: "rate(x[5m]) > 0.9" plots rate(x[5m]) with a line at 0.9.
type Threshold struct {
	// Expr is the side that is not the constant.
	Expr string
	// Op is the comparison as written with the expression on its left
	// (a reversed "0.9 < x" gives ">").
	Op    string
	Value float64
}

// SplitThreshold finds the comparison of expr with a constant at its top
// level: exactly one comparison operator outside parentheses, brackets,
// braces and strings, no top-level and/or/unless, and a number on one
// side (the bool modifier allowed). Anything else (two comparisons, a
// comparison of two series, one inside an aggregation) has no threshold
// the chart can draw: ok is false and expr is plotted as it is.
//
// The Prometheus parser would answer this exactly, but it lives in the
// prometheus/prometheus module, whose dependencies outweigh the whole
// bot; alert rules compare at the top level, which this reads.
func SplitThreshold(expr string) (Threshold, bool) {
	ops, end, ok := topLevelOperators(expr)
	expr = expr[:end]
	if !ok || len(ops) != 1 {
		return Threshold{}, false
	}
	op := ops[0]
	left := strings.TrimSpace(expr[:op.at])
	right := strings.TrimSpace(expr[op.at+len(op.op):])
	right = trimBool(right)
	if left == "" || right == "" {
		return Threshold{}, false
	}
	if v, ok := number(right); ok {
		if _, lnum := number(left); lnum {
			return Threshold{}, false // two constants: nothing to plot
		}
		return Threshold{Expr: left, Op: op.op, Value: v}, true
	}
	if v, ok := number(left); ok {
		return Threshold{Expr: right, Op: reverse[op.op], Value: v}, true
	}
	return Threshold{}, false
}

var reverse = map[string]string{">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}

type operator struct {
	op string
	at int
}

// topLevelOperators lists the comparison operators of expr outside
// brackets and strings. ok is false when expr has a top-level set
// operator (and, or, unless), unbalanced brackets or an unterminated
// string: no single comparison then says when the alert fires. end is
// where the expression ends: a comment or the end of the text.
func topLevelOperators(expr string) (ops []operator, end int, ok bool) {
	depth := 0
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch c {
		case '"', '\'', '`':
			end := skipString(expr, i)
			if end < 0 {
				return nil, 0, false
			}
			i = end
			continue
		case '#': // a comment runs to the end of the line
			nl := strings.IndexByte(expr[i:], '\n')
			if nl < 0 {
				if depth == 0 {
					return ops, i, true
				}
				return nil, 0, false
			}
			i += nl
			continue
		case '(', '[', '{':
			depth++
			continue
		case ')', ']', '}':
			depth--
			if depth < 0 {
				return nil, 0, false
			}
			continue
		}
		if depth > 0 {
			continue
		}
		switch {
		case c == '>' || c == '<':
			op := string(c)
			if i+1 < len(expr) && expr[i+1] == '=' {
				op += "="
			}
			ops = append(ops, operator{op: op, at: i})
			i += len(op) - 1
		case (c == '=' || c == '!') && i+1 < len(expr) && expr[i+1] == '=':
			ops = append(ops, operator{op: string(c) + "=", at: i})
			i++
		case c == '=' || c == '!':
			return nil, 0, false // = and =~, !~ belong in braces
		case isIdentStart(c) && (i == 0 || !isIdent(expr[i-1])):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			switch strings.ToLower(expr[i:j]) {
			case "and", "or", "unless":
				return nil, 0, false
			}
			i = j - 1
		}
	}
	return ops, len(expr), depth == 0
}

// skipString returns the index of the quote that closes the string
// starting at i, or -1. Backquoted strings have no escapes.
func skipString(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j
		}
	}
	return -1
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == ':' }

// trimBool drops the bool modifier after a comparison operator.
func trimBool(s string) string {
	if len(s) > 4 && strings.EqualFold(s[:4], "bool") && !isIdent(s[4]) {
		return strings.TrimSpace(s[4:])
	}
	return s
}

// number reads a PromQL number literal: decimal, with an exponent, or
// hexadecimal, optionally signed and in parentheses; Inf and NaN are no
// threshold to draw.
func number(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" || len(s) > 40 {
		return 0, false
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" {
		return 0, false
	}
	if c := body[0]; c != '.' && (c < '0' || c > '9') {
		return 0, false // Inf, NaN, names
	}
	for _, c := range []byte(body) {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == 'x' || c == 'X' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '+' || c == '-') {
			return 0, false
		}
	}
	if strings.HasPrefix(strings.ToLower(body), "0x") {
		n, err := strconv.ParseUint(body[2:], 16, 64)
		if err != nil {
			return 0, false
		}
		if s[0] == '-' {
			return -float64(n), true
		}
		return float64(n), true
	}
	if strings.ContainsAny(body, "xX") || strings.ContainsAny(body, "abcdfABCDF") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
