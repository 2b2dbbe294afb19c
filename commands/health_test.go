package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

// What health says about nodes and top pods, beyond the pods and
// deployments: the cases the real control plane cannot easily stage.
func TestHealthNodesAndTopPods(t *testing.T) {
	long := strings.Repeat("container runtime network not ready ", 20)
	for _, tc := range []struct {
		name       string
		rep        bot.HealthReport
		pre, lines []string // substrings of the preformatted part and of the lines
		notPre     []string
	}{
		{
			name: "a node without a Ready condition, a long message clipped",
			rep: bot.HealthReport{Namespace: "bakery-ia", NodesNotReady: []bot.NodeProblem{
				{Name: "node-7", Reason: "NoReadyCondition", Message: "the node has not reported a Ready condition"},
				{Name: "node-8", Ready: "False", Reason: "KubeletNotReady", Message: long, For: 3 * time.Hour},
			}},
			pre: []string{"NODE    READY  REASON            FOR", "node-7  -      NoReadyCondition  0s", "node-8  False  KubeletNotReady   3h",
				"node-8: container runtime network not ready", "…"},
			notPre: []string{long},
			lines:  []string{"metrics.k8s.io is not available"},
		},
		{
			name:   "metrics served, no usage yet",
			rep:    bot.HealthReport{Namespace: "bakery-ia", MetricsAvailable: true},
			lines:  []string{"metrics.k8s.io has no usage for these pods yet."},
			notPre: []string{"TOP MEMORY", "NODE"},
		},
		{
			name: "top pods, the sorting figure first",
			rep: bot.HealthReport{Namespace: "bakery-ia", MetricsAvailable: true,
				TopMemory: []bot.PodUsage{{Name: "a", CPUMilli: 5, MemoryBytes: 900 << 20}},
				TopCPU:    []bot.PodUsage{{Name: "b", CPUMilli: 1500, MemoryBytes: 10 << 20}}},
			pre: []string{"TOP MEMORY  MEMORY  CPU\na           900Mi   5m", "TOP CPU  CPU    MEMORY\nb        1500m  10Mi"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := healthAnswer(context.Background(), tc.rep, nil)
			lines := strings.Join(a.Lines, "\n")
			for _, w := range tc.pre {
				if !strings.Contains(a.Pre, w) {
					t.Errorf("pre lacks %q:\n%s", w, a.Pre)
				}
			}
			for _, w := range tc.notPre {
				if strings.Contains(a.Pre, w) {
					t.Errorf("pre has %q:\n%s", w, a.Pre)
				}
			}
			for _, w := range tc.lines {
				if !strings.Contains(lines, w) {
					t.Errorf("lines lack %q: %q", w, lines)
				}
			}
		})
	}
}
