package main

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(buildInfo())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "chatops_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one chatops_build_info series", mfs)
	}
	m := mfs[0].GetMetric()[0]
	if v := m.GetGauge().GetValue(); v != 1 {
		t.Fatalf("chatops_build_info = %v, want 1", v)
	}
	want := map[string]string{"version": version, "goversion": runtime.Version()}
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if got["revision"] == "" {
		t.Error("label revision is empty, want a commit or unknown")
	}
}
