package kube_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bakewise/chatops/bot"
	ops "github.com/bakewise/chatops/integrations/kubernetes"
	"github.com/bakewise/chatops/test/kubeharness"
)

// TestObserve: integrations/kubernetes reads, as the chatops ServiceAccount
// with the shipped RBAC, what health and logs show beyond pod states:
// top pods from metrics.k8s.io served by a TLS stand-in behind the
// apiserver's real aggregation layer (an APIService), and its absence as
// an answer, not an error; Nodes whose Ready condition is False or
// Unknown; and logs --since, --container and --previous through the real
// pods/log path to the kubelet stand-in.
func TestObserve(t *testing.T) {
	c := kubeharness.Start(t)
	node := c.AddNode(t, "node-1")
	c.ApplyYAML(t, "testdata/observe.yaml")
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))
	orders := c.RunPods(t, namespace, selector, kubeharness.PodState{Count: 2})
	gateway := c.RunPods(t, namespace, "app.kubernetes.io/name=gateway", kubeharness.Running())
	slices.SortFunc(orders, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })

	sa := c.ServiceAccountConfig(t, namespace, "chatops")
	cluster, err := ops.New(sa, ops.Config{Namespace: namespace}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("without metrics.k8s.io health answers without top pods", func(t *testing.T) {
		rep, err := cluster.Health(t.Context(), "")
		if err != nil || rep.MetricsAvailable || rep.TopMemory != nil || rep.TopCPU != nil {
			t.Fatalf("Health = %+v, %v; want an answer without metrics", rep, err)
		}
	})

	metrics := c.ServeMetrics(t)
	metrics.SetUsage(namespace, orders[0].Name,
		kubeharness.ContainerUsage{Name: "orders-service", CPU: "250m", Memory: "300Mi"},
		kubeharness.ContainerUsage{Name: "log-shipper", CPU: "20m", Memory: "40Mi"})
	metrics.SetUsage(namespace, orders[1].Name,
		kubeharness.ContainerUsage{Name: "orders-service", CPU: "900m", Memory: "120Mi"},
		kubeharness.ContainerUsage{Name: "log-shipper", CPU: "5m", Memory: "30Mi"})
	metrics.SetUsage(namespace, gateway[0].Name,
		kubeharness.ContainerUsage{Name: "gateway", CPU: "1500000n", Memory: "1Gi"})
	botUser := "system:serviceaccount:" + namespace + ":chatops"

	t.Run("top pods come through the aggregator, by memory and by CPU", func(t *testing.T) {
		before := len(metrics.Requests())
		rep, err := cluster.Health(t.Context(), "")
		if err != nil || !rep.MetricsAvailable {
			t.Fatalf("Health = %+v, %v; want metrics", rep, err)
		}
		wantMem := []bot.PodUsage{
			{Name: gateway[0].Name, CPUMilli: 2, MemoryBytes: 1 << 30}, // 1.5m, rounded up as Quantity.MilliValue does,
			{Name: orders[0].Name, CPUMilli: 270, MemoryBytes: 340 << 20},
			{Name: orders[1].Name, CPUMilli: 905, MemoryBytes: 150 << 20},
		}
		if !slices.Equal(rep.TopMemory, wantMem) {
			t.Errorf("top memory = %+v, want %+v", rep.TopMemory, wantMem)
		}
		wantCPU := []bot.PodUsage{wantMem[2], wantMem[1], wantMem[0]}
		if !slices.Equal(rep.TopCPU, wantCPU) {
			t.Errorf("top CPU = %+v, want %+v", rep.TopCPU, wantCPU)
		}
		reqs := podMetricsRequests(metrics.Requests()[before:])
		if len(reqs) != 1 || reqs[0].Path != "/apis/metrics.k8s.io/v1beta1/namespaces/bakery-ia/pods" || reqs[0].User != botUser || reqs[0].Query.Get("labelSelector") != "" {
			t.Errorf("the stand-in got %+v, want one pods list in bakery-ia for %s", reqs, botUser)
		}
	})

	t.Run("one service's top pods are its own (its label selector)", func(t *testing.T) {
		before := len(metrics.Requests())
		rep, err := cluster.Health(t.Context(), service)
		if err != nil || !rep.MetricsAvailable {
			t.Fatalf("Health = %+v, %v; want metrics", rep, err)
		}
		var names []string
		for _, u := range rep.TopCPU {
			names = append(names, u.Name)
		}
		if want := []string{orders[1].Name, orders[0].Name}; !slices.Equal(names, want) {
			t.Errorf("top CPU pods = %v, want %v", names, want)
		}
		reqs := podMetricsRequests(metrics.Requests()[before:])
		if len(reqs) != 1 || reqs[0].Query.Get("labelSelector") != selector || reqs[0].User != botUser {
			t.Errorf("the stand-in got %+v, want labelSelector=%s", reqs, selector)
		}
	})

	t.Run("an unregistered metrics API is an answer, not an error", func(t *testing.T) {
		metrics.Unregister(t)
		before := len(metrics.Requests())
		rep, err := cluster.Health(t.Context(), "")
		if err != nil || rep.MetricsAvailable || len(rep.TopMemory) != 0 {
			t.Fatalf("Health = %+v, %v; want an answer without metrics", rep, err)
		}
		if n := len(metrics.Requests()) - before; n != 0 {
			t.Errorf("the stand-in got %d requests after it was unregistered", n)
		}
	})

	t.Run("nodes whose Ready condition is False or Unknown", func(t *testing.T) {
		c.AddNode(t, "node-3").SetReadyStatus(t, corev1.ConditionFalse)
		c.AddNode(t, "node-2").SetReadyStatus(t, corev1.ConditionUnknown)
		rep, err := cluster.Health(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.NodesNotReady) != 2 {
			t.Fatalf("nodes not ready = %+v, want node-2 and node-3", rep.NodesNotReady)
		}
		n2, n3 := rep.NodesNotReady[0], rep.NodesNotReady[1]
		if n2.Name != "node-2" || n2.Ready != "Unknown" || n2.Reason != "NodeStatusUnknown" || n2.Message != "Kubelet stopped posting node status." {
			t.Errorf("node-2 = %+v, want Unknown, NodeStatusUnknown", n2)
		}
		if n3.Name != "node-3" || n3.Ready != "False" || n3.Reason != "KubeletNotReady" || !strings.Contains(n3.Message, "network not ready") {
			t.Errorf("node-3 = %+v, want False, KubeletNotReady", n3)
		}
		if n2.For < 0 || n2.For > time.Minute {
			t.Errorf("node-2 not ready for %s, want the seconds since it was set", n2.For)
		}
	})

	// The logs: each pod's two containers, and a previous run for the
	// first pod's main container only.
	old := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	recent := time.Now().Add(-2 * time.Minute).UTC().Format(time.RFC3339Nano)
	for i, p := range orders {
		var previous []string
		if i == 0 {
			previous = []string{"INFO orders-service 1.5.0 starting", "panic: runtime error: invalid memory address or nil pointer dereference"}
		}
		node.SetLogs(namespace, p.Name, service,
			[]string{old + " INFO an hour ago " + p.Name, recent + " ERROR two minutes ago " + p.Name, "INFO just now " + p.Name}, previous)
		node.SetLogs(namespace, p.Name, "log-shipper", []string{"vector: shipped 120 events " + p.Name}, nil)
	}
	// The first pod restarted once, as its status says.
	err = retryStatus(t, orders[0].Name, func(p *corev1.Pod) {
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount = 1
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
			Reason: "Error", ExitCode: 2, StartedAt: metav1.NewTime(time.Now().Add(-time.Hour)), FinishedAt: metav1.NewTime(time.Now().Add(-time.Minute)),
		}
	}, c)
	if err != nil {
		t.Fatal(err)
	}

	logs := func(t *testing.T, opts bot.LogOptions) ([]bot.PodLogs, []kubeharness.LogRequest) {
		t.Helper()
		before := len(node.LogRequests())
		opts.Tail = 100
		got, err := cluster.Logs(t.Context(), service, opts)
		if err != nil {
			t.Fatalf("Logs(%+v): %v", opts, err)
		}
		if len(got) != 2 {
			t.Fatalf("Logs(%+v) = %d pods, want 2", opts, len(got))
		}
		return got, node.LogRequests()[before:]
	}

	t.Run("logs --since drops older lines at the kubelet", func(t *testing.T) {
		got, reqs := logs(t, bot.LogOptions{Since: 10 * time.Minute})
		for i, p := range got {
			want := []string{"ERROR two minutes ago " + orders[i].Name, "INFO just now " + orders[i].Name}
			if p.Pod != orders[i].Name || !slices.Equal(p.Lines, want) {
				t.Errorf("pod %s lines %q, want %q", p.Pod, p.Lines, want)
			}
		}
		for _, r := range reqs {
			if r.Query.Get("sinceSeconds") != "600" || r.Container != service {
				t.Errorf("kubelet stand-in got %s ?%s, want sinceSeconds=600", r.Container, r.Query.Encode())
			}
		}
		if len(reqs) != 2 {
			t.Errorf("%d log requests, want 2", len(reqs))
		}
	})

	t.Run("logs --container reads the sidecar", func(t *testing.T) {
		got, reqs := logs(t, bot.LogOptions{Container: "log-shipper"})
		for i, p := range got {
			if want := []string{"vector: shipped 120 events " + orders[i].Name}; p.Container != "log-shipper" || !slices.Equal(p.Lines, want) {
				t.Errorf("pod %s container %s lines %q, want log-shipper %q", p.Pod, p.Container, p.Lines, want)
			}
		}
		for _, r := range reqs {
			if r.Container != "log-shipper" {
				t.Errorf("kubelet stand-in got container %s, want log-shipper", r.Container)
			}
		}
	})

	t.Run("logs --previous reads the last run where there was one", func(t *testing.T) {
		got, reqs := logs(t, bot.LogOptions{Previous: true})
		want := []string{"INFO orders-service 1.5.0 starting", "panic: runtime error: invalid memory address or nil pointer dereference"}
		if got[0].NoPrevious || !slices.Equal(got[0].Lines, want) {
			t.Errorf("restarted pod: %+v, want its previous run %q", got[0], want)
		}
		if !got[1].NoPrevious || len(got[1].Lines) != 0 {
			t.Errorf("pod that never restarted: %+v, want NoPrevious and no lines", got[1])
		}
		if len(reqs) != 1 || reqs[0].Pod != orders[0].Name || reqs[0].Query.Get("previous") != "true" {
			t.Errorf("kubelet stand-in got %+v, want one previous=true request for %s", reqs, orders[0].Name)
		}
	})

	t.Run("logs --previous where the kubelet has no previous run after all", func(t *testing.T) {
		// The status says the second pod restarted, but its kubelet kept
		// no previous log: the kubelet's refusal is that pod's answer,
		// not the command's failure.
		if err := retryStatus(t, orders[1].Name, func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = 1 }, c); err != nil {
			t.Fatal(err)
		}
		got, reqs := logs(t, bot.LogOptions{Previous: true})
		if got[0].NoPrevious || len(got[0].Lines) != 2 || !got[1].NoPrevious {
			t.Errorf("logs = %+v, want the first pod's previous run and NoPrevious for the second", got)
		}
		if len(reqs) != 2 {
			t.Errorf("kubelet stand-in got %d requests, want one per pod", len(reqs))
		}
	})

	t.Run("an unknown container is a clear refusal, before any log request", func(t *testing.T) {
		before := len(node.LogRequests())
		_, err := cluster.Logs(t.Context(), service, bot.LogOptions{Container: "sidecar", Tail: 10})
		msg, ok := bot.UserMessage(err)
		if !ok || !strings.Contains(msg, "has no container sidecar; its containers: orders-service, log-shipper") {
			t.Errorf("err = %v, want a refusal naming the pod's containers", err)
		}
		if n := len(node.LogRequests()) - before; n != 0 {
			t.Errorf("%d log requests for an unknown container", n)
		}
	})
}

// podMetricsRequests leaves out discovery: the aggregator's own and the
// bot's, which the aggregator also passes on.
func podMetricsRequests(reqs []kubeharness.MetricsRequest) []kubeharness.MetricsRequest {
	return slices.DeleteFunc(reqs, func(r kubeharness.MetricsRequest) bool { return !strings.HasSuffix(r.Path, "/pods") })
}

// retryStatus changes a pod's status as its kubelet would.
func retryStatus(t *testing.T, pod string, change func(*corev1.Pod), c *kubeharness.Cluster) error {
	t.Helper()
	pods := c.Clientset().CoreV1().Pods(namespace)
	p, err := pods.Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		return err
	}
	change(p)
	_, err = pods.UpdateStatus(t.Context(), p, metav1.UpdateOptions{})
	return err
}
