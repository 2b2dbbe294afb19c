package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/bakewise/chatops/test/harness"
)

// otlpSink is an OTLP/HTTP trace receiver: it decodes what the bot's real
// exporter sends to /v1/traces (protobuf, gzipped or not) and keeps the
// spans.
type otlpSink struct {
	srv      *httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool
	requests int
}

func newOTLPSink(t *testing.T) *otlpSink {
	t.Helper()
	s := &otlpSink{services: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *otlpSink) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, 16<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				s.services[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			s.spans = append(s.spans, ss.GetSpans()...)
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (s *otlpSink) snapshot() []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*tracepb.Span(nil), s.spans...)
}

func spanAttr(sp *tracepb.Span, key string) string {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if sv := v.GetStringValue(); sv != "" {
				return sv
			}
			return fmt.Sprint(v.GetIntValue())
		}
	}
	return ""
}

// describeSpans lists spans for a failure message.
func describeSpans(spans []*tracepb.Span) string {
	var b strings.Builder
	for _, sp := range spans {
		fmt.Fprintf(&b, "\n  %s trace=%x span=%x parent=%x", sp.GetName(), sp.GetTraceId(), sp.GetSpanId(), sp.GetParentSpanId())
	}
	return b.String()
}

// TestTraceCrossesTheOutbox: with an OTLP endpoint set, one webhook gives
// one trace: the webhook's server span, the ingest under it, the outbox
// jobs under the ingest (the traceparent went through the store) and the
// Slack and Discord API calls under the jobs. The webhook's request id is
// answered and names the bot's log lines of that request.
func TestTraceCrossesTheOutbox(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind harness.StoreKind) {
		sink := newOTLPSink(t)
		cfg := newBotConfig(t, kind)
		cfg.Env = append(cfg.Env,
			"OTEL_EXPORTER_OTLP_ENDPOINT="+sink.srv.URL,
			"OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer otlp-secret-"+harness.RandHex(8),
			"OTEL_BSP_SCHEDULE_DELAY=100",
		)
		bot := harness.StartBot(t, cfg)

		req, err := http.NewRequest(http.MethodPost, bot.WebhookURL(), bytes.NewReader(harness.Fixture(t, "service-down-firing.json")))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+cfg.WebhookToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "abc-123")
		resp, err := bot.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id, err := harness.WebhookAck(resp.StatusCode, body)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
			t.Errorf("X-Request-Id answered %q, want abc-123", got)
		}
		marker := fmt.Sprintf("chatops:incident:%d:", id)
		waitSlackRoot(t, cfg.Slack, slackIncidents, marker, "P1")
		waitDiscordRoot(t, cfg.Discord, discordIncidents, marker, "P1")

		var server, ingest *tracepb.Span
		byID := map[string]*tracepb.Span{}
		var slackCall, discordCall *tracepb.Span
		harness.Eventually(t, "a connected trace from the webhook to both chat calls", func() (bool, string) {
			spans := sink.snapshot()
			server, ingest, slackCall, discordCall = nil, nil, nil, nil
			for _, sp := range spans {
				byID[string(sp.GetSpanId())] = sp
				switch {
				case sp.GetName() == "POST /v1/alertmanager" && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
					server = sp
				case sp.GetName() == "incident.ingest":
					ingest = sp
				}
			}
			if server == nil || ingest == nil {
				return false, "no server or ingest span yet:" + describeSpans(spans)
			}
			// The chat calls whose chain of parents leads to the webhook.
			for _, sp := range spans {
				if !bytes.Equal(sp.GetTraceId(), server.GetTraceId()) || sp.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
					continue
				}
				switch sp.GetName() {
				case "slack chat.postMessage":
					if slackCall == nil && chainReaches(byID, sp, server) {
						slackCall = sp
					}
				case "discord create_message":
					if discordCall == nil && chainReaches(byID, sp, server) {
						discordCall = sp
					}
				}
			}
			return slackCall != nil && discordCall != nil, "spans:" + describeSpans(spans)
		})

		t.Logf("the trace:%s", describeSpans([]*tracepb.Span{server, ingest, byID[string(slackCall.GetParentSpanId())], slackCall,
			byID[string(discordCall.GetParentSpanId())], discordCall}))
		if !bytes.Equal(ingest.GetParentSpanId(), server.GetSpanId()) || !bytes.Equal(ingest.GetTraceId(), server.GetTraceId()) {
			t.Errorf("incident.ingest is not the webhook span's child: %s", describeSpans([]*tracepb.Span{server, ingest}))
		}
		for _, call := range []*tracepb.Span{slackCall, discordCall} {
			job := byID[string(call.GetParentSpanId())]
			if job == nil || job.GetName() != "outbox.job" {
				t.Errorf("%s's parent is not an outbox.job span: %v", call.GetName(), job)
				continue
			}
			if !bytes.Equal(job.GetParentSpanId(), ingest.GetSpanId()) {
				t.Errorf("outbox.job (%s) is not the ingest span's child: %s", spanAttr(job, "chatops.destination"), describeSpans([]*tracepb.Span{server, ingest, job, call}))
			}
			if got := spanAttr(job, "chatops.incident"); got != fmt.Sprint(id) {
				t.Errorf("outbox.job chatops.incident = %q, want %d", got, id)
			}
			if got := spanAttr(call, "chat.outcome"); got != "ok" {
				t.Errorf("%s chat.outcome = %q, want ok", call.GetName(), got)
			}
		}
		sink.mu.Lock()
		if !sink.services["chatops"] {
			t.Errorf("service.name of the exported spans = %v, want chatops", sink.services)
		}
		sink.mu.Unlock()

		// The log lines of the request carry its id and its trace; the
		// exporter's headers never reach the log.
		traceID := hex.EncodeToString(server.GetTraceId())
		harness.Eventually(t, "the ingest's log line with request_id abc-123 and the trace id", func() (bool, string) {
			for _, line := range logLines(t, bot) {
				if line["msg"] == "incident changed" && line["request_id"] == "abc-123" && line["trace_id"] == traceID {
					return true, ""
				}
			}
			return false, "no such line"
		})
		bot.Stop(t)
		raw, err := os.ReadFile(bot.Process.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("otlp-secret-")) {
			t.Error("the OTLP exporter's header value reached the log")
		}
	})
}

// chainReaches reports whether following sp's parents leads to root.
func chainReaches(byID map[string]*tracepb.Span, sp, root *tracepb.Span) bool {
	for range 16 {
		if bytes.Equal(sp.GetSpanId(), root.GetSpanId()) {
			return true
		}
		parent, ok := byID[string(sp.GetParentSpanId())]
		if !ok {
			return false
		}
		sp = parent
	}
	return false
}

// logLines is the bot's JSON log so far, one map per line.
func logLines(t *testing.T, bot *harness.Bot) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(bot.Process.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range bytes.Split(raw, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestRequestIDs: a valid X-Request-Id is answered as it came; a hostile
// one (too long, spaces and quotes that would forge a log field, a tab,
// bytes outside ASCII, a header folded onto a second line) is replaced by
// a fresh id. With no OTLP endpoint the bot runs without tracing.
func TestRequestIDs(t *testing.T) {
	cfg := newBotConfig(t, harness.SQLite)
	bot := harness.StartBot(t, cfg)
	get := func(rid string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, bot.BaseURL+"/v1/incidents", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+cfg.APIToken)
		if rid != "" {
			req.Header.Set("X-Request-Id", rid)
		}
		resp, err := bot.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/incidents with X-Request-Id %q: %d", rid, resp.StatusCode)
		}
		return resp.Header.Get("X-Request-Id")
	}
	if got := get("abc-123"); got != "abc-123" {
		t.Errorf("X-Request-Id abc-123 answered as %q", got)
	}
	minted := get("")
	if !validRequestID(minted) {
		t.Errorf("no X-Request-Id: answered %q, want a minted id", minted)
	}
	for name, hostile := range map[string]string{
		"too long":         strings.Repeat("a", 65),
		"log field forged": `abc" level=error msg="forged`,
		"tab":              "abc\tdef",
		"not ASCII":        "abcé",
	} {
		got := get(hostile)
		if got == hostile || !validRequestID(got) {
			t.Errorf("%s: X-Request-Id %q answered as %q, want a fresh id", name, hostile, got)
		}
	}
	// A newline cannot be sent by a well-behaved client: a folded header
	// over a raw connection. Go's server refuses it (400) or the id is
	// replaced; it never comes back.
	conn, err := net.Dial("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n level=error forged\r\nConnection: close\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("folded header: %v", err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); strings.Contains(got, "forged") || resp.StatusCode == http.StatusOK && !validRequestID(got) {
		t.Errorf("folded X-Request-Id: %d, answered %q", resp.StatusCode, got)
	}
	for _, line := range logLines(t, bot) {
		if s, _ := line["request_id"].(string); s != "" && !validRequestID(s) {
			t.Errorf("a log line carries request_id %q", s)
		}
		if line["msg"] == "tracing on" {
			t.Error("tracing is on without an OTLP endpoint")
		}
	}
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:-", c) >= 0) {
			return false
		}
	}
	return true
}
