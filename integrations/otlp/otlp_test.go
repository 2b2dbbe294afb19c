package otlp

import (
	"context"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot/telemetry"
)

func TestSetupIsOffWithoutEndpoint(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no endpoint":        {"OTEL_SERVICE_NAME": "x"},
		"sdk disabled":       {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "TRUE"},
		"exporter none":      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
		"nothing set at all": {},
	} {
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			tr, err := Setup(context.Background(), func(k string) string { return env[k] }, "test", zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if tr.Enabled() {
				t.Fatal("tracing is on without an endpoint")
			}
			if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
				t.Fatal("the SDK's tracer provider was installed")
			}
			ctx, span := telemetry.Start(context.Background(), "test")
			if span.IsRecording() || span.SpanContext().IsValid() || telemetry.TraceParent(ctx) != "" {
				t.Fatal("a span was recorded by the no-op tracer")
			}
			span.End()
			if after := runtime.NumGoroutine(); after > before {
				t.Fatalf("goroutines: %d before, %d after", before, after)
			}
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSetupRefusesUnknownProtocol(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
	if _, err := Setup(context.Background(), func(k string) string { return env[k] }, "test", zap.NewNop()); err == nil {
		t.Fatal("http/json accepted")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:secret@otel.example:4318/v1/traces?token=x": "https://otel.example:4318/v1/traces",
		"signoz-otel-collector:4317":                              "(unparsed)",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
