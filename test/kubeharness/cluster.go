// Package kubeharness runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver (RBAC, ServiceAccount tokens, the real pods/log path) and
// kube-controller-manager (deployment, replicaset, serviceaccount and garbage
// collection controllers), all on loopback, built once per machine by
// test/tools/kube.sh.
//
// There is no scheduler and no kubelet: the test plays both. AddNode
// registers a Node whose kubelet endpoint is a small TLS server inside the
// test that serves container logs; RunPods binds pods to it and writes their
// status the way a kubelet would.
//
// It takes the test it acts for as a harness.TB, so a benchmark tool drives
// it too, through harness.Program. It never contacts anything but loopback,
// and it never skips a test: when the control plane cannot be built or
// started, the test fails.
package kubeharness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bakewise/chatops/test/harness"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Named timeouts for every wait on the control plane.
const (
	etcdStartTimeout      = 30 * time.Second
	apiserverStartTimeout = 90 * time.Second
	controllersTimeout    = 60 * time.Second
	requestTimeout        = 10 * time.Second
	pollInterval          = 50 * time.Millisecond
)

const (
	// ServiceAccountIssuer is the issuer of the cluster's ServiceAccount
	// tokens and their default audience.
	ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
	// AdminUser is the admin identity (group system:masters) of Admin().
	AdminUser = "chatops-kubeharness-admin"

	serviceCIDR = "10.0.0.0/24"
	// controllers run by kube-controller-manager; the rest of a real one is
	// not needed to turn Deployments into ReplicaSets and pods.
	controllers = "deployment-controller,replicaset-controller,serviceaccount-controller," +
		"serviceaccount-token-controller,garbage-collector-controller,root-ca-certificate-publisher-controller"
)

// Cluster is a running control plane. Its methods take the test they act
// for, and fail it on error.
type Cluster struct {
	dir string // certificates, kubeconfigs, etcd data, logs
	ca  *authority
	// frontProxyCA signs the client certificate the apiserver's
	// aggregator presents to aggregated API servers (ServeMetrics), as
	// kubeadm's front-proxy-ca does.
	frontProxyCA *authority
	admin        *rest.Config
	kube         kubernetes.Interface // admin

	procs []*harness.Process // in start order

	mu     sync.Mutex
	nodes  []*Node
	nextIP int // last octets handed to pods
}

// Start runs a fresh control plane for t and stops it in t.Cleanup. The
// first use on a machine builds the binaries (about 9 minutes on 2 cores); run
// test/tools/kube.sh beforehand to keep that out of go test's timeout.
func Start(t harness.TB) *Cluster {
	t.Helper()
	bin := binaries(t)

	dir, err := os.MkdirTemp("", "kubeharness-")
	if err != nil {
		t.Fatalf("kubeharness: temp dir: %v", err)
	}
	c := &Cluster{dir: dir}
	t.Cleanup(func() { c.stop(t) })

	started := time.Now()
	if err := c.start(bin); err != nil {
		t.Fatalf("kubeharness: %v", err)
	}
	t.Logf("kubeharness: control plane ready in %s (%s)", time.Since(started).Round(time.Millisecond), c.admin.Host)
	return c
}

func (c *Cluster) start(bin string) error {
	files, err := c.writePKI()
	if err != nil {
		return err
	}

	etcdURL, err := c.startEtcd(bin)
	if err != nil {
		return err
	}
	if err := c.startAPIServer(bin, etcdURL, files); err != nil {
		return err
	}
	adminKubeconfig := filepath.Join(c.dir, "admin.kubeconfig")
	if err := writeKubeconfig(adminKubeconfig, c.admin); err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	kcm, err := startProcess("kube-controller-manager", filepath.Join(bin, "kube-controller-manager"), c.dir,
		"--kubeconfig="+adminKubeconfig,
		"--controllers="+controllers,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+files.saKey,
		"--root-ca-file="+files.ca,
		"--v=1",
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kcm)

	// Pods need their namespace's default ServiceAccount: wait until the
	// serviceaccount controller has made the first one, which also says the
	// controller manager is up.
	return c.waitFor(kcm, controllersTimeout, "the serviceaccount controller", func(ctx context.Context) (bool, error) {
		_, err := c.kube.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

type pkiFiles struct {
	ca, servingCert, servingKey, kubeletClientCert, kubeletClientKey, saKey, saPub string
	frontProxyCA, proxyClientCert, proxyClientKey                                  string
}

// frontProxyClient is the name in the aggregator's client certificate, the
// only one aggregated API servers accept the X-Remote-* headers from.
const frontProxyClient = "front-proxy-client"

func (c *Cluster) writePKI() (pkiFiles, error) {
	ca, err := newAuthority()
	if err != nil {
		return pkiFiles{}, err
	}
	c.ca = ca
	serving, err := ca.serving("kube-apiserver",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
	if err != nil {
		return pkiFiles{}, err
	}
	admin, err := ca.client(AdminUser, "system:masters")
	if err != nil {
		return pkiFiles{}, err
	}
	kubeletClient, err := ca.client("kube-apiserver-kubelet-client", "kubeadm:cluster-admins")
	if err != nil {
		return pkiFiles{}, err
	}
	saKey, saPub, err := serviceAccountKey()
	if err != nil {
		return pkiFiles{}, err
	}
	frontProxyCA, err := newAuthority()
	if err != nil {
		return pkiFiles{}, err
	}
	c.frontProxyCA = frontProxyCA
	proxyClient, err := frontProxyCA.client(frontProxyClient)
	if err != nil {
		return pkiFiles{}, err
	}
	f := pkiFiles{
		ca: "ca.crt", servingCert: "apiserver.crt", servingKey: "apiserver.key",
		kubeletClientCert: "apiserver-kubelet-client.crt", kubeletClientKey: "apiserver-kubelet-client.key",
		saKey: "sa.key", saPub: "sa.pub",
		frontProxyCA: "front-proxy-ca.crt", proxyClientCert: "front-proxy-client.crt", proxyClientKey: "front-proxy-client.key",
	}
	err = writeFiles(c.dir, map[string][]byte{
		f.ca: ca.certPEM, f.servingCert: serving.certPEM, f.servingKey: serving.keyPEM,
		f.kubeletClientCert: kubeletClient.certPEM, f.kubeletClientKey: kubeletClient.keyPEM,
		f.saKey: saKey, f.saPub: saPub,
		f.frontProxyCA: frontProxyCA.certPEM, f.proxyClientCert: proxyClient.certPEM, f.proxyClientKey: proxyClient.keyPEM,
	})
	if err != nil {
		return pkiFiles{}, fmt.Errorf("certificates: %w", err)
	}
	for _, p := range []*string{&f.ca, &f.servingCert, &f.servingKey, &f.kubeletClientCert, &f.kubeletClientKey, &f.saKey, &f.saPub,
		&f.frontProxyCA, &f.proxyClientCert, &f.proxyClientKey} {
		*p = filepath.Join(c.dir, *p)
	}
	c.admin = &rest.Config{
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.certPEM, CertData: admin.certPEM, KeyData: admin.keyPEM},
		QPS:             200,
		Burst:           400,
		UserAgent:       "chatops-kubeharness",
	}
	return f, nil
}

// startEtcd runs etcd on a port it picks itself and returns its client URL.
func (c *Cluster) startEtcd(bin string) (string, error) {
	addrFile := filepath.Join(c.dir, "etcd.address")
	p, err := startProcess("etcd", filepath.Join(bin, "etcd"), c.dir,
		"--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-url=http://127.0.0.1:0",
		"--address-file="+addrFile,
	)
	if err != nil {
		return "", err
	}
	c.procs = append(c.procs, p)
	var url string
	err = c.waitFor(p, etcdStartTimeout, "etcd", func(context.Context) (bool, error) {
		b, err := os.ReadFile(addrFile)
		if err != nil {
			return false, nil
		}
		url = strings.TrimSpace(string(b))
		return true, nil
	})
	return url, err
}

// startAPIServer runs kube-apiserver on a free loopback port. Another process
// may take the port between the probe and the bind, so a start that fails on
// the bind is tried again on a new port.
func (c *Cluster) startAPIServer(bin, etcdURL string, f pkiFiles) error {
	const attempts = 3
	var lastErr error
	for range attempts {
		port, err := harness.FreePort()
		if err != nil {
			return err
		}
		p, err := startProcess("kube-apiserver", filepath.Join(bin, "kube-apiserver"), c.dir,
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			// The kubernetes Service's endpoints would be loopback, which
			// Endpoints reject; nothing in the tests uses them.
			"--endpoint-reconciler-type=none",
			"--secure-port="+strconv.Itoa(port),
			"--tls-cert-file="+f.servingCert,
			"--tls-private-key-file="+f.servingKey,
			"--client-ca-file="+f.ca,
			"--authorization-mode=Node,RBAC",
			"--service-account-issuer="+ServiceAccountIssuer,
			"--service-account-key-file="+f.saPub,
			"--service-account-signing-key-file="+f.saKey,
			"--api-audiences="+ServiceAccountIssuer,
			"--service-cluster-ip-range="+serviceCIDR,
			"--kubelet-preferred-address-types=InternalIP",
			"--kubelet-certificate-authority="+f.ca,
			"--kubelet-client-certificate="+f.kubeletClientCert,
			"--kubelet-client-key="+f.kubeletClientKey,
			// The aggregator (ServeMetrics): it proxies to aggregated API
			// servers with this client certificate and the caller in
			// X-Remote-* headers. Routing stays on the Service (no
			// --enable-aggregator-routing): Endpoints and EndpointSlices
			// refuse loopback addresses, so the stand-in is reached
			// through an ExternalName Service, which only the Service
			// resolver follows.
			"--requestheader-client-ca-file="+f.frontProxyCA,
			"--requestheader-allowed-names="+frontProxyClient,
			"--requestheader-username-headers=X-Remote-User",
			"--requestheader-uid-headers=X-Remote-Uid",
			"--requestheader-group-headers=X-Remote-Group",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-",
			"--proxy-client-cert-file="+f.proxyClientCert,
			"--proxy-client-key-file="+f.proxyClientKey,
			"--allow-privileged=true",
			"--profiling=false",
			"--v=1",
		)
		if err != nil {
			return err
		}
		c.admin.Host = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c.kube, err = kubernetes.NewForConfig(c.admin)
		if err != nil {
			stop(p)
			return fmt.Errorf("admin client: %w", err)
		}
		lastErr = c.waitFor(p, apiserverStartTimeout, "kube-apiserver /readyz", func(ctx context.Context) (bool, error) {
			body, err := c.kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err != nil {
				return false, err
			}
			return string(body) == "ok", nil
		})
		if lastErr == nil {
			c.procs = append(c.procs, p)
			return nil
		}
		stop(p)
		if !strings.Contains(p.Tail(logTailBytes), "address already in use") {
			return fmt.Errorf("%w\n--- kube-apiserver log ---\n%s", lastErr, p.Tail(logTailBytes))
		}
		os.Rename(p.LogPath, fmt.Sprintf("%s.port-%d", p.LogPath, port))
	}
	return lastErr
}

// waitFor polls cond until it holds, the timeout passes, or p exits.
func (c *Cluster) waitFor(p *harness.Process, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if p.Exited() {
			return fmt.Errorf("waiting for %s: %s exited (%v)\n--- %s log ---\n%s", what, p.Name, p.Err(), p.Name, p.Tail(logTailBytes))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not ready after %s (last error: %v)", what, timeout, lastErr)
		}
		time.Sleep(pollInterval)
	}
}

// stop ends the processes, newest first. When the test failed it prints the
// end of each log and keeps the directory for a closer look.
func (c *Cluster) stop(t harness.TB) {
	for i := len(c.procs) - 1; i >= 0; i-- {
		stop(c.procs[i])
	}
	if t.Failed() {
		for _, p := range c.procs {
			t.Logf("kubeharness: --- %s log (%s) ---\n%s", p.Name, p.LogPath, p.Tail(logTailBytes))
		}
		t.Logf("kubeharness: kept %s for inspection", c.dir)
		return
	}
	os.RemoveAll(c.dir)
}

// Admin returns a configuration for a cluster administrator (system:masters),
// a fresh copy each time.
func (c *Cluster) Admin() *rest.Config { return rest.CopyConfig(c.admin) }

// Clientset returns a typed client with the admin identity.
func (c *Cluster) Clientset() kubernetes.Interface { return c.kube }

// Dir is where the cluster keeps its certificates, kubeconfigs and logs.
func (c *Cluster) Dir() string { return c.dir }

var (
	binariesOnce sync.Once
	binariesDir  string
	binariesErr  error
)

// binaries returns the directory that test/tools/kube.sh prints, building the
// control plane on first use. A missing control plane fails the test.
func binaries(t harness.TB) string {
	t.Helper()
	binariesOnce.Do(func() { binariesDir, binariesErr = runKubeSh() })
	if binariesErr != nil {
		t.Fatalf("kubeharness: no control plane binaries: %v", binariesErr)
	}
	return binariesDir
}

func runKubeSh() (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "test", "tools", "kube.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("kube.sh: %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Stdout = &stdout
	// A first build takes minutes: let its progress show.
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, stderr.String())
	}
	dir := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(dir, '\n'); i >= 0 {
		dir = dir[i+1:]
	}
	if dir == "" {
		return "", fmt.Errorf("%s printed no directory\n%s", script, stderr.String())
	}
	return dir, nil
}
