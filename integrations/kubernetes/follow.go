package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/watch"
)

// Following a rollout after an approved action: a watch on that one
// Deployment (by name), and a look at the new ReplicaSet's pods every few
// seconds, because a pod stuck pulling its image changes nothing on the
// Deployment until its progress deadline, minutes later.

const (
	// DefaultFollowLimit caps how long a rollout is followed when
	// Config.FollowLimit is not set.
	DefaultFollowLimit = 5 * time.Minute
	// defaultProgressDeadline is the API's default progressDeadlineSeconds.
	defaultProgressDeadline = 600 * time.Second
	// followGrace is added to the Deployment's progress deadline: the
	// controller writes ProgressDeadlineExceeded on its first sync after
	// the deadline, and the follow should be there to see it.
	followGrace = 15 * time.Second
	// podCheckInterval is how often the new ReplicaSet's pods are read,
	// and the Deployment too while its watch is down.
	podCheckInterval = 3 * time.Second
	// rewatchDelay spaces out re-opening a watch the server ended.
	rewatchDelay = time.Second
	// maxFollowMessage bounds, in runes, a condition's or a container's
	// message as the card shows it.
	maxFollowMessage = 300
)

// stuckReasons are the waiting reasons of a container that will not start
// without someone's help: a new ReplicaSet's pod in one of them stops the
// follow, named, without waiting for the progress deadline.
var stuckReasons = map[string]bool{
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
	"CrashLoopBackOff":           true,
	"CreateContainerConfigError": true,
}

// FollowRollout follows service's rollout from now: it reports the
// progress (updated and available replicas) each time it changes, and
// returns, after reporting it, how it ended: complete, stopped by a
// condition (ProgressDeadlineExceeded) or by a stuck pod of the new
// ReplicaSet, lost (the Deployment was deleted or cannot be read), or
// unfollowed when its bound passed first. The bound is the Deployment's
// progressDeadlineSeconds plus a grace, capped at Config.FollowLimit; ctx
// may end it sooner.
func (c *Cluster) FollowRollout(ctx context.Context, service string, report func(bot.RolloutProgress)) bot.RolloutProgress {
	start := time.Now()
	f := &follower{c: c, start: start, report: report}
	ns, err := c.namespace()
	if err != nil {
		return f.lost(err)
	}
	f.ns = ns
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	d, err := c.deployment(rctx, ns, service)
	cancel()
	if err != nil {
		return f.lost(err)
	}
	ctx, cancel = context.WithTimeout(ctx, followBound(d, c.cfg.FollowLimit))
	defer cancel()
	return f.run(ctx, d)
}

// followBound is how long d's rollout is followed.
func followBound(d *appsv1.Deployment, limit time.Duration) time.Duration {
	if limit <= 0 {
		limit = DefaultFollowLimit
	}
	deadline := defaultProgressDeadline
	if s := d.Spec.ProgressDeadlineSeconds; s != nil && *s > 0 {
		deadline = time.Duration(*s) * time.Second
	}
	return min(deadline+followGrace, limit)
}

type follower struct {
	c      *Cluster
	ns     string
	start  time.Time
	report func(bot.RolloutProgress)
}

func (f *follower) run(ctx context.Context, d *appsv1.Deployment) bot.RolloutProgress {
	tick := time.NewTicker(podCheckInterval)
	defer tick.Stop()
	var (
		w        watch.Interface
		opened   time.Time
		last     bot.RolloutProgress
		reported bool
		stuck    *bot.RolloutProgress
	)
	defer func() {
		if w != nil {
			w.Stop()
		}
	}()
	stuck = f.stuckPod(ctx, d)
	for {
		p := f.progressOf(d)
		if stuck != nil && p.State == bot.RolloutProgressing {
			s := *stuck
			s.Desired, s.Updated, s.Available, s.Elapsed = p.Desired, p.Updated, p.Available, p.Elapsed
			p = s
		}
		if p.State.Final() {
			return f.end(p)
		}
		if !reported || !sameProgress(p, last) {
			f.report(p)
			last, reported = p, true
		}
		if w == nil && time.Since(opened) >= rewatchDelay {
			opened = time.Now()
			var err error
			if w, err = f.c.cs.AppsV1().Deployments(f.ns).Watch(ctx, metav1.ListOptions{
				FieldSelector:   fields.OneTermEqualSelector("metadata.name", d.Name).String(),
				ResourceVersion: d.ResourceVersion,
			}); err != nil {
				w = nil
				if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
					return f.lost(fmt.Errorf("watch deployment %s/%s: %w", f.ns, d.Name, err))
				}
				f.c.log.Debug("rollout watch not opened; reading the deployment instead", zap.String("deployment", d.Name), zap.Error(err))
			}
		}
		var events <-chan watch.Event
		if w != nil {
			events = w.ResultChan()
		}
		select {
		case <-ctx.Done():
			p := f.progressOf(d)
			p.State = bot.RolloutUnfollowed
			return f.end(p)
		case ev, ok := <-events:
			if !ok {
				w.Stop()
				w = nil
				continue
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if nd, ok := ev.Object.(*appsv1.Deployment); ok && nd.Name == d.Name {
					d = nd
				}
			case watch.Deleted:
				return f.lost(&bot.StaleError{Kind: "deployment", Name: d.Name, Reason: "it was deleted"})
			case watch.Error:
				// Most often 410 Gone: the resourceVersion is too old. Read
				// the Deployment afresh and watch from there.
				w.Stop()
				w = nil
				if nd, err := f.reread(ctx, d.Name); err == nil {
					d = nd
				} else if apierrors.IsNotFound(err) {
					return f.lost(&bot.StaleError{Kind: "deployment", Name: d.Name, Reason: "it was deleted"})
				}
			}
		case <-tick.C:
			if w == nil {
				if nd, err := f.reread(ctx, d.Name); err == nil {
					d = nd
				} else if apierrors.IsNotFound(err) {
					return f.lost(&bot.StaleError{Kind: "deployment", Name: d.Name, Reason: "it was deleted"})
				}
			}
			stuck = f.stuckPod(ctx, d)
		}
	}
}

// end reports p, the last progress, and returns it.
func (f *follower) end(p bot.RolloutProgress) bot.RolloutProgress {
	f.report(p)
	return p
}

// lost ends the follow on err: a message for people when err is one,
// else a short one, with err in the log.
func (f *follower) lost(err error) bot.RolloutProgress {
	p := bot.RolloutProgress{State: bot.RolloutLost, Elapsed: time.Since(f.start)}
	var stale *bot.StaleError
	switch msg, ok := bot.UserMessage(err); {
	case errors.As(err, &stale):
		p.Message = stale.Error()
	case ok:
		p.Message = msg
	default:
		p.Message = "the deployment could not be read or watched"
		f.c.log.Warn("rollout not followed", zap.Error(err))
	}
	return f.end(p)
}

func (f *follower) reread(ctx context.Context, name string) (*appsv1.Deployment, error) {
	rctx, cancel := context.WithTimeout(ctx, f.c.cfg.Timeout)
	defer cancel()
	return f.c.cs.AppsV1().Deployments(f.ns).Get(rctx, name, metav1.GetOptions{})
}

// progressOf is d's rollout as the follow reports it: stopped only by the
// controller's own verdict (Progressing=False, ProgressDeadlineExceeded)
// on the generation being rolled out.
func (f *follower) progressOf(d *appsv1.Deployment) bot.RolloutProgress {
	desired := int32(1) // the API's default
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	s := d.Status
	p := bot.RolloutProgress{Desired: desired, Updated: s.UpdatedReplicas, Available: s.AvailableReplicas, Elapsed: time.Since(f.start)}
	if d.Generation > s.ObservedGeneration {
		return p // the counts are the previous generation's
	}
	for _, cd := range s.Conditions {
		if cd.Type == appsv1.DeploymentProgressing && cd.Status == corev1.ConditionFalse && cd.Reason == "ProgressDeadlineExceeded" {
			p.State, p.Reason, p.Message = bot.RolloutStopped, cd.Reason, clip(cd.Message)
			return p
		}
	}
	if done, _ := rolloutDone(d, desired); done {
		p.State = bot.RolloutComplete
	}
	return p
}

// stuckPod finds the first pod (by name) of d's new ReplicaSet with a
// container waiting for a reason it will not get over alone. A failed read
// counts as none: the watch still reports the Deployment.
func (f *follower) stuckPod(ctx context.Context, d *appsv1.Deployment) *bot.RolloutProgress {
	if d.Generation > d.Status.ObservedGeneration {
		return nil // the new ReplicaSet may not exist yet
	}
	rctx, cancel := context.WithTimeout(ctx, f.c.cfg.Timeout)
	defer cancel()
	pods, err := f.c.newReplicaSetPods(rctx, d)
	if err != nil {
		f.c.log.Debug("pods of the new ReplicaSet not read", zap.String("deployment", d.Name), zap.Error(err))
		return nil
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && stuckReasons[w.Reason] {
				msg := w.Message
				if msg == "" {
					msg = "container " + cs.Name
				}
				return &bot.RolloutProgress{State: bot.RolloutStopped, Pod: pod.Name, Reason: w.Reason, Message: clip(msg)}
			}
		}
	}
	return nil
}

// newReplicaSetPods are the pods of the ReplicaSet at d's current
// revision (by the controller's revision annotation), selected by d's own
// selector and that ReplicaSet's template hash, and owned by it.
func (c *Cluster) newReplicaSetPods(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, error) {
	rss, err := c.ownedReplicaSets(ctx, d)
	if err != nil {
		return nil, err
	}
	var rs *appsv1.ReplicaSet
	for i := range rss {
		if rev := rss[i].Annotations[revisionAnnotation]; rev != "" && rev == d.Annotations[revisionAnnotation] {
			rs = &rss[i]
		}
	}
	if rs == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s: selector: %w", d.Name, err)
	}
	if hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; hash != "" {
		req, err := labels.NewRequirement(appsv1.DefaultDeploymentUniqueLabelKey, selection.Equals, []string{hash})
		if err != nil {
			return nil, fmt.Errorf("replicaset %s: template hash: %w", rs.Name, err)
		}
		sel = sel.Add(*req)
	}
	list, err := c.cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of replicaset %s: %w", rs.Name, err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID {
			out = append(out, p)
		}
	}
	return out, nil
}

// sameProgress compares two reports but for their elapsed time.
func sameProgress(a, b bot.RolloutProgress) bool {
	a.Elapsed, b.Elapsed = 0, 0
	return a == b
}

// clip bounds a message from the cluster for the card.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxFollowMessage {
		return s
	}
	r := []rune(s)
	return string(r[:maxFollowMessage-1]) + "…"
}
