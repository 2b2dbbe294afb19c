package bot

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Known exports a platform's call outcomes and rate-limit sources as zeros
// before any call, so a ratio alert sees the platform from the start.
func TestChatMetricsKnown(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewChatMetrics(reg)
	m.Known("slack", "chat.postMessage", "chat.update")
	(*ChatMetrics)(nil).Known("discord", "create_message") // a client without metrics
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			if v := s.GetCounter().GetValue(); v != 0 {
				t.Errorf("%s %v = %v before any call, want 0", mf.GetName(), s.GetLabel(), v)
			}
			series[mf.GetName()]++
		}
	}
	want := map[string]int{"chatops_chat_calls_total": 2 * 4, "chatops_chat_rate_limited_total": 2}
	for name, n := range want {
		if series[name] != n {
			t.Errorf("%s: %d series, want %d", name, series[name], n)
		}
	}
	if series["chatops_chat_call_duration_seconds"] != 0 {
		t.Error("chatops_chat_call_duration_seconds has series before any call; its buckets are made on the first")
	}
}
