package harness

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
)

// What the benchmark tools' reports share.

// Machine is the machine a run measured on: its CPUs and memory, which
// the bot, PostgreSQL and the tool all share.
func Machine() string {
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if fs := strings.Fields(l); len(fs) >= 2 && fs[0] == "MemTotal:" {
				var kb float64
				fmt.Sscan(fs[1], &kb)
				mem = fmt.Sprintf(", %.1f GiB", kb/1048576)
			}
		}
	}
	return fmt.Sprintf("%d CPUs%s", runtime.NumCPU(), mem)
}

// Verdict is one performance target of a benchmark, met or missed. A
// missed target is reported; it does not fail the run.
type Verdict struct {
	Target string `json:"target"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// String is the verdict as a line of a Markdown report.
func (v Verdict) String() string {
	mark := "MET"
	if !v.Met {
		mark = "MISSED"
	}
	return fmt.Sprintf("**%s** %s: %s", mark, v.Target, v.Detail)
}

// Counts writes m as "key n" pairs in key order ("info 12, warn 1"), or
// "-" when it is empty.
func Counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
