package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The transport makes a client span under the caller's and sends its
// trace context; without a trace it sends none.
func TestTransport(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("traceparent"))
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	c := &http.Client{Transport: Transport(http.DefaultTransport, "kubernetes")}
	get := func(ctx context.Context) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/apis/apps/v1/namespaces/ns/deployments/x?labelSelector=a", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.Header.Get("traceparent") != "" {
			t.Fatal("the caller's request was changed")
		}
	}
	get(context.Background())
	ctx, parent := Start(context.Background(), "command.run")
	get(ctx)
	parent.End()

	if len(got) != 2 || got[0] != "" {
		t.Fatalf("traceparents sent: %q; want none without a trace", got)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the client span and its parent", len(spans))
	}
	client := spans[0]
	if client.Name() != "kubernetes GET" || client.SpanKind() != trace.SpanKindClient ||
		client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("client span %s kind %v parent %v", client.Name(), client.SpanKind(), client.Parent().SpanID())
	}
	if SpanContextOf(got[1]).SpanID() != client.SpanContext().SpanID() {
		t.Fatalf("traceparent %q does not name the client span", got[1])
	}
	for _, a := range client.Attributes() {
		if a.Key == "url.path" && a.Value.AsString() != "/apis/apps/v1/namespaces/ns/deployments/x" {
			t.Fatalf("url.path = %q", a.Value.AsString())
		}
		if a.Key == "http.response.status_code" && a.Value.AsInt64() != 404 {
			t.Fatalf("status = %d", a.Value.AsInt64())
		}
	}
}
