package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/bakewise/chatops/bot"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// topN is how many pods the memory and CPU lists show.
const topN = 5

// How bad each reason is, worst first, for ordering the report.
var reasonRank = map[string]int{
	"CrashLoopBackOff": 0, "OOMKilled": 1, "ImagePullBackOff": 2, "ErrImagePull": 2,
	"CreateContainerConfigError": 3, "Failed": 4, "Unknown": 4, "Pending": 5, "NotReady": 6,
}

// Health is the operations guide's health check for the namespace, or one
// service: pods in trouble, deployments ready/desired, nodes not Ready, and
// the top pods by memory and CPU when metrics.k8s.io exists.
func (c *Cluster) Health(ctx context.Context, service string) (bot.HealthReport, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.HealthReport{}, err
	}
	rep := bot.HealthReport{Namespace: ns, Service: service}
	podSelector := labels.Everything()
	if service != "" {
		d, err := c.deployment(ctx, ns, service)
		if err != nil {
			return rep, err
		}
		if podSelector, err = metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil {
			return rep, fmt.Errorf("deployment %s: selector: %w", service, err)
		}
		rep.Deployments = append(rep.Deployments, deploymentHealth(d.Name, d.Spec.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.UnavailableReplicas))
	} else {
		deps, err := c.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return rep, fmt.Errorf("list deployments in %s: %w", ns, err)
		}
		for _, d := range deps.Items {
			rep.Deployments = append(rep.Deployments, deploymentHealth(d.Name, d.Spec.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.UnavailableReplicas))
		}
	}
	sort.SliceStable(rep.Deployments, func(i, j int) bool {
		mi, mj := rep.Deployments[i].Desired-rep.Deployments[i].Ready, rep.Deployments[j].Desired-rep.Deployments[j].Ready
		if mi != mj {
			return mi > mj
		}
		return rep.Deployments[i].Name < rep.Deployments[j].Name
	})

	pods, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: podSelector.String()})
	if err != nil {
		return rep, fmt.Errorf("list pods in %s: %w", ns, err)
	}
	rep.Pods = len(pods.Items)
	now := time.Now()
	for i := range pods.Items {
		if p, bad := podProblem(&pods.Items[i], now); bad {
			rep.Problems = append(rep.Problems, p)
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i], rep.Problems[j]
		if reasonRank[a.Reason] != reasonRank[b.Reason] {
			return reasonRank[a.Reason] < reasonRank[b.Reason]
		}
		if a.Restarts != b.Restarts {
			return a.Restarts > b.Restarts
		}
		return a.Name < b.Name
	})

	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return rep, fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		if p, bad := nodeProblem(&nodes.Items[i], now); bad {
			rep.NodesNotReady = append(rep.NodesNotReady, p)
		}
	}
	sort.Slice(rep.NodesNotReady, func(i, j int) bool { return rep.NodesNotReady[i].Name < rep.NodesNotReady[j].Name })

	rep.MetricsAvailable, rep.TopMemory, rep.TopCPU = c.topPods(ctx, ns, podSelector.String())
	return rep, nil
}

func deploymentHealth(name string, desired *int32, ready, updated, unavailable int32) bot.DeploymentHealth {
	want := int32(1)
	if desired != nil {
		want = *desired
	}
	return bot.DeploymentHealth{Name: name, Desired: want, Ready: ready, Updated: updated, Unavail: unavailable}
}

// podProblem says what is wrong with a pod, if anything: a phase other than
// Running or Succeeded, a container waiting for a bad reason, a container
// killed for memory, or a container not ready.
func podProblem(p *corev1.Pod, now time.Time) (bot.PodProblem, bool) {
	prob := bot.PodProblem{Name: p.Name, Service: p.Labels["app"], Phase: string(p.Status.Phase), Age: now.Sub(p.CreationTimestamp.Time)}
	if prob.Service == "" {
		prob.Service = p.Labels["app.kubernetes.io/name"]
	}
	ready, total := 0, len(p.Spec.Containers)
	for _, cs := range p.Status.ContainerStatuses {
		prob.Restarts += cs.RestartCount
		if cs.Ready {
			ready++
		}
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Reason != "PodInitializing":
			prob.Reason = worse(prob.Reason, cs.State.Waiting.Reason)
		case cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "OOMKilled":
			prob.Reason = worse(prob.Reason, "OOMKilled")
		}
	}
	prob.Ready = fmt.Sprintf("%d/%d", ready, total)
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return prob, false
	case corev1.PodRunning:
		if prob.Reason == "" && ready < total {
			prob.Reason = "NotReady"
		}
	default:
		if prob.Reason == "" {
			prob.Reason = string(p.Status.Phase)
		}
	}
	return prob, prob.Reason != ""
}

// worse keeps the worse of two reasons.
func worse(a, b string) string {
	if a == "" {
		return b
	}
	ra, oka := reasonRank[a]
	rb, okb := reasonRank[b]
	if !oka {
		ra = 5
	}
	if !okb {
		rb = 5
	}
	if rb < ra {
		return b
	}
	return a
}

// nodeProblem says why a node is not Ready, if it is not: its Ready
// condition False (the kubelet's reason) or Unknown (the kubelet stopped
// posting), or missing (a node that never reported).
func nodeProblem(n *corev1.Node, now time.Time) (bot.NodeProblem, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return bot.NodeProblem{}, false
		}
		p := bot.NodeProblem{Name: n.Name, Ready: string(c.Status), Reason: c.Reason, Message: c.Message}
		if !c.LastTransitionTime.IsZero() {
			p.For = max(now.Sub(c.LastTransitionTime.Time), 0)
		}
		return p, true
	}
	return bot.NodeProblem{Name: n.Name, Reason: "NoReadyCondition", Message: "the node has not reported a Ready condition"}, true
}

// podMetricsList is the part of metrics.k8s.io's PodMetricsList we read.
type podMetricsList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Containers []struct {
			Usage map[string]string `json:"usage"`
		} `json:"containers"`
	} `json:"items"`
}

// topPods reads metrics.k8s.io when the API server serves it; its absence is
// reported, not an error.
func (c *Cluster) topPods(ctx context.Context, ns, selector string) (bool, []bot.PodUsage, []bot.PodUsage) {
	if _, err := c.cs.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1"); err != nil {
		return false, nil, nil
	}
	raw, err := c.cs.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods").
		Param("labelSelector", selector).DoRaw(ctx)
	if err != nil {
		c.log.Warn("metrics.k8s.io is listed but did not answer", zap.Error(err))
		return false, nil, nil
	}
	var list podMetricsList
	if err := json.Unmarshal(raw, &list); err != nil {
		c.log.Warn("metrics.k8s.io answered what is not a PodMetricsList", zap.Error(err))
		return false, nil, nil
	}
	var usage []bot.PodUsage
	for _, it := range list.Items {
		u := bot.PodUsage{Name: it.Metadata.Name}
		for _, ct := range it.Containers {
			if q, err := resource.ParseQuantity(ct.Usage["cpu"]); err == nil {
				u.CPUMilli += q.MilliValue()
			}
			if q, err := resource.ParseQuantity(ct.Usage["memory"]); err == nil {
				u.MemoryBytes += q.Value()
			}
		}
		usage = append(usage, u)
	}
	// Ties by name, so the same usage always reads the same.
	byMem := slices.Clone(usage)
	sort.Slice(byMem, func(i, j int) bool {
		a, b := byMem[i], byMem[j]
		return a.MemoryBytes > b.MemoryBytes || a.MemoryBytes == b.MemoryBytes && a.Name < b.Name
	})
	byCPU := slices.Clone(usage)
	sort.Slice(byCPU, func(i, j int) bool {
		a, b := byCPU[i], byCPU[j]
		return a.CPUMilli > b.CPUMilli || a.CPUMilli == b.CPUMilli && a.Name < b.Name
	})
	return true, byMem[:min(topN, len(byMem))], byCPU[:min(topN, len(byCPU))]
}
