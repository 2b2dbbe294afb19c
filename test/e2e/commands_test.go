package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/slack-go/slack"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
	"github.com/bakewise/chatops/test/kubeharness"
)

var update = flag.Bool("update", false, "rewrite TestCommands' golden files (testdata/commands-<platform>-<case>.golden)")

// What testdata/commands.yaml and testdata/bakery-ia.yaml name.
const (
	opsNamespace = "bakery-ia"

	slackOpsChannel   = "C0OPS"    // commands.channels
	slackOtherChannel = "C0RANDOM" // not in commands.channels
	slackUser         = "U0ANA"

	discordApp          = "100000000000000020" // discord.app_id
	discordGuild        = "100000000000000010" // discord.guild_ids
	discordOpsChannel   = "100000000000000011" // commands.channels
	discordOtherChannel = "100000000000000012" // not in commands.channels
	discordCategory     = "100000000000000013"
	discordUser         = "200000000000000001"
	discordCommandID    = "100000000000000021"

	// staleBy is older than both platforms' 5-minute signature window.
	staleBy = 6 * time.Minute
)

// Discord option types.
const (
	optString  = 3
	optInteger = 4
)

// The log lines the kubelet stand-in serves for orders-service's two pods
// (by pod name order): seven each, so --tail 5 shows it reached the kubelet.
var ordersLogs = [2][]string{
	{
		"INFO orders-service 1.5.0 listening on :8000",
		"INFO connected to orders-db (pool 10)",
		"INFO GET /health 200",
		"INFO POST /orders 201 order=ORD-1041",
		"ERROR POST /orders 502 order=ORD-1042: inventory-service timed out",
		"INFO GET /orders/ORD-1041 200",
		"WARN slow query on orders.items",
	},
	{
		"INFO orders-service 1.5.0 listening on :8000",
		"INFO connected to orders-db (pool 10)",
		"INFO POST /orders 201 order=ORD-1043",
		"ERROR payment webhook rejected: signature mismatch order=ORD-1044",
		"INFO GET /health 200",
		"INFO POST /orders 201 order=ORD-1045",
		"INFO GET /orders/ORD-1045 200",
	},
}

// TestCommands: `/ops health`, `logs`, `history`, `status` and `help`, typed
// on Slack (a signed slash command whose answer goes to its response_url)
// and on Discord (a signed HTTP interaction whose deferred response is
// edited), are answered by the chatops binary from a real kube-apiserver,
// as the chatops ServiceAccount bound by deploy/kubernetes/base/rbac.yaml (and,
// for health's firing alerts, from a real Alertmanager's API v2); bad
// input gets a usage line, a suggestion or a polite refusal, privately; and
// unsigned, forged, stale, tampered and replayed requests are refused with
// 401 before any work: no answer, no Kubernetes request.
func TestCommands(t *testing.T) {
	started := time.Now()
	e := setupCommands(t)
	t.Logf("cluster, workload and bot ready in %s", time.Since(started).Round(time.Millisecond))

	platforms := []chatPlatform{&slackSide{e: e}, &discordSide{e: e}}
	for _, p := range platforms {
		t.Run(p.name(), func(t *testing.T) {
			for _, c := range commandCases() {
				t.Run(c.name, func(t *testing.T) { runCommandCase(t, e, p, c) })
			}
			t.Run("refusals", func(t *testing.T) { p.refusals(t) })
		})
	}

	t.Run("discord-registration", func(t *testing.T) {
		// Registered at start by bulk overwrite in the configured guild.
		var cmds []struct {
			Name    string `json:"name"`
			Options []struct {
				Name string `json:"name"`
			} `json:"options"`
		}
		harness.Eventually(t, "/ops registered in guild "+discordGuild, func() (bool, string) {
			raw := e.cfg.Discord.RegisteredCommands(discordApp, discordGuild)
			return raw != nil && json.Unmarshal(raw, &cmds) == nil, string(raw)
		})
		var subs []string
		for _, c := range cmds {
			if c.Name == "ops" {
				for _, o := range c.Options {
					subs = append(subs, o.Name)
				}
			}
		}
		for _, want := range []string{"health", "logs", "history", "status", "events", "hpa", "certs", "gitops", "help"} {
			if !slices.Contains(subs, want) {
				t.Errorf("registered /ops subcommands %v lack %s", subs, want)
			}
		}
	})

	// The bot read everything it needed with the shipped RBAC: not one of
	// its requests was refused.
	t.Run("rbac-enough", func(t *testing.T) {
		reqs := e.tap.requests()
		if len(reqs) == 0 {
			t.Fatal("the bot made no Kubernetes request at all")
		}
		for _, r := range reqs {
			if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
				t.Errorf("the API server refused the bot: %s %s -> %d", r.Method, r.Path, r.Status)
			}
		}
	})
	t.Logf("TestCommands took %s", time.Since(started).Round(time.Millisecond))
}

// ---------------------------------------------------------------------------
// the cases

// commandCase is one command typed on each platform.
type commandCase struct {
	name    string // golden file: testdata/commands-<platform>-<name>.golden
	text    string // Slack: what follows /ops
	discord discordCommand
	// elsewhere types it in a channel where commands are not accepted.
	elsewhere bool
	// private: only the person who asked may see the answer.
	private bool
	// want are regular expressions the delivered answer must match, and
	// reject ones it must not; {channel} is the platform's ops channel.
	want, reject []string
	// noCluster: answered without a single Kubernetes request.
	noCluster bool
	// kubelet checks the log requests the kubelet stand-in received;
	// orders are orders-service's pods.
	kubelet func(t *testing.T, orders [2]string, reqs []kubeharness.LogRequest)
}

// discordCommand is /ops <sub> with typed options, as Discord sends it.
type discordCommand struct {
	sub  string
	opts []discordOption
}

type discordOption struct {
	name  string
	typ   int
	value any
}

func dcmd(sub string, opts ...discordOption) discordCommand {
	return discordCommand{sub: sub, opts: opts}
}
func str(name, v string) discordOption     { return discordOption{name, optString, v} }
func num(name string, v int) discordOption { return discordOption{name, optInteger, v} }

func (c discordCommand) String() string {
	s := "/ops " + c.sub
	for _, o := range c.opts {
		s += fmt.Sprintf(" %s:%v", o.name, o.value)
	}
	return s
}

// podRow is a pod of svc in a table row: its name with the ReplicaSet hash
// and the pod's own suffix.
func podRow(svc string) string { return regexp.QuoteMeta(svc) + `-[a-z0-9]+-[a-z0-9]{5}` }

func logLine(l string) string {
	return `(?m)^` + podRow("orders-service") + ` \| ` + regexp.QuoteMeta(l) + `$`
}

func commandCases() []commandCase {
	var tail5, firstTwo, errors, notErrors []string
	for _, lines := range ordersLogs {
		for i, l := range lines {
			if i >= len(lines)-5 {
				tail5 = append(tail5, logLine(l))
			} else {
				firstTwo = append(firstTwo, logLine(l))
			}
			if strings.HasPrefix(l, "ERROR") {
				errors = append(errors, logLine(l))
			} else {
				notErrors = append(notErrors, `(?m)`+regexp.QuoteMeta(l)+`$`)
			}
		}
	}
	metricsMissing := `metrics\.k8s\.io is not available`
	firingAlerts := `Firing alerts: 1 critical, 1 warning`
	return []commandCase{
		{
			name: "health", text: "health", discord: dcmd("health"),
			want: []string{
				`bakery-ia: 3 pods in trouble, 2 of 6 deployments not ready, 0 nodes not ready`,
				// Worst first, with restart counts.
				`(?m)^POD\s+REASON\s+READY\s+RESTARTS\s+AGE$`,
				`(?m)^` + podRow("forecasting-service") + `\s+CrashLoopBackOff\s+0/1\s+7\s+\d+[smhd]$`,
				`(?m)^` + podRow("inventory-service") + `\s+OOMKilled\s+1/1\s+3\s+\d+[smhd]$`,
				`(?m)^` + podRow("notification-service") + `\s+ImagePullBackOff\s+0/1\s+0\s+\d+[smhd]$`,
				`(?s)CrashLoopBackOff.*OOMKilled.*ImagePullBackOff`,
				// Deployments ready/desired, not ready first.
				`(?m)^DEPLOYMENT\s+READY\s+UP-TO-DATE$`,
				`(?m)^forecasting-service\s+0/1\s+1$`, `(?m)^notification-service\s+0/1\s+1$`,
				`(?m)^auth-service\s+1/1\s+1$`, `(?m)^gateway\s+1/1\s+1$`, `(?m)^inventory-service\s+1/1\s+1$`,
				`(?m)^orders-service\s+2/2\s+2$`,
				`(?s)notification-service\s+0/1.*auth-service\s+1/1`,
				metricsMissing, firingAlerts,
			},
			reject: []string{podRow("orders-service"), podRow("gateway"), `Nodes not Ready`},
		},
		{
			name: "health-service", text: "health orders-service", discord: dcmd("health", str("service", "orders-service")),
			// Only orders-service's own alert (the warning is inventory-service's).
			want:   []string{`orders-service in bakery-ia is healthy: 2 pods, 1 deployments ready`, `(?m)^orders-service\s+2/2\s+2$`, metricsMissing, `Firing alerts: 1 critical$|Firing alerts: 1 critical\W`},
			reject: []string{`forecasting`, `inventory`, `notification`, `gateway`, `CrashLoopBackOff`},
		},
		{
			name: "logs-tail", text: "logs orders-service --tail 5", discord: dcmd("logs", str("service", "orders-service"), num("tail", 5)),
			want:   append([]string{regexp.QuoteMeta(`orders-service logs: 10 lines from 2 pods (tail 5)`)}, tail5...),
			reject: firstTwo,
			kubelet: func(t *testing.T, orders [2]string, reqs []kubeharness.LogRequest) {
				var pods []string
				for _, r := range reqs {
					pods = append(pods, r.Pod)
					if r.Namespace != opsNamespace || r.Container != "orders-service" || r.Query.Get("tailLines") != "5" {
						t.Errorf("kubelet stand-in got %s/%s/%s ?%s, want bakery-ia/<orders pod>/orders-service with tailLines=5",
							r.Namespace, r.Pod, r.Container, r.Query.Encode())
					}
				}
				sort.Strings(pods)
				if !slices.Equal(pods, orders[:]) {
					t.Errorf("kubelet stand-in got log requests for pods %v, want one for each of %v", pods, orders)
				}
			},
		},
		{
			name: "logs-grep", text: "logs orders-service --grep ERROR", discord: dcmd("logs", str("service", "orders-service"), str("grep", "ERROR")),
			want:   append([]string{regexp.QuoteMeta(`orders-service logs: 2 lines from 2 pods (tail 100, grep ERROR)`)}, errors...),
			reject: notErrors,
			kubelet: func(t *testing.T, _ [2]string, reqs []kubeharness.LogRequest) {
				for _, r := range reqs {
					if r.Query.Get("tailLines") != "100" {
						t.Errorf("kubelet stand-in got tailLines=%q, want the default 100", r.Query.Get("tailLines"))
					}
				}
				if len(reqs) != 2 {
					t.Errorf("kubelet stand-in got %d log requests, want 2", len(reqs))
				}
			},
		},
		{
			name: "history", text: "history orders-service", discord: dcmd("history", str("service", "orders-service")),
			want: []string{
				`orders-service: 2 revisions`,
				`(?m)^REVISION\s+AGE\s+IMAGE\s+CHANGE-CAUSE$`,
				`(?m)^2 \(current\)\s+\d+[smhd]\s+registry\.bakery-ia\.local/orders-service:1\.5\.0\s+release 2026\.02: orders-service 1\.5\.0, checkout retries$`,
				`(?m)^1\s+\d+[smhd]\s+registry\.bakery-ia\.local/orders-service:1\.4\.2\s+release 2026\.01: orders-service 1\.4\.2$`,
				`(?s)2 \(current\).*\n1\s`,
			},
		},
		{
			name: "status", text: "status orders-service", discord: dcmd("status", str("service", "orders-service")),
			want: []string{
				`✅ orders-service: successfully rolled out`,
				`Desired`, `Updated`, `Ready`, `Available`,
				regexp.QuoteMeta(`Available=True (MinimumReplicasAvailable): Deployment has minimum availability.`),
				`Progressing=True \(NewReplicaSetAvailable\): ReplicaSet "orders-service-[a-z0-9]+" has successfully progressed\.`,
			},
		},
		{
			name: "help", text: "help", discord: dcmd("help"), private: true, noCluster: true,
			want: []string{`/ops health`, `/ops logs <service>`, `/ops history <service>`, `/ops status <service>`, `/ops help`},
		},
		{
			name: "help-logs", text: "help logs", discord: dcmd("help", str("command", "logs")), private: true, noCluster: true,
			want: []string{`/ops logs <service>`, `--tail`, `--grep`, regexp.QuoteMeta(`lines per pod (default 100, at most 2000)`)},
		},
		{
			name: "unknown-service", text: "logs ordres-service", discord: dcmd("logs", str("service", "ordres-service")), private: true,
			want: []string{regexp.QuoteMeta(`no deployment ordres-service in bakery-ia; did you mean orders-service?`)},
		},
		{
			name: "bad-argument", text: "logs orders-service --tail 99999", discord: dcmd("logs", str("service", "orders-service"), num("tail", 99999)),
			private: true, noCluster: true,
			want: []string{`tail: 99999 is outside 1\.\.2000`, "usage: `?/ops logs <service>"},
		},
		{
			name: "channel-not-allowed", text: "health", discord: dcmd("health"), elsewhere: true, private: true, noCluster: true,
			want:   []string{`Commands are not accepted in this channel`, `<#{channel}>`},
			reject: []string{`CrashLoopBackOff`, `DEPLOYMENT`},
		},
	}
}

// runCommandCase types c on platform p, waits until the bot has delivered
// its answer, and checks it: what it says, who may see it, what work it
// did, and its golden file.
func runCommandCase(t *testing.T, e *commandsEnv, p chatPlatform, c commandCase) {
	apiBefore, kubeletBefore := e.tap.count(), len(e.node.LogRequests())
	d := p.send(t, c)

	if d.shape != "" {
		t.Errorf("delivery: %s", d.shape)
	}
	if d.private != c.private {
		t.Errorf("delivered privately = %v, want %v", d.private, c.private)
	}
	for _, w := range c.want {
		re := regexp.MustCompile(strings.ReplaceAll(w, "{channel}", p.opsChannel()))
		if !re.MatchString(d.text) {
			t.Errorf("the answer does not match %s", re)
		}
	}
	for _, r := range c.reject {
		re := regexp.MustCompile(r)
		if m := re.FindString(d.text); m != "" {
			t.Errorf("the answer shows %q (matching %s), which it must not", m, re)
		}
	}
	if c.noCluster {
		if n := e.tap.count() - apiBefore; n != 0 {
			t.Errorf("answered with %d Kubernetes requests, want none: %v", n, e.tap.requests()[apiBefore:])
		}
	} else if e.tap.count() == apiBefore {
		t.Errorf("answered without asking the Kubernetes API")
	}
	if c.kubelet != nil {
		c.kubelet(t, e.ordersPod, e.node.LogRequests()[kubeletBefore:])
	}
	if t.Failed() {
		t.Logf("delivered answer:\n%s", d.text)
	}
	checkGolden(t, fmt.Sprintf("commands-%s-%s.golden", p.name(), c.name), d.golden)
}

// delivery is a command's answer as the platform's stand-in received it.
type delivery struct {
	golden any    // what the golden file holds
	text   string // every string of the answer, for the checks
	// private is true when only the person who asked could see it.
	private bool
	// shape says what is wrong with how it was delivered ("" when nothing).
	shape string
}

type chatPlatform interface {
	name() string
	opsChannel() string
	// send types c as a real signed request, requires the bot's 200, and
	// returns what was delivered once the bot has answered.
	send(t *testing.T, c commandCase) delivery
	// refusals sends unsigned, forged, stale, tampered and replayed
	// requests and checks each is refused before any work.
	refusals(t *testing.T)
}

// ---------------------------------------------------------------------------
// the environment: control plane, workload, bot

type commandsEnv struct {
	cluster   *kubeharness.Cluster
	am        *harness.Alertmanager // the one the bot reads and silences through
	node      *kubeharness.Node
	tap       *apiTap
	cfg       *harness.BotConfig
	bot       *harness.Bot
	secret    string             // Slack signing secret
	key       ed25519.PrivateKey // the Discord application's key
	ordersPod [2]string          // by name, as ordersLogs
}

func setupCommands(t *testing.T) *commandsEnv {
	t.Helper()
	return setupCommandsWith(t, harness.SQLite, harness.RepoPath(t, "test", "e2e", "testdata", "commands.yaml"))
}

// setupCommandsWith is setupCommands with the bot on a store of kind and
// started with configPath (which must accept the same channels, guild and
// application as commands.yaml).
func setupCommandsWith(t *testing.T, kind harness.StoreKind, configPath string) *commandsEnv {
	t.Helper()
	e := &commandsEnv{}
	c := kubeharness.Start(t)
	e.cluster = c
	e.node = c.AddNode(t, "node-1")
	c.ApplyYAML(t, filepath.Join("testdata", "bakery-ia.yaml"))
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))

	// Play the kubelet: orders-service runs (and keeps running through its
	// rollout), the others in the states the health check must name.
	c.KeepRunning(t, opsNamespace, selectorOf("orders-service"), kubeharness.Running())
	c.RunPods(t, opsNamespace, selectorOf("gateway"), kubeharness.Running())
	c.RunPods(t, opsNamespace, selectorOf("auth-service"), kubeharness.Running())
	c.RunPods(t, opsNamespace, selectorOf("forecasting-service"), kubeharness.CrashLoopBackOff(7))
	c.RunPods(t, opsNamespace, selectorOf("inventory-service"), kubeharness.OOMKilled(3))
	c.RunPods(t, opsNamespace, selectorOf("notification-service"), kubeharness.ImagePullBackOff())
	c.WaitDeploymentReady(t, opsNamespace, "orders-service")
	// A second revision, by a template change with its change-cause.
	c.ApplyYAML(t, filepath.Join("testdata", "orders-service-v2.yaml"))
	pods := waitWorkloadSettled(t, c)
	for i, p := range pods {
		e.ordersPod[i] = p.Name
		e.node.SetLogs(opsNamespace, p.Name, "orders-service", ordersLogs[i], nil)
	}

	// Firing alerts, for health: a real Alertmanager's API v2. Its own
	// notifications go nowhere; the bot only reads it.
	am := harness.StartAlertmanager(t, "http://127.0.0.1:9/v1/alertmanager", "unused")
	e.am = am
	firing := harness.RFC3339(time.Now().Add(-time.Minute))
	am.PostAlerts(t,
		harness.PostableAlert{Labels: map[string]string{"alertname": "HighErrorRate", "service": "orders-service", "namespace": opsNamespace, "severity": "critical"}, StartsAt: firing},
		harness.PostableAlert{Labels: map[string]string{"alertname": "HighMemoryUsage", "service": "inventory-service", "namespace": opsNamespace, "severity": "warning"}, StartsAt: firing},
	)
	amAPI, err := alertmanager.NewAPI(am.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "Alertmanager to list the firing alerts", func() (bool, string) {
		got, err := amAPI.FiringBySeverity(t.Context(), "")
		return err == nil && got["critical"] == 1 && got["warning"] == 1, fmt.Sprint(got, err)
	})

	// The bot's identity: the chatops ServiceAccount, through a tap that
	// records every request the API server gets from it.
	e.tap = startAPITap(t, c)
	sa := c.ServiceAccountConfig(t, opsNamespace, "chatops")
	sa.Host = e.tap.URL
	sa.CAData = e.tap.caPEM
	kubeconfig := c.WriteKubeconfig(t, sa)

	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.key = key
	e.secret = "slack-signing-" + harness.RandHex(16)
	e.cfg = newBotConfig(t, kind)
	e.cfg.ConfigPath = configPath
	e.cfg.Env = []string{
		"KUBECONFIG=" + kubeconfig,
		"CHATOPS_SLACK_SIGNING_SECRET=" + e.secret,
		"CHATOPS_DISCORD_APP_ID=" + discordApp,
		"CHATOPS_DISCORD_PUBLIC_KEY=" + hex.EncodeToString(pub),
		"CHATOPS_ALERTMANAGER_URL=" + am.BaseURL,
	}
	e.bot = harness.StartBot(t, e.cfg)
	return e
}

func selectorOf(service string) string { return "app.kubernetes.io/name=" + service }

// waitWorkloadSettled waits until every deployment's status says what the
// answers will show (the controllers have counted the pods played above,
// and orders-service's second revision has rolled out, its old pods gone),
// and returns orders-service's two pods sorted by name.
func waitWorkloadSettled(t *testing.T, c *kubeharness.Cluster) []corev1.Pod {
	t.Helper()
	want := map[string][2]int32{ // ready, desired
		"gateway": {1, 1}, "auth-service": {1, 1}, "orders-service": {2, 2},
		"forecasting-service": {0, 1}, "inventory-service": {1, 1}, "notification-service": {0, 1},
	}
	kube := c.Clientset()
	var pods []corev1.Pod
	harness.Eventually(t, "the bakery-ia workload to settle", func() (bool, string) {
		ctx := t.Context()
		list, err := kube.AppsV1().Deployments(opsNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var state []string
		ok := len(list.Items) == len(want)
		for _, d := range list.Items {
			w := want[d.Name]
			s := d.Status
			settled := s.ObservedGeneration >= d.Generation && s.ReadyReplicas == w[0] && s.Replicas == w[1] && s.UpdatedReplicas == w[1]
			if d.Name == "orders-service" {
				settled = settled && s.AvailableReplicas == 2 && progressed(d)
			}
			ok = ok && settled
			state = append(state, fmt.Sprintf("%s gen %d/%d ready %d updated %d replicas %d conditions %v",
				d.Name, s.ObservedGeneration, d.Generation, s.ReadyReplicas, s.UpdatedReplicas, s.Replicas, s.Conditions))
		}
		pl, err := kube.CoreV1().Pods(opsNamespace).List(ctx, metav1.ListOptions{LabelSelector: selectorOf("orders-service")})
		if err != nil {
			return false, err.Error()
		}
		pods = pl.Items
		for _, p := range pods {
			ok = ok && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning &&
				p.Spec.Containers[0].Image == "registry.bakery-ia.local/orders-service:1.5.0"
			state = append(state, fmt.Sprintf("pod %s %s %s deleting=%v", p.Name, p.Spec.Containers[0].Image, p.Status.Phase, p.DeletionTimestamp != nil))
		}
		return ok && len(pods) == 2, strings.Join(state, "\n")
	})
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods
}

// progressed: the rollout is over as the deployment controller records it.
func progressed(d appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Reason == "NewReplicaSetAvailable"
		}
	}
	return false
}

// apiTap is a TLS reverse proxy in front of kube-apiserver that the bot's
// kubeconfig points at: it passes every request through unchanged (the
// bot's ServiceAccount token included, so RBAC is the real one) and records
// it, so a test can say that the API server saw no request from the bot.
type apiTap struct {
	URL   string
	caPEM []byte

	arrived atomic.Int64
	mu      sync.Mutex
	done    []tapRequest
}

type tapRequest struct {
	Method, Path string
	Status       int
}

func (r tapRequest) String() string { return fmt.Sprintf("%s %s -> %d", r.Method, r.Path, r.Status) }

func startAPITap(t *testing.T, c *kubeharness.Cluster) *apiTap {
	t.Helper()
	admin := c.Admin()
	target, err := url.Parse(admin.Host)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(admin.CAData) {
		t.Fatal("the cluster CA is not PEM")
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	t.Cleanup(transport.CloseIdleConnections)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport:     transport,
		FlushInterval: -1, // logs stream
	}
	tap := &apiTap{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tap.arrived.Add(1)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rec, r)
		tap.mu.Lock()
		tap.done = append(tap.done, tapRequest{Method: r.Method, Path: r.URL.RequestURI(), Status: rec.status})
		tap.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	tap.URL = srv.URL
	tap.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return tap
}

// count is how many requests have reached the tap so far.
func (a *apiTap) count() int { return int(a.arrived.Load()) }

// requests are the requests answered so far, in the order they ended.
func (a *apiTap) requests() []tapRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.done)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// commandsAnswered is the bot's chatops_commands_total, every label summed:
// the router counts a command once its answer has been handed over (or has
// failed to be), so it says when an answer is complete.
func commandsAnswered(t testing.TB, b *harness.Bot) int {
	t.Helper()
	m, err := b.Metrics(t.Context())
	if err != nil {
		t.Fatalf("%v", err)
	}
	total, _ := m.Sum("chatops_commands_total")
	return int(total)
}

// waitAnswered waits until the bot has answered n commands in all.
func waitAnswered(t testing.TB, b *harness.Bot, n int) {
	t.Helper()
	harness.Eventually(t, fmt.Sprintf("chatops_commands_total to reach %d", n), func() (bool, string) {
		got := commandsAnswered(t, b)
		return got >= n, fmt.Sprintf("chatops_commands_total = %d", got)
	})
}

// postSigned posts body with headers to the bot.
func postSigned(t testing.TB, b *harness.Bot, path string, hdr http.Header, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = slices.Clone(v)
	}
	code, resp, err := harness.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return code, resp
}

// settle is how long a refused request is given to show any effect before
// the test says it had none. A command the bot runs asks the API server and
// the kubelet within milliseconds (answered ones take about 15 ms here).
const settle = 300 * time.Millisecond

// ---------------------------------------------------------------------------
// Slack: slash commands over HTTP

type slackSide struct{ e *commandsEnv }

func (s *slackSide) name() string       { return "slack" }
func (s *slackSide) opsChannel() string { return slackOpsChannel }

// slackRequest is a slash command as Slack posts it.
type slackRequest struct {
	body        []byte
	hdr         http.Header
	responseURL string
}

func (s *slackSide) request(text, channel string, at time.Time) slackRequest {
	form := s.e.cfg.Slack.SlashCommandForm(slack.SlashCommand{
		ChannelID: channel, ChannelName: "ops", UserID: slackUser, UserName: "ana", Text: text,
	})
	body := []byte(form.Encode())
	return slackRequest{body: body, hdr: slackstandin.Sign(s.e.secret, at, body), responseURL: form.Get("response_url")}
}

func (s *slackSide) channelFor(c commandCase) string {
	if c.elsewhere {
		return slackOtherChannel
	}
	return slackOpsChannel
}

// accept sends r, requires the immediate acknowledgement, and waits until
// the bot has answered the command.
func (s *slackSide) accept(t *testing.T, r slackRequest) map[string]any {
	t.Helper()
	before := commandsAnswered(t, s.e.bot)
	code, body := postSigned(t, s.e.bot, "/slack/commands", r.hdr, r.body)
	if code != http.StatusOK {
		t.Fatalf("POST /slack/commands %s: got %d %q, want 200 and an acknowledgement", r.body, code, body)
	}
	var ack map[string]any
	if err := json.Unmarshal(body, &ack); err != nil {
		t.Fatalf("acknowledgement %q is not JSON: %v", body, err)
	}
	if note, _ := ack["text"].(string); ack["response_type"] != "ephemeral" || note == "" {
		t.Errorf("acknowledgement %s: want a private (ephemeral) note", body)
	}
	waitAnswered(t, s.e.bot, before+1)
	return ack
}

func (s *slackSide) send(t *testing.T, c commandCase) delivery {
	t.Helper()
	channel := s.channelFor(c)
	ephemeralsBefore := len(s.e.cfg.Slack.Ephemerals(channel))
	r := s.request(c.text, channel, time.Now())
	ack := s.accept(t, r)

	resps := s.e.cfg.Slack.Responses(r.responseURL)
	var d delivery
	var posted []any
	var texts []string
	for _, p := range resps {
		m := map[string]any{"response_type": p.ResponseType, "text": p.Text}
		if p.ReplaceOriginal || p.DeleteOriginal {
			m["replace_original"], m["delete_original"] = p.ReplaceOriginal, p.DeleteOriginal
		}
		if p.ThreadTS != "" {
			m["thread_ts"] = p.ThreadTS
		}
		if p.Blocks != nil {
			m["blocks"] = decodeJSON(t, p.Blocks)
		}
		if p.Attachments != nil {
			m["attachments"] = decodeJSON(t, p.Attachments)
		}
		posted = append(posted, m)
		texts = append(texts, strings.Join(stringsOf(m), "\n"))
	}
	golden := map[string]any{
		"command":      fmt.Sprintf("/ops %s (in %s)", c.text, channel),
		"ack":          ack,
		"response_url": posted,
	}
	// Nothing else: no file, no message beside the response_url.
	if files := s.e.cfg.Slack.Files(channel); len(files) > 0 {
		var fs []any
		for _, f := range files {
			fs = append(fs, map[string]any{"name": f.Name, "content": string(f.Content)})
			texts = append(texts, string(f.Content))
		}
		golden["files"] = fs
	}
	// Checked as people read it: Slack shows &lt; as <.
	d.golden, d.text = golden, slackUnescape.Replace(strings.Join(texts, "\n"))
	switch {
	case len(resps) != 1:
		d.shape = fmt.Sprintf("%d posts to the response_url, want exactly 1", len(resps))
	case len(s.e.cfg.Slack.Ephemerals(channel)) != ephemeralsBefore:
		d.shape = "an ephemeral message besides the response_url answer"
	case resps[0].ResponseType != "ephemeral" && resps[0].ResponseType != "in_channel":
		d.shape = "response_type " + resps[0].ResponseType
	}
	d.private = len(resps) > 0 && resps[0].ResponseType == "ephemeral"
	return d
}

// slackUnescape undoes the escaping Slack's mrkdwn asks for.
var slackUnescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// refusals: each spoiled request gets a bare 401, and nothing follows: no
// post to its response_url, no command counted, no Kubernetes request, no
// log read from the kubelet. First requests that were never good (unsigned,
// signed with another secret, stale, tampered with), then the replay of a
// request the bot accepted and answered.
func (s *slackSide) refusals(t *testing.T) {
	e := s.e
	const text = "logs orders-service --tail 5" // work: the API server and the kubelet

	t.Run("forged", func(t *testing.T) {
		before := e.snapshot(t)
		ephemerals := len(e.cfg.Slack.Ephemerals(slackOpsChannel))
		type spoiled struct {
			name string
			hdr  http.Header
			body []byte
			slackRequest
		}
		var reqs []spoiled
		{
			r := s.request(text, slackOpsChannel, time.Now())
			reqs = append(reqs, spoiled{"unsigned", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, r.body, r})
		}
		{
			r := s.request(text, slackOpsChannel, time.Now())
			reqs = append(reqs, spoiled{"signed with another secret", slackstandin.Sign("not-"+e.secret, time.Now(), r.body), r.body, r})
		}
		{
			r := s.request(text, slackOpsChannel, time.Now().Add(-staleBy))
			reqs = append(reqs, spoiled{"stale (6 minutes old)", r.hdr, r.body, r})
		}
		{
			r := s.request(text, slackOpsChannel, time.Now())
			tampered := bytes.Replace(r.body, []byte("--tail+5"), []byte("--tail+2000"), 1)
			if bytes.Equal(tampered, r.body) {
				t.Fatalf("could not tamper with %s", r.body)
			}
			reqs = append(reqs, spoiled{"tampered body", r.hdr, tampered, r})
		}
		for _, r := range reqs {
			if code, body := postSigned(t, e.bot, "/slack/commands", r.hdr, r.body); code != http.StatusUnauthorized {
				t.Errorf("%s: got %d %q, want 401", r.name, code, body)
			}
		}
		time.Sleep(settle)
		for _, r := range reqs {
			if n := len(e.cfg.Slack.Responses(r.responseURL)); n != 0 {
				t.Errorf("%s: %d posts to its response_url, want none", r.name, n)
			}
		}
		if n := len(e.cfg.Slack.Ephemerals(slackOpsChannel)); n != ephemerals {
			t.Errorf("%d ephemeral messages appeared", n-ephemerals)
		}
		e.checkNoWork(t, before)
	})

	t.Run("replayed", func(t *testing.T) {
		accepted := s.request(text, slackOpsChannel, time.Now())
		s.accept(t, accepted)
		if n := len(e.cfg.Slack.Responses(accepted.responseURL)); n != 1 {
			t.Fatalf("the accepted request got %d answers, want 1", n)
		}
		before := e.snapshot(t)
		if code, body := postSigned(t, e.bot, "/slack/commands", accepted.hdr, accepted.body); code != http.StatusUnauthorized {
			t.Errorf("the same request again: got %d %q, want 401", code, body)
		}
		time.Sleep(settle)
		if n := len(e.cfg.Slack.Responses(accepted.responseURL)); n != 1 {
			t.Errorf("%d posts to its response_url, want the first answer only", n)
		}
		e.checkNoWork(t, before)
	})

	if n := e.cfg.Slack.Calls(slackstandin.MethodPostMessage); n != 0 {
		t.Errorf("%d chat.postMessage calls, want none", n)
	}
}

// workCounts are the counts that move when the bot does any work for a
// command: commands answered, requests to the API server, log reads.
type workCounts struct{ answered, api, kubelet int }

func (e *commandsEnv) snapshot(t testing.TB) workCounts {
	return workCounts{commandsAnswered(t, e.bot), e.tap.count(), len(e.node.LogRequests())}
}

// checkNoWork: since the counts were taken, no command was answered, and
// neither the API server nor the kubelet heard from the bot.
func (e *commandsEnv) checkNoWork(t *testing.T, before workCounts) {
	t.Helper()
	now := e.snapshot(t)
	if n := now.answered - before.answered; n != 0 {
		t.Errorf("%d commands answered, want none", n)
	}
	if n := now.api - before.api; n != 0 {
		t.Errorf("the API server got %d requests from the bot, want none: %v", n, e.tap.requests()[before.api:])
	}
	if n := now.kubelet - before.kubelet; n != 0 {
		t.Errorf("the kubelet stand-in got %d log requests, want none", n)
	}
}

// ---------------------------------------------------------------------------
// Discord: HTTP interactions

type discordSide struct{ e *commandsEnv }

func (s *discordSide) name() string       { return "discord" }
func (s *discordSide) opsChannel() string { return discordOpsChannel }

// discordRequest is an interaction as Discord posts it.
type discordRequest struct {
	id, token string
	body      []byte
	hdr       http.Header
}

// interaction makes the stand-in expect an interaction and returns its
// body, unsigned.
func (s *discordSide) interaction(channel string, c discordCommand) (id, token string, body []byte) {
	id, token = s.e.cfg.Discord.NewInteraction(discordApp, channel)
	return id, token, discordBody(id, token, channel, c)
}

func discordBody(id, token, channel string, c discordCommand) []byte {
	opts := []map[string]any{}
	for _, o := range c.opts {
		opts = append(opts, map[string]any{"name": o.name, "type": o.typ, "value": o.value})
	}
	v := map[string]any{
		"id": id, "application_id": discordApp, "type": 2, "token": token, "version": 1,
		"guild_id": discordGuild, "channel_id": channel,
		"channel": map[string]any{"id": channel, "type": 0, "name": "ops", "parent_id": discordCategory},
		"member": map[string]any{
			"user":  map[string]any{"id": discordUser, "username": "ana", "global_name": "Ana Ops"},
			"roles": []string{}, "nick": "Ana",
		},
		"data": map[string]any{
			"id": discordCommandID, "name": "ops", "type": 1,
			"options": []map[string]any{{"type": 1, "name": c.sub, "options": opts}},
		},
		"locale": "en-US",
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// signDiscord returns Discord's headers for body: Ed25519 over timestamp +
// body with key.
func signDiscord(key ed25519.PrivateKey, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	return http.Header{
		"Content-Type":          {"application/json"},
		"X-Signature-Ed25519":   {hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...)))},
		"X-Signature-Timestamp": {ts},
	}
}

func (s *discordSide) request(channel string, c discordCommand, at time.Time) discordRequest {
	id, token, body := s.interaction(channel, c)
	return discordRequest{id: id, token: token, body: body, hdr: signDiscord(s.e.key, at, body)}
}

// accept sends r, requires the deferral as the HTTP answer, hands it to the
// stand-in as Discord records it, and waits until the bot has answered.
func (s *discordSide) accept(t *testing.T, r discordRequest) map[string]any {
	t.Helper()
	before := commandsAnswered(t, s.e.bot)
	code, body := postSigned(t, s.e.bot, "/discord/interactions", r.hdr, r.body)
	if code != http.StatusOK {
		t.Fatalf("POST /discord/interactions %s: got %d %q, want 200 and a deferral", r.body, code, body)
	}
	forwardDiscordAck(t, s.e.cfg.Discord, r.id, r.token, body)
	var ack map[string]any
	if err := json.Unmarshal(body, &ack); err != nil {
		t.Fatalf("acknowledgement %q is not JSON: %v", body, err)
	}
	if ack["type"] != float64(discordstandin.ResponseDeferred) {
		t.Errorf("acknowledgement %s: want a deferral (type 5)", body)
	}
	waitAnswered(t, s.e.bot, before+1)
	return ack
}

// forwardDiscordAck delivers the bot's HTTP answer to the stand-in's
// callback route, as Discord takes it from the HTTP response.
func forwardDiscordAck(t *testing.T, dc *discordstandin.Server, id, token string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, dc.URL()+"interactions/"+id+"/"+token+"/callback", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	code, out, err := harness.Do(req)
	if err != nil || code != http.StatusNoContent {
		t.Fatalf("the stand-in refused the acknowledgement %s: %d %s %v", body, code, out, err)
	}
}

func (s *discordSide) send(t *testing.T, c commandCase) delivery {
	t.Helper()
	channel := discordOpsChannel
	if c.elsewhere {
		channel = discordOtherChannel
	}
	r := s.request(channel, c.discord, time.Now())
	ack := s.accept(t, r)
	ix, ok := s.e.cfg.Discord.Interaction(r.id)
	if !ok {
		t.Fatalf("interaction %s unknown to the stand-in", r.id)
	}

	var texts []string
	msg := func(m discordstandin.Message) map[string]any {
		out := map[string]any{"ephemeral": m.Ephemeral(), "content": m.Content, "edits": m.Edits}
		if m.Flags&discordstandin.FlagLoading != 0 {
			out["loading"] = true
		}
		if len(m.Embeds) > 0 && string(m.Embeds) != "[]" {
			out["embeds"] = decodeJSON(t, m.Embeds)
		}
		var files []any
		for _, a := range m.Attachments {
			files = append(files, map[string]any{"filename": a.Filename, "content_type": a.ContentType, "content": string(a.Content)})
		}
		if files != nil {
			out["attachments"] = files
		}
		texts = append(texts, strings.Join(stringsOf(out), "\n"))
		return out
	}
	golden := map[string]any{
		"command": fmt.Sprintf("%s (in %s)", c.discord, channel),
		"ack":     ack,
	}
	if ix.Original != nil {
		golden["original"] = msg(*ix.Original)
	}
	if ix.OriginalDeleted {
		golden["original_deleted"] = true
	}
	var followups []any
	for _, f := range ix.Followups {
		followups = append(followups, msg(f))
	}
	if followups != nil {
		golden["followups"] = followups
	}

	d := delivery{golden: golden, text: strings.Join(texts, "\n")}
	// The answer is the edited original or, when its visibility differs
	// from the deferral's, one follow-up of its own visibility with the
	// original (a placeholder) deleted.
	switch {
	case ix.Original != nil && len(ix.Followups) == 0:
		d.private = ix.Original.Ephemeral()
		if ix.Original.Flags&discordstandin.FlagLoading != 0 || ix.Original.Edits == 0 {
			d.shape = "the deferred response was never edited"
		}
	case ix.Original == nil && ix.OriginalDeleted && len(ix.Followups) == 1:
		d.private = ix.Followups[0].Ephemeral()
	default:
		d.shape = fmt.Sprintf("original %v (deleted %v) and %d follow-ups: want the edited original, or one follow-up and the placeholder deleted",
			ix.Original != nil, ix.OriginalDeleted, len(ix.Followups))
	}
	if ix.FollowupsAsEdit != 0 {
		d.shape += fmt.Sprintf("; %d follow-ups were taken as an edit of the deferral", ix.FollowupsAsEdit)
	}
	// A private answer is never seen in the channel, even for a moment:
	// its deferral is private, or the public one only ever says so.
	if c.private && ix.Original != nil && !ix.Original.Ephemeral() {
		d.shape += "; a private answer left a public message"
	}
	return d
}

// refusals: each spoiled interaction gets a bare 401, and nothing follows:
// no call about it ever reaches Discord, no command is counted, no
// Kubernetes request is made, no log read from the kubelet. First
// interactions that were never good (unsigned, signed with another key,
// stale, tampered with), then the replay of one the bot accepted and
// answered.
func (s *discordSide) refusals(t *testing.T) {
	e := s.e
	dc := e.cfg.Discord
	work := dcmd("logs", str("service", "orders-service"), num("tail", 5))
	routes := []string{discordstandin.RouteInteractionCallback, discordstandin.RouteEditOriginal,
		discordstandin.RouteFollowup, discordstandin.RouteDeleteOriginal}
	calls := func() map[string]int {
		out := map[string]int{}
		for _, r := range routes {
			out[r] = dc.Calls(r)
		}
		return out
	}
	// noCalls: not one call reached Discord since before; a token the bot
	// had not acknowledged would be refused, but the call still counted.
	noCalls := func(t *testing.T, before map[string]int) {
		t.Helper()
		for _, r := range routes {
			if n := dc.Calls(r) - before[r]; n != 0 {
				t.Errorf("%d calls on %s, want none", n, r)
			}
		}
	}

	t.Run("forged", func(t *testing.T) {
		_, otherKey, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		before, beforeCalls := e.snapshot(t), calls()
		type spoiled struct {
			name string
			id   string
			hdr  http.Header
			body []byte
		}
		var reqs []spoiled
		{
			id, _, body := s.interaction(discordOpsChannel, work)
			reqs = append(reqs, spoiled{"unsigned", id, http.Header{"Content-Type": {"application/json"}}, body})
		}
		{
			id, _, body := s.interaction(discordOpsChannel, work)
			reqs = append(reqs, spoiled{"signed with another key", id, signDiscord(otherKey, time.Now(), body), body})
		}
		{
			id, _, body := s.interaction(discordOpsChannel, work)
			reqs = append(reqs, spoiled{"stale (6 minutes old)", id, signDiscord(e.key, time.Now().Add(-staleBy), body), body})
		}
		{
			id, token, body := s.interaction(discordOpsChannel, work)
			tampered := discordBody(id, token, discordOpsChannel, dcmd("logs", str("service", "orders-service"), num("tail", 2000)))
			reqs = append(reqs, spoiled{"tampered body", id, signDiscord(e.key, time.Now(), body), tampered})
		}
		for _, r := range reqs {
			if code, body := postSigned(t, e.bot, "/discord/interactions", r.hdr, r.body); code != http.StatusUnauthorized {
				t.Errorf("%s: got %d %q, want 401", r.name, code, body)
			}
		}
		time.Sleep(settle)
		for _, r := range reqs {
			ix, _ := dc.Interaction(r.id)
			if len(ix.Callbacks) != 0 || ix.Original != nil || ix.OriginalDeleted || len(ix.Followups) != 0 {
				t.Errorf("%s: Discord heard about it: %+v", r.name, ix)
			}
		}
		noCalls(t, beforeCalls)
		e.checkNoWork(t, before)
	})

	t.Run("replayed", func(t *testing.T) {
		accepted := s.request(discordOpsChannel, work, time.Now())
		s.accept(t, accepted)
		if ix, _ := dc.Interaction(accepted.id); ix.Original == nil || ix.Original.Edits != 1 {
			t.Fatalf("the accepted interaction was not answered by one edit: %+v", ix)
		}
		// The answer's first edit may have been tried again while the
		// acknowledgement was on its way: let that settle before counting.
		time.Sleep(settle)
		before, beforeCalls := e.snapshot(t), calls()
		if code, body := postSigned(t, e.bot, "/discord/interactions", accepted.hdr, accepted.body); code != http.StatusUnauthorized {
			t.Errorf("the same interaction again: got %d %q, want 401", code, body)
		}
		time.Sleep(settle)
		ix, _ := dc.Interaction(accepted.id)
		if ix.Original == nil || ix.Original.Edits != 1 || len(ix.Followups) != 0 || len(ix.Callbacks) != 1 {
			t.Errorf("the accepted interaction changed: original %+v, %d follow-ups, %d callbacks", ix.Original, len(ix.Followups), len(ix.Callbacks))
		}
		noCalls(t, beforeCalls)
		e.checkNoWork(t, before)
	})
}

// ---------------------------------------------------------------------------
// golden files

func decodeJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// stringsOf lists every string in v, depth first, map keys sorted.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, k := range sortedKeys(x) {
			out = append(out, stringsOf(x[k])...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkGolden compares what was delivered, normalized and laid out as
// YAML-like text, with testdata/name; -update rewrites it.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got := "# " + name + ": generated by TestCommands (go test ./test/e2e -run TestCommands -update)\n" + layout(v, "")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("golden file: %v (run with -update to write it)\n--- delivered ---\n%s", err, got)
		return
	}
	if string(want) != got {
		t.Errorf("the delivered answer differs from %s (run with -update to accept it):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the lines that differ, with their numbers.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  - %s\n  + %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// layout writes v (decoded JSON) as indented YAML-like text: map keys
// sorted, multi-line strings as blocks, every string normalized.
func layout(v any, indent string) string {
	var b strings.Builder
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			b.WriteString(indent + k + ":" + layoutValue(x[k], indent+"  "))
		}
	case []any:
		for _, e := range x {
			b.WriteString(indent + "-" + layoutValue(e, indent+"  "))
		}
	default:
		b.WriteString(indent + strings.TrimPrefix(layoutValue(v, indent), " "))
	}
	return b.String()
}

// layoutValue is what follows "key:" or "-".
func layoutValue(v any, indent string) string {
	switch x := v.(type) {
	case nil:
		return " null\n"
	case bool:
		return " " + strconv.FormatBool(x) + "\n"
	case float64:
		return " " + strconv.FormatFloat(x, 'f', -1, 64) + "\n"
	case int:
		return " " + strconv.Itoa(x) + "\n"
	case string:
		s := normalize(x)
		if strings.Contains(s, "\n") {
			var b strings.Builder
			b.WriteString(" |\n")
			for line := range strings.SplitSeq(s, "\n") {
				b.WriteString(strings.TrimRight(indent+line, " ") + "\n")
			}
			return b.String()
		}
		if s == "" || strings.TrimSpace(s) != s {
			return " " + strconv.Quote(s) + "\n"
		}
		return " " + s + "\n"
	case map[string]any:
		if len(x) == 0 {
			return " {}\n"
		}
		return "\n" + layout(x, indent)
	case []any:
		if len(x) == 0 {
			return " []\n"
		}
		return "\n" + layout(x, indent)
	}
	return fmt.Sprintf(" %v\n", v)
}

var (
	// Names Kubernetes makes up: a ReplicaSet's pod-template hash and a
	// pod's random suffix (both from the same alphabet).
	podName = regexp.MustCompile(`\b(gateway|auth-service|orders-service|forecasting-service|inventory-service|notification-service)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b`)
	rsName  = regexp.MustCompile(`\b(gateway|auth-service|orders-service|forecasting-service|inventory-service|notification-service)-[bcdfghjklmnpqrstvwxz2456789]{6,10}\b`)
	// A table line: columns aligned with two spaces or more.
	columnGap = regexp.MustCompile(` {2,}`)
	// An age cell of a table.
	ageCell = regexp.MustCompile(`^\d{1,3}[smhd]$`)
)

// normalize makes a delivered string stable from run to run: generated
// names and ages become placeholders, and tables (lines whose columns are
// two spaces or more apart) are aligned again, since the names' lengths
// vary.
func normalize(s string) string {
	s = podName.ReplaceAllString(s, "$1-<hash>-<pod>")
	s = rsName.ReplaceAllString(s, "$1-<hash>")
	var out []string
	var table []string
	flush := func() {
		if len(table) == 0 {
			return
		}
		var b strings.Builder
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		header := columnGap.Split(table[0], -1)
		for _, l := range table {
			cells := columnGap.Split(l, -1)
			for i, c := range cells {
				// "420m" under CPU is millicores, not an age.
				if ageCell.MatchString(c) && (i >= len(header) || header[i] != "CPU") {
					cells[i] = "<age>"
				}
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
		w.Flush()
		out = append(out, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")...)
		table = nil
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "  ") {
			table = append(table, l)
			continue
		}
		flush()
		out = append(out, l)
	}
	flush()
	return strings.Join(out, "\n")
}
