package harness

import "testing"

const page = `# HELP chatops_outbox_depth Sync jobs waiting.
# TYPE chatops_outbox_depth gauge
chatops_outbox_depth 3
chatops_chat_rate_limited_total{platform="slack",source="local"} 14
chatops_chat_rate_limited_total{platform="slack",source="platform"} 2
chatops_chat_rate_limited_total{platform="discord",source="local"} 1
chatops_store_duration_seconds_sum{op="first_seen"} 0.25
chatops_store_duration_seconds_bucket{op="first_seen",le="+Inf"} 9
`

func TestMetricsSum(t *testing.T) {
	m, err := parseMetrics([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		metric string
		labels []string
		want   float64
		found  bool
	}{
		{"unlabelled gauge", "chatops_outbox_depth", nil, 3, true},
		{"every label set summed", "chatops_chat_rate_limited_total", nil, 17, true},
		{"one label", "chatops_chat_rate_limited_total", []string{`platform="slack"`}, 16, true},
		{"two labels", "chatops_chat_rate_limited_total", []string{`source="local"`, `platform="slack"`}, 14, true},
		{"a label value is matched whole", "chatops_chat_rate_limited_total", []string{`platform="slac"`}, 0, false},
		{"a name is matched whole", "chatops_store_duration_seconds", nil, 0, false},
		{"+Inf bucket", "chatops_store_duration_seconds_bucket", []string{`le="+Inf"`}, 9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := m.Sum(tc.metric, tc.labels...)
			if got != tc.want || found != tc.found {
				t.Errorf("Sum(%s, %v) = %v, %v; want %v, %v", tc.metric, tc.labels, got, found, tc.want, tc.found)
			}
		})
	}
}

func TestMetricsRefusesBrokenLines(t *testing.T) {
	for _, line := range []string{"chatops_outbox_depth", "chatops_outbox_depth x", `chatops_x{a="b" 1`} {
		if _, err := parseMetrics([]byte(line + "\n")); err == nil {
			t.Errorf("parseMetrics(%q) succeeded, want an error", line)
		}
	}
}
