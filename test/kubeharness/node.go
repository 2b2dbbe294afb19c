package kubeharness

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bakewise/chatops/test/harness"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// KubeletVersion is what registered Nodes report.
const KubeletVersion = "v1.37.2"

// Node is a registered Node whose kubelet is a stand-in inside the test: a
// TLS server on loopback that the apiserver reaches for pods/log, and a loop
// that finishes the deletion of its pods the way a kubelet does once their
// containers have stopped.
type Node struct {
	Name string

	c   *Cluster
	srv *httptest.Server

	mu       sync.Mutex
	logs     map[containerKey]*containerLogs
	requests []LogRequest
}

type containerKey struct{ namespace, pod, container string }

type containerLogs struct {
	current, previous []logLine
	hasPrevious       bool
}

type logLine struct {
	at   time.Time
	text string
}

// LogRequest is one log request the kubelet stand-in received from the
// apiserver: what a test checks to see which options reached the kubelet.
type LogRequest struct {
	Namespace, Pod, Container string
	Query                     url.Values
}

// AddNode registers a Ready Node named name (InternalIP 127.0.0.1) backed by
// a kubelet stand-in, and returns it. The stand-in stops in t.Cleanup.
func (c *Cluster) AddNode(t harness.TB, name string) *Node {
	t.Helper()
	n := &Node{Name: name, c: c, logs: map[containerKey]*containerLogs{}}

	serving, err := c.ca.serving(name, name)
	if err != nil {
		t.Fatalf("kubeharness: node %s: %v", name, err)
	}
	cert, err := serving.tls()
	if err != nil {
		t.Fatalf("kubeharness: node %s: %v", name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", n.serveLogs)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the kubelet stand-in serves only GET /containerLogs/{namespace}/{pod}/{container}", http.StatusNotFound)
	})
	n.srv = httptest.NewUnstartedServer(mux)
	n.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		// Like a kubelet, trust only callers with a certificate from the
		// cluster's CA: the apiserver's kubelet client certificate.
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  c.ca.pool(),
		MinVersion: tls.VersionTLS12,
	}
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)

	if err := n.register(); err != nil {
		t.Fatalf("kubeharness: node %s: %v", name, err)
	}
	n.finishDeletions(t)

	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

func (n *Node) register() error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	nodes := n.c.kube.CoreV1().Nodes()
	node, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name,
		Labels: map[string]string{
			"kubernetes.io/hostname": n.Name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}

	port := n.srv.Listener.Addr().(*net.TCPAddr).Port
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node.Status = corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions:  nodeConditionsFor(corev1.ConditionTrue),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			{Type: corev1.NodeHostName, Address: n.Name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
			OSImage:                 "chatops kubeharness",
			KernelVersion:           "6.1.0",
			ContainerRuntimeVersion: "containerd://2.1.0",
		},
	}
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	// Admission taints a new Node not-ready until the node lifecycle
	// controller sees it Ready; that controller does not run here.
	return n.untaint(ctx)
}

func (n *Node) untaint(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.c.kube.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool {
			return t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable
		})
		if len(kept) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = kept
		_, err = n.c.kube.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// nodeConditionsFor is what a Node reports with its Ready condition at
// status: True and False as its kubelet posts them, Unknown as the node
// lifecycle controller writes every condition once the kubelet has stopped
// posting.
func nodeConditionsFor(status corev1.ConditionStatus) []corev1.NodeCondition {
	now := metav1.Now()
	cond := func(typ corev1.NodeConditionType, status corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	if status == corev1.ConditionUnknown {
		var out []corev1.NodeCondition
		for _, typ := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeReady} {
			out = append(out, cond(typ, corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."))
		}
		return out
	}
	readyCond := cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	if status == corev1.ConditionFalse {
		readyCond = cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		readyCond,
	}
}

// SetReady sets the Node's Ready condition, as a kubelet reports it.
func (n *Node) SetReady(t harness.TB, ready bool) {
	t.Helper()
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	n.SetReadyStatus(t, status)
}

// SetReadyStatus sets the Node's Ready condition to status: True, False
// (the kubelet says it is not ready) or Unknown (the kubelet stopped
// posting, as the node lifecycle controller records it).
func (n *Node) SetReadyStatus(t harness.TB, status corev1.ConditionStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.c.kube.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Status.Conditions = nodeConditionsFor(status)
		_, err = n.c.kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("kubeharness: node %s Ready=%s: %v", n.Name, status, err)
	}
}

// SetLogs sets what the kubelet stand-in serves for a container: lines of the
// current run, and of the previous run (nil: there was none, so a previous=true
// request fails as a kubelet's would). A line that starts with an RFC 3339
// timestamp and a space ("2026-01-02T15:04:05.000000000Z message"), the
// format of a kubelet's timestamps=true, carries its own time; other lines
// count as written when SetLogs is called. sinceSeconds and sinceTime filter
// on those times.
func (n *Node) SetLogs(namespace, pod, container string, lines []string, previous []string) {
	now := time.Now()
	parse := func(in []string) []logLine {
		out := make([]logLine, 0, len(in))
		for _, l := range in {
			out = append(out, parseLogLine(l, now))
		}
		return out
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.logs[containerKey{namespace, pod, container}] = &containerLogs{
		current:     parse(lines),
		previous:    parse(previous),
		hasPrevious: previous != nil,
	}
}

func parseLogLine(l string, now time.Time) logLine {
	if ts, rest, ok := strings.Cut(l, " "); ok {
		if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return logLine{at: at, text: rest}
		}
	}
	return logLine{at: now, text: l}
}

// LogRequests returns the log requests the stand-in has received, oldest
// first.
func (n *Node) LogRequests() []LogRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.requests)
}

// serveLogs answers as a kubelet does: tailLines picks the last lines, then
// sinceSeconds/sinceTime drop older ones, then limitBytes cuts the output.
func (n *Node) serveLogs(w http.ResponseWriter, r *http.Request) {
	key := containerKey{r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")}
	q := r.URL.Query()
	n.mu.Lock()
	n.requests = append(n.requests, LogRequest{Namespace: key.namespace, Pod: key.pod, Container: key.container, Query: q})
	logs := n.logs[key]
	n.mu.Unlock()

	opts, err := parseLogQuery(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var lines []logLine
	if logs != nil {
		lines = logs.current
	}
	if opts.previous {
		if logs == nil || !logs.hasPrevious {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", key.container, key.pod), http.StatusBadRequest)
			return
		}
		lines = logs.previous
	}
	if opts.tailLines >= 0 && int64(len(lines)) > opts.tailLines {
		lines = lines[int64(len(lines))-opts.tailLines:]
	}
	var out bytes.Buffer
	for _, l := range lines {
		if !opts.since.IsZero() && l.at.Before(opts.since) {
			continue
		}
		if opts.timestamps {
			out.WriteString(l.at.UTC().Format(time.RFC3339Nano))
			out.WriteByte(' ')
		}
		out.WriteString(l.text)
		out.WriteByte('\n')
	}
	b := out.Bytes()
	if opts.limitBytes > 0 && int64(len(b)) > opts.limitBytes {
		b = b[:opts.limitBytes]
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(b)
}

type logQuery struct {
	previous, timestamps bool
	tailLines            int64 // -1: all
	limitBytes           int64 // 0: no limit
	since                time.Time
}

func parseLogQuery(q url.Values) (logQuery, error) {
	o := logQuery{tailLines: -1}
	var err error
	boolean := func(name string) bool {
		v, e := strconv.ParseBool(q.Get(name))
		if q.Has(name) && e != nil && err == nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return v
	}
	integer := func(name string, def int64) int64 {
		if !q.Has(name) {
			return def
		}
		v, e := strconv.ParseInt(q.Get(name), 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return v
	}
	o.previous = boolean("previous")
	o.timestamps = boolean("timestamps")
	o.tailLines = integer("tailLines", -1)
	o.limitBytes = integer("limitBytes", 0)
	if s := integer("sinceSeconds", 0); s > 0 {
		o.since = time.Now().Add(-time.Duration(s) * time.Second)
	}
	if q.Has("sinceTime") {
		t, e := time.Parse(time.RFC3339, q.Get("sinceTime"))
		if e != nil && err == nil {
			err = fmt.Errorf("sinceTime: %w", e)
		}
		o.since = t
	}
	return o, err
}

// finishDeletions plays the kubelet's part in deleting pods: once a pod bound
// to this node is marked for deletion, its containers "stop" at once and the
// pod object goes. Without it, pods of scaled-down ReplicaSets would stay
// Terminating for ever.
func (n *Node) finishDeletions(t harness.TB) {
	lw := cache.NewListWatchFromClient(n.c.kube.CoreV1().RESTClient(), "pods", metav1.NamespaceAll,
		fields.OneTermEqualSelector("spec.nodeName", n.Name))
	finish := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.DeletionTimestamp == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		err := n.c.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)),
			Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			t.Logf("kubeharness: node %s: finish deleting pod %s/%s: %v", n.Name, pod.Namespace, pod.Name, err)
		}
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    finish,
			UpdateFunc: func(_, obj any) { finish(obj) },
		},
	})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		informer.Run(stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}
