package kubernetes

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func baseTemplate() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "api",
				Image: "registry.bakery-ia.local/orders-service:1.4.2",
				Args:  []string{"--port=8000"},
				Env: []corev1.EnvVar{
					{Name: "DB_HOST", Value: "orders-db"},
					{Name: "DB_PASSWORD", Value: "hunter2"},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				Ports: []corev1.ContainerPort{{ContainerPort: 8000}},
			}},
		},
	}
}

func TestTemplateChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(*corev1.PodTemplateSpec)
		want   []string
	}{
		{"identical", func(*corev1.PodTemplateSpec) {}, nil},
		{"hash label only", func(p *corev1.PodTemplateSpec) {
			p.Labels = map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: "5d8f7c"}
		}, nil},
		{"image", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Image = "registry.bakery-ia.local/orders-service:1.4.1"
		}, []string{"container api: image registry.bakery-ia.local/orders-service:1.4.2 → registry.bakery-ia.local/orders-service:1.4.1"}},
		{"args and command, without their values", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Args = []string{"--port=9000"}
			p.Spec.Containers[0].Command = []string{"/orders"}
		}, []string{"container api: command changed", "container api: args changed"}},
		{"env names, never values", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{
				{Name: "DB_PASSWORD", Value: "hunter3"},
				{Name: "LOG_LEVEL", Value: "debug"},
			}
		}, []string{"container api: env added LOG_LEVEL; removed DB_HOST; changed DB_PASSWORD"}},
		{"env reordered", func(p *corev1.PodTemplateSpec) {
			e := p.Spec.Containers[0].Env
			e[0], e[1] = e[1], e[0]
		}, []string{"container api: env reordered"}},
		{"envFrom", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "orders"}}}}
		}, []string{"container api: env envFrom changed"}},
		{"resources with quantities", func(p *corev1.PodTemplateSpec) {
			r := &p.Spec.Containers[0].Resources
			r.Requests[corev1.ResourceCPU] = resource.MustParse("200m")
			r.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
			r.Limits[corev1.ResourceCPU] = resource.MustParse("1")
		}, []string{"container api: resources requests.cpu 100m → 200m, limits.cpu none → 1, limits.memory 512Mi → 1Gi"}},
		{"equal quantities written differently", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("0.1")
		}, nil},
		{"other container fields by name", func(p *corev1.PodTemplateSpec) {
			c := &p.Spec.Containers[0]
			c.Ports = nil
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health"}}}
		}, []string{"container api: ports, readinessProbe changed"}},
		{"container added", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy:1.30"})
		}, []string{"container proxy: added (image envoy:1.30)"}},
		{"container renamed is one removed, one added", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Name = "orders"
		}, []string{
			"container orders: added (image registry.bakery-ia.local/orders-service:1.4.2)",
			"container api: removed (image registry.bakery-ia.local/orders-service:1.4.2)",
		}},
		{"init containers", func(p *corev1.PodTemplateSpec) {
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "orders-migrate:7"}}
		}, []string{"init container migrate: added (image orders-migrate:7)"}},
		{"pod labels and annotations by key", func(p *corev1.PodTemplateSpec) {
			p.Labels = map[string]string{"app": "orders", appsv1.DefaultDeploymentUniqueLabelKey: "abc"}
			p.Annotations = map[string]string{restartedAtAnnotation: "2026-01-01T00:00:00Z"}
		}, []string{"pod labels changed: app", "pod annotations changed: " + restartedAtAnnotation}},
		{"pod spec fields by name", func(p *corev1.PodTemplateSpec) {
			p.Spec.ServiceAccountName = "orders"
			p.Spec.Volumes = []corev1.Volume{{Name: "tmp"}}
		}, []string{"pod spec: volumes, serviceAccountName changed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur, next := baseTemplate(), baseTemplate()
			tc.change(next)
			got := templateChanges(cur, next)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("templateChanges =\n  %q\nwant\n  %q", got, tc.want)
			}
			for _, l := range got {
				if strings.Contains(l, "hunter") || strings.Contains(l, "orders-db") {
					t.Errorf("a value leaked into %q", l)
				}
			}
		})
	}
}

func TestTemplateChangesReorderedContainers(t *testing.T) {
	cur := baseTemplate()
	cur.Spec.Containers = append(cur.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy:1.30"})
	next := cur.DeepCopy()
	next.Spec.Containers[0], next.Spec.Containers[1] = next.Spec.Containers[1], next.Spec.Containers[0]
	if got, want := templateChanges(cur, next), []string{"containers reordered"}; !slices.Equal(got, want) {
		t.Fatalf("templateChanges = %q, want %q", got, want)
	}
}

// A template that differs everywhere still fits a chat card.
func TestTemplateChangesBounded(t *testing.T) {
	cur, next := baseTemplate(), baseTemplate()
	for i := range 30 {
		name := fmt.Sprintf("sidecar-%02d", i)
		next.Spec.Containers = append(next.Spec.Containers, corev1.Container{Name: name, Image: "x:1"})
	}
	got := templateChanges(cur, next)
	if len(got) != maxChangeLines {
		t.Fatalf("%d lines, want %d: %q", len(got), maxChangeLines, got)
	}
	if last := got[len(got)-1]; last != "… and 11 more changes" {
		t.Errorf("last line = %q, want the count of what was left out", last)
	}

	// One line lists at most maxNamesPerLine names.
	cur, next = baseTemplate(), baseTemplate()
	for i := range 8 {
		next.Spec.Containers[0].Env = append(next.Spec.Containers[0].Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i)})
	}
	got = templateChanges(cur, next)
	if want := []string{"container api: env added V0, V1, V2, V3, V4 (+3 more)"}; !slices.Equal(got, want) {
		t.Errorf("templateChanges = %q, want %q", got, want)
	}
}
