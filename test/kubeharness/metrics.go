package kubeharness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/bakewise/chatops/test/harness"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The metrics API as metrics-server registers it.
const (
	metricsGroup      = "metrics.k8s.io"
	metricsVersion    = "v1beta1"
	metricsGV         = metricsGroup + "/" + metricsVersion
	metricsAPIService = metricsVersion + "." + metricsGroup
	// metricsService is the Service the APIService points at, where
	// metrics-server's own lives.
	metricsService   = "metrics-server"
	metricsNamespace = metav1.NamespaceSystem
	// metricsWindow is the window the usage is said to be measured over,
	// metrics-server's default resolution.
	metricsWindow = 15 * time.Second
	// aggregatorTimeout bounds the wait for the aggregator to mark the
	// APIService Available and serve the group in discovery: its
	// availability controller probes at once, then on resync.
	aggregatorTimeout = 60 * time.Second
)

// Metrics is a stand-in for metrics-server behind the apiserver's real
// aggregation layer: an APIService v1beta1.metrics.k8s.io (with the CA bundle
// of the stand-in's own certificate authority) points at a Service in
// kube-system, and the aggregator proxies metrics.k8s.io requests to a TLS
// server in the test. Like an aggregated API server it trusts only the
// aggregator's front-proxy client certificate, takes the caller from the
// X-Remote-* headers, and serves what the aggregator needs: /apis,
// discovery, and an (empty) OpenAPI document.
//
// The usage numbers are the test's (SetUsage); the pods are the cluster's,
// so a label selector selects as it would on metrics-server, which keeps
// pods' labels from the apiserver.
type Metrics struct {
	c   *Cluster
	srv *httptest.Server

	mu       sync.Mutex
	usage    map[podKey][]ContainerUsage
	requests []MetricsRequest
}

type podKey struct{ namespace, pod string }

// ContainerUsage is one container's usage as metrics-server reports it:
// quantities such as "250m" CPU and "512Mi" memory.
type ContainerUsage struct {
	Name, CPU, Memory string
}

// MetricsRequest is one request the stand-in received through the
// aggregator: the path and query, and the caller the aggregator vouched
// for.
type MetricsRequest struct {
	Path   string
	Query  url.Values
	User   string
	Groups []string
}

// ServeMetrics starts the metrics stand-in and registers it with the
// aggregator, and returns once the apiserver lists metrics.k8s.io/v1beta1
// in its discovery. It stops in t.Cleanup.
func (c *Cluster) ServeMetrics(t harness.TB) *Metrics {
	t.Helper()
	m := &Metrics{c: c, usage: map[podKey][]ContainerUsage{}}

	// Its own CA, as metrics-server's self-signed one: the APIService's
	// caBundle is what makes the aggregator trust it.
	ca, err := newAuthority()
	if err != nil {
		t.Fatalf("kubeharness: metrics: %v", err)
	}
	serving, err := ca.serving(metricsService, metricsService+"."+metricsNamespace+".svc")
	if err != nil {
		t.Fatalf("kubeharness: metrics: %v", err)
	}
	cert, err := serving.tls()
	if err != nil {
		t.Fatalf("kubeharness: metrics: %v", err)
	}
	m.srv = httptest.NewUnstartedServer(m.handler())
	m.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.frontProxyCA.pool(),
		// Like --requestheader-allowed-names: only the aggregator's
		// certificate, not any the front-proxy CA signed.
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || chains[0][0].Subject.CommonName != frontProxyClient {
				return fmt.Errorf("client certificate is not %s", frontProxyClient)
			}
			return nil
		},
		MinVersion: tls.VersionTLS12,
	}
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)

	if err := m.register(ca.certPEM); err != nil {
		t.Fatalf("kubeharness: metrics: %v", err)
	}
	return m
}

// register creates the Service and the APIService, and waits for the
// aggregator to serve the group.
func (m *Metrics) register(caBundle []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), aggregatorTimeout)
	defer cancel()
	port := m.srv.Listener.Addr().(*net.TCPAddr).Port
	_, err := m.c.kube.CoreV1().Services(metricsNamespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: metricsService, Namespace: metricsNamespace,
			Labels: map[string]string{"k8s-app": metricsService}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("service: %w", err)
	}
	apiService := map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": metricsAPIService, "labels": map[string]string{"k8s-app": metricsService}},
		"spec": map[string]any{
			"group": metricsGroup, "version": metricsVersion,
			"service":              map[string]any{"namespace": metricsNamespace, "name": metricsService, "port": port},
			"caBundle":             caBundle, // []byte: base64 in JSON, as the API wants
			"groupPriorityMinimum": 100, "versionPriority": 100,
		},
	}
	body, err := json.Marshal(apiService)
	if err != nil {
		return err
	}
	rc := m.c.kube.Discovery().RESTClient()
	if err := rc.Post().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices").Body(body).
		SetHeader("Content-Type", "application/json").Do(ctx).Error(); err != nil {
		return fmt.Errorf("apiservice: %w", err)
	}
	return m.waitServed(ctx, true)
}

// waitServed waits until the apiserver's discovery lists (or no longer
// lists) metrics.k8s.io/v1beta1 with its pods, the way a client finds it.
func (m *Metrics) waitServed(ctx context.Context, served bool) error {
	kube, err := kubernetes.NewForConfig(m.c.Admin()) // its own discovery, no cache
	if err != nil {
		return err
	}
	var last error
	for {
		list, err := kube.Discovery().ServerResourcesForGroupVersion(metricsGV)
		has := err == nil && slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "pods" })
		if has == served {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			cond, _ := m.availability(context.Background())
			return fmt.Errorf("discovery lists %s = %v, want %v: %w (last error %v; APIService %s)", metricsGV, has, served, ctx.Err(), last, cond)
		case <-time.After(pollInterval):
		}
	}
}

// availability is the APIService's Available condition, for errors.
func (m *Metrics) availability(ctx context.Context) (string, error) {
	raw, err := m.c.kube.Discovery().RESTClient().Get().
		AbsPath("/apis/apiregistration.k8s.io/v1/apiservices", metricsAPIService).DoRaw(ctx)
	if err != nil {
		return err.Error(), err
	}
	var s struct {
		Status struct {
			Conditions []struct{ Type, Status, Reason, Message string } `json:"conditions"`
		} `json:"status"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return fmt.Sprintf("%+v", s.Status.Conditions), nil
}

// Unregister deletes the APIService, as uninstalling metrics-server does,
// and waits until discovery no longer lists the group.
func (m *Metrics) Unregister(t harness.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), aggregatorTimeout)
	defer cancel()
	err := m.c.kube.Discovery().RESTClient().Delete().
		AbsPath("/apis/apiregistration.k8s.io/v1/apiservices", metricsAPIService).Do(ctx).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("kubeharness: metrics: delete apiservice: %v", err)
	}
	if err := m.waitServed(ctx, false); err != nil {
		t.Fatalf("kubeharness: metrics: %v", err)
	}
}

// SetUsage sets what the stand-in reports for a pod, one entry per
// container; no containers: the pod has no metrics (yet), and is left out
// of lists as metrics-server leaves out pods it has not scraped.
func (m *Metrics) SetUsage(namespace, pod string, containers ...ContainerUsage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(containers) == 0 {
		delete(m.usage, podKey{namespace, pod})
		return
	}
	m.usage[podKey{namespace, pod}] = slices.Clone(containers)
}

// Requests returns the requests the stand-in received, oldest first.
func (m *Metrics) Requests() []MetricsRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests)
}

func (m *Metrics) handler() http.Handler {
	mux := http.NewServeMux()
	root := "/apis/" + metricsGV
	mux.HandleFunc("GET /apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"kind": "APIGroupList", "apiVersion": "v1",
			"groups": []any{metricsAPIGroup()},
		})
	})
	mux.HandleFunc("GET /apis/"+metricsGroup, func(w http.ResponseWriter, r *http.Request) {
		g := metricsAPIGroup()
		g["kind"], g["apiVersion"] = "APIGroup", "v1"
		writeJSON(w, http.StatusOK, g)
	})
	mux.HandleFunc("GET "+root, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": metricsGV,
			"resources": []any{
				map[string]any{"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": []string{"get", "list"}},
				map[string]any{"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": []string{"get", "list"}},
			},
		})
	})
	// The aggregator merges the OpenAPI documents of the APIs it serves:
	// an empty one is a valid answer.
	mux.HandleFunc("GET /openapi/v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"swagger": "2.0", "info": map[string]any{"title": "chatops kubeharness metrics stand-in", "version": metricsVersion},
			"paths": map[string]any{},
		})
	})
	mux.HandleFunc("GET /openapi/v3", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"paths": map[string]any{}})
	})
	mux.HandleFunc("GET "+root+"/pods", m.servePods)
	mux.HandleFunc("GET "+root+"/namespaces/{namespace}/pods", m.servePods)
	mux.HandleFunc("GET "+root+"/namespaces/{namespace}/pods/{pod}", m.servePods)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, "NotFound", "the metrics stand-in does not serve "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only the aggregator reaches here (its client certificate); it
		// names the caller it authenticated and authorized.
		user := r.Header.Get("X-Remote-User")
		if user == "" {
			writeStatus(w, http.StatusUnauthorized, "Unauthorized", "no X-Remote-User from the aggregator")
			return
		}
		m.mu.Lock()
		m.requests = append(m.requests, MetricsRequest{Path: r.URL.Path, Query: r.URL.Query(), User: user, Groups: r.Header.Values("X-Remote-Group")})
		m.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

func metricsAPIGroup() map[string]any {
	v := map[string]any{"groupVersion": metricsGV, "version": metricsVersion}
	return map[string]any{"name": metricsGroup, "versions": []any{v}, "preferredVersion": v}
}

// servePods answers a PodMetrics get or list as metrics-server does: the
// cluster's pods that the labelSelector (and fieldSelector) select, those
// with usage only, sorted by namespace and name.
func (m *Metrics) servePods(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	q := r.URL.Query()
	opts := metav1.ListOptions{LabelSelector: q.Get("labelSelector"), FieldSelector: q.Get("fieldSelector")}
	if name != "" {
		opts = metav1.ListOptions{FieldSelector: "metadata.name=" + name}
	}
	pods, err := m.c.kube.CoreV1().Pods(ns).List(ctx, opts)
	switch {
	case apierrors.IsBadRequest(err):
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	case err != nil:
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	sort.Slice(pods.Items, func(i, j int) bool {
		a, b := pods.Items[i], pods.Items[j]
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	now := time.Now().UTC()
	items := []any{}
	m.mu.Lock()
	for _, p := range pods.Items {
		usage, ok := m.usage[podKey{p.Namespace, p.Name}]
		if !ok {
			continue
		}
		var containers []any
		for _, u := range usage {
			containers = append(containers, map[string]any{"name": u.Name, "usage": map[string]string{"cpu": u.CPU, "memory": u.Memory}})
		}
		items = append(items, map[string]any{
			"kind": "PodMetrics", "apiVersion": metricsGV,
			"metadata": map[string]any{
				"name": p.Name, "namespace": p.Namespace, "labels": p.Labels,
				"creationTimestamp": now.Format(time.RFC3339),
			},
			"timestamp":  now.Add(-metricsWindow / 2).Format(time.RFC3339),
			"window":     metricsWindow.String(),
			"containers": containers,
		})
	}
	m.mu.Unlock()
	if name != "" {
		if len(items) == 0 {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("podmetrics.metrics.k8s.io %q not found", name))
			return
		}
		writeJSON(w, http.StatusOK, items[0])
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": "PodMetricsList", "apiVersion": metricsGV,
		"metadata": map[string]any{}, "items": items,
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeStatus answers with a metav1.Status, as an API server does.
func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code,
	})
}
