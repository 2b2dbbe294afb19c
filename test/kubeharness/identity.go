package kubeharness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bakewise/chatops/test/harness"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountTokenTTL outlives any test; the cluster dies first.
const serviceAccountTokenTTL = 24 * 60 * 60

// ServiceAccountConfig returns a configuration that acts as the
// ServiceAccount namespace/name, as a pod running under it would: a token
// from the TokenRequest API, bound by RBAC like any other subject. The
// namespace and the ServiceAccount are created when missing; no permission is
// granted.
func (c *Cluster) ServiceAccountConfig(t harness.TB, namespace, name string) *rest.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := c.ensureNamespace(ctx, namespace); err != nil {
		t.Fatalf("kubeharness: %v", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	_, err := c.kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("kubeharness: service account %s/%s: %v", namespace, name, err)
	}
	tr, err := c.kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(serviceAccountTokenTTL))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubeharness: token for service account %s/%s: %v", namespace, name, err)
	}
	return &rest.Config{
		Host:            c.admin.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.ca.certPEM},
		BearerToken:     tr.Status.Token,
		QPS:             c.admin.QPS,
		Burst:           c.admin.Burst,
		UserAgent:       "chatops-kubeharness",
	}
}

func (c *Cluster) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := c.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig file for cfg's identity into a
// temporary directory of t and returns its path: what the bot's --kubeconfig
// or KUBECONFIG would name.
func (c *Cluster) WriteKubeconfig(t harness.TB, cfg *rest.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := writeKubeconfig(path, cfg); err != nil {
		t.Fatalf("kubeharness: kubeconfig: %v", err)
	}
	return path
}

// writeKubeconfig inlines every credential, so the file stands alone.
func writeKubeconfig(path string, cfg *rest.Config) error {
	const name = "kubeharness"
	user := &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" || cfg.BearerTokenFile != "" {
		user.ClientCertificate, user.ClientKey, user.TokenFile = cfg.CertFile, cfg.KeyFile, cfg.BearerTokenFile
	}
	kc := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{name: {
			Server:                   cfg.Host,
			CertificateAuthorityData: cfg.CAData,
			CertificateAuthority:     cfg.CAFile,
		}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{name: user},
		Contexts:       map[string]*clientcmdapi.Context{name: {Cluster: name, AuthInfo: name, Namespace: metav1.NamespaceDefault}},
		CurrentContext: name,
	}
	b, err := clientcmd.Write(kc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
