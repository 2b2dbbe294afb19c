package kubernetes

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/bakewise/chatops/bot"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func replicaSet(rev string) appsv1.ReplicaSet {
	return appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orders-" + rev, Annotations: map[string]string{revisionAnnotation: rev}}}
}

func TestPickRevision(t *testing.T) {
	rss := []appsv1.ReplicaSet{replicaSet("1"), replicaSet("4"), replicaSet("2"), replicaSet("not-a-number")}
	d := func(current string) *appsv1.Deployment {
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders-service"}}
		if current != "" {
			dep.Annotations = map[string]string{revisionAnnotation: current}
		}
		return dep
	}
	tests := []struct {
		name      string
		current   string
		revision  int64
		wantFrom  int64
		wantRS    string
		wantError string
	}{
		{"previous is the highest below the current", "4", 0, 4, "orders-2", ""},
		{"previous skips gaps", "2", 0, 2, "orders-1", ""},
		{"a named revision", "4", 1, 4, "orders-1", ""},
		{"the current revision by name (the template check refuses it later)", "4", 4, 4, "orders-4", ""},
		{"an unknown revision names the known ones", "4", 3, 0, "", "has no revision 3 (it has 1, 2, 4)"},
		{"nothing before the first", "1", 0, 0, "", "no revision before 1"},
		{"an unnumbered deployment runs its newest ReplicaSet", "", 0, 4, "orders-2", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, rs, err := pickRevision(d(tc.current), rss, tc.revision)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil || from != tc.wantFrom || rs.Name != tc.wantRS {
				t.Fatalf("pickRevision = %d, %v, %v; want %d, %s", from, rs, err, tc.wantFrom, tc.wantRS)
			}
		})
	}
}

// fakeCluster is a Cluster over client-go's fake clientset, which records
// every request: enough to prove what happens before any request, not to
// prove the API server's behaviour (test/kube does that).
func fakeCluster(cfg Config, objs ...runtime.Object) (*Cluster, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return &Cluster{cs: cs, cfg: cfg, log: zap.NewNop()}, cs
}

// every Operator method, planned against version "1".
func operatorCalls(c *Cluster, service string, replicas int32) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"PlanScale":    func(ctx context.Context) error { _, err := c.PlanScale(ctx, service, replicas); return err },
		"Scale":        func(ctx context.Context) error { return c.Scale(ctx, service, replicas, "1") },
		"PlanRollback": func(ctx context.Context) error { _, err := c.PlanRollback(ctx, service, 0); return err },
		"Rollback":     func(ctx context.Context) error { return c.Rollback(ctx, service, 0, "1") },
		"PlanRestart":  func(ctx context.Context) error { _, err := c.PlanRestart(ctx, service); return err },
		"Restart":      func(ctx context.Context) error { return c.Restart(ctx, service, "1") },
	}
}

func TestOperatorRefusesBeforeAnyRequest(t *testing.T) {
	t.Run("namespace outside the allow-list", func(t *testing.T) {
		c, cs := fakeCluster(Config{Namespace: "kube-system", AllowedNamespaces: []string{"bakery-ia"}, Timeout: DefaultTimeout})
		for name, call := range operatorCalls(c, "orders-service", 2) {
			if err := call(t.Context()); err == nil || !strings.Contains(err.Error(), "kube-system is not allowed") {
				t.Errorf("%s: err = %v, want the namespace refused", name, err)
			}
		}
		if a := cs.Actions(); len(a) != 0 {
			t.Errorf("requests made: %v", a)
		}
	})
	t.Run("invalid service name", func(t *testing.T) {
		c, cs := fakeCluster(Config{Namespace: "bakery-ia", AllowedNamespaces: []string{"bakery-ia"}, Timeout: DefaultTimeout})
		for name, call := range operatorCalls(c, "orders,service", 2) {
			if err := call(t.Context()); err == nil || !strings.Contains(err.Error(), "not a valid service name") {
				t.Errorf("%s: err = %v, want the name refused", name, err)
			}
		}
		if a := cs.Actions(); len(a) != 0 {
			t.Errorf("requests made: %v", a)
		}
	})
	t.Run("replicas out of bounds", func(t *testing.T) {
		c, cs := fakeCluster(Config{Namespace: "bakery-ia", AllowedNamespaces: []string{"bakery-ia"}, Timeout: DefaultTimeout})
		for _, n := range []int32{-1, maxScaleReplicas + 1} {
			if _, err := c.PlanScale(t.Context(), "orders-service", n); err == nil {
				t.Errorf("PlanScale(%d) accepted", n)
			}
			if err := c.Scale(t.Context(), "orders-service", n, "1"); err == nil {
				t.Errorf("Scale(%d) accepted", n)
			}
		}
		if a := cs.Actions(); len(a) != 0 {
			t.Errorf("requests made: %v", a)
		}
	})
	t.Run("a version that is no generation", func(t *testing.T) {
		c, cs := fakeCluster(Config{Namespace: "bakery-ia", AllowedNamespaces: []string{"bakery-ia"}, Timeout: DefaultTimeout})
		err := c.Restart(t.Context(), "orders-service", "")
		var stale *bot.StaleError
		if err == nil || errors.As(err, &stale) {
			t.Errorf("Restart with an empty version: err = %v, want a plain refusal", err)
		}
		if a := cs.Actions(); len(a) != 0 {
			t.Errorf("requests made: %v", a)
		}
	})
}

// A generation that moved is refused after the one read, before any write.
func TestOperatorStaleVersionNeverWrites(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-service", Namespace: "bakery-ia", Generation: 3, UID: types.UID("d-1"),
			Annotations: map[string]string{revisionAnnotation: "2"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "orders"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "orders"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "orders:2"}}}},
		},
	}
	c, cs := fakeCluster(Config{Namespace: "bakery-ia", AllowedNamespaces: []string{"bakery-ia"}, Timeout: DefaultTimeout}, d)
	for name, call := range operatorCalls(c, "orders-service", 2) {
		if strings.HasPrefix(name, "Plan") {
			continue
		}
		cs.ClearActions()
		err := call(t.Context())
		var stale *bot.StaleError
		if !errors.As(err, &stale) || stale.Name != "orders-service" || stale.Reason != "generation 1 is now 3" {
			t.Errorf("%s: err = %v, want a StaleError naming both generations", name, err)
		}
		for _, a := range cs.Actions() {
			if a.GetVerb() != "get" {
				t.Errorf("%s: %s %s after a stale read", name, a.GetVerb(), a.GetResource().Resource)
			}
		}
	}
}

func TestHPAFor(t *testing.T) {
	hpa := func(name, apiVersion, kind, target string, minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bakery-ia"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: target},
				MinReplicas:    minReplicas, MaxReplicas: 10,
			},
		}
	}
	three := int32(3)
	c, _ := fakeCluster(Config{Namespace: "bakery-ia", AllowedNamespaces: []string{"bakery-ia"}, Timeout: DefaultTimeout},
		hpa("a-statefulset", "apps/v1", "StatefulSet", "orders-service", nil),
		hpa("b-other", "apps/v1", "Deployment", "gateway", nil),
		hpa("c-wrong-group", "example.com/v1", "Deployment", "orders-service", nil),
		hpa("d-orders", "apps/v1", "Deployment", "orders-service", &three),
		hpa("e-auth-default-min", "apps/v1", "Deployment", "auth-service", nil),
	)
	for _, tc := range []struct {
		service  string
		name     string
		min, max int32
	}{
		{"orders-service", "d-orders", 3, 10},
		{"auth-service", "e-auth-default-min", 1, 10},
		{"inventory-service", "", 0, 0},
	} {
		name, lo, hi := c.hpaFor(t.Context(), "bakery-ia", tc.service)
		if name != tc.name || lo != tc.min || hi != tc.max {
			t.Errorf("hpaFor(%s) = %q %d..%d, want %q %d..%d", tc.service, name, lo, hi, tc.name, tc.min, tc.max)
		}
	}
}

func TestVersionIsGeneration(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 42, ResourceVersion: "9001"}}
	if got := version(d); got != strconv.Itoa(42) {
		t.Fatalf("version = %q, want the generation", got)
	}
}
