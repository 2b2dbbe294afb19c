package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxCustomObjects bounds the objects of one kind a command reads.
const maxCustomObjects = 200

// The cluster-custom resources the read commands know.
var (
	certificatesGVR    = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	kustomizationsGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gitRepositoriesGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	helmReleasesGVR    = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}
)

// served asks discovery whether the API server serves gvr: a group or
// version it does not know is an answer (false), not an error.
func (c *Cluster) served(gvr schema.GroupVersionResource) (bool, error) {
	list, err := c.cs.Discovery().ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", gvr.GroupVersion(), err)
	}
	return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == gvr.Resource }), nil
}

// listCustom lists the namespace's objects of gvr, at most
// maxCustomObjects; more: the second result is true.
func (c *Cluster) listCustom(ctx context.Context, ns string, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, bool, error) {
	list, err := c.dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{Limit: maxCustomObjects})
	if err != nil {
		return nil, false, fmt.Errorf("list %s in %s: %w", gvr.GroupResource(), ns, err)
	}
	return list.Items, list.GetContinue() != "", nil
}

// Certificates reads the namespace's cert-manager Certificates, soonest
// expiry first (those without an expiry yet first of all: they are not
// issued). Without cert-manager the report says it is not installed.
func (c *Cluster) Certificates(ctx context.Context) (bot.CertificatesReport, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.CertificatesReport{}, err
	}
	rep := bot.CertificatesReport{Namespace: ns}
	if rep.Installed, err = c.served(certificatesGVR); err != nil || !rep.Installed {
		return rep, err
	}
	items, more, err := c.listCustom(ctx, ns, certificatesGVR)
	if err != nil {
		return rep, err
	}
	rep.Incomplete = more
	for i := range items {
		rep.Certificates = append(rep.Certificates, certificateOf(&items[i]))
	}
	sort.SliceStable(rep.Certificates, func(i, j int) bool {
		a, b := rep.Certificates[i], rep.Certificates[j]
		if !a.NotAfter.Equal(b.NotAfter) {
			return a.NotAfter.Before(b.NotAfter)
		}
		return a.Name < b.Name
	})
	return rep, nil
}

func certificateOf(u *unstructured.Unstructured) bot.Certificate {
	cert := bot.Certificate{Name: u.GetName()}
	cert.Ready, cert.Reason, cert.Message = readyCondition(u)
	cert.NotAfter = timeField(u, "status", "notAfter")
	cert.RenewalTime = timeField(u, "status", "renewalTime")
	cert.LastFailure = timeField(u, "status", "lastFailureTime")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "issuerRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "issuerRef", "name")
	if kind == "" {
		kind = "Issuer" // cert-manager's default
	}
	cert.Issuer = kind + "/" + name
	return cert
}

// GitOps reads the namespace's Flux Kustomizations, GitRepositories and
// HelmReleases, those the cluster serves: not ready first, then by kind
// and name. Served empty: Flux is not installed.
func (c *Cluster) GitOps(ctx context.Context) (bot.GitOpsReport, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.GitOpsReport{}, err
	}
	rep := bot.GitOpsReport{Namespace: ns}
	for _, k := range []struct {
		kind     string
		gvr      schema.GroupVersionResource
		revision []string
	}{
		{"Kustomization", kustomizationsGVR, []string{"status", "lastAppliedRevision"}},
		{"GitRepository", gitRepositoriesGVR, []string{"status", "artifact", "revision"}},
		{"HelmRelease", helmReleasesGVR, []string{"status", "lastAttemptedRevision"}},
	} {
		ok, err := c.served(k.gvr)
		if err != nil {
			return rep, err
		}
		if !ok {
			continue
		}
		rep.Served = append(rep.Served, k.kind)
		items, more, err := c.listCustom(ctx, ns, k.gvr)
		if err != nil {
			return rep, err
		}
		rep.Incomplete = rep.Incomplete || more
		for i := range items {
			u := &items[i]
			o := bot.GitOpsObject{Kind: k.kind, Name: u.GetName()}
			o.Ready, o.Reason, o.Message = readyCondition(u)
			o.Suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
			o.Revision, _, _ = unstructured.NestedString(u.Object, k.revision...)
			rep.Objects = append(rep.Objects, o)
		}
	}
	kindRank := map[string]int{"Kustomization": 0, "HelmRelease": 1, "GitRepository": 2}
	sort.SliceStable(rep.Objects, func(i, j int) bool {
		a, b := rep.Objects[i], rep.Objects[j]
		if (a.Ready == "True") != (b.Ready == "True") {
			return a.Ready != "True"
		}
		if a.Kind != b.Kind {
			return kindRank[a.Kind] < kindRank[b.Kind]
		}
		return a.Name < b.Name
	})
	return rep, nil
}

// maxConditionMessage bounds a condition message kept from a custom
// object: controllers put whole error chains there.
const maxConditionMessage = 300

// readyCondition is the object's Ready condition: status, reason, message.
func readyCondition(u *unstructured.Unstructured) (string, string, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		msg := strings.Join(strings.Fields(str("message")), " ")
		if r := []rune(msg); len(r) > maxConditionMessage {
			msg = string(r[:maxConditionMessage]) + "…"
		}
		return str("status"), str("reason"), msg
	}
	return "", "", ""
}

// timeField is an RFC 3339 time in the object, zero when absent or not a
// time.
func timeField(u *unstructured.Unstructured, fields ...string) time.Time {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
