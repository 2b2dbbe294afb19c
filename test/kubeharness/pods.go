package kubeharness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/bakewise/chatops/test/harness"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// podsTimeout bounds how long RunPods waits for the controllers to create
// the pods it is asked to run, and WaitDeploymentReady for a rollout.
const podsTimeout = 30 * time.Second

// PodState is what RunPods makes of each pod, playing scheduler and kubelet.
// The zero value is a pod bound to the cluster's first node, phase Running,
// every container running and ready. The constructors below name the states
// the bot must recognise.
type PodState struct {
	// Count is how many matching pods to wait for before acting; 0 means 1.
	Count int
	// Node is the node to bind pods to; empty means the first node added
	// (one named "node-1" is added when there is none).
	Node string
	// Pending leaves pods unscheduled: phase Pending, PodScheduled False
	// (Unschedulable), no container statuses.
	Pending bool
	// NotReady keeps containers running but not ready, as a failing
	// readiness probe does.
	NotReady bool
	// Waiting puts containers in a waiting state with this reason
	// (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, ContainerCreating)
	// and message (empty: what a kubelet would say); they are not ready. A pod whose containers never ran
	// (no restarts, no last state) stays in phase Pending.
	Waiting, WaitingMessage string
	// LastTerminated is the reason the previous run of the containers ended
	// (OOMKilled, Error, Completed), with ExitCode, in lastState.terminated.
	LastTerminated string
	ExitCode       int32
	RestartCount   int32
	// Containers limits the state to these containers; the others run and
	// are ready. Empty means all containers.
	Containers []string
}

// Running is a scheduled pod whose containers all run and are ready.
func Running() PodState { return PodState{} }

// NotReady is a running pod whose readiness probe fails.
func NotReady() PodState { return PodState{NotReady: true} }

// Pending is a pod the scheduler cannot place.
func Pending() PodState { return PodState{Pending: true} }

// CrashLoopBackOff is a container that keeps exiting with an error and waits
// to be restarted.
func CrashLoopBackOff(restarts int32) PodState {
	return PodState{Waiting: "CrashLoopBackOff", LastTerminated: "Error", ExitCode: 1, RestartCount: restarts}
}

// OOMKilled is a container that was killed for exceeding its memory limit
// and runs again, ready.
func OOMKilled(restarts int32) PodState {
	return PodState{LastTerminated: "OOMKilled", ExitCode: 137, RestartCount: restarts}
}

// ImagePullBackOff is a container whose image cannot be pulled; it never ran.
func ImagePullBackOff() PodState {
	return PodState{Waiting: "ImagePullBackOff"}
}

// RunPods waits until at least state.Count pods in namespace match the label
// selector (and are not being deleted), then binds each unscheduled one to
// the node (pods/binding) and writes its status as a kubelet would. It
// returns the pods as written. The real controllers then count them: a
// Deployment reports ready replicas once its pods are Running and Ready.
func (c *Cluster) RunPods(t harness.TB, namespace, selector string, state PodState) []corev1.Pod {
	t.Helper()
	want := max(state.Count, 1)
	var pods []corev1.Pod
	err := c.poll(podsTimeout, func(ctx context.Context) (bool, error) {
		list, err := c.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		pods = slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
		return len(pods) >= want, nil
	})
	if err != nil {
		t.Fatalf("kubeharness: waiting for %d pods %q in %s: %v (have %d)", want, selector, namespace, err, len(pods))
	}
	node := c.nodeFor(t, state.Node)
	out := make([]corev1.Pod, 0, len(pods))
	for _, p := range pods {
		got, err := c.runPod(&p, node, state)
		if err != nil {
			t.Fatalf("kubeharness: pod %s/%s: %v", p.Namespace, p.Name, err)
		}
		out = append(out, *got)
	}
	return out
}

// KeepRunning plays the kubelet for pods still to come: every pod that
// appears in namespace matching selector, unscheduled and without status, is
// given state, until the test ends. Rollouts (restart, rollback, scale up)
// then complete on their own. Pods that already have a state keep it.
func (c *Cluster) KeepRunning(t harness.TB, namespace, selector string, state PodState) {
	t.Helper()
	node := c.nodeFor(t, state.Node)
	lw := cache.NewFilteredListWatchFromClient(c.kube.CoreV1().RESTClient(), "pods", namespace,
		func(o *metav1.ListOptions) { o.LabelSelector = selector })
	run := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.DeletionTimestamp != nil || pod.Spec.NodeName != "" || len(pod.Status.ContainerStatuses) > 0 {
			return
		}
		if _, err := c.runPod(pod, node, state); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("kubeharness: keep running %s/%s: %v", pod.Namespace, pod.Name, err)
		}
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    run,
			UpdateFunc: func(_, obj any) { run(obj) },
		},
	})
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		informer.Run(stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// nodeFor returns the named node, or the first one, adding node-1 to an
// empty cluster.
func (c *Cluster) nodeFor(t harness.TB, name string) string {
	t.Helper()
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()
	if name != "" {
		return name
	}
	if len(nodes) > 0 {
		return nodes[0].Name
	}
	return c.AddNode(t, "node-1").Name
}

func (c *Cluster) runPod(pod *corev1.Pod, node string, state PodState) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	pods := c.kube.CoreV1().Pods(pod.Namespace)
	if pod.Spec.NodeName == "" && !state.Pending {
		err := pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("bind to %s: %w", node, err)
		}
	}
	var written *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status = c.podStatus(cur, state)
		written, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return written, nil
}

// podStatus builds the status a kubelet would report for pod in state.
func (c *Cluster) podStatus(pod *corev1.Pod, state PodState) corev1.PodStatus {
	now := metav1.Now()
	cond := func(typ corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		return corev1.PodCondition{Type: typ, Status: s, LastTransitionTime: now}
	}
	if state.Pending || pod.Spec.NodeName == "" {
		return corev1.PodStatus{
			Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, LastTransitionTime: now,
				Reason:  corev1.PodReasonUnschedulable,
				Message: "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
			}},
		}
	}

	started := now
	if pod.Status.StartTime != nil {
		started = *pod.Status.StartTime
	}
	podIP := pod.Status.PodIP
	if podIP == "" {
		podIP = c.allocatePodIP()
	}
	st := corev1.PodStatus{
		HostIP:    "127.0.0.1",
		HostIPs:   []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: &started,
		QOSClass:  pod.Status.QOSClass,
	}
	for _, ic := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{
			Name: ic.Name, Image: ic.Image, ImageID: imageID(ic.Image), ContainerID: containerID(pod, ic.Name, 0),
			Ready: true,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: started, FinishedAt: started,
			}},
		})
	}
	allReady, anyRan := true, false
	for _, ctr := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image}
		affected := len(state.Containers) == 0 || slices.Contains(state.Containers, ctr.Name)
		restarts := int32(0)
		if affected {
			restarts = state.RestartCount
		}
		cs.RestartCount = restarts
		if affected && state.LastTerminated != "" {
			finished := metav1.NewTime(now.Add(-10 * time.Second))
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
				Reason: state.LastTerminated, ExitCode: state.ExitCode,
				StartedAt: metav1.NewTime(finished.Add(-time.Minute)), FinishedAt: finished,
				ContainerID: containerID(pod, ctr.Name, max(restarts-1, 0)),
			}
		}
		if affected && state.Waiting != "" {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: state.Waiting, Message: waitingMessage(pod, ctr, state)}
			if restarts > 0 || state.LastTerminated != "" {
				cs.ImageID = imageID(ctr.Image)
				anyRan = true
			}
		} else {
			cs.ImageID = imageID(ctr.Image)
			cs.ContainerID = containerID(pod, ctr.Name, restarts)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
			cs.Started = new(true)
			cs.Ready = !(affected && state.NotReady)
			anyRan = true
		}
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.Phase = corev1.PodRunning
	if !anyRan {
		st.Phase = corev1.PodPending
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, true),
		cond(corev1.PodInitialized, true),
		cond(corev1.ContainersReady, allReady),
		cond(corev1.PodReady, allReady),
		cond(corev1.PodScheduled, true),
	}
	for i := range st.Conditions {
		if st.Conditions[i].Status == corev1.ConditionFalse {
			st.Conditions[i].Reason = "ContainersNotReady"
		}
	}
	return st
}

func waitingMessage(pod *corev1.Pod, ctr corev1.Container, state PodState) string {
	if state.WaitingMessage != "" {
		return state.WaitingMessage
	}
	switch state.Waiting {
	case "CrashLoopBackOff":
		return fmt.Sprintf("back-off 5m0s restarting failed container=%s pod=%s_%s(%s)", ctr.Name, pod.Name, pod.Namespace, pod.UID)
	case "ImagePullBackOff":
		return fmt.Sprintf("Back-off pulling image %q", ctr.Image)
	case "ErrImagePull":
		return fmt.Sprintf("failed to pull and unpack image %q: not found", ctr.Image)
	}
	return ""
}

func (c *Cluster) allocatePodIP() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextIP++
	return fmt.Sprintf("10.244.%d.%d", c.nextIP/250, c.nextIP%250+1)
}

func imageID(image string) string {
	sum := sha256.Sum256([]byte(image))
	return image + "@sha256:" + hex.EncodeToString(sum[:])
}

func containerID(pod *corev1.Pod, container string, restart int32) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", pod.UID, container, restart))
	return "containerd://" + hex.EncodeToString(sum[:])
}

// WaitDeploymentReady waits until the Deployment's rollout is complete: the
// controller has seen its latest spec and every desired replica is updated,
// ready and available. It returns the Deployment as last read.
func (c *Cluster) WaitDeploymentReady(t harness.TB, namespace, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	err := c.poll(podsTimeout, func(ctx context.Context) (bool, error) {
		var err error
		d, err = c.kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
			s.AvailableReplicas == want && s.Replicas == want, nil
	})
	if err != nil {
		status := "never read"
		if d != nil {
			status = fmt.Sprintf("%+v", d.Status)
		}
		t.Fatalf("kubeharness: deployment %s/%s not ready: %v (status %s)", namespace, name, err, status)
	}
	return d
}

// poll runs cond until it holds or the timeout passes.
func (c *Cluster) poll(timeout time.Duration, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				return fmt.Errorf("timed out after %s: %w", timeout, lastErr)
			}
			return fmt.Errorf("timed out after %s", timeout)
		}
		time.Sleep(pollInterval)
	}
}
