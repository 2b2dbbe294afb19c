// Package telemetry carries a request's identity through chatops: its
// request id (from a valid X-Request-Id or minted here), the active
// OpenTelemetry span, and the W3C traceparent that lets an outbox job,
// claimed later and possibly by another replica, continue the trace of the
// change that queued it. It gives callers a logger that names both.
//
// It uses only the OpenTelemetry API: spans go to whatever tracer provider
// main installed (the SDK's when an OTLP endpoint is configured, otherwise
// the API's no-op one, which costs next to nothing). It never logs, never
// records a header's value, and trusts nothing it reads: request ids and
// traceparents from outside are checked before they are used.
package telemetry

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// InstrumentationName names chatops' tracer.
const InstrumentationName = "github.com/bakewise/chatops"

// HeaderRequestID is the request id's header, read on the way in and set
// on the way out.
const HeaderRequestID = "X-Request-Id"

// MaxRequestID bounds a request id taken from a header.
const MaxRequestID = 64

// MaxTraceParent bounds a stored traceparent. Version 00 is 55 bytes;
// later versions may append fields, which the propagator reads past.
const MaxTraceParent = 128

type requestIDKey struct{}

// ValidRequestID reports whether s may serve as a request id: 1 to
// MaxRequestID bytes of [A-Za-z0-9._:-]. Anything else (a newline that
// would forge a log line, a megabyte of header) is replaced, not cleaned.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// RequestIDFrom is the id a request goes by: the caller's when it is
// valid, otherwise a new one.
func RequestIDFrom(h http.Header) string {
	if v := h.Values(HeaderRequestID); len(v) == 1 && ValidRequestID(v[0]) {
		return v[0]
	}
	return bot.NewRequestID()
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is ctx's request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Logger is log with ctx's request id and trace id, when there are any.
func Logger(ctx context.Context, log *zap.Logger) *zap.Logger {
	var fields [2]zap.Field
	n := 0
	if id := RequestID(ctx); id != "" {
		fields[n] = zap.String("request_id", id)
		n++
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		fields[n] = zap.String("trace_id", sc.TraceID().String())
		n++
	}
	if n == 0 {
		return log
	}
	return log.With(fields[:n]...)
}

// Detach returns work, a context of its own lifetime, carrying from's
// request id and span: what a request hands to the goroutine that
// finishes its work after the answer.
func Detach(from, work context.Context) context.Context {
	if id := RequestID(from); id != "" {
		work = WithRequestID(work, id)
	}
	if span := trace.SpanFromContext(from); span.SpanContext().IsValid() {
		work = trace.ContextWithSpan(work, span)
	}
	return work
}

// globalTracer is the API's global tracer: a no-op until main installs the
// SDK's provider, to which it then delegates. Taken once, so a span does
// not pay the provider's lookup.
var globalTracer = otel.Tracer(InstrumentationName)

func tracer() trace.Tracer { return globalTracer }

// Start starts an internal span named name under ctx's span.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartKind starts a span of kind (server, client, consumer…).
func StartKind(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return tracer().Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// End ends span, marking it failed with err's type and message when err
// is not nil. Error messages of chatops never carry secrets (STYLE.md).
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Enabled reports whether spans are recorded at all, so a caller can skip
// work (attributes that cost an allocation) that only a span would use.
func Enabled(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

var traceContext = propagation.TraceContext{}

// TraceParent is the W3C traceparent of ctx's span, or "" without a valid
// one. It is what an outbox row stores.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c.Get("traceparent")
}

// WithTraceParent returns ctx with tp, a stored or received traceparent,
// as its remote parent. A traceparent that is empty, too long or not
// valid W3C leaves ctx as it is: it came from a store or a header and is
// not trusted.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" || len(tp) > MaxTraceParent {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}

// SpanContextOf is tp's span context, invalid when tp is not a valid
// traceparent (for span links).
func SpanContextOf(tp string) trace.SpanContext {
	return trace.SpanContextFromContext(WithTraceParent(context.Background(), tp))
}

// Extract returns ctx with the trace context of an inbound request's
// headers (traceparent, tracestate), when valid.
func Extract(ctx context.Context, h http.Header) context.Context {
	if v := h.Get("traceparent"); v == "" || len(v) > MaxTraceParent {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject writes ctx's trace context into an outbound request's headers.
func Inject(ctx context.Context, h http.Header) {
	traceContext.Inject(ctx, propagation.HeaderCarrier(h))
}

// StartChatCall starts the client span of one chat platform API call,
// named "<platform> <method>" (slack chat.postMessage, discord
// create_message).
func StartChatCall(ctx context.Context, platform, method string) (context.Context, trace.Span) {
	return tracer().Start(ctx, platform+" "+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("chat.platform", platform), attribute.String("chat.method", method)))
}

// EndChatCall ends a chat call's span with its outcome as
// bot.ChatMetrics counts it (ok, rate_limited, permanent, error) and, for
// a 429, the wait the platform asked for.
func EndChatCall(span trace.Span, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	outcome := "ok"
	var rl *bot.RateLimitedError
	switch {
	case err == nil:
	case errors.As(err, &rl):
		outcome = "rate_limited"
		span.SetAttributes(attribute.Bool("chat.rate_limited", true), attribute.Float64("chat.retry_after_s", rl.After.Seconds()))
	case errors.Is(err, bot.ErrPermanent):
		outcome = "permanent"
	default:
		outcome = "error"
	}
	span.SetAttributes(attribute.String("chat.outcome", outcome))
	End(span, err)
}

// ForError is the request id that names an internal error in chat, and log
// with that id (and the trace id) as fields, once: ctx's id, or a new one
// for work no request started (a timer, a sweep). log must not carry
// ctx's fields already.
func ForError(ctx context.Context, log *zap.Logger) (string, *zap.Logger) {
	id := RequestID(ctx)
	if id == "" {
		id = bot.NewRequestID()
		ctx = WithRequestID(ctx, id)
	}
	return id, Logger(ctx, log)
}

// Transport wraps rt with a client span per request, named "<system>
// <method>" (kubernetes GET), with the path and the status code (never a
// header or the query), and sends the trace context along. Without an
// active trace it only passes the request on.
func Transport(rt http.RoundTripper, system string) http.RoundTripper {
	return &transport{rt: rt, system: system}
}

type transport struct {
	rt     http.RoundTripper
	system string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !trace.SpanContextFromContext(req.Context()).IsValid() {
		return t.rt.RoundTrip(req)
	}
	ctx, span := tracer().Start(req.Context(), t.system+" "+req.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("url.path", req.URL.Path)))
	req = req.Clone(ctx) // a RoundTripper must not change its caller's request
	Inject(ctx, req.Header)
	resp, err := t.rt.RoundTrip(req)
	if err == nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		}
	}
	End(span, err)
	return resp, err
}
