package main

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is chatops_build_info: 1, labelled with what `chatops version`
// prints, the commit the binary was built from and the Go release.
// collectors.NewBuildInfoCollector labels by module path and checksum
// instead, which does not say which release or commit runs.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "chatops_build_info",
		Help: "Always 1; labelled with the version (as chatops version prints it), the VCS revision it was built from (unknown when the build did not record one) and the Go version.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(version, revision(), runtime.Version()).Set(1)
	return g
}

// revision is the commit the binary was built from, as the go command
// recorded it, with "-modified" when the tree had uncommitted changes.
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if modified {
		rev += "-modified"
	}
	return rev
}
