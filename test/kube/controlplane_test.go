// Package kube_test proves the control plane that the end-to-end tests run
// against does what they rely on: real controllers turn a Deployment into a
// ReplicaSet with a revision and pods, pods played by the test become Ready,
// pods/log travels the apiserver's real path to the kubelet stand-in, and the
// RBAC authorizer is the real one.
package kube_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bakewise/chatops/test/harness"
	"github.com/bakewise/chatops/test/kubeharness"
)

const (
	namespace = "bakery-ia"
	service   = "orders-service"
	selector  = "app.kubernetes.io/name=orders-service"
	// waitTimeout bounds each wait on the controllers or the authorizer.
	waitTimeout = 20 * time.Second
)

func TestControlPlane(t *testing.T) {
	c := kubeharness.Start(t)
	node := c.AddNode(t, "node-1")
	c.ApplyYAML(t, "testdata/orders-service.yaml")
	kube := c.Clientset()

	var pods []corev1.Pod
	t.Run("the deployment controller makes a ReplicaSet with a revision", func(t *testing.T) {
		d, err := kube.AppsV1().Deployments(namespace).Get(t.Context(), service, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var rs appsv1.ReplicaSet
		eventually(t, "a ReplicaSet owned by the Deployment", func(ctx context.Context) (bool, error) {
			list, err := kube.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return false, err
			}
			for _, r := range list.Items {
				if ref := metav1.GetControllerOf(&r); ref != nil && ref.UID == d.UID {
					rs = r
					return true, nil
				}
			}
			return false, nil
		})
		if got := rs.Annotations["deployment.kubernetes.io/revision"]; got != "1" {
			t.Errorf("revision annotation = %q, want 1", got)
		}
	})

	t.Run("pods played by the test make the Deployment ready", func(t *testing.T) {
		pods = c.RunPods(t, namespace, selector, kubeharness.PodState{Count: 2})
		if len(pods) != 2 {
			t.Fatalf("RunPods ran %d pods, want 2", len(pods))
		}
		for _, p := range pods {
			if p.Spec.NodeName != node.Name || p.Status.Phase != corev1.PodRunning || !podReady(p) {
				t.Errorf("pod %s: node %q phase %s ready %v, want node-1, Running, ready", p.Name, p.Spec.NodeName, p.Status.Phase, podReady(p))
			}
		}
		d := c.WaitDeploymentReady(t, namespace, service)
		if d.Status.ReadyReplicas != 2 {
			t.Errorf("ready replicas = %d, want 2", d.Status.ReadyReplicas)
		}
	})
	if len(pods) == 0 {
		t.FailNow()
	}

	t.Run("pods/log reaches the kubelet stand-in", func(t *testing.T) {
		pod := pods[0].Name
		lines := []string{"starting orders-service", "connected to orders-db", "GET /health 200", "POST /orders 201"}
		node.SetLogs(namespace, pod, service, lines, nil)

		raw, err := kube.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
			Container: service, TailLines: new(int64(2)),
		}).DoRaw(t.Context())
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		if got, want := string(raw), "GET /health 200\nPOST /orders 201\n"; got != want {
			t.Errorf("logs = %q, want %q", got, want)
		}
		reqs := node.LogRequests()
		if len(reqs) != 1 || reqs[0].Pod != pod || reqs[0].Query.Get("tailLines") != "2" {
			t.Errorf("kubelet stand-in saw %+v, want one request for %s with tailLines=2", reqs, pod)
		}

		old := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		node.SetLogs(namespace, pod, service,
			[]string{old + " an hour ago", "just now"},
			[]string{"panic: orders-db unreachable"})
		for _, tc := range []struct {
			name string
			opts corev1.PodLogOptions
			want string
		}{
			{"sinceSeconds drops older lines", corev1.PodLogOptions{SinceSeconds: new(int64(600))}, "just now\n"},
			{"limitBytes cuts the output", corev1.PodLogOptions{LimitBytes: new(int64(8))}, "an hour "},
			{"previous is the last run", corev1.PodLogOptions{Previous: true}, "panic: orders-db unreachable\n"},
		} {
			tc.opts.Container = service
			raw, err := kube.CoreV1().Pods(namespace).GetLogs(pod, &tc.opts).DoRaw(t.Context())
			if err != nil || string(raw) != tc.want {
				t.Errorf("%s: got %q, %v; want %q", tc.name, raw, err, tc.want)
			}
		}

		node.SetLogs(namespace, pod, service, lines, nil)
		// Stream, as kubectl does, decodes the apiserver's Status (DoRaw
		// would keep only the status code).
		_, err = kube.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: service, Previous: true}).Stream(t.Context())
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "previous terminated container") {
			t.Errorf("previous logs without a previous run: err = %v, want a kubelet-style BadRequest", err)
		}
	})

	t.Run("a rollout completes while the test plays the kubelet", func(t *testing.T) {
		c.KeepRunning(t, namespace, selector, kubeharness.Running())
		patch := `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}}}}}`
		if _, err := kube.AppsV1().Deployments(namespace).Patch(t.Context(), service, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		d := c.WaitDeploymentReady(t, namespace, service)
		if d.Annotations["deployment.kubernetes.io/revision"] != "2" {
			t.Errorf("revision after restart = %q, want 2", d.Annotations["deployment.kubernetes.io/revision"])
		}
		// The old pods go once deleted: the node finishes their deletion.
		eventually(t, "only the new pods to be left", func(ctx context.Context) (bool, error) {
			list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return false, err
			}
			for _, p := range list.Items {
				if p.Name == pods[0].Name || p.Name == pods[1].Name {
					return false, nil
				}
			}
			return len(list.Items) == 2, nil
		})
	})

	t.Run("pod states the bot must recognise pass the apiserver's validation", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			state kubeharness.PodState
			ready int32
			check func(p corev1.Pod) bool
		}{
			{"crashloop", kubeharness.CrashLoopBackOff(7), 0, func(p corev1.Pod) bool {
				cs := p.Status.ContainerStatuses[0]
				return p.Status.Phase == corev1.PodRunning && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" && cs.RestartCount == 7
			}},
			{"oomkilled", kubeharness.OOMKilled(3), 1, func(p corev1.Pod) bool {
				cs := p.Status.ContainerStatuses[0]
				return cs.Ready && cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "OOMKilled" && cs.RestartCount == 3
			}},
			{"imagepull", kubeharness.ImagePullBackOff(), 0, func(p corev1.Pod) bool {
				cs := p.Status.ContainerStatuses[0]
				return p.Status.Phase == corev1.PodPending && cs.State.Waiting != nil && cs.State.Waiting.Reason == "ImagePullBackOff"
			}},
			{"notready", kubeharness.NotReady(), 0, func(p corev1.Pod) bool {
				return p.Status.Phase == corev1.PodRunning && !podReady(p)
			}},
			{"pending", kubeharness.Pending(), 0, func(p corev1.Pod) bool {
				return p.Status.Phase == corev1.PodPending && p.Spec.NodeName == ""
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c.ApplyManifest(t, strings.ReplaceAll(stateDeployment, "NAME", tc.name))
				pods := c.RunPods(t, "states", "app="+tc.name, tc.state)
				if len(pods) != 1 || !tc.check(pods[0]) {
					t.Fatalf("pod status not as asked: %+v", pods[0].Status)
				}
				// The replicaset controller counts what the pod says.
				eventually(t, "the ReplicaSet to count the pod", func(ctx context.Context) (bool, error) {
					d, err := kube.AppsV1().Deployments("states").Get(ctx, tc.name, metav1.GetOptions{})
					return err == nil && d.Status.Replicas == 1 && d.Status.ReadyReplicas == tc.ready, err
				})
			})
		}
	})

	t.Run("RBAC binds a ServiceAccount identity", func(t *testing.T) {
		sa := c.ServiceAccountConfig(t, namespace, "chatops")
		// Through a kubeconfig file, the way the bot is configured.
		cfg, err := clientcmd.BuildConfigFromFlags("", c.WriteKubeconfig(t, sa))
		if err != nil {
			t.Fatal(err)
		}
		bot, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bot.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("listing pods without a Role: err = %v, want Forbidden", err)
		}

		// ApplyYAML returns once the authorizer honours the binding.
		c.ApplyYAML(t, "testdata/pod-reader.yaml")
		list, err := bot.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing pods with the pod-reader Role: %v", err)
		}
		if len(list.Items) != 2 {
			t.Errorf("listed %d pods, want 2", len(list.Items))
		}
		// The Role grants pods only.
		_, err = bot.AppsV1().Deployments(namespace).List(t.Context(), metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("listing deployments with the pod-reader Role: err = %v, want Forbidden", err)
		}
	})
}

// stateDeployment is one replica whose pod gets a given state; NAME is
// replaced.
const stateDeployment = `
apiVersion: v1
kind: Namespace
metadata:
  name: states
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  namespace: states
spec:
  replicas: 1
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      containers:
        - name: app
          image: registry.bakery-ia.local/NAME:1.0.0
`

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// eventually polls cond until it holds, failing t after waitTimeout.
func eventually(t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := cond(t.Context())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out after %s (last error: %v)", what, waitTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The shipped overlays, built as `kubectl apply -k` builds them, are
// objects the real API server accepts as they are (its validation and
// admission), each install path in turn: single, ha, and ha with the
// audit-verify component. The namespace enforces the restricted Pod
// Security Standard, and a pod of every pod template (the Deployment's and
// the CronJob's) passes its admission; the NetworkPolicy opens the metrics
// port the bot listens on to the monitoring namespace alone.
func TestShippedManifestsApply(t *testing.T) {
	c := kubeharness.Start(t)
	// The platform's namespace, already there; the strictest policy.
	c.ApplyManifest(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+namespace+
		"\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n")
	kube := c.Clientset()

	type build struct{ name, yaml string }
	var builds []build
	for _, dir := range kubeharness.Overlays(t) {
		builds = append(builds, build{filepath.Base(dir), kubeharness.Kustomize(t, dir)})
	}
	builds = append(builds, build{"ha with audit-verify", kubeharness.KustomizeWith(t, namespace,
		harness.RepoPath(t, "deploy", "kubernetes", "overlays", "ha"),
		harness.RepoPath(t, "deploy", "kubernetes", "components", "audit-verify"))})
	if len(builds) < 3 {
		t.Fatalf("%d builds, want single, ha and ha with audit-verify", len(builds))
	}

	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			c.ApplyManifest(t, b.yaml) // one after the other, as an upgrade from one path to the next would
			dep, err := kube.AppsV1().Deployments(namespace).Get(t.Context(), "chatops", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the chatops Deployment: %v", err)
			}
			if _, err := kube.CoreV1().ServiceAccounts(namespace).Get(t.Context(), "chatops", metav1.GetOptions{}); err != nil {
				t.Fatalf("the chatops ServiceAccount: %v", err)
			}
			if _, err := kube.PolicyV1().PodDisruptionBudgets(namespace).Get(t.Context(), "chatops", metav1.GetOptions{}); err != nil {
				t.Fatalf("the chatops PodDisruptionBudget: %v", err)
			}
			np, err := kube.NetworkingV1().NetworkPolicies(namespace).Get(t.Context(), "chatops", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the chatops NetworkPolicy: %v", err)
			}
			checkMetricsPolicy(t, dep, np)

			templates := map[string]corev1.PodTemplateSpec{"Deployment chatops": dep.Spec.Template}
			if strings.Contains(b.yaml, "kind: CronJob") {
				cj, err := kube.BatchV1().CronJobs(namespace).Get(t.Context(), "chatops-audit-verify", metav1.GetOptions{})
				if err != nil {
					t.Fatalf("the audit-verify CronJob: %v", err)
				}
				templates["CronJob chatops-audit-verify"] = cj.Spec.JobTemplate.Spec.Template
			}
			for owner, tmpl := range templates {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "chatops-", Namespace: namespace, Labels: tmpl.Labels}, Spec: tmpl.Spec}
				if pod.Spec.RestartPolicy == "" {
					pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
				}
				_, err := kube.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				if err != nil {
					t.Errorf("a pod of %s, in a namespace enforcing the restricted Pod Security Standard: %v", owner, err)
				}
			}
		})
	}
}

// checkMetricsPolicy: the container listens for /metrics on the port it
// names "metrics", and the policy lets only the monitoring namespace reach
// that port, while the http port is open to the sources that need it
// (Alertmanager in the monitoring namespace among them), never to any.
func checkMetricsPolicy(t *testing.T, dep *appsv1.Deployment, np *networkingv1.NetworkPolicy) {
	t.Helper()
	ctr := dep.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	addr := ""
	for _, e := range ctr.Env {
		if e.Name == "CHATOPS_METRICS_LISTEN_ADDR" {
			addr = e.Value
		}
	}
	if ports["metrics"] == 0 || !strings.HasSuffix(addr, fmt.Sprintf(":%d", ports["metrics"])) {
		t.Errorf("CHATOPS_METRICS_LISTEN_ADDR %q is not on the container's metrics port %d", addr, ports["metrics"])
	}
	if !labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels).Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("the NetworkPolicy selects %v, not the chatops pods (%v)", np.Spec.PodSelector.MatchLabels, dep.Spec.Template.Labels)
	}
	open := map[string][]networkingv1.NetworkPolicyPeer{}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil {
				t.Fatalf("an ingress rule opens every port: %+v", rule)
			}
			if len(rule.From) == 0 {
				t.Errorf("port %s is open to any source", p.Port)
			}
			open[p.Port.String()] = append(open[p.Port.String()], rule.From...)
		}
	}
	fromMonitoring := func(p networkingv1.NetworkPolicyPeer) bool {
		return p.NamespaceSelector != nil && p.PodSelector == nil && len(p.NamespaceSelector.MatchLabels) == 1 &&
			p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "monitoring"
	}
	if !slices.ContainsFunc(open["http"], fromMonitoring) {
		t.Errorf("the http port is open to %+v, not to Alertmanager's monitoring namespace", open["http"])
	}
	peers := open["metrics"]
	if len(peers) != 1 || !fromMonitoring(peers[0]) {
		t.Errorf("the metrics port is open to %+v, want the monitoring namespace alone", peers)
	}
	if len(open) != 2 {
		t.Errorf("ingress opens ports %v, want http and metrics", slices.Sorted(maps.Keys(open)))
	}
}
