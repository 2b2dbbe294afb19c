package kubeharness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bakewise/chatops/test/harness"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// fieldManager names the harness in managedFields.
const fieldManager = "chatops-kubeharness"

// ApplyYAML applies every object of a multi-document YAML (or JSON) file with
// the admin identity, in file order, by server-side apply, so a second apply
// of a changed file updates what the first created. Any kind the cluster
// serves works: Namespace, ServiceAccount, Role, ClusterRole, RoleBinding,
// ClusterRoleBinding, Deployment, ... Namespaced objects without a namespace
// go to "default", as kubectl would put them.
func (c *Cluster) ApplyYAML(t harness.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("kubeharness: apply: %v", err)
	}
	if err := c.apply(b); err != nil {
		t.Fatalf("kubeharness: apply %s: %v", path, err)
	}
}

// ApplyManifest is ApplyYAML for YAML held in memory.
func (c *Cluster) ApplyManifest(t harness.TB, manifest string) {
	t.Helper()
	if err := c.apply([]byte(manifest)); err != nil {
		t.Fatalf("kubeharness: apply: %v", err)
	}
}

func (c *Cluster) apply(manifest []byte) error {
	dyn, mapper, err := c.dynamicClients()
	if err != nil {
		return err
	}
	var bindings []*unstructured.Unstructured
	err = eachObject(manifest, func(obj *unstructured.Unstructured) error {
		if err := applyObject(dyn, mapper, obj); err != nil {
			return err
		}
		if gk := obj.GroupVersionKind().GroupKind(); gk.Group == rbacv1.GroupName && strings.HasSuffix(gk.Kind, "Binding") {
			bindings = append(bindings, obj)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if err := c.waitBinding(b); err != nil {
			return fmt.Errorf("%s %s: %w", b.GetKind(), b.GetName(), err)
		}
	}
	return nil
}

// dynamicClients are an admin dynamic client and a REST mapper over
// discovery, for objects of any kind.
func (c *Cluster) dynamicClients() (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper, error) {
	dyn, err := dynamic.NewForConfig(c.admin)
	if err != nil {
		return nil, nil, err
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.kube.Discovery())), nil
}

// eachObject calls fn with every object of a multi-document YAML (or
// JSON) manifest, in order, skipping empty documents; an error names the
// document.
func eachObject(manifest []byte, fn func(obj *unstructured.Unstructured) error) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for i := 1; ; i++ {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj.Object) == 0 { // an empty document, e.g. a trailing ---
			continue
		}
		if err := fn(obj); err != nil {
			return fmt.Errorf("document %d (%s %s): %w", i, obj.GetKind(), obj.GetName(), err)
		}
	}
}

func applyObject(dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || obj.GetName() == "" {
		return errors.New("needs kind and metadata.name")
	}
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A kind that appeared since discovery was cached (a CRD applied
		// earlier in the same file).
		mapper.Reset()
		mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
			obj.SetNamespace(ns)
		}
		ri = dyn.Resource(mapping.Resource).Namespace(ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	_, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return err
}
