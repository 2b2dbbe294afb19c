// Package kubernetes is chatops' view of the cluster through client-go: the
// health check of the operations guide, logs, rollout history and status,
// and the approved actions (scale, rollback, restart), each checked against
// the Deployment generation it was approved for.
// It only ever touches the namespaces of its allow-list, validates every
// name (DNS-1123) before it reaches the API, and builds label selectors
// only from the deployments' own specs, never from what a person typed.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Defaults.
const (
	DefaultNamespace = "bakery-ia"
	// DefaultTimeout bounds one command's calls to the API server.
	DefaultTimeout = 10 * time.Second
	// maxPodsForLogs bounds how many pods one logs command reads.
	maxPodsForLogs = 10
	// maxLogBytes bounds what one Logs call reads, and so holds, across
	// all its pods: a budget they share (LogOptions.LimitBytes may ask
	// for less, never more).
	maxLogBytes    = 2 << 20
	maxSuggestions = 25
	// clientQPS and clientBurst bound the bot's own request rate to the
	// API server.
	clientQPS   = 50
	clientBurst = 100
)

// Config says which cluster and which namespace.
type Config struct {
	// Kubeconfig is a kubeconfig path; empty: in-cluster config when running
	// in a pod, else $KUBECONFIG.
	Kubeconfig string
	// Namespace is where the services live.
	Namespace string
	// AllowedNamespaces bounds what the bot may touch; default: Namespace.
	AllowedNamespaces []string
	Timeout           time.Duration
	// FollowLimit caps how long a rollout is followed after an approved
	// action (default DefaultFollowLimit); the Deployment's own progress
	// deadline bounds it sooner.
	FollowLimit time.Duration
}

// Cluster implements bot.Cluster over client-go.
type Cluster struct {
	cs k8s.Interface
	// dyn reads the custom resources (cert-manager, Flux).
	dyn dynamic.Interface
	cfg Config
	log *zap.Logger
}

// RESTConfig finds the cluster: a kubeconfig path, else in-cluster, else
// $KUBECONFIG.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return rest.InClusterConfig()
	}
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	if kubeconfig == "" {
		return nil, errors.New("kubernetes: no kubeconfig (set kubernetes.kubeconfig or KUBECONFIG), and not running in a cluster")
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// New builds a Cluster for the REST config rc.
func New(rc *rest.Config, cfg Config, log *zap.Logger) (*Cluster, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if len(cfg.AllowedNamespaces) == 0 {
		cfg.AllowedNamespaces = []string{cfg.Namespace}
	}
	if !slices.Contains(cfg.AllowedNamespaces, cfg.Namespace) {
		return nil, fmt.Errorf("kubernetes: namespace %s is not in the allow-list %v", cfg.Namespace, cfg.AllowedNamespaces)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if log == nil {
		log = zap.NewNop()
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "chatops"
	// client-go's defaults (5 requests/s, bursts of 10) throttle a busy
	// channel: health alone makes four calls. The API server's own
	// priority and fairness protects it from us.
	if rc.QPS == 0 {
		rc.QPS = clientQPS
	}
	if rc.Burst == 0 {
		rc.Burst = clientBurst
	}
	// A client span per API call, under the command or the execution
	// that makes it.
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return telemetry.Transport(rt, "kubernetes") })
	cs, err := k8s.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return &Cluster{cs: cs, dyn: dyn, cfg: cfg, log: log}, nil
}

// namespace returns the namespace to act in, refusing any outside the
// allow-list (invariant 7).
func (c *Cluster) namespace() (string, error) {
	if !slices.Contains(c.cfg.AllowedNamespaces, c.cfg.Namespace) {
		return "", fmt.Errorf("namespace %s is not allowed", c.cfg.Namespace)
	}
	return c.cfg.Namespace, nil
}

// validName checks a name a person typed before it reaches the API.
func validName(kind, name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return bot.Tell("%q is not a valid %s name: %s", name, kind, strings.Join(errs, "; "))
	}
	return nil
}

// deployment fetches a service's deployment; an unknown one answers with
// the closest name.
func (c *Cluster) deployment(ctx context.Context, ns, service string) (*appsv1.Deployment, error) {
	if err := validName("service", service); err != nil {
		return nil, err
	}
	d, err := c.cs.AppsV1().Deployments(ns).Get(ctx, service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		nf := &bot.NotFoundError{Kind: "deployment", Name: service, Namespace: ns}
		if names, lerr := c.deploymentNames(ctx, ns); lerr == nil {
			nf.Suggestion = closest(service, names)
		}
		return nil, nf
	}
	if err != nil {
		return nil, fmt.Errorf("get deployment %s/%s: %w", ns, service, err)
	}
	return d, nil
}

func (c *Cluster) deploymentNames(ctx context.Context, ns string) ([]string, error) {
	list, err := c.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(list.Items))
	for i, d := range list.Items {
		names[i] = d.Name
	}
	sort.Strings(names)
	return names, nil
}

// Services lists deployments whose names start with prefix, for completion.
func (c *Cluster) Services(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return nil, err
	}
	names, err := c.deploymentNames(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("list deployments in %s: %w", ns, err)
	}
	// Deployment names are lower-case DNS labels; people type "Orders".
	prefix = strings.ToLower(prefix)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(strings.ToLower(n), prefix) {
			out = append(out, n)
			if len(out) == maxSuggestions {
				break
			}
		}
	}
	return out, nil
}

// closest is the name with the smallest edit distance to s, if it is close
// enough to be a plausible typo.
func closest(s string, names []string) string {
	best, bestDist := "", len(s)/2+2
	for _, n := range names {
		if strings.Contains(n, s) || strings.Contains(s, n) {
			return n
		}
		if d := editDistance(s, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
