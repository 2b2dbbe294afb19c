// Package otlp installs the OpenTelemetry SDK that exports chatops' spans
// over OTLP (HTTP/protobuf, or gRPC), configured only by the standard
// OTEL_* environment variables. Without an endpoint it installs nothing:
// the API's no-op tracer stays, with no goroutine and no exporter. It never
// logs a header's value or an endpoint's credentials.
package otlp

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const DefaultServiceName = "chatops"

// The variables read here; the exporter and the SDK read the others
// themselves (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION,
// _CERTIFICATE, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_*,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
const (
	envDisabled       = "OTEL_SDK_DISABLED"
	envExporter       = "OTEL_TRACES_EXPORTER"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// Tracing is the installed SDK, or nothing when tracing is off.
type Tracing struct {
	tp *sdktrace.TracerProvider
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t != nil && t.tp != nil }

// Shutdown exports the spans still buffered and stops the exporter, within
// ctx. Off, it does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flush at shutdown: %w", err)
	}
	return nil
}

// Setup reads the environment through getenv (os.Getenv) and, when an
// OTLP endpoint is configured and the SDK is not disabled, installs a
// tracer provider with a batch span processor as OpenTelemetry's global
// one. version goes into service.version.
func Setup(ctx context.Context, getenv func(string) string, version string, log *zap.Logger) (*Tracing, error) {
	if strings.EqualFold(strings.TrimSpace(getenv(envDisabled)), "true") {
		log.Info("tracing off: OTEL_SDK_DISABLED is true")
		return &Tracing{}, nil
	}
	switch e := strings.TrimSpace(getenv(envExporter)); e {
	case "", "otlp":
	case "none":
		log.Info("tracing off: OTEL_TRACES_EXPORTER is none")
		return &Tracing{}, nil
	default:
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported (otlp or none)", bounded(e))
	}
	endpoint := getenv(envTracesEndpoint)
	if endpoint == "" {
		endpoint = getenv(envEndpoint)
	}
	if endpoint == "" {
		return &Tracing{}, nil
	}
	protocol := getenv(envTracesProtocol)
	if protocol == "" {
		protocol = getenv(envProtocol)
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		protocol = "http/protobuf"
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q is not supported (http/protobuf or grpc)", bounded(protocol))
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", DefaultServiceName), attribute.String("service.version", version)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: keep what was understood.
		log.Warn("tracing: resource attributes partly ignored", zap.Error(err))
	}
	// The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based,
	// always on) and the batch's pace from OTEL_BSP_*.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: export failed", zap.Error(err))
	}))
	log.Info("tracing on", zap.String("protocol", protocol), zap.String("endpoint", redact(endpoint)))
	return &Tracing{tp: tp}, nil
}

// redact keeps an endpoint's scheme, host and path: never its user
// information or query, which may hold credentials.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "(unparsed)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// bounded keeps a configuration value short in an error.
func bounded(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
