package kubernetes

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

// templateChanges describes, one short line each, how a Deployment's pod
// template would change from cur to next: what an approver reads before
// approving a rollback. Images and resource quantities are shown; values of
// env vars, args, commands and annotations never are, since they may hold
// secrets (invariant 6): only their names, or that they changed.
func templateChanges(cur, next *corev1.PodTemplateSpec) []string {
	a, b := cur.DeepCopy(), next.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	differ := !apiequality.Semantic.DeepEqual(a, b)

	var out []string
	out = append(out, containerChanges("init container", a.Spec.InitContainers, b.Spec.InitContainers)...)
	out = append(out, containerChanges("container", a.Spec.Containers, b.Spec.Containers)...)
	if l := keyChanges("pod labels", a.Labels, b.Labels); l != "" {
		out = append(out, l)
	}
	if l := keyChanges("pod annotations", a.Annotations, b.Annotations); l != "" {
		out = append(out, l)
	}
	a.Spec.InitContainers, b.Spec.InitContainers = nil, nil
	a.Spec.Containers, b.Spec.Containers = nil, nil
	if f := differingFields(&a.Spec, &b.Spec); len(f) > 0 {
		out = append(out, "pod spec: "+names(f)+" changed")
	}
	if len(out) == 0 && differ {
		out = append(out, "pod template changed")
	}
	if len(out) > maxChangeLines {
		more := len(out) - (maxChangeLines - 1)
		out = append(out[:maxChangeLines-1], fmt.Sprintf("… and %d more changes", more))
	}
	return out
}

// containerChanges matches containers by name; kind is "container" or
// "init container".
func containerChanges(kind string, cur, next []corev1.Container) []string {
	var out []string
	curBy := map[string]*corev1.Container{}
	for i := range cur {
		curBy[cur[i].Name] = &cur[i]
	}
	nextBy := map[string]bool{}
	for i := range next {
		n := &next[i]
		nextBy[n.Name] = true
		c, ok := curBy[n.Name]
		if !ok {
			out = append(out, fmt.Sprintf("%s %s: added (image %s)", kind, n.Name, n.Image))
			continue
		}
		out = append(out, oneContainer(kind+" "+n.Name, c, n)...)
	}
	for _, c := range cur {
		if !nextBy[c.Name] {
			out = append(out, fmt.Sprintf("%s %s: removed (image %s)", kind, c.Name, c.Image))
		}
	}
	if sameNames(cur, next, curBy) {
		for i := range next {
			if cur[i].Name != next[i].Name {
				// Same containers, another order: init containers run in
				// order, so it is worth a line.
				out = append(out, kind+"s reordered")
				break
			}
		}
	}
	return out
}

// sameNames says whether next names the same containers as cur (indexed
// by name in curBy), in any order.
func sameNames(cur, next []corev1.Container, curBy map[string]*corev1.Container) bool {
	if len(cur) != len(next) || len(curBy) != len(cur) {
		return false
	}
	for _, n := range next {
		if _, ok := curBy[n.Name]; !ok {
			return false
		}
	}
	return true
}

func oneContainer(label string, a, b *corev1.Container) []string {
	var out []string
	if a.Image != b.Image {
		out = append(out, fmt.Sprintf("%s: image %s → %s", label, a.Image, b.Image))
	}
	if !apiequality.Semantic.DeepEqual(a.Command, b.Command) {
		out = append(out, label+": command changed")
	}
	if !apiequality.Semantic.DeepEqual(a.Args, b.Args) {
		out = append(out, label+": args changed")
	}
	if l := envChanges(a, b); l != "" {
		out = append(out, label+": "+l)
	}
	if l := resourceChanges(a.Resources, b.Resources); l != "" {
		out = append(out, label+": resources "+l)
	}
	// Everything else (ports, probes, mounts, ...) by field name.
	ra, rb := a.DeepCopy(), b.DeepCopy()
	for _, c := range []*corev1.Container{ra, rb} {
		c.Image, c.Command, c.Args, c.Env, c.EnvFrom, c.Resources = "", nil, nil, nil, nil, corev1.ResourceRequirements{}
	}
	if f := differingFields(ra, rb); len(f) > 0 {
		out = append(out, label+": "+names(f)+" changed")
	}
	return out
}

// envChanges names the env vars added, removed or changed; values stay
// out.
func envChanges(a, b *corev1.Container) string {
	av, bv := map[string]corev1.EnvVar{}, map[string]corev1.EnvVar{}
	for _, e := range a.Env {
		av[e.Name] = e
	}
	for _, e := range b.Env {
		bv[e.Name] = e
	}
	var added, removed, changed []string
	for n, e := range bv {
		if old, ok := av[n]; !ok {
			added = append(added, n)
		} else if !apiequality.Semantic.DeepEqual(old, e) {
			changed = append(changed, n)
		}
	}
	for n := range av {
		if _, ok := bv[n]; !ok {
			removed = append(removed, n)
		}
	}
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(p.names) > 0 {
			sort.Strings(p.names)
			parts = append(parts, p.what+" "+names(p.names))
		}
	}
	if !apiequality.Semantic.DeepEqual(a.EnvFrom, b.EnvFrom) {
		parts = append(parts, "envFrom changed")
	}
	if len(parts) == 0 {
		// Same names and values, another order: the order matters for
		// $(VAR) references.
		if !apiequality.Semantic.DeepEqual(a.Env, b.Env) {
			return "env reordered"
		}
		return ""
	}
	return "env " + strings.Join(parts, "; ")
}

// resourceChanges lists the requests and limits that differ, with their
// quantities ("requests.cpu 100m → 200m, limits.memory none → 1Gi").
func resourceChanges(a, b corev1.ResourceRequirements) string {
	var parts []string
	for _, side := range []struct {
		what string
		a, b corev1.ResourceList
	}{{"requests", a.Requests, b.Requests}, {"limits", a.Limits, b.Limits}} {
		keys := map[corev1.ResourceName]bool{}
		for k := range side.a {
			keys[k] = true
		}
		for k := range side.b {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, string(k))
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			qa, okA := side.a[corev1.ResourceName(k)]
			qb, okB := side.b[corev1.ResourceName(k)]
			if okA && okB && qa.Cmp(qb) == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s.%s %s → %s", side.what, k, quantity(qa, okA), quantity(qb, okB)))
		}
	}
	if len(parts) == 0 && !apiequality.Semantic.DeepEqual(a, b) {
		return "changed" // claims
	}
	if len(parts) > maxNamesPerLine {
		parts = append(parts[:maxNamesPerLine], fmt.Sprintf("+%d more", len(parts)-maxNamesPerLine))
	}
	return strings.Join(parts, ", ")
}

func quantity(q resource.Quantity, ok bool) string {
	if !ok {
		return "none"
	}
	return q.String()
}

// keyChanges names the keys of a label or annotation map that differ.
func keyChanges(what string, a, b map[string]string) string {
	var keys []string
	for k, v := range b {
		if old, ok := a[k]; !ok || old != v {
			keys = append(keys, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return what + " changed: " + names(keys)
}

// differingFields names (as in the API's JSON) the fields of two structs
// of the same type that differ.
func differingFields(a, b any) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var out []string
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if apiequality.Semantic.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// names joins up to maxNamesPerLine names, counting the rest.
func names(ns []string) string {
	if len(ns) <= maxNamesPerLine {
		return strings.Join(ns, ", ")
	}
	return strings.Join(ns[:maxNamesPerLine], ", ") + fmt.Sprintf(" (+%d more)", len(ns)-maxNamesPerLine)
}
