package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/bakewise/chatops/bot"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations the deployment controller and kubectl maintain.
const (
	revisionAnnotation    = "deployment.kubernetes.io/revision"
	changeCauseAnnotation = "kubernetes.io/change-cause"
)

// History lists a deployment's revisions from the ReplicaSets it owns, as
// `kubectl rollout history` does, newest first.
func (c *Cluster) History(ctx context.Context, service string) ([]bot.Revision, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return nil, err
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return nil, err
	}
	rss, err := c.ownedReplicaSets(ctx, d)
	if err != nil {
		return nil, err
	}
	current := d.Annotations[revisionAnnotation]
	var out []bot.Revision
	for _, rs := range rss {
		n, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		if err != nil {
			continue // not a revision the controller numbered
		}
		rev := bot.Revision{Number: n, ChangeCause: rs.Annotations[changeCauseAnnotation], Created: rs.CreationTimestamp.Time,
			Current: rs.Annotations[revisionAnnotation] == current, Replicas: rs.Status.Replicas}
		for _, ct := range rs.Spec.Template.Spec.Containers {
			rev.Images = append(rev.Images, ct.Image)
		}
		out = append(out, rev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out, nil
}

// ownedReplicaSets are the ReplicaSets whose controller is d (by UID).
func (c *Cluster) ownedReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s: selector: %w", d.Name, err)
	}
	list, err := c.cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list replicasets of %s: %w", d.Name, err)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == d.UID {
			out = append(out, rs)
		}
	}
	return out, nil
}

// Status is the deployment's rollout status, judged as `kubectl rollout
// status` judges it.
func (c *Cluster) Status(ctx context.Context, service string) (bot.RolloutStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.RolloutStatus{}, err
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return bot.RolloutStatus{}, err
	}
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	st := bot.RolloutStatus{
		Name: d.Name, Desired: desired, Updated: d.Status.UpdatedReplicas, Ready: d.Status.ReadyReplicas,
		Available: d.Status.AvailableReplicas, Unavail: d.Status.UnavailableReplicas,
		Generation: d.Generation, ObservedGeneration: d.Status.ObservedGeneration, Paused: d.Spec.Paused,
	}
	for _, cd := range d.Status.Conditions {
		st.Conditions = append(st.Conditions, bot.Condition{Type: string(cd.Type), Status: string(cd.Status),
			Reason: cd.Reason, Message: cd.Message, Since: cd.LastTransitionTime.Time})
	}
	st.Done, st.Message = rolloutDone(d, desired)
	return st, nil
}

func rolloutDone(d *appsv1.Deployment, desired int32) (bool, string) {
	s := d.Status
	switch {
	case d.Generation > s.ObservedGeneration:
		return false, "waiting for the deployment spec update to be observed"
	case d.Spec.Paused:
		return false, "the rollout is paused"
	}
	for _, cd := range s.Conditions {
		if cd.Type == appsv1.DeploymentProgressing && cd.Reason == "ProgressDeadlineExceeded" {
			return false, fmt.Sprintf("rollout exceeded its progress deadline: %s", cd.Message)
		}
	}
	switch {
	case s.UpdatedReplicas < desired:
		return false, fmt.Sprintf("%d of %d new replicas have been updated", s.UpdatedReplicas, desired)
	case s.Replicas > s.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas are pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d updated replicas are available", s.AvailableReplicas, s.UpdatedReplicas)
	}
	return true, "successfully rolled out"
}
