package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bakewise/chatops/test/kubeharness"
)

// deliveryService is a service with a sidecar, for logs --container.
const deliveryService = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: delivery-service
  namespace: bakery-ia
  labels: {app.kubernetes.io/name: delivery-service}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: delivery-service}
  template:
    metadata:
      labels: {app.kubernetes.io/name: delivery-service}
    spec:
      containers:
        - name: delivery-service
          image: registry.bakery-ia.local/delivery-service:1.2.0
        - name: log-shipper
          image: registry.bakery-ia.local/vector:0.48.0
`

// clusterCase is a commandCase with what the cluster must look like
// before it is typed.
type clusterCase struct {
	commandCase
	prepare func(t *testing.T)
}

// TestCommandsCluster: what health and logs show beyond pod states,
// typed on Slack and Discord and answered by the chatops binary from the
// real control plane: top pods by memory and CPU from metrics.k8s.io,
// served by a TLS stand-in behind the apiserver's aggregation layer; a
// Node whose kubelet stopped posting; logs --since, --container and
// --previous through the real pods/log path to the kubelet stand-in, and
// an unknown container refused clearly. On Discord, service-name
// autocomplete ignores case and comes from the cluster's Deployments.
func TestCommandsCluster(t *testing.T) {
	started := time.Now()
	e := setupCommands(t)
	c := e.cluster

	c.ApplyManifest(t, deliveryService)
	delivery := c.RunPods(t, opsNamespace, selectorOf("delivery-service"), kubeharness.Running())[0]
	c.WaitDeploymentReady(t, opsNamespace, "delivery-service")
	node2 := c.AddNode(t, "node-2")

	// metrics.k8s.io: usage for the running pods, distinct so that the
	// order is the test's; the crashing and unpulled ones have none, as
	// metrics-server has none for containers that do not run, and
	// delivery-service's is not scraped yet.
	metrics := c.ServeMetrics(t)
	pods, err := c.Clientset().CoreV1().Pods(opsNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byService, serviceOf := map[string][]string{}, map[string]string{}
	for _, p := range pods.Items {
		svc := p.Labels["app.kubernetes.io/name"]
		byService[svc] = append(byService[svc], p.Name)
		serviceOf[p.Name] = svc
	}
	for _, names := range byService {
		slices.Sort(names)
	}
	usage := map[string][2]string{ // pod → CPU, memory
		e.ordersPod[0]:               {"420m", "310Mi"},
		e.ordersPod[1]:               {"180m", "290Mi"},
		byService["gateway"][0]:      {"650m", "128Mi"},
		byService["auth-service"][0]: {"35m", "96Mi"},
		// OOMKilled, running again close to its limit.
		byService["inventory-service"][0]: {"90m", "1010Mi"},
	}
	for pod, u := range usage {
		metrics.SetUsage(opsNamespace, pod, kubeharness.ContainerUsage{Name: serviceOf[pod], CPU: u[0], Memory: u[1]})
	}

	// Logs: orders-service's with times, for --since; delivery-service's
	// two containers; inventory-service's previous run (it was
	// OOMKilled, so its status has one).
	for i, p := range e.ordersPod {
		at := func(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339Nano) + " " }
		e.node.SetLogs(opsNamespace, p, "orders-service", []string{
			at(2*time.Hour) + "INFO orders-service 1.5.0 listening on :8000",
			at(90*time.Minute) + "INFO connected to orders-db (pool 10)",
			at(4*time.Minute) + ordersLogs[i][4],
			at(time.Minute) + ordersLogs[i][6],
		}, nil)
	}
	e.node.SetLogs(opsNamespace, delivery.Name, "delivery-service", []string{"INFO delivery-service 1.2.0 listening on :8000", "INFO route planned for 14 orders"}, nil)
	e.node.SetLogs(opsNamespace, delivery.Name, "log-shipper", []string{"vector: shipped 120 events to loki", "vector: buffer 3% full"}, nil)
	inventory, auth := byService["inventory-service"][0], byService["auth-service"][0]
	e.node.SetLogs(opsNamespace, inventory, "inventory-service",
		[]string{"INFO inventory-service 3.0.1 listening on :8000"},
		[]string{"INFO loading stock snapshot (2.1 GB)", "fatal error: runtime: out of memory"})

	ordersRecent := []string{logLine(ordersLogs[0][4]), logLine(ordersLogs[0][6]), logLine(ordersLogs[1][4]), logLine(ordersLogs[1][6])}
	topRow := func(pod, first, second string) string {
		return `(?m)^` + regexp.QuoteMeta(pod) + `\s+` + first + `\s+` + second + `$`
	}
	order := func(pods ...string) string {
		for i, p := range pods {
			pods[i] = regexp.QuoteMeta(p)
		}
		return strings.Join(pods, ".*")
	}
	nodeReady := func(status corev1.ConditionStatus) func(t *testing.T) {
		return func(t *testing.T) { node2.SetReadyStatus(t, status) }
	}
	cases := []clusterCase{
		{prepare: nodeReady(corev1.ConditionTrue), commandCase: commandCase{
			name: "health-top", text: "health", discord: dcmd("health"),
			want: []string{
				`bakery-ia: 3 pods in trouble, 2 of 7 deployments not ready, 0 nodes not ready`,
				`(?m)^TOP MEMORY\s+MEMORY\s+CPU$`,
				topRow(inventory, "1010Mi", "90m"), topRow(e.ordersPod[0], "310Mi", "420m"), topRow(e.ordersPod[1], "290Mi", "180m"),
				topRow(byService["gateway"][0], "128Mi", "650m"), topRow(auth, "96Mi", "35m"),
				`(?s)TOP MEMORY.*` + order(inventory, e.ordersPod[0], e.ordersPod[1], byService["gateway"][0], auth) + `.*TOP CPU`,
				`(?m)^TOP CPU\s+CPU\s+MEMORY$`,
				topRow(byService["gateway"][0], "650m", "128Mi"), topRow(e.ordersPod[0], "420m", "310Mi"), topRow(e.ordersPod[1], "180m", "290Mi"),
				topRow(inventory, "90m", "1010Mi"), topRow(auth, "35m", "96Mi"),
				`(?s)TOP CPU.*` + order(byService["gateway"][0], e.ordersPod[0], e.ordersPod[1], inventory, auth),
			},
			reject: []string{`not available`, podRow("delivery-service"), `NODE\s+READY`},
		}},
		{prepare: nodeReady(corev1.ConditionUnknown), commandCase: commandCase{
			name: "health-node-not-ready", text: "health", discord: dcmd("health"),
			want: []string{
				`bakery-ia: 3 pods in trouble, 2 of 7 deployments not ready, 1 nodes not ready`,
				`(?m)^NODE\s+READY\s+REASON\s+FOR$`,
				`(?m)^node-2\s+Unknown\s+NodeStatusUnknown\s+\d+[smhd]$`,
				`(?m)^node-2: Kubelet stopped posting node status\.$`,
			},
			reject: []string{`(?m)^node-1\s`},
		}},
		{commandCase: commandCase{
			name: "logs-since", text: "logs orders-service --since 10m", discord: dcmd("logs", str("service", "orders-service"), str("since", "10m")),
			want:   append([]string{regexp.QuoteMeta(`orders-service logs: 4 lines from 2 pods (tail 100, since 10m0s)`)}, ordersRecent...),
			reject: []string{`listening on`, `connected to orders-db`},
			kubelet: func(t *testing.T, orders [2]string, reqs []kubeharness.LogRequest) {
				checkLogRequests(t, reqs, orders[:], "orders-service", "sinceSeconds", "600")
			},
		}},
		{commandCase: commandCase{
			name: "logs-container", text: "logs delivery-service --container log-shipper",
			discord: dcmd("logs", str("service", "delivery-service"), str("container", "log-shipper")),
			want: []string{regexp.QuoteMeta(`delivery-service logs: 2 lines from 1 pods (tail 100, container log-shipper)`),
				`(?m)^vector: shipped 120 events to loki$`, `(?m)^vector: buffer 3% full$`},
			reject: []string{`delivery-service 1\.2\.0`, `route planned`},
			kubelet: func(t *testing.T, _ [2]string, reqs []kubeharness.LogRequest) {
				checkLogRequests(t, reqs, []string{delivery.Name}, "log-shipper", "tailLines", "100")
			},
		}},
		{commandCase: commandCase{
			name: "logs-previous", text: "logs inventory-service --previous",
			discord: dcmd("logs", str("service", "inventory-service"), discordOption{"previous", optBoolean, true}),
			want: []string{regexp.QuoteMeta(`inventory-service logs: 2 lines from 1 pods (tail 100, previous container)`),
				`(?m)^INFO loading stock snapshot \(2\.1 GB\)$`, `(?m)^fatal error: runtime: out of memory$`},
			reject: []string{`listening on`},
			kubelet: func(t *testing.T, _ [2]string, reqs []kubeharness.LogRequest) {
				checkLogRequests(t, reqs, []string{inventory}, "inventory-service", "previous", "true")
			},
		}},
		{commandCase: commandCase{
			name: "logs-previous-none", text: "logs orders-service --previous",
			discord: dcmd("logs", str("service", "orders-service"), discordOption{"previous", optBoolean, true}),
			want: []string{regexp.QuoteMeta(`orders-service logs: 0 lines from 2 pods (tail 100, previous container)`),
				`No previous container \(it has not restarted\) in 2 of 2 pods: ` + podRow("orders-service") + `, ` + podRow("orders-service") + `\.`,
				`No lines\.`},
			kubelet: func(t *testing.T, _ [2]string, reqs []kubeharness.LogRequest) {
				if len(reqs) != 0 {
					t.Errorf("the kubelet stand-in got %d log requests for pods that never restarted, want none", len(reqs))
				}
			},
		}},
		{commandCase: commandCase{
			name: "logs-unknown-container", text: "logs orders-service --container sidecar",
			discord: dcmd("logs", str("service", "orders-service"), str("container", "sidecar")), private: true,
			want: []string{`pod ` + podRow("orders-service") + ` has no container sidecar; its containers: orders-service`},
			kubelet: func(t *testing.T, _ [2]string, reqs []kubeharness.LogRequest) {
				if len(reqs) != 0 {
					t.Errorf("the kubelet stand-in got %d log requests for an unknown container, want none", len(reqs))
				}
			},
		}},
	}

	for _, p := range []chatPlatform{&slackSide{e: e}, &discordSide{e: e}} {
		t.Run(p.name(), func(t *testing.T) {
			for _, cc := range cases {
				t.Run(cc.name, func(t *testing.T) {
					if cc.prepare != nil {
						cc.prepare(t)
					}
					runCommandCase(t, e, p, cc.commandCase)
				})
			}
		})
	}

	t.Run("discord-autocomplete", func(t *testing.T) {
		for prefix, want := range map[string][]string{
			"ORD": {"orders-service"}, "Inv": {"inventory-service"}, "": {"auth-service", "delivery-service", "forecasting-service", "gateway", "inventory-service", "notification-service", "orders-service"},
			"zz": {},
		} {
			before := e.tap.count()
			got := discordAutocomplete(t, e, prefix)
			if !slices.Equal(got, want) {
				t.Errorf("autocomplete of %q = %q, want %q", prefix, got, want)
			}
			if e.tap.count() == before {
				t.Errorf("autocomplete of %q did not ask the cluster", prefix)
			}
		}
	})

	t.Run("metrics-through-the-aggregator", func(t *testing.T) {
		var lists int
		for _, r := range metrics.Requests() {
			if strings.HasSuffix(r.Path, "/pods") {
				lists++
				if r.User != "system:serviceaccount:"+opsNamespace+":chatops" || r.Path != "/apis/metrics.k8s.io/v1beta1/namespaces/"+opsNamespace+"/pods" {
					t.Errorf("the metrics stand-in got %s for %s, want the bot's ServiceAccount listing bakery-ia", r.Path, r.User)
				}
			}
		}
		if lists != 4 { // two health commands on each platform
			t.Errorf("the metrics stand-in got %d pod metrics lists, want 4", lists)
		}
	})
	t.Logf("TestCommandsCluster took %s", time.Since(started).Round(time.Millisecond))
}

const optBoolean = 5

// checkLogRequests: one request per pod, each for container with
// param=value.
func checkLogRequests(t *testing.T, reqs []kubeharness.LogRequest, pods []string, container, param, value string) {
	t.Helper()
	var got []string
	for _, r := range reqs {
		got = append(got, r.Pod)
		if r.Namespace != opsNamespace || r.Container != container || r.Query.Get(param) != value {
			t.Errorf("kubelet stand-in got %s/%s/%s ?%s, want container %s with %s=%s", r.Namespace, r.Pod, r.Container, r.Query.Encode(), container, param, value)
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(pods)); !slices.Equal(got, want) {
		t.Errorf("kubelet stand-in got log requests for %v, want one for each of %v", got, want)
	}
}

// discordAutocomplete types prefix into /ops logs' service option, as
// Discord sends it while someone types, and returns the choices the bot
// answered with.
func discordAutocomplete(t *testing.T, e *commandsEnv, prefix string) []string {
	t.Helper()
	id, token := e.cfg.Discord.NewInteraction(discordApp, discordOpsChannel)
	var v map[string]any
	if err := json.Unmarshal(discordBody(id, token, discordOpsChannel, dcmd("logs")), &v); err != nil {
		t.Fatal(err)
	}
	v["type"] = 4 // APPLICATION_COMMAND_AUTOCOMPLETE
	sub := v["data"].(map[string]any)["options"].([]any)[0].(map[string]any)
	sub["options"] = []map[string]any{{"name": "service", "type": optString, "value": prefix, "focused": true}}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	code, resp := postSigned(t, e.bot, "/discord/interactions", signDiscord(e.key, time.Now(), body), body)
	if code != http.StatusOK {
		t.Fatalf("autocomplete %q: HTTP %d %s", prefix, code, resp)
	}
	var ans struct {
		Type int `json:"type"`
		Data struct {
			Choices []struct{ Name, Value string } `json:"choices"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp, &ans); err != nil || ans.Type != 8 {
		t.Fatalf("autocomplete %q: answer %s (%v), want type 8 with choices", prefix, resp, err)
	}
	got := []string{}
	for _, c := range ans.Data.Choices {
		got = append(got, c.Value)
	}
	return got
}
