package kubeharness

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/bakewise/chatops/test/harness"
)

// rbacKinds are the kinds that make up the bot's identity and grants.
var rbacKinds = []string{"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}

// Kustomize builds the kustomization in dir as `kubectl apply -k dir`
// would, and returns the objects as one multi-document YAML for
// ApplyManifest.
func Kustomize(t harness.TB, dir string) string {
	t.Helper()
	return asYAML(t, kustomize(t, dir))
}

// KustomizeWith builds the kustomization in dir with components added, the
// way a user adds an optional component: a kustomization of their own that
// names dir as its resource, the components, and the namespace.
func KustomizeWith(t harness.TB, namespace, dir string, components ...string) string {
	t.Helper()
	root := t.TempDir()
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("kubeharness: %v", err)
		}
		r, err := filepath.Rel(root, abs)
		if err != nil {
			t.Fatalf("kubeharness: %v", err)
		}
		return filepath.ToSlash(r) // kustomize takes relative paths only
	}
	var k strings.Builder
	k.WriteString("namespace: " + namespace + "\nresources:\n  - " + rel(dir) + "\ncomponents:\n")
	for _, c := range components {
		k.WriteString("  - " + rel(c) + "\n")
	}
	if err := os.WriteFile(filepath.Join(root, "kustomization.yaml"), []byte(k.String()), 0o600); err != nil {
		t.Fatalf("kubeharness: %v", err)
	}
	return asYAML(t, kustomize(t, root))
}

// Overlays lists the shipped overlays, deploy/kubernetes/overlays/*, by
// path.
func Overlays(t harness.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(harness.RepoPath(t, "deploy", "kubernetes", "overlays", "*", "kustomization.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("kubeharness: no overlay under deploy/kubernetes/overlays (%v)", err)
	}
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	return dirs
}

// ShippedRBAC is the bot's ServiceAccount and every Role, ClusterRole and
// binding that the shipped overlays build, as YAML for ApplyManifest: what
// `kubectl apply -k` installs, not a hand-picked file. Every overlay must
// build the same RBAC, or t fails.
func ShippedRBAC(t harness.TB) string {
	t.Helper()
	var first, firstDir string
	for _, dir := range Overlays(t) {
		m := kustomize(t, dir)
		for _, r := range m.Resources() {
			if !slices.Contains(rbacKinds, r.GetKind()) {
				if err := m.Remove(r.CurId()); err != nil {
					t.Fatalf("kubeharness: %v", err)
				}
			}
		}
		if m.Size() == 0 {
			t.Fatalf("kubeharness: %s builds no RBAC", dir)
		}
		y := asYAML(t, m)
		if first == "" {
			first, firstDir = y, dir
		} else if y != first {
			t.Fatalf("kubeharness: %s and %s build different RBAC", firstDir, dir)
		}
	}
	return first
}

func kustomize(t harness.TB, dir string) resmap.ResMap {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kubeharness: kustomize build %s: %v", dir, err)
	}
	return m
}

func asYAML(t harness.TB, m resmap.ResMap) string {
	t.Helper()
	b, err := m.AsYaml()
	if err != nil {
		t.Fatalf("kubeharness: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		t.Fatalf("kubeharness: the kustomization builds nothing")
	}
	return string(b)
}
