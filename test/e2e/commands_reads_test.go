package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bakewise/chatops/test/kubeharness"
)

// readCase is a read command typed on each platform; noGolden for the
// answers whose rows depend on the controllers' timing (the namespace's
// events), which are checked by their patterns only.
type readCase struct {
	commandCase
	noGolden bool
}

// TestReadCommands: `/ops events`, `hpa`, `certs` and `gitops`, typed on
// Slack and on Discord, are answered by the chatops binary from a real
// kube-apiserver as the chatops ServiceAccount bound by the shipped RBAC:
// first without cert-manager's and Flux's CustomResourceDefinitions (the
// answer says they are not installed), then with them and objects in
// several states, their status written through the status subresource;
// the events come from the real deployment and replicaset controllers and
// from the test (a BackOff warning, an old one --since leaves out).
func TestReadCommands(t *testing.T) {
	e := setupCommands(t)
	admin := e.cluster.Clientset()
	now := time.Now()
	forecasting := podsOf(t, e, "forecasting-service")[0]
	notification := podsOf(t, e, "notification-service")[0]
	for _, ev := range []corev1.Event{
		event(forecasting, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container forecasting-service in pod "+forecasting.Name, 14, now.Add(-20*time.Minute), now.Add(-2*time.Minute)),
		event(forecasting, corev1.EventTypeNormal, "Pulled", "Container image \"registry.bakery-ia.local/forecasting-service:2.3.0\" already present on machine", 15, now.Add(-20*time.Minute), now),
		event(forecasting, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", 3, now.Add(-3*time.Hour), now.Add(-3*time.Hour)),
		event(notification, corev1.EventTypeWarning, "Failed", "Failed to pull image \"registry.bakery-ia.local/notification-service:9.9.9\": not found", 4, now.Add(-10*time.Minute), now.Add(-3*time.Minute)),
	} {
		if _, err := admin.CoreV1().Events(opsNamespace).Create(t.Context(), &ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	createHPA(t, e)

	platforms := []chatPlatform{&slackSide{e: e}, &discordSide{e: e}}
	for _, p := range platforms {
		t.Run(p.name(), func(t *testing.T) {
			for _, c := range notInstalledCases() {
				t.Run(c.name, func(t *testing.T) { runReadCase(t, e, p, c) })
			}
		})
	}
	applyCustom(t, e.cluster, now)
	for _, p := range platforms {
		t.Run(p.name(), func(t *testing.T) {
			for _, c := range readCases() {
				t.Run(c.name, func(t *testing.T) { runReadCase(t, e, p, c) })
			}
		})
	}
}

func notInstalledCases() []readCase {
	return []readCase{
		{commandCase: commandCase{name: "certs-not-installed", text: "certs", discord: dcmd("certs"),
			want: []string{`cert-manager is not installed in this cluster`}, reject: []string{`CERTIFICATE`}}},
		{commandCase: commandCase{name: "gitops-not-installed", text: "gitops", discord: dcmd("gitops"),
			want: []string{`Flux is not installed in this cluster`}, reject: []string{`KIND`}}},
	}
}

func readCases() []readCase {
	row := func(cells ...string) string { return `(?m)^\s*` + strings.Join(cells, `\s+`) + `\s*$` }
	fc := podRow("forecasting-service")
	return []readCase{
		{commandCase: commandCase{name: "events-service", text: "events forecasting-service", discord: dcmd("events", str("service", "forecasting-service")),
			want: []string{
				`Events of forecasting-service in bakery-ia in the last 1h: \d+, 1 warning`,
				`(?m)^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+COUNT\s+MESSAGE$`,
				// Newest first: the Normal Pulled a minute ago before the BackOff.
				`(?s)Pulled\s+pod/` + fc + `\s+15\s.*BackOff\s+pod/` + fc + `\s+14\s+Back-off restarting`,
				// From the real controllers.
				`Normal\s+ScalingReplicaSet\s+deployment/forecasting-service\s+1\s+Scaled up replica set forecasting-service-[a-z0-9]+ from 0 to 1`,
				`Normal\s+SuccessfulCreate\s+replicaset/forecasting-service-[a-z0-9]+\s+1\s+Created pod: ` + fc,
			},
			// Another service's event, and one older than --since.
			reject: []string{`notification`, `Readiness probe failed`}}},
		{commandCase: commandCase{name: "events-warnings", text: "events forecasting-service --warnings --since 4h",
			discord: dcmd("events", str("service", "forecasting-service"), discordOption{"warnings", optBool, true}, str("since", "4h")),
			want: []string{
				`Events of forecasting-service in bakery-ia in the last 4h: \d+, 2 warnings`,
				`Warnings first, then the others`,
				// Both warnings, newest first, before every Normal event.
				`(?s)LAST SEEN[^\n]*\n[^\n]*Warning\s+BackOff[^\n]*\n[^\n]*Warning\s+Unhealthy\s[^\n]*Readiness probe failed[^\n]*\n[^\n]*Normal\s+Pulled`,
			},
			reject: []string{`notification`}}},
		{commandCase: commandCase{name: "events-since-too-long", text: "events --since 48h", discord: dcmd("events", str("since", "48h")),
			private: true, noCluster: true, want: []string{`since: .*outside`, "usage: `?/ops events"}}},
		{commandCase: commandCase{name: "hpa", text: "hpa", discord: dcmd("hpa"),
			want: []string{
				`1 HorizontalPodAutoscalers`, `1 at their replica bounds \(ScalingLimited\)`,
				regexp.QuoteMeta(`orders-service → Deployment/orders-service: 2 current, 3 desired (min 2, max 3)`),
				row(`METRIC`, `CURRENT`, `TARGET`), row(`cpu`, `92%`, `80%`), row(`memory`, `430Mi avg`, `512Mi avg`),
				regexp.QuoteMeta(`AbleToScale=True (ReadyForNewScale): recommended size matches current size`),
				regexp.QuoteMeta(`ScalingActive=True (ValidMetricFound): the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)`),
				regexp.QuoteMeta(`ScalingLimited=True (TooManyReplicas): the desired replica count is more than the maximum replica count`),
			}}},
		{commandCase: commandCase{name: "hpa-service-none", text: "hpa gateway", discord: dcmd("hpa", str("service", "gateway")),
			want: []string{`No HorizontalPodAutoscaler scales gateway\.`}}},
		{commandCase: commandCase{name: "hpa-unknown-service", text: "hpa ordres-service", discord: dcmd("hpa", str("service", "ordres-service")), private: true,
			want: []string{regexp.QuoteMeta(`no deployment ordres-service in bakery-ia; did you mean orders-service?`)}}},
		{commandCase: commandCase{name: "certs", text: "certs", discord: dcmd("certs"),
			want: []string{
				`Certificates in bakery-ia: 4, 2 not ready, 2 expiring within 14 days`,
				row(`CERTIFICATE`, `READY`, `EXPIRES`, `DAYS LEFT`, `RENEWAL`, `ISSUER`),
				// Soonest expiry first: not issued, expired, 5 days, 80 days.
				`(?s)orders-tls.*internal-tls.*gateway-tls.*api-tls`,
				row(`orders-tls`, `False`, `-`, `-`, `-`, `ClusterIssuer/letsencrypt-prod`),
				row(`internal-tls`, `False`, `\d{4}-\d\d-\d\d`, `expired`, `\d{4}-\d\d-\d\d`, `Issuer/internal-ca`),
				row(`gateway-tls`, `True`, `\d{4}-\d\d-\d\d`, `5`, `\d{4}-\d\d-\d\d`, `ClusterIssuer/letsencrypt-prod`),
				row(`api-tls`, `True`, `\d{4}-\d\d-\d\d`, `80`, `\d{4}-\d\d-\d\d`, `ClusterIssuer/letsencrypt-prod`),
				regexp.QuoteMeta(`orders-tls: Failing: Issuing certificate as Secret does not exist: ACME order failed: 429`) + `.* \(last failure 2h ago\)`,
				regexp.QuoteMeta(`internal-tls: Expired: Certificate expired on the date in notAfter`),
			}}},
		{commandCase: commandCase{name: "gitops", text: "gitops", discord: dcmd("gitops"),
			want: []string{
				`Flux in bakery-ia: 5 objects, 1 not ready, 1 suspended`,
				row(`KIND`, `NAME`, `READY`, `SUSPENDED`, `REVISION`),
				`(?s)HelmRelease\s+redis\s+False.*Kustomization\s+apps`,
				row(`HelmRelease`, `redis`, `False`, `no`, `19\.0\.1`),
				row(`Kustomization`, `monitoring`, `True`, `yes`, `main@sha1:9c1185a5c5e9fc54612808977ee8f548b2258d31`),
				row(`GitRepository`, `bakery-ia`, `True`, `no`, `main@sha1:4b825dc642cb6eb9a060e54bf8d69288fbee4904`),
				regexp.QuoteMeta(`HelmRelease/redis: UpgradeFailed: Helm upgrade failed for release bakery-ia/redis with chart redis@19.0.1: context deadline exceeded`),
			}}},
		// Last: on Slack its long table is uploaded as a file, which the
		// channel's file list (in the goldens) would then show.
		{commandCase: commandCase{name: "events-namespace", text: "events", discord: dcmd("events"),
			want: []string{
				`Events of bakery-ia in the last 1h: \d+, 2 warnings`,
				row(`\d+[smhd]`, `Warning`, `Failed`, `pod/`+podRow("notification-service"), `4`, `Failed to pull image.*`),
				row(`\d+[smhd]`, `Warning`, `BackOff`, `pod/`+fc, `14`, `Back-off.*`),
				`ScalingReplicaSet\s+deployment/orders-service`,
			},
			reject: []string{`Readiness probe failed`}}, noGolden: true},
	}
}

// optBool is Discord's boolean option type.
const optBool = 5

// runReadCase is runCommandCase for the read commands: the dates an
// answer shows (certificates' expiry and renewal) are relative to the
// test's start, so the golden file has <date> in their place.
func runReadCase(t *testing.T, e *commandsEnv, p chatPlatform, c readCase) {
	apiBefore := e.tap.count()
	d := p.send(t, c.commandCase)
	if d.shape != "" {
		t.Errorf("delivery: %s", d.shape)
	}
	if d.private != c.private {
		t.Errorf("delivered privately = %v, want %v", d.private, c.private)
	}
	for _, w := range c.want {
		if re := regexp.MustCompile(w); !re.MatchString(d.text) {
			t.Errorf("the answer does not match %s", re)
		}
	}
	for _, r := range c.reject {
		if m := regexp.MustCompile(r).FindString(d.text); m != "" {
			t.Errorf("the answer shows %q (matching %s), which it must not", m, r)
		}
	}
	if n := e.tap.count() - apiBefore; c.noCluster != (n == 0) {
		t.Errorf("answered with %d Kubernetes requests; want none: %v", n, c.noCluster)
	}
	if t.Failed() {
		t.Logf("delivered answer:\n%s", d.text)
	}
	if !c.noGolden {
		checkGolden(t, fmt.Sprintf("commands-%s-%s.golden", p.name(), c.name), withoutDates(d.golden))
	}
}

var isoDate = regexp.MustCompile(`\b\d{4}-\d\d-\d\d\b`)

// withoutDates is v with every date replaced by <date>.
func withoutDates(v any) any {
	switch x := v.(type) {
	case string:
		return isoDate.ReplaceAllString(x, "<date>")
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = withoutDates(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutDates(e)
		}
		return out
	}
	return v
}

func podsOf(t *testing.T, e *commandsEnv, service string) []corev1.Pod {
	t.Helper()
	list, err := e.cluster.Clientset().CoreV1().Pods(opsNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: selectorOf(service)})
	if err != nil || len(list.Items) == 0 {
		t.Fatalf("pods of %s: %v (%d)", service, err, len(list.Items))
	}
	return list.Items
}

// event is what a kubelet would record about pod.
func event(pod corev1.Pod, typ, reason, msg string, count int32, first, last time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, last.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, APIVersion: "v1",
			FieldPath: "spec.containers{" + pod.Spec.Containers[0].Name + "}"},
		Type: typ, Reason: reason, Message: msg, Count: count,
		FirstTimestamp: metav1.NewTime(first), LastTimestamp: metav1.NewTime(last),
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"},
	}
}

// createHPA makes orders-service's autoscaler and writes the status the
// HPA controller (which does not run here) would: at its maximum, CPU over
// target.
func createHPA(t *testing.T, e *commandsEnv) {
	t.Helper()
	hpas := e.cluster.Clientset().AutoscalingV2().HorizontalPodAutoscalers(opsNamespace)
	h, err := hpas.Create(t.Context(), &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-service", Namespace: opsNamespace},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders-service"},
			MinReplicas:    new(int32(2)), MaxReplicas: 3,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(80))}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: new(resource.MustParse("512Mi"))}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := metav1.Now()
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		CurrentReplicas: 2, DesiredReplicas: 3,
		CurrentMetrics: []autoscalingv2.MetricStatus{
			{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: new(int32(92)), AverageValue: new(resource.MustParse("460m"))}}},
			{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceMemory,
				Current: autoscalingv2.MetricValueStatus{AverageValue: new(resource.MustParse("430Mi"))}}},
		},
		Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale", Message: "recommended size matches current size", LastTransitionTime: at},
			{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound", Message: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", LastTransitionTime: at},
			{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue, Reason: "TooManyReplicas", Message: "the desired replica count is more than the maximum replica count", LastTransitionTime: at},
		},
	}
	if _, err := hpas.UpdateStatus(t.Context(), h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// applyCustom installs the CRDs, waits until the API server serves them,
// and applies testdata/reads-objects.yaml (times relative to now) with
// each object's status written through the status subresource.
func applyCustom(t *testing.T, c *kubeharness.Cluster, now time.Time) {
	t.Helper()
	c.ApplyYAML(t, filepath.Join("testdata", "reads-crds.yaml"))
	c.WaitServed(t, readsGroupVersions...)
	raw, err := os.ReadFile(filepath.Join("testdata", "reads-objects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyWithStatus(t, kubeharness.RelativeTimes(string(raw), now))
}

// readsGroupVersions are what testdata/reads-crds.yaml defines.
var readsGroupVersions = []string{"cert-manager.io/v1", "kustomize.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1", "helm.toolkit.fluxcd.io/v2"}
