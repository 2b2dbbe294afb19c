package kubeharness

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// waitBinding waits until the apiserver's RBAC authorizer, which works from
// its own informers, grants the binding's first subject the first rule of
// the bound role. Without it, the request right after an apply may still be
// Forbidden for a few milliseconds, and a test proving that the shipped RBAC
// is enough would be flaky.
func (c *Cluster) waitBinding(obj *unstructured.Unstructured) error {
	var b struct {
		metav1.ObjectMeta
		Subjects []rbacv1.Subject
		RoleRef  rbacv1.RoleRef
	}
	switch obj.GetKind() {
	case "RoleBinding":
		var rb rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &rb); err != nil {
			return err
		}
		b.ObjectMeta, b.Subjects, b.RoleRef = rb.ObjectMeta, rb.Subjects, rb.RoleRef
	case "ClusterRoleBinding":
		var crb rbacv1.ClusterRoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &crb); err != nil {
			return err
		}
		b.ObjectMeta, b.Subjects, b.RoleRef = crb.ObjectMeta, crb.Subjects, crb.RoleRef
	default:
		return nil
	}
	if len(b.Subjects) == 0 {
		return nil
	}

	var rules []rbacv1.PolicyRule
	err := c.poll(controllersTimeout, func(ctx context.Context) (bool, error) {
		if b.RoleRef.Kind == "Role" {
			r, err := c.kube.RbacV1().Roles(b.Namespace).Get(ctx, b.RoleRef.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			rules = r.Rules
		} else {
			r, err := c.kube.RbacV1().ClusterRoles().Get(ctx, b.RoleRef.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			rules = r.Rules
		}
		// An aggregated ClusterRole gets its rules from a controller that
		// does not run here; one without rules grants nothing to wait for.
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("role %s %s: %w", b.RoleRef.Kind, b.RoleRef.Name, err)
	}
	if len(rules) == 0 {
		return nil
	}
	sar, err := accessReview(b.Subjects[0], rules[0], b.Namespace)
	if err != nil {
		return err
	}
	return c.poll(controllersTimeout, func(ctx context.Context) (bool, error) {
		got, err := c.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Allowed, nil
	})
}

// accessReview asks whether subject may do the first thing rule grants.
func accessReview(subject rbacv1.Subject, rule rbacv1.PolicyRule, namespace string) (*authorizationv1.SubjectAccessReview, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{}
	switch subject.Kind {
	case rbacv1.ServiceAccountKind:
		ns := subject.Namespace
		if ns == "" {
			ns = namespace
		}
		spec.User = "system:serviceaccount:" + ns + ":" + subject.Name
		spec.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	case rbacv1.UserKind:
		spec.User = subject.Name
		spec.Groups = []string{"system:authenticated"}
	case rbacv1.GroupKind:
		spec.User = "kubeharness:any-member"
		spec.Groups = []string{subject.Name}
	default:
		return nil, fmt.Errorf("subject kind %q", subject.Kind)
	}
	concrete := func(values []string, wildcard string) string {
		if len(values) == 0 || values[0] == "*" {
			return wildcard
		}
		return values[0]
	}
	verb := concrete(rule.Verbs, "get")
	if len(rule.NonResourceURLs) > 0 {
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{
			Path: strings.TrimSuffix(rule.NonResourceURLs[0], "*"), Verb: verb,
		}
		return &authorizationv1.SubjectAccessReview{Spec: spec}, nil
	}
	if len(rule.Resources) == 0 {
		return nil, errors.New("a rule with neither resources nor non-resource URLs")
	}
	resource, subresource, _ := strings.Cut(concrete(rule.Resources, "pods"), "/")
	spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
		Namespace:   namespace,
		Verb:        verb,
		Group:       concrete(rule.APIGroups, ""),
		Resource:    resource,
		Subresource: subresource,
		Name:        concrete(rule.ResourceNames, ""),
	}
	return &authorizationv1.SubjectAccessReview{Spec: spec}, nil
}
