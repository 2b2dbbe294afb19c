package telemetry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
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

func TestRequestIDOrNew(t *testing.T) {
	if got := RequestIDOrNew(WithRequestID(context.Background(), "abc-123")); got != "abc-123" {
		t.Fatalf("got %q", got)
	}
	if got := RequestIDOrNew(context.Background()); got == "" {
		t.Fatal("no id minted")
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
