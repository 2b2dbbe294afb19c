package kubernetes

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

func TestClosest(t *testing.T) {
	names := []string{"auth-service", "forecasting-service", "gateway", "inventory-service", "orders-service"}
	tests := map[string]string{
		"ordres-service": "orders-service", // a typo
		"orders":         "orders-service", // a prefix
		"gatway":         "gateway",
		"payments":       "", // nothing close
	}
	for in, want := range tests {
		if got := closest(in, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"orders-service", "a", "gateway2"} {
		if err := validName("service", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Orders", "orders_service", "a/b", "x,y", "app=orders", "-lead", strings.Repeat("a", 64)} {
		if err := validName("service", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func pod(phase corev1.PodPhase, statuses ...corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "orders-service"}}, Status: corev1.PodStatus{Phase: phase, ContainerStatuses: statuses}}
	for range statuses {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c"})
	}
	return p
}

func TestPodProblem(t *testing.T) {
	ready := corev1.ContainerStatus{Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	crash := corev1.ContainerStatus{RestartCount: 7, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
	oom := corev1.ContainerStatus{Ready: true, RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled"}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	tests := []struct {
		name       string
		pod        *corev1.Pod
		wantBad    bool
		wantReason string
		restarts   int32
	}{
		{"running and ready", pod(corev1.PodRunning, ready), false, "", 0},
		{"succeeded", pod(corev1.PodSucceeded), false, "", 0},
		{"crash loop", pod(corev1.PodRunning, crash), true, "CrashLoopBackOff", 7},
		{"OOM killed but running again", pod(corev1.PodRunning, oom), true, "OOMKilled", 2},
		{"crash beats OOM", pod(corev1.PodRunning, oom, crash), true, "CrashLoopBackOff", 9},
		{"not ready", pod(corev1.PodRunning, ready, corev1.ContainerStatus{}), true, "NotReady", 0},
		{"pending", pod(corev1.PodPending, creating), true, "Pending", 0},
		{"failed", pod(corev1.PodFailed), true, "Failed", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, bad := podProblem(tc.pod, time.Now())
			if bad != tc.wantBad || p.Reason != tc.wantReason || p.Restarts != tc.restarts {
				t.Fatalf("podProblem = %+v, %v; want bad=%v reason=%q restarts=%d", p, bad, tc.wantBad, tc.wantReason, tc.restarts)
			}
		})
	}
}

func TestRolloutDone(t *testing.T) {
	d := func(gen, observed int64, updated, replicas, available int32, paused bool, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.DeploymentSpec{Paused: paused},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: replicas, AvailableReplicas: available, Conditions: conds}}
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		done bool
		msg  string
	}{
		{"done", d(2, 2, 3, 3, 3, false), true, "successfully rolled out"},
		{"spec not observed", d(3, 2, 3, 3, 3, false), false, "waiting for the deployment spec"},
		{"paused", d(2, 2, 1, 3, 3, true), false, "paused"},
		{"updating", d(2, 2, 1, 3, 3, false), false, "1 of 3 new replicas"},
		{"old pending", d(2, 2, 3, 4, 3, false), false, "1 old replicas"},
		{"unavailable", d(2, 2, 3, 3, 2, false), false, "2 of 3 updated replicas are available"},
		{"deadline", d(2, 2, 1, 3, 1, false, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded"}), false, "progress deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done, msg := rolloutDone(tc.d, 3)
			if done != tc.done || !strings.Contains(msg, tc.msg) {
				t.Fatalf("rolloutDone = %v %q; want %v and %q", done, msg, tc.done, tc.msg)
			}
		})
	}
}

func TestNamespaceAllowList(t *testing.T) {
	if _, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Config{Namespace: "kube-system", AllowedNamespaces: []string{"bakery-ia"}}, nil); err == nil {
		t.Fatal("a namespace outside the allow-list was accepted")
	}
	c, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Config{}, nil)
	if err != nil || c.cfg.Namespace != "bakery-ia" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}
