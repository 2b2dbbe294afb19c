package kube_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/commands"

	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/bakewise/chatops/bot"
	ops "github.com/bakewise/chatops/integrations/kubernetes"
	"github.com/bakewise/chatops/test/kubeharness"
)

const (
	ordersV1       = "registry.bakery-ia.local/orders-service:1.0.0"
	ordersV2       = "registry.bakery-ia.local/orders-service:2.0.0"
	paused         = "billing-service"
	changeCause    = "kubernetes.io/change-cause"
	revisionKey    = "deployment.kubernetes.io/revision"
	restartedAtKey = "kubectl.kubernetes.io/restartedAt"
	// settleQuiet is how long a Deployment must go unwritten before an
	// action: the bot refuses any write racing its read, the controllers'
	// status updates included, and the test wants only the races it makes.
	settleQuiet = 300 * time.Millisecond
)

// TestOperate: integrations/kubernetes scales, rolls back and restarts
// orders-service as the chatops ServiceAccount bound by the RBAC that the
// shipped overlays build, against the real API server and the real
// deployment and replicaset controllers; an action planned against one
// generation refuses another, and a write racing its read is refused by
// the API server, both without changing anything; a paused Deployment is
// refused; bad input is refused before any request; and every request the
// bot made stayed in its namespace and was allowed.
func TestOperate(t *testing.T) {
	c := kubeharness.Start(t)
	c.AddNode(t, "node-1")
	c.ApplyYAML(t, "testdata/operate.yaml")
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))
	c.KeepRunning(t, namespace, selector, kubeharness.Running())
	admin := c.Clientset()
	c.WaitDeploymentReady(t, namespace, service)

	// Revision 2: a new image, a new env var, its change-cause.
	updateDeployment(t, admin, service, func(d *appsv1.Deployment) {
		d.Annotations[changeCause] = "release 2.0.0"
		ct := &d.Spec.Template.Spec.Containers[0]
		ct.Image = ordersV2
		ct.Env = append(ct.Env, corev1.EnvVar{Name: "FEATURE_BATCH_ORDERS", Value: "on"})
	})
	waitRevision(t, admin, ordersV2, "", "2")
	c.WaitDeploymentReady(t, namespace, service)

	tap := &apiTap{}
	sa := c.ServiceAccountConfig(t, namespace, "chatops")
	sa.WrapTransport = tap.wrap
	cluster, err := ops.New(sa, ops.Config{Namespace: namespace}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var op commands.Cluster = cluster

	t.Run("scale through the scale subresource", func(t *testing.T) {
		settle(t, admin, service)
		plan, err := op.PlanScale(t.Context(), service, 3)
		want := bot.ScalePlan{Namespace: namespace, Service: service, From: 2, To: 3, Version: generationOf(t, admin, service)}
		if err != nil || plan != want {
			t.Fatalf("PlanScale = %+v, %v; want %+v", plan, err, want)
		}
		if err := op.Scale(t.Context(), service, 3, plan.Version); err != nil {
			t.Fatalf("Scale: %v", err)
		}
		if !tap.saw(http.MethodPut, "/apis/apps/v1/namespaces/bakery-ia/deployments/orders-service/scale") {
			t.Errorf("the scale did not go through the scale subresource: %v", tap.requests())
		}
		d := c.WaitDeploymentReady(t, namespace, service)
		if *d.Spec.Replicas != 3 || d.Status.ReadyReplicas != 3 {
			t.Errorf("replicas = %d (ready %d), want 3", *d.Spec.Replicas, d.Status.ReadyReplicas)
		}
	})

	t.Run("scale plan names the HPA that will override it", func(t *testing.T) {
		hpa := &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "orders-service-cpu", Namespace: namespace},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: service},
				MinReplicas:    new(int32(2)),
				MaxReplicas:    6,
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(80))},
				}}},
			},
		}
		if _, err := admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Create(t.Context(), hpa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Delete(context.Background(), hpa.Name, metav1.DeleteOptions{}); err != nil {
				t.Errorf("delete HPA: %v", err)
			}
		}()
		plan, err := op.PlanScale(t.Context(), service, 8)
		if err != nil || plan.HPA != hpa.Name || plan.HPAMin != 2 || plan.HPAMax != 6 || plan.From != 3 || plan.To != 8 {
			t.Fatalf("PlanScale = %+v, %v; want HPA %s 2..6, 3 → 8", plan, err, hpa.Name)
		}
		// Another Deployment's plan does not name it.
		plan, err = op.PlanScale(t.Context(), paused, 2)
		if err != nil || plan.HPA != "" {
			t.Errorf("PlanScale(%s) = %+v, %v; want no HPA", paused, plan, err)
		}
	})

	t.Run("rollback to the previous revision", func(t *testing.T) {
		settle(t, admin, service)
		plan, err := op.PlanRollback(t.Context(), service, 0)
		if err != nil {
			t.Fatalf("PlanRollback: %v", err)
		}
		if plan.FromRevision != 2 || plan.ToRevision != 1 || !slices.Equal(plan.FromImages, []string{ordersV2}) ||
			!slices.Equal(plan.ToImages, []string{ordersV1}) || plan.Version != generationOf(t, admin, service) {
			t.Errorf("PlanRollback = %+v; want 2 → 1, %s → %s", plan, ordersV2, ordersV1)
		}
		wantChanges := []string{
			"container orders-service: image " + ordersV2 + " → " + ordersV1,
			"container orders-service: env removed FEATURE_BATCH_ORDERS",
		}
		if !slices.Equal(plan.Changes, wantChanges) {
			t.Errorf("Changes = %q, want %q", plan.Changes, wantChanges)
		}

		if err := op.Rollback(t.Context(), service, 0, plan.Version); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		d, err := admin.AppsV1().Deployments(namespace).Get(t.Context(), service, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != ordersV1 {
			t.Errorf("template image = %s, want %s", img, ordersV1)
		}
		if _, ok := d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
			t.Errorf("the ReplicaSet's hash label was copied into the Deployment: %v", d.Spec.Template.Labels)
		}
		if d.Annotations[changeCause] != "release 1.0.0" {
			t.Errorf("change-cause = %q, want revision 1's", d.Annotations[changeCause])
		}
		// The controller takes revision 1's ReplicaSet back as revision 3.
		rs := waitRevision(t, admin, ordersV1, "", "3")
		tmpl := rs.Spec.Template.DeepCopy()
		delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		if !apiequality.Semantic.DeepEqual(*tmpl, d.Spec.Template) {
			t.Errorf("the Deployment's template is not revision 1's:\n got %+v\nwant %+v", d.Spec.Template, *tmpl)
		}
		c.WaitDeploymentReady(t, namespace, service)
		hist, err := cluster.History(t.Context(), service)
		if err != nil || len(hist) != 2 || hist[0].Number != 3 || !hist[0].Current || hist[0].ChangeCause != "release 1.0.0" {
			t.Errorf("History = %+v, %v; want revision 3 current, from release 1.0.0", hist, err)
		}
	})

	t.Run("rollback to a named revision", func(t *testing.T) {
		settle(t, admin, service)
		plan, err := op.PlanRollback(t.Context(), service, 2)
		if err != nil || plan.FromRevision != 3 || plan.ToRevision != 2 || !slices.Equal(plan.ToImages, []string{ordersV2}) {
			t.Fatalf("PlanRollback(2) = %+v, %v; want 3 → 2 (%s)", plan, err, ordersV2)
		}
		if err := op.Rollback(t.Context(), service, 2, plan.Version); err != nil {
			t.Fatalf("Rollback(2): %v", err)
		}
		waitRevision(t, admin, ordersV2, "", "4")
		d := c.WaitDeploymentReady(t, namespace, service)
		if img := d.Spec.Template.Spec.Containers[0].Image; img != ordersV2 {
			t.Errorf("template image = %s, want %s", img, ordersV2)
		}

		// Revision 1 became 3, 2 became 4: what is left is 3 and 4.
		if _, err := op.PlanRollback(t.Context(), service, 1); err == nil || !strings.Contains(err.Error(), "has no revision 1 (it has 3, 4)") {
			t.Errorf("PlanRollback(1): err = %v, want an unknown revision naming 3 and 4", err)
		}
		version := generationOf(t, admin, service)
		_, err = op.PlanRollback(t.Context(), service, 4)
		assertRefused(t, "PlanRollback to the current revision", err, "already at that template")
		err = op.Rollback(t.Context(), service, 4, version)
		assertRefused(t, "Rollback to the current revision", err, "already at that template")
		if got := generationOf(t, admin, service); got != version {
			t.Errorf("refused rollback changed the generation %s → %s", version, got)
		}
	})

	t.Run("restart rolls a new ReplicaSet", func(t *testing.T) {
		settle(t, admin, service)
		plan, err := op.PlanRestart(t.Context(), service)
		want := bot.RestartPlan{Namespace: namespace, Service: service, Pods: 3, Version: generationOf(t, admin, service),
			// From the server-side dry run of the write.
			Changes: []string{"pod annotations changed: " + restartedAtKey}}
		if err != nil || !apiequality.Semantic.DeepEqual(plan, want) {
			t.Fatalf("PlanRestart = %+v, %v; want %+v", plan, err, want)
		}
		before := time.Now().Truncate(time.Second)
		if err := op.Restart(t.Context(), service, plan.Version); err != nil {
			t.Fatalf("Restart: %v", err)
		}
		after := time.Now()
		d, err := admin.AppsV1().Deployments(namespace).Get(t.Context(), service, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		at := d.Spec.Template.Annotations[restartedAtKey]
		if ts, err := time.Parse(time.RFC3339, at); err != nil || ts.Before(before) || ts.After(after) {
			t.Errorf("restartedAt = %q (%v), want RFC3339 between %s and %s", at, err, before, after)
		}
		rs := waitRevision(t, admin, ordersV2, at, "5")
		if rs.Spec.Template.Annotations[restartedAtKey] != at {
			t.Errorf("the new ReplicaSet's template lacks restartedAt %s", at)
		}
		c.WaitDeploymentReady(t, namespace, service)
	})

	// Each action's plan, and the action itself run against a version.
	actions := []struct {
		name string
		plan func(context.Context) (string, error)
		act  func(context.Context, string) error
	}{
		{"scale", func(ctx context.Context) (string, error) {
			p, err := op.PlanScale(ctx, service, 2)
			return p.Version, err
		}, func(ctx context.Context, v string) error { return op.Scale(ctx, service, 2, v) }},
		{"rollback", func(ctx context.Context) (string, error) {
			p, err := op.PlanRollback(ctx, service, 0)
			return p.Version, err
		}, func(ctx context.Context, v string) error { return op.Rollback(ctx, service, 0, v) }},
		{"restart", func(ctx context.Context) (string, error) {
			p, err := op.PlanRestart(ctx, service)
			return p.Version, err
		}, func(ctx context.Context, v string) error { return op.Restart(ctx, service, v) }},
	}

	t.Run("a changed generation is refused and nothing is written", func(t *testing.T) {
		for _, a := range actions {
			t.Run(a.name, func(t *testing.T) {
				settle(t, admin, service)
				version, err := a.plan(t.Context())
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				// Someone else changes the spec between plan and approval.
				updateDeployment(t, admin, service, func(d *appsv1.Deployment) { *d.Spec.ProgressDeadlineSeconds++ })
				before, err := admin.AppsV1().Deployments(namespace).Get(t.Context(), service, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				err = a.act(t.Context(), version)
				var stale *bot.StaleError
				wantReason := "generation " + version + " is now " + strconv.FormatInt(before.Generation, 10)
				if !errors.As(err, &stale) || stale.Kind != "deployment" || stale.Name != service || stale.Reason != wantReason {
					t.Fatalf("err = %v, want a StaleError %q", err, wantReason)
				}
				assertUnchanged(t, admin, before)
			})
		}
	})

	t.Run("a spec write racing the read is refused and nothing is written", func(t *testing.T) {
		for _, a := range actions {
			t.Run(a.name, func(t *testing.T) {
				settle(t, admin, service)
				version, err := a.plan(t.Context())
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				// The spec changes after the bot's generation check and
				// before its write: the write conflicts, the fresh read sees
				// the new generation, and the action is refused.
				var raced *appsv1.Deployment
				tap.beforeNextWrite(func() {
					raced = updateDeployment(t, admin, service, func(d *appsv1.Deployment) { *d.Spec.ProgressDeadlineSeconds++ })
				})
				err = a.act(t.Context(), version)
				var stale *bot.StaleError
				if !errors.As(err, &stale) || !strings.Contains(stale.Reason, "generation "+version+" is now") {
					t.Fatalf("err = %v, want a StaleError naming the new generation", err)
				}
				if raced == nil {
					t.Fatal("the racing write did not happen: the test proves nothing")
				}
				assertUnchanged(t, admin, raced)
			})
		}
	})

	t.Run("a metadata write racing the read is retried at the same generation", func(t *testing.T) {
		for _, a := range actions {
			t.Run(a.name, func(t *testing.T) {
				settle(t, admin, service)
				version, err := a.plan(t.Context())
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				// A label (like a status update) changes the resourceVersion
				// but not the generation the approval names: the conflict
				// is retried from a fresh read, and the label survives.
				touched := "touched-by-" + a.name
				tap.beforeNextWrite(func() {
					updateDeployment(t, admin, service, func(d *appsv1.Deployment) { d.Labels["chatops-test"] = touched })
				})
				if err := a.act(t.Context(), version); err != nil {
					t.Fatalf("act: %v", err)
				}
				after, err := admin.AppsV1().Deployments(namespace).Get(t.Context(), service, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if after.Labels["chatops-test"] != touched {
					t.Errorf("the racing write was lost or never happened (labels %v)", after.Labels)
				}
			})
		}
	})

	t.Run("service completion ignores case", func(t *testing.T) {
		for prefix, want := range map[string][]string{
			"ORD": {service}, "Orders-S": {service}, "bIlL": {paused}, "": {paused, service}, "x": nil,
		} {
			got, err := cluster.Services(t.Context(), prefix)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("Services(%q) = %q, %v; want %q", prefix, got, err, want)
			}
		}
	})

	t.Run("a paused deployment is refused", func(t *testing.T) {
		before, err := admin.AppsV1().Deployments(namespace).Get(t.Context(), paused, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		version := strconv.FormatInt(before.Generation, 10)
		_, err = op.PlanRollback(t.Context(), paused, 0)
		assertRefused(t, "PlanRollback", err, "is paused; resume it first")
		assertRefused(t, "Rollback", op.Rollback(t.Context(), paused, 0, version), "is paused; resume it first")
		_, err = op.PlanRestart(t.Context(), paused)
		assertRefused(t, "PlanRestart", err, "is paused; resume it first")
		assertRefused(t, "Restart", op.Restart(t.Context(), paused, version), "is paused; resume it first")
		assertUnchanged(t, admin, before)
	})

	t.Run("bad input is refused before any request", func(t *testing.T) {
		if _, err := ops.New(sa, ops.Config{Namespace: "kube-system", AllowedNamespaces: []string{namespace}}, zaptest.NewLogger(t)); err == nil {
			t.Error("a namespace outside the allow-list was accepted")
		}
		n := len(tap.requests())
		version := generationOf(t, admin, service)
		for name, err := range map[string]error{
			"service name with a comma":       op.Scale(t.Context(), "orders-service,gateway", 1, version),
			"service name in capitals":        op.Restart(t.Context(), "Orders-Service", version),
			"replicas above the bound":        op.Scale(t.Context(), service, 1001, version),
			"negative replicas":               func() error { _, err := op.PlanScale(t.Context(), service, -1); return err }(),
			"negative revision":               op.Rollback(t.Context(), service, -1, version),
			"a version that is no generation": op.Restart(t.Context(), service, "1; drop"),
		} {
			var stale *bot.StaleError
			if err == nil || errors.As(err, &stale) {
				t.Errorf("%s: err = %v, want a refusal", name, err)
			}
		}
		if got := tap.requests()[n:]; len(got) != 0 {
			t.Errorf("requests made for refused input: %v", got)
		}
	})

	t.Run("every request stayed in the namespace and was allowed", func(t *testing.T) {
		reqs := tap.requests()
		if len(reqs) == 0 {
			t.Fatal("the bot made no request at all")
		}
		for _, r := range reqs {
			if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
				t.Errorf("the API server refused the bot: %s", r)
			}
			if !strings.Contains(r.path, "/namespaces/"+namespace+"/") {
				t.Errorf("a request outside %s: %s", namespace, r)
			}
		}
	})
}

// assertRefused checks err is a refusal containing want, not a StaleError:
// re-planning would not help.
func assertRefused(t *testing.T, what string, err error, want string) {
	t.Helper()
	var stale *bot.StaleError
	if err == nil || errors.As(err, &stale) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: err = %v, want a refusal %q", what, err, want)
	}
}

// assertUnchanged checks the Deployment's generation, spec and annotations
// are as in before, and returns it as read now.
func assertUnchanged(t *testing.T, kube kubernetes.Interface, before *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	after, err := kube.AppsV1().Deployments(before.Namespace).Get(t.Context(), before.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || !apiequality.Semantic.DeepEqual(after.Spec, before.Spec) ||
		!apiequality.Semantic.DeepEqual(after.Annotations, before.Annotations) {
		t.Errorf("deployment %s changed: generation %d → %d\nspec before %+v\nspec after  %+v",
			before.Name, before.Generation, after.Generation, before.Spec, after.Spec)
	}
	return after
}

func generationOf(t *testing.T, kube kubernetes.Interface, name string) string {
	t.Helper()
	d, err := kube.AppsV1().Deployments(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(d.Generation, 10)
}

// updateDeployment changes a Deployment as another admin would.
func updateDeployment(t *testing.T, kube kubernetes.Interface, name string, change func(*appsv1.Deployment)) *appsv1.Deployment {
	t.Helper()
	var out *appsv1.Deployment
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := kube.AppsV1().Deployments(namespace).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		change(d)
		out, err = kube.AppsV1().Deployments(namespace).Update(t.Context(), d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update deployment %s: %v", name, err)
	}
	return out
}

// settle waits until the controllers have seen the Deployment's spec and
// stopped writing its status.
func settle(t *testing.T, kube kubernetes.Interface, name string) {
	t.Helper()
	var rv string
	quietSince := time.Now()
	eventually(t, "deployment "+name+" to settle", func(ctx context.Context) (bool, error) {
		d, err := kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.ResourceVersion != rv || d.Status.ObservedGeneration < d.Generation {
			rv, quietSince = d.ResourceVersion, time.Now()
			return false, nil
		}
		return time.Since(quietSince) >= settleQuiet, nil
	})
}

// waitRevision waits for the ReplicaSet of orders-service with image (and,
// when restartedAt is set, that restart annotation) to carry revision rev.
func waitRevision(t *testing.T, kube kubernetes.Interface, image, restartedAt, rev string) appsv1.ReplicaSet {
	t.Helper()
	var found appsv1.ReplicaSet
	eventually(t, "revision "+rev+" of "+image, func(ctx context.Context) (bool, error) {
		d, err := kube.AppsV1().Deployments(namespace).Get(ctx, service, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		list, err := kube.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		for _, rs := range list.Items {
			ref := metav1.GetControllerOf(&rs)
			if ref == nil || ref.UID != d.UID || rs.Spec.Template.Spec.Containers[0].Image != image ||
				rs.Spec.Template.Annotations[restartedAtKey] != restartedAt {
				continue
			}
			found = rs
			return rs.Annotations[revisionKey] == rev, nil
		}
		return false, nil
	})
	return found
}

// apiTap records the bot's requests and can run something just before its
// next write reaches the API server.
type apiTap struct {
	mu     sync.Mutex
	reqs   []tapped
	before func()
}

type tapped struct {
	method, path string
	status       int
	dryRun       bool
}

func (r tapped) String() string { return r.method + " " + r.path + " -> " + strconv.Itoa(r.status) }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (a *apiTap) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		var hook func()
		dryRun := r.URL.Query().Get("dryRun") != ""
		if (r.Method == http.MethodPut || r.Method == http.MethodPatch) && !dryRun {
			a.mu.Lock()
			hook, a.before = a.before, nil
			a.mu.Unlock()
		}
		if hook != nil {
			hook()
		}
		resp, err := rt.RoundTrip(r)
		rec := tapped{method: r.Method, path: r.URL.Path, dryRun: dryRun}
		if err == nil {
			rec.status = resp.StatusCode
		}
		a.mu.Lock()
		a.reqs = append(a.reqs, rec)
		a.mu.Unlock()
		return resp, err
	})
}

func (a *apiTap) beforeNextWrite(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.before = f
}

func (a *apiTap) requests() []tapped {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

func (a *apiTap) saw(method, path string) bool {
	return slices.ContainsFunc(a.requests(), func(r tapped) bool {
		return r.method == method && r.path == path && r.status == http.StatusOK && !r.dryRun
	})
}

// sawDryRun: a dry-run write of path was answered, whatever its outcome.
func (a *apiTap) sawDryRun(path string) bool {
	return slices.ContainsFunc(a.requests(), func(r tapped) bool {
		return r.method == http.MethodPut && r.path == path && r.dryRun && r.status != 0
	})
}
