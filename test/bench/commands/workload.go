package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bakewise/chatops/test/harness"
	"github.com/bakewise/chatops/test/kubeharness"
)

const (
	namespace      = "bakery-ia"
	serviceAccount = "chatops"
	nodeName       = "node-1"
	// logService is the service the status and logs commands ask about.
	logService = "orders-service"
	// logLinesPerPod is what each of its pods has logged; the logs command
	// asks for the last -tail of them.
	logLinesPerPod = 500
	// stateLabel marks the one pod of a deployment that is given a bad
	// state, so RunPods can select it alone.
	stateLabel = "chatops-bench/state"
	// settleTimeout bounds the wait for the controllers to count the pods.
	settleTimeout = 60 * time.Second
)

// The worst-case logs mode (-worst-logs): a service whose pods' logs are
// as costly as a logs command can find, and the costliest --grep the bot
// accepts.
const (
	// floodService is the mode's extra Deployment, with floodPods pods:
	// as many as one logs command reads (integrations/kubernetes
	// maxPodsForLogs).
	floodService = "log-flood"
	floodPods    = 10
	// floodLogBytes is about what each pod has logged, in lines of
	// floodLineBytes, one of them floodLongLine long: longer than the
	// 64 KiB the bot keeps of a line.
	floodLogBytes  = 1 << 20
	floodLineBytes = 16 << 10
	floodLongLine  = 100 << 10
	// worstPattern compiles to 200 instructions, the most --grep accepts
	// (commands.maxGrepProgram), with repetitions under its 100; negated
	// and whole Unicode classes are the slowest to test a rune against;
	// the $ keeps every thread alive to the end of each line; and it
	// matches every line of words without digits, so the answer holds all
	// that was read.
	worstPattern = `(?:\PN{98}|\pN{98})$`
)

// badPod is one pod of a service in trouble.
type badPod struct {
	name  string // label value and what the report calls it
	state kubeharness.PodState
	ready bool // whether the pod still counts as ready
}

// service is one Deployment of the workload.
type service struct {
	name     string
	replicas int
	bad      *badPod
}

// workload is Bakery-IA's 18 services from the operations guide (names
// beyond the guide's are made up in its style), 50 pods in all, five of
// them in the states the health check must report.
var workload = []service{
	{name: "gateway", replicas: 4},
	{name: "auth-service", replicas: 3},
	{name: "tenant-service", replicas: 2},
	{name: logService, replicas: 4, bad: &badPod{"crashloop", kubeharness.CrashLoopBackOff(7), false}},
	{name: "forecasting-service", replicas: 3, bad: &badPod{"oomkilled", kubeharness.OOMKilled(3), true}},
	{name: "inventory-service", replicas: 3},
	{name: "pos-service", replicas: 3, bad: &badPod{"imagepull", kubeharness.ImagePullBackOff(), false}},
	{name: "notification-service", replicas: 2, bad: &badPod{"notready", kubeharness.NotReady(), false}},
	{name: "alert-processor", replicas: 2, bad: &badPod{"crashloop", kubeharness.CrashLoopBackOff(14), false}},
	{name: "production-service", replicas: 3},
	{name: "sales-service", replicas: 3},
	{name: "suppliers-service", replicas: 2},
	{name: "procurement-service", replicas: 2},
	{name: "recipes-service", replicas: 3},
	{name: "training-service", replicas: 2},
	{name: "external-service", replicas: 3},
	{name: "orchestrator-service", replicas: 3},
	{name: "ai-insights-service", replicas: 3},
}

// workloadFacts is what a correct health answer reports for the workload.
type workloadFacts struct {
	Services         int      `json:"services"`
	Pods             int      `json:"pods"`
	PodsInTrouble    int      `json:"pods_in_trouble"`
	DeploymentsShort int      `json:"deployments_not_ready"`
	Trouble          []string `json:"trouble"`
	LogPods          int      `json:"log_service_pods"`
}

func facts() workloadFacts {
	var f workloadFacts
	for _, s := range workload {
		f.Services++
		f.Pods += s.replicas
		if s.name == logService {
			f.LogPods = s.replicas
		}
		if s.bad != nil {
			f.PodsInTrouble++
			if !s.bad.ready {
				f.DeploymentsShort++
			}
			f.Trouble = append(f.Trouble, s.name+": "+s.bad.name)
		}
	}
	return f
}

// healthTitle is the start of the health answer's title for the workload.
func (f workloadFacts) healthTitle() string {
	return fmt.Sprintf("%s: %d pods in trouble, %d of %d deployments not ready, 0 nodes not ready",
		namespace, f.PodsInTrouble, f.DeploymentsShort, f.Services)
}

func workloadManifest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", namespace)
	for i, s := range workload {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s
    app.kubernetes.io/part-of: bakery-ia
  annotations:
    kubernetes.io/change-cause: "release 2026.11.%[4]d"
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
        app.kubernetes.io/part-of: bakery-ia
    spec:
      containers:
        - name: %[1]s
          image: registry.bakery-ia.local/%[1]s:1.%[4]d.2
          ports:
            - containerPort: 8000
          resources:
            requests:
              cpu: 100m
              memory: 256Mi
            limits:
              memory: 512Mi
`, s.name, namespace, s.replicas, i+3)
	}
	return b.String()
}

// cluster is the running control plane with the workload, and the bot's
// kubeconfig.
type cluster struct {
	c          *kubeharness.Cluster
	kubeconfig string
	apiserver  string
}

// startCluster starts the control plane, registers a node, applies the
// shipped RBAC and the workload, plays the kubelet for the 50 pods (five
// in bad states), gives orders-service's pods logs, and writes a
// kubeconfig for the chatops ServiceAccount. The control plane fails t as
// it fails a test.
func startCluster(t harness.TB) (*cluster, error) {
	c := kubeharness.Start(t)
	node := c.AddNode(t, nodeName)
	c.ApplyManifest(t, workloadManifest())
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))
	kube := c.Clientset()
	// What events, hpa, certs and gitops read: the end-to-end tests'
	// cert-manager and Flux CRDs and objects, and an autoscaler.
	c.ApplyYAML(t, harness.RepoPath(t, "test", "e2e", "testdata", "reads-crds.yaml"))
	c.WaitServed(t, "cert-manager.io/v1", "kustomize.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1", "helm.toolkit.fluxcd.io/v2")
	objects, err := os.ReadFile(harness.RepoPath(t, "test", "e2e", "testdata", "reads-objects.yaml"))
	if err != nil {
		return nil, err
	}
	c.ApplyWithStatus(t, kubeharness.RelativeTimes(string(objects), time.Now())+"\n---\n"+hpaManifest)

	for _, s := range workload {
		sel := "app.kubernetes.io/name=" + s.name
		pods := c.RunPods(t, namespace, sel, kubeharness.PodState{Count: s.replicas, Node: node.Name})
		if len(pods) != s.replicas {
			return nil, fmt.Errorf("%s: %d pods, want %d", s.name, len(pods), s.replicas)
		}
		if s.name == logService {
			for _, p := range pods {
				node.SetLogs(namespace, p.Name, s.name, logLines(p.Name), nil)
			}
		}
		if s.name == floodService {
			for i, p := range pods {
				node.SetLogs(namespace, p.Name, s.name, floodLines(i), nil)
			}
		}
		if s.bad == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, stateLabel, s.bad.name)
		_, err := kube.CoreV1().Pods(namespace).Patch(ctx, pods[0].Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("label pod %s: %w", pods[0].Name, err)
		}
		st := s.bad.state
		st.Node = node.Name
		c.RunPods(t, namespace, sel+","+stateLabel+"="+s.bad.name, st)
	}
	if err := waitCounted(c); err != nil {
		return nil, err
	}

	sa := c.ServiceAccountConfig(t, namespace, serviceAccount)
	return &cluster{c: c, kubeconfig: c.WriteKubeconfig(t, sa), apiserver: sa.Host}, nil
}

// waitCounted waits until the controllers have counted every pod: each
// Deployment reports its replicas and the ready ones the workload says.
func waitCounted(c *kubeharness.Cluster) error {
	kube := c.Clientset()
	want := map[string][2]int32{}
	for _, s := range workload {
		ready := s.replicas
		if s.bad != nil && !s.bad.ready {
			ready--
		}
		want[s.name] = [2]int32{int32(s.replicas), int32(ready)}
	}
	deadline := time.Now().Add(settleTimeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		list, err := kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
		pods, perr := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		cancel()
		if err == nil && perr == nil {
			var off []string
			for _, d := range list.Items {
				w := want[d.Name]
				if d.Status.Replicas != w[0] || d.Status.ReadyReplicas != w[1] || d.Status.ObservedGeneration < d.Generation {
					off = append(off, fmt.Sprintf("%s %d/%d ready (want %d/%d)", d.Name, d.Status.ReadyReplicas, d.Status.Replicas, w[1], w[0]))
				}
			}
			if len(list.Items) != len(workload) {
				off = append(off, fmt.Sprintf("%d deployments, want %d", len(list.Items), len(workload)))
			}
			if n := livePods(pods.Items); n != facts().Pods {
				off = append(off, fmt.Sprintf("%d pods, want %d", n, facts().Pods))
			}
			if len(off) == 0 {
				return nil
			}
			last = strings.Join(off, "; ")
		} else {
			last = fmt.Sprint(err, perr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the controllers did not count the pods within %s: %s", settleTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func livePods(pods []corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// logLines is what one orders-service pod has logged: access lines and
// now and then a slow query or a retry.
func logLines(pod string) []string {
	lines := make([]string, logLinesPerPod)
	start := time.Now().Add(-time.Duration(logLinesPerPod) * time.Second).UTC()
	for i := range lines {
		at := start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		var msg string
		switch {
		case i%97 == 0:
			msg = fmt.Sprintf(`level=warn msg="slow query" table=orders duration_ms=%d pod=%s`, 800+i%300, pod)
		case i%61 == 0:
			msg = `level=error msg="payment provider timeout, retrying" attempt=1 provider=stripe`
		case i%2 == 0:
			msg = fmt.Sprintf(`level=info msg="POST /api/v1/orders 201" tenant=t-%03d duration_ms=%d`, i%37, 20+i%80)
		default:
			msg = fmt.Sprintf(`level=info msg="GET /api/v1/orders/%d 200" tenant=t-%03d duration_ms=%d`, 10000+i, i%37, 3+i%20)
		}
		lines[i] = at + " " + msg
	}
	return lines
}

// floodLines is what one log-flood pod has logged: about floodLogBytes
// of words in lines of floodLineBytes, no digits (so worstPattern matches
// every line), the second of them floodLongLine long (early, so that it
// falls within the part of the logs a command reads). No line starts
// with a timestamp: the kubelet stand-in dates them all now.
func floodLines(seed int) []string {
	words := []string{"orders", "payment", "tenant", "request", "forecast", "inventory", "bakery", "oven", "croissant", "flour", "retrying", "upstream"}
	line := func(n, k int) string {
		var b strings.Builder
		for i := k; b.Len() < n; i++ {
			b.WriteString(words[(i*7+seed)%len(words)])
			b.WriteByte(' ')
		}
		return b.String()[:n]
	}
	n := floodLogBytes / (floodLineBytes + 1)
	lines := make([]string, 0, n+1)
	for i := range n {
		if i == 1 {
			lines = append(lines, line(floodLongLine, i))
		}
		lines = append(lines, line(floodLineBytes, i))
	}
	return lines
}

// hpaManifest is the workload's autoscaler, with the status the HPA
// controller (which does not run here) would write.
const hpaManifest = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ` + logService + `, namespace: ` + namespace + `}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ` + logService + `}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
status:
  currentReplicas: 2
  desiredReplicas: 2
  currentMetrics:
    - type: Resource
      resource: {name: cpu, current: {averageUtilization: 41}}
  conditions:
    - {type: AbleToScale, status: "True", reason: ReadyForNewScale, lastTransitionTime: "2026-01-01T00:00:00Z"}
    - {type: ScalingActive, status: "True", reason: ValidMetricFound, lastTransitionTime: "2026-01-01T00:00:00Z"}
`
