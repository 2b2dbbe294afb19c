package kube_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/commands"
	ops "github.com/bakewise/chatops/integrations/kubernetes"
	"github.com/bakewise/chatops/test/kubeharness"
)

// followDeployment is a Deployment of the follow tests: name's pods are
// played by the test (state), with progressDeadlineSeconds deadline.
func followDeployment(t *testing.T, c *kubeharness.Cluster, name string, replicas, deadline int32, state kubeharness.PodState) {
	t.Helper()
	labels := map[string]string{"app.kubernetes.io/name": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas, ProgressDeadlineSeconds: &deadline,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.bakery-ia.local/" + name + ":1.0.0"}}},
			},
		},
	}
	if _, err := c.Clientset().AppsV1().Deployments(namespace).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.KeepRunning(t, namespace, "app.kubernetes.io/name="+name, state)
}

// follow runs FollowRollout and returns how it ended and each report as
// the card's line, in order.
func follow(t *testing.T, cluster *ops.Cluster, name string) (bot.RolloutProgress, []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		lines []string
	)
	last := cluster.FollowRollout(t.Context(), name, func(p bot.RolloutProgress) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, commands.RolloutLine(p))
	})
	mu.Lock()
	defer mu.Unlock()
	return last, lines
}

// TestFollowRollout: the follow of a rollout, against the real deployment
// and replicaset controllers with the test playing the kubelet, as the
// chatops ServiceAccount of the shipped RBAC: a restart whose new pods
// become ready ends "N/N updated and available in X s" after progress
// lines; pods never ready end on the controller's ProgressDeadlineExceeded,
// named with its message; a pod of the new ReplicaSet in ImagePullBackOff
// ends the follow, named; and a rollout that goes nowhere is followed no
// longer than the bound.
func TestFollowRollout(t *testing.T) {
	c := kubeharness.Start(t)
	c.AddNode(t, "node-1")
	c.ApplyManifest(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+namespace+"\n")
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))
	const bound = 8 * time.Second
	cluster, err := ops.New(c.ServiceAccountConfig(t, namespace, "chatops"), ops.Config{Namespace: namespace, FollowLimit: bound}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("restart completes", func(t *testing.T) {
		followDeployment(t, c, "follow-ok", 3, 600, kubeharness.Running())
		c.WaitDeploymentReady(t, namespace, "follow-ok")
		settle(t, c.Clientset(), "follow-ok")
		plan, err := cluster.PlanRestart(t.Context(), "follow-ok")
		if err != nil {
			t.Fatal(err)
		}
		if err := cluster.Restart(t.Context(), "follow-ok", plan.Version); err != nil {
			t.Fatal(err)
		}
		last, lines := follow(t, cluster, "follow-ok")
		if last.State != bot.RolloutComplete || last.Updated != 3 || last.Available != 3 {
			t.Fatalf("the follow ended %+v; lines %q", last, lines)
		}
		if want := "✅ Rollout: 3/3 updated and available in "; !strings.HasPrefix(lines[len(lines)-1], want) || !strings.HasSuffix(lines[len(lines)-1], " s") {
			t.Errorf("last line %q, want %q…", lines[len(lines)-1], want)
		}
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "⏳ Rollout: ") {
			t.Errorf("no progress before the end: %q", lines)
		}
	})

	t.Run("progress deadline exceeded", func(t *testing.T) {
		t.Parallel()
		followDeployment(t, c, "follow-deadline", 2, 3, kubeharness.NotReady())
		last, lines := follow(t, cluster, "follow-deadline")
		if last.State != bot.RolloutStopped || last.Reason != "ProgressDeadlineExceeded" || !strings.Contains(last.Message, "has timed out progressing") {
			t.Fatalf("the follow ended %+v; lines %q", last, lines)
		}
		if l := lines[len(lines)-1]; !strings.HasPrefix(l, "❌ Rollout stopped after ") || !strings.Contains(l, ": ProgressDeadlineExceeded: ReplicaSet \"follow-deadline-") {
			t.Errorf("last line %q", l)
		}
	})

	t.Run("image pull backoff", func(t *testing.T) {
		t.Parallel()
		followDeployment(t, c, "follow-pull", 2, 600, kubeharness.ImagePullBackOff())
		last, lines := follow(t, cluster, "follow-pull")
		if last.State != bot.RolloutStopped || last.Reason != "ImagePullBackOff" || !strings.HasPrefix(last.Pod, "follow-pull-") || last.Message == "" {
			t.Fatalf("the follow ended %+v; lines %q", last, lines)
		}
		if l := lines[len(lines)-1]; !strings.Contains(l, "pod "+last.Pod+" ImagePullBackOff: ") {
			t.Errorf("last line %q does not name the pod and its reason", l)
		}
	})

	t.Run("stops at its bound", func(t *testing.T) {
		t.Parallel()
		followDeployment(t, c, "follow-bound", 2, 600, kubeharness.NotReady())
		start := time.Now()
		last, lines := follow(t, cluster, "follow-bound")
		took := time.Since(start)
		if last.State != bot.RolloutUnfollowed || took < bound || took > bound+5*time.Second {
			t.Fatalf("the follow ended %+v after %s (bound %s); lines %q", last, took, bound, lines)
		}
		if l := lines[len(lines)-1]; !strings.HasPrefix(l, "⌛ Rollout not finished after 8 s, no longer followed: 0/2 updated") &&
			!strings.HasPrefix(l, "⌛ Rollout not finished after 8 s, no longer followed: 2/2 updated, 0 available") {
			t.Errorf("last line %q", l)
		}
	})
}

// TestPlanDryRun: a plan performs its exact write as a server-side dry
// run, so what the API server's admission refuses (here a real
// ValidatingAdmissionPolicy) fails the plan with the server's message,
// before anyone could approve it, and nothing is written.
func TestPlanDryRun(t *testing.T) {
	c := kubeharness.Start(t)
	c.AddNode(t, "node-1")
	c.ApplyManifest(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+namespace+"\n")
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))
	admin := c.Clientset()
	followDeployment(t, c, "frozen", 2, 600, kubeharness.Running())
	c.WaitDeploymentReady(t, namespace, "frozen")
	c.ApplyYAML(t, "testdata/admission-policy.yaml")
	waitPolicyDenies(t, admin, "frozen")

	tap := &apiTap{}
	sa := c.ServiceAccountConfig(t, namespace, "chatops")
	sa.WrapTransport = tap.wrap
	cluster, err := ops.New(sa, ops.Config{Namespace: namespace}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	settle(t, admin, "frozen")
	before, err := admin.AppsV1().Deployments(namespace).Get(t.Context(), "frozen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = cluster.PlanScale(t.Context(), "frozen", 5)
	assertRefused(t, "PlanScale beyond the policy", err, "the API server refuses to scale deployment bakery-ia/frozen (server-side dry run, nothing was changed): ")
	if err == nil || !strings.Contains(err.Error(), "at most 4 replicas for frozen") {
		t.Errorf("PlanScale: err = %v, want the policy's message", err)
	}
	if msg, ok := bot.UserMessage(err); !ok || msg == "" {
		t.Errorf("the refusal is not for people: %v", err)
	}
	_, err = cluster.PlanRestart(t.Context(), "frozen")
	assertRefused(t, "PlanRestart under a freeze", err, "restarts of frozen are frozen")

	// Within the policy the plan is the dry run's answer.
	plan, err := cluster.PlanScale(t.Context(), "frozen", 4)
	if err != nil || plan.From != 2 || plan.To != 4 {
		t.Errorf("PlanScale(4) = %+v, %v; want 2 → 4", plan, err)
	}
	if !tap.sawDryRun("/apis/apps/v1/namespaces/bakery-ia/deployments/frozen/scale") || !tap.sawDryRun("/apis/apps/v1/namespaces/bakery-ia/deployments/frozen") {
		t.Errorf("the plans made no dry-run write: %v", tap.requests())
	}
	after := assertUnchanged(t, admin, before)
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("resourceVersion %s → %s: a dry run wrote", before.ResourceVersion, after.ResourceVersion)
	}
}

// waitPolicyDenies waits until the admission policy denies a dry-run
// scale of name: policies take effect a moment after they are created.
func waitPolicyDenies(t *testing.T, kube kubernetes.Interface, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc, err := kube.AppsV1().Deployments(namespace).GetScale(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc.Spec.Replicas = 9
		_, err = kube.AppsV1().Deployments(namespace).UpdateScale(t.Context(), name, sc, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		var status apierrors.APIStatus
		if err != nil && errors.As(err, &status) && strings.Contains(err.Error(), "at most 4 replicas") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy never denied a scale to 9: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
