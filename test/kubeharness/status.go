package kubeharness

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/bakewise/chatops/test/harness"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// WaitServed waits until the API server serves each group/version
// ("cert-manager.io/v1"): a CustomResourceDefinition just applied is
// served a moment later.
func (c *Cluster) WaitServed(t harness.TB, groupVersions ...string) {
	t.Helper()
	for _, gv := range groupVersions {
		err := c.poll(controllersTimeout, func(context.Context) (bool, error) {
			_, err := c.kube.Discovery().ServerResourcesForGroupVersion(gv)
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("kubeharness: %s is not served: %v", gv, err)
		}
	}
}

// ApplyWithStatus applies manifest (ApplyManifest), then writes the status
// of each object that has one through its status subresource, as its
// controller would (an apply of the object itself ignores its status).
func (c *Cluster) ApplyWithStatus(t harness.TB, manifest string) {
	t.Helper()
	c.ApplyManifest(t, manifest)
	if err := c.applyStatus([]byte(manifest)); err != nil {
		t.Fatalf("kubeharness: apply status: %v", err)
	}
}

func (c *Cluster) applyStatus(manifest []byte) error {
	dyn, mapper, err := c.dynamicClients()
	if err != nil {
		return err
	}
	return eachObject(manifest, func(obj *unstructured.Unstructured) error {
		if _, ok := obj.Object["status"]; !ok {
			return nil
		}
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		if _, err := ri.ApplyStatus(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		return nil
	})
}

// RelativeTimes replaces each ${now+Nh} and ${now-Nh} in s with that time
// from now, in RFC 3339: manifests of objects whose status holds times
// (a certificate's expiry) that the answers count from now.
func RelativeTimes(s string, now time.Time) string {
	return relativeTime.ReplaceAllStringFunc(s, func(m string) string {
		h, _ := strconv.Atoi(relativeTime.FindStringSubmatch(m)[1])
		return now.Add(time.Duration(h) * time.Hour).UTC().Format(time.RFC3339)
	})
}

var relativeTime = regexp.MustCompile(`\$\{now([+-]\d+)h\}`)
