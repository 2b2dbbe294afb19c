package kube_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/bakewise/chatops/test/kubeharness"
)

const botUser = "system:serviceaccount:" + namespace + ":chatops"

// The shipped RBAC, as every overlay builds it, names every verb, resource
// and API group it grants: a wildcard would silently grant whatever a
// future Kubernetes adds.
func TestShippedRBACHasNoWildcards(t *testing.T) {
	rbac := kubeharness.ShippedRBAC(t)
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rbac), 4096)
	roles := 0
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the overlays' RBAC: %v", err)
		}
		var rules []rbacv1.PolicyRule
		switch obj.GetKind() {
		case "Role":
			var r rbacv1.Role
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &r); err != nil {
				t.Fatal(err)
			}
			rules = r.Rules
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &r); err != nil {
				t.Fatal(err)
			}
			if r.AggregationRule != nil {
				t.Errorf("ClusterRole %s aggregates other roles: its grants are not in the overlays", r.Name)
			}
			rules = r.Rules
		default:
			continue
		}
		roles++
		if len(rules) == 0 {
			t.Errorf("%s %s has no rules", obj.GetKind(), obj.GetName())
		}
		for i, rule := range rules {
			for field, values := range map[string][]string{
				"verbs": rule.Verbs, "resources": rule.Resources, "apiGroups": rule.APIGroups,
				"resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs,
			} {
				if slices.Contains(values, rbacv1.VerbAll) {
					t.Errorf("%s %s rule %d: %q in %s", obj.GetKind(), obj.GetName(), i, rbacv1.VerbAll, field)
				}
			}
			if len(rule.Verbs) == 0 || len(rule.Resources) == 0 {
				t.Errorf("%s %s rule %d names no verb or no resource: %+v", obj.GetKind(), obj.GetName(), i, rule)
			}
		}
	}
	if roles < 2 {
		t.Fatalf("found %d roles in the overlays' RBAC: the check read the wrong objects", roles)
	}
}

// The real RBAC authorizer, asked about the chatops ServiceAccount bound by
// the RBAC the shipped overlays build, allows each thing the bot does and denies a sample
// of what it must never do.
func TestShippedRBACIsLeast(t *testing.T) {
	c := kubeharness.Start(t)
	c.ApplyManifest(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+namespace+"\n")
	c.ApplyManifest(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: payments\n")
	c.ApplyManifest(t, kubeharness.ShippedRBAC(t))
	kube := c.Clientset()

	type access struct {
		ns, verb, group, resource, subresource string
	}
	allowed := []access{
		// health, logs, history, status
		{namespace, "get", "", "pods", ""},
		{namespace, "list", "", "pods", ""},
		{namespace, "get", "", "pods", "log"},
		{namespace, "get", "apps", "deployments", ""},
		{namespace, "list", "apps", "deployments", ""},
		{namespace, "watch", "apps", "deployments", ""}, // the rollout follow
		{namespace, "get", "apps", "replicasets", ""},
		{namespace, "list", "apps", "replicasets", ""},
		{namespace, "list", "metrics.k8s.io", "pods", ""},
		{"", "list", "", "nodes", ""},
		// rollback, restart
		{namespace, "update", "apps", "deployments", ""},
		// scale
		{namespace, "get", "apps", "deployments", "scale"},
		{namespace, "update", "apps", "deployments", "scale"},
		{namespace, "list", "autoscaling", "horizontalpodautoscalers", ""},
		// events, hpa, certs, gitops
		{namespace, "list", "", "events", ""},
		{namespace, "get", "autoscaling", "horizontalpodautoscalers", ""},
		{namespace, "get", "cert-manager.io", "certificates", ""},
		{namespace, "list", "cert-manager.io", "certificates", ""},
		{namespace, "list", "kustomize.toolkit.fluxcd.io", "kustomizations", ""},
		{namespace, "get", "kustomize.toolkit.fluxcd.io", "kustomizations", ""},
		{namespace, "list", "source.toolkit.fluxcd.io", "gitrepositories", ""},
		{namespace, "get", "source.toolkit.fluxcd.io", "gitrepositories", ""},
		{namespace, "list", "helm.toolkit.fluxcd.io", "helmreleases", ""},
		{namespace, "get", "helm.toolkit.fluxcd.io", "helmreleases", ""},
	}
	denied := []access{
		{namespace, "delete", "apps", "deployments", ""},
		{namespace, "create", "apps", "deployments", ""},
		{namespace, "create", "", "pods", ""},
		{namespace, "delete", "", "pods", ""},
		{namespace, "create", "", "pods", "exec"},
		{namespace, "get", "", "secrets", ""},
		{namespace, "list", "", "secrets", ""},
		{namespace, "update", "", "configmaps", ""},
		{namespace, "update", "apps", "replicasets", ""},
		{namespace, "watch", "apps", "replicasets", ""},
		{namespace, "watch", "", "pods", ""},
		{"payments", "watch", "apps", "deployments", ""},
		{namespace, "update", "autoscaling", "horizontalpodautoscalers", ""},
		{namespace, "create", "rbac.authorization.k8s.io", "rolebindings", ""},
		{"", "patch", "", "nodes", ""},
		{"", "list", "", "secrets", ""},
		{"payments", "update", "apps", "deployments", ""},
		{"payments", "update", "apps", "deployments", "scale"},
		{"payments", "list", "", "pods", ""},
		{"kube-system", "get", "apps", "deployments", ""},
		// The new reads stop at reading, in this namespace: no writes to
		// what they read, no watch, no cert-manager secrets or issuers.
		{namespace, "create", "", "events", ""},
		{namespace, "delete", "", "events", ""},
		{namespace, "watch", "", "events", ""},
		{namespace, "get", "events.k8s.io", "events", ""},
		{"payments", "list", "", "events", ""},
		{"", "list", "", "events", ""},
		{namespace, "create", "autoscaling", "horizontalpodautoscalers", ""},
		{namespace, "patch", "autoscaling", "horizontalpodautoscalers", ""},
		{namespace, "update", "autoscaling", "horizontalpodautoscalers", "status"},
		{"payments", "list", "autoscaling", "horizontalpodautoscalers", ""},
		{namespace, "update", "cert-manager.io", "certificates", ""},
		{namespace, "delete", "cert-manager.io", "certificates", ""},
		{namespace, "update", "cert-manager.io", "certificates", "status"},
		{namespace, "list", "cert-manager.io", "issuers", ""},
		{namespace, "list", "cert-manager.io", "certificaterequests", ""},
		{"", "list", "cert-manager.io", "clusterissuers", ""},
		{"payments", "list", "cert-manager.io", "certificates", ""},
		{namespace, "patch", "kustomize.toolkit.fluxcd.io", "kustomizations", ""},
		{namespace, "update", "source.toolkit.fluxcd.io", "gitrepositories", ""},
		{namespace, "patch", "helm.toolkit.fluxcd.io", "helmreleases", ""},
		{namespace, "delete", "helm.toolkit.fluxcd.io", "helmreleases", ""},
		{"flux-system", "list", "kustomize.toolkit.fluxcd.io", "kustomizations", ""},
		{"flux-system", "list", "source.toolkit.fluxcd.io", "gitrepositories", ""},
		{namespace, "list", "source.toolkit.fluxcd.io", "helmrepositories", ""},
	}
	check := func(a access, want bool) {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: botUser,
			// What the ServiceAccount's token carries.
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.ns, Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource,
			},
		}}
		got, err := kube.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview %+v: %v", a, err)
		}
		if got.Status.Allowed != want {
			t.Errorf("%s %s.%s/%s in %q: allowed = %v, want %v (%s)", a.verb, a.resource, a.group, a.subresource, a.ns,
				got.Status.Allowed, want, got.Status.Reason)
		}
	}
	for _, a := range allowed {
		check(a, true)
	}
	for _, a := range denied {
		check(a, false)
	}
}
