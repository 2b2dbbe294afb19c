package telemetry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRequestIDFrom(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		kept         bool
	}{
		{"plain", "abc-123", true},
		{"every allowed byte", "A.z_0:9-", true},
		{"longest", strings.Repeat("a", MaxRequestID), true},
		{"too long", strings.Repeat("a", MaxRequestID+1), false},
		{"newline", "abc\nlevel=error forged", false},
		{"space", "abc 123", false},
		{"quote", `abc"`, false},
		{"non-ASCII", "abcé", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set(HeaderRequestID, tc.header)
			}
			got := RequestIDFrom(h)
			if (got == tc.header) != tc.kept {
				t.Fatalf("RequestIDFrom(%q) = %q, kept %v", tc.header, got, tc.kept)
			}
			if !ValidRequestID(got) {
				t.Fatalf("RequestIDFrom gave an invalid id %q", got)
			}
		})
	}
	h := http.Header{HeaderRequestID: {"a", "b"}}
	if got := RequestIDFrom(h); got == "a" || got == "b" {
		t.Fatalf("two headers: %q was taken", got)
	}
}

func TestForError(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	rid, log := ForError(WithRequestID(context.Background(), "abc-123"), zap.New(core))
	log.Error("x")
	if rid != "abc-123" || logs.Len() != 1 || len(logs.All()[0].Context) != 1 || logs.All()[0].ContextMap()["request_id"] != "abc-123" {
		t.Fatalf("with a request id: %q, %v", rid, logs.All())
	}
	rid, log = ForError(context.Background(), zap.New(core))
	log.Error("y")
	if !ValidRequestID(rid) || logs.All()[1].ContextMap()["request_id"] != rid {
		t.Fatalf("without one: %q, %v", rid, logs.All()[1])
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := WithTraceParent(context.Background(), tp)
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("span context %v", sc)
	}
	if got := TraceParent(ctx); got != tp {
		t.Fatalf("TraceParent = %q", got)
	}
	for name, bad := range map[string]string{
		"empty":         "",
		"garbage":       "not a traceparent",
		"zero trace id": "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"too long":      tp + "-" + strings.Repeat("0", MaxTraceParent),
		"newline":       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
		"version ff":    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		if sc := SpanContextOf(bad); sc.IsValid() {
			t.Errorf("%s: %q accepted", name, bad)
		}
	}
}
