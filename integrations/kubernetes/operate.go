package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The write side: scale, rollback and restart, each as a plan (a dry run
// that names the Deployment's generation) and an action that runs only
// against that same generation. An action re-reads the Deployment, refuses
// it if its generation moved, and writes with the resourceVersion it just
// read, so a change that lands between the read and the write is refused by
// the API server (409 Conflict) instead of being overwritten. A conflict
// is retried a few times from a fresh read, because a Deployment's status
// changes all the time (its resourceVersion with it) while its generation,
// what the approval names, does not: a write is only retried at the
// approved generation, never past a change to the spec.

const (
	// maxScaleReplicas bounds any scale the bot asks for; the commands layer
	// applies tighter per-service bounds on top.
	maxScaleReplicas = 1000
	// hpaLookupTimeout bounds the HPA lookup of a scale plan. The lookup
	// only adds a warning, so it must not eat the command's whole budget.
	hpaLookupTimeout = 3 * time.Second
	// restartedAtAnnotation is what `kubectl rollout restart` sets on the
	// pod template; the new value makes a new template, hence a rollout.
	restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// maxChangeLines bounds a rollback plan's description of the template
	// difference; it is read in a chat card.
	maxChangeLines = 20
	// maxNamesPerLine bounds the names (env vars, annotations) one change
	// line lists.
	maxNamesPerLine = 5
	// writeAttempts bounds the retries of a write that conflicted with a
	// status update.
	writeAttempts = 3
)

// Refusals written for people: chat shows them (bot.UserError).
var (
	errSameTemplate error = &bot.UserError{Msg: "already at that template"}
	errPaused       error = &bot.UserError{Msg: "is paused; resume it first with `kubectl rollout resume` and try again"}
)

// PlanScale says what scaling service to replicas would do, and whether an
// HPA will fight it.
func (c *Cluster) PlanScale(ctx context.Context, service string, replicas int32) (bot.ScalePlan, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.ScalePlan{}, err
	}
	if err := validReplicas(replicas); err != nil {
		return bot.ScalePlan{}, err
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return bot.ScalePlan{}, err
	}
	sc, err := c.cs.AppsV1().Deployments(ns).GetScale(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return bot.ScalePlan{}, fmt.Errorf("get scale of deployment %s/%s: %w", ns, d.Name, err)
	}
	// The exact write, dry run: validation and admission (quotas,
	// policies) answer now, before anyone approves, and nothing is stored.
	// Without a resourceVersion: a status update racing the read must not
	// fail the plan; the write itself is conditional.
	want := sc.DeepCopy()
	want.Spec.Replicas, want.ResourceVersion = replicas, ""
	dry, err := c.cs.AppsV1().Deployments(ns).UpdateScale(ctx, d.Name, want, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return bot.ScalePlan{}, dryRunError(d, "scale", err)
	}
	plan := bot.ScalePlan{Namespace: ns, Service: d.Name, From: sc.Spec.Replicas, To: dry.Spec.Replicas, Version: version(d)}
	plan.HPA, plan.HPAMin, plan.HPAMax = c.hpaFor(ctx, ns, d.Name)
	return plan, nil
}

// Scale sets service's replicas through the scale subresource, if the
// Deployment is still at version.
func (c *Cluster) Scale(ctx context.Context, service string, replicas int32, version string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	if err := validReplicas(replicas); err != nil {
		return err
	}
	var from int32
	err = c.writeAt(ctx, ns, service, version, "scale", func(d *appsv1.Deployment) error {
		from = 1 // the API's default
		if d.Spec.Replicas != nil {
			from = *d.Spec.Replicas
		}
		// The precondition is the resourceVersion the generation was
		// checked at: anything written since makes the update a conflict.
		sc := &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: ns, ResourceVersion: d.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
		}
		_, err := c.cs.AppsV1().Deployments(ns).UpdateScale(ctx, d.Name, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	c.log.Info("scaled deployment", zap.String("namespace", ns), zap.String("deployment", service),
		zap.Int32("from", from), zap.Int32("to", replicas), zap.String("version", version))
	return nil
}

// PlanRollback says what rolling service back to revision (0: the previous
// one) would change.
func (c *Cluster) PlanRollback(ctx context.Context, service string, revision int64) (bot.RollbackPlan, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.RollbackPlan{}, err
	}
	if revision < 0 {
		return bot.RollbackPlan{}, bot.Tell("revision %d: revisions are positive (0 means the previous one)", revision)
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return bot.RollbackPlan{}, err
	}
	t, err := c.rollbackTo(ctx, d, revision)
	if err != nil {
		return bot.RollbackPlan{}, err
	}
	dry, err := c.updateDeployment(ctx, rollbackOf(d, t), true)
	if err != nil {
		return bot.RollbackPlan{}, dryRunError(d, "roll back", err)
	}
	return bot.RollbackPlan{
		Namespace: ns, Service: d.Name,
		FromRevision: t.from, ToRevision: t.to,
		FromImages: images(&d.Spec.Template), ToImages: images(&dry.Spec.Template),
		Changes: templateChanges(&d.Spec.Template, &dry.Spec.Template),
		Version: version(d),
	}, nil
}

// Rollback restores revision's pod template into the Deployment, as
// `kubectl rollout undo` does, if the Deployment is still at version.
func (c *Cluster) Rollback(ctx context.Context, service string, revision int64, version string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	if revision < 0 {
		return bot.Tell("revision %d: revisions are positive (0 means the previous one)", revision)
	}
	var t rollbackTarget
	err = c.writeAt(ctx, ns, service, version, "roll back", func(d *appsv1.Deployment) error {
		target, err := c.rollbackTo(ctx, d, revision)
		if err != nil {
			return err
		}
		t = target
		return c.writeRollback(ctx, d, t)
	})
	if err != nil {
		return err
	}
	c.log.Info("rolled back deployment", zap.String("namespace", ns), zap.String("deployment", service),
		zap.Int64("from_revision", t.from), zap.Int64("to_revision", t.to), zap.String("version", version))
	return nil
}

// writeRollback writes t's template into d, with d's resourceVersion as
// the precondition.
func (c *Cluster) writeRollback(ctx context.Context, d *appsv1.Deployment, t rollbackTarget) error {
	_, err := c.updateDeployment(ctx, rollbackOf(d, t), false)
	return err
}

// updateDeployment writes next (its resourceVersion is the precondition),
// or with dryRun only asks the API server what it would store: the same
// validation, admission and defaulting, nothing persisted.
func (c *Cluster) updateDeployment(ctx context.Context, next *appsv1.Deployment, dryRun bool) (*appsv1.Deployment, error) {
	var opts metav1.UpdateOptions
	if dryRun {
		// Unconditional: a status update racing the read must not fail
		// the plan; the write itself carries the precondition.
		next = next.DeepCopy()
		next.ResourceVersion = ""
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return c.cs.AppsV1().Deployments(next.Namespace).Update(ctx, next, opts)
}

// rollbackOf is d with t's template, as a rollback writes it.
func rollbackOf(d *appsv1.Deployment, t rollbackTarget) *appsv1.Deployment {
	next := d.DeepCopy()
	next.Spec.Template = *t.template
	// kubectl carries the target revision's change-cause back with its
	// template, so the history says why that template exists. The rest of
	// the ReplicaSet's annotations are not copied: tools like Flux keep
	// their own state in the Deployment's annotations.
	if cause, ok := t.annotations[changeCauseAnnotation]; ok {
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[changeCauseAnnotation] = cause
	} else {
		delete(next.Annotations, changeCauseAnnotation)
	}
	return next
}

// PlanRestart says how many pods restarting service would replace.
func (c *Cluster) PlanRestart(ctx context.Context, service string) (bot.RestartPlan, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return bot.RestartPlan{}, err
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return bot.RestartPlan{}, err
	}
	if d.Spec.Paused {
		return bot.RestartPlan{}, fmt.Errorf("deployment %s %w", d.Name, errPaused)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return bot.RestartPlan{}, fmt.Errorf("deployment %s: selector: %w", d.Name, err)
	}
	pods, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return bot.RestartPlan{}, fmt.Errorf("list pods of %s: %w", d.Name, err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil { // already going: the restart does not replace it
			n++
		}
	}
	dry, err := c.updateDeployment(ctx, restartOf(d, time.Now().Format(time.RFC3339)), true)
	if err != nil {
		return bot.RestartPlan{}, dryRunError(d, "restart", err)
	}
	return bot.RestartPlan{Namespace: ns, Service: d.Name, Pods: n, Version: version(d),
		Changes: templateChanges(&d.Spec.Template, &dry.Spec.Template)}, nil
}

// Restart rolls every pod of service, as `kubectl rollout restart` does, if
// the Deployment is still at version.
func (c *Cluster) Restart(ctx context.Context, service string, version string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	at := time.Now().Format(time.RFC3339)
	err = c.writeAt(ctx, ns, service, version, "restart", func(d *appsv1.Deployment) error {
		// A paused Deployment would take the new template and not roll it
		// out: kubectl refuses too.
		if d.Spec.Paused {
			return fmt.Errorf("deployment %s %w", d.Name, errPaused)
		}
		_, err := c.updateDeployment(ctx, restartOf(d, at), false)
		return err
	})
	if err != nil {
		return err
	}
	c.log.Info("restarted deployment", zap.String("namespace", ns), zap.String("deployment", service),
		zap.String("restarted_at", at), zap.String("version", version))
	return nil
}

// restartOf is d with the restartedAt annotation on its template set to
// at, as a restart writes it.
func restartOf(d *appsv1.Deployment, at string) *appsv1.Deployment {
	next := d.DeepCopy()
	if next.Spec.Template.Annotations == nil {
		next.Spec.Template.Annotations = map[string]string{}
	}
	next.Spec.Template.Annotations[restartedAtAnnotation] = at
	return next
}

// dryRunError says why the API server refused a plan's dry run. A refusal
// by validation or admission (a quota, a ValidatingAdmissionPolicy, a
// webhook) is for people: the plan fails with the server's own message, so
// nothing that the server would refuse can be approved. A conflict is a
// status update racing the read: planning again helps.
func dryRunError(d *appsv1.Deployment, action string, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch {
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			return bot.Tell("the API server refuses to %s deployment %s/%s (server-side dry run, nothing was changed): %s",
				action, d.Namespace, d.Name, clip(status.Status().Message))
		case apierrors.IsConflict(err):
			return bot.Tell("deployment %s/%s changed while the plan was made; ask again", d.Namespace, d.Name)
		}
	}
	return fmt.Errorf("dry run: %w", writeError(d, action, err))
}

// version is what plans name and actions check: the Deployment's
// generation, which the API server bumps on every change to its spec (and
// annotations), and never for status.
func version(d *appsv1.Deployment) string { return strconv.FormatInt(d.Generation, 10) }

// currentDeployment re-reads the Deployment and refuses it when it is no
// longer at version.
func (c *Cluster) currentDeployment(ctx context.Context, ns, service, want string) (*appsv1.Deployment, error) {
	if _, err := strconv.ParseInt(want, 10, 64); err != nil {
		return nil, fmt.Errorf("deployment %s: version %q is not a generation", service, want)
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return nil, err
	}
	if got := version(d); got != want {
		return nil, &bot.StaleError{Kind: "deployment", Name: d.Name, Reason: fmt.Sprintf("generation %s is now %s", want, got)}
	}
	return d, nil
}

// writeAt reads the Deployment, refuses it unless it is at version, and
// hands it to write, which writes with its resourceVersion as the
// precondition. A conflict (a status update landed in between) is retried
// from a fresh read, at the same generation only.
func (c *Cluster) writeAt(ctx context.Context, ns, service, version, action string, write func(*appsv1.Deployment) error) error {
	for attempt := 1; ; attempt++ {
		d, err := c.currentDeployment(ctx, ns, service, version)
		if err != nil {
			return err
		}
		err = write(d)
		if err == nil {
			return nil
		}
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			return err // ours (paused, same template): already says what is wrong
		}
		if apierrors.IsConflict(err) && attempt < writeAttempts {
			c.log.Debug("write conflict; retrying at the same generation", zap.String("deployment", d.Name), zap.Int("attempt", attempt))
			continue
		}
		return writeError(d, action, err)
	}
}

// writeError says what a refused or failed write means to the person who
// asked for it.
func writeError(d *appsv1.Deployment, action string, err error) error {
	switch {
	case apierrors.IsConflict(err):
		return &bot.StaleError{Kind: "deployment", Name: d.Name,
			Reason: fmt.Sprintf("it was modified after generation %d was read (write conflict)", d.Generation)}
	case apierrors.IsNotFound(err):
		return &bot.StaleError{Kind: "deployment", Name: d.Name, Reason: "it was deleted"}
	case errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		// The request may have been applied: say so rather than invite a
		// blind retry.
		return fmt.Errorf("%s deployment %s/%s: outcome unknown, check its status before trying again: %w", action, d.Namespace, d.Name, err)
	}
	return fmt.Errorf("%s deployment %s/%s: %w", action, d.Namespace, d.Name, err)
}

func validReplicas(n int32) error {
	if n < 0 || n > maxScaleReplicas {
		return bot.Tell("replicas %d: must be between 0 and %d", n, maxScaleReplicas)
	}
	return nil
}

// hpaFor finds the HorizontalPodAutoscaler that targets the Deployment. It
// only warns the plan's reader, so a failure (no RBAC for HPAs, no
// autoscaling/v2) counts as none.
func (c *Cluster) hpaFor(ctx context.Context, ns, name string) (string, int32, int32) {
	ctx, cancel := context.WithTimeout(ctx, hpaLookupTimeout)
	defer cancel()
	list, err := c.cs.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		c.log.Debug("cannot list HPAs; planning the scale as if none", zap.String("namespace", ns), zap.Error(err))
		return "", 0, 0
	}
	// Two HPAs on one target is an error the HPA controller reports; name
	// order keeps the answer stable meanwhile.
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for _, h := range list.Items {
		ref := h.Spec.ScaleTargetRef
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil || ref.Kind != "Deployment" || ref.Name != name || (gv.Group != appsv1.GroupName && gv.Group != "extensions") {
			continue
		}
		minReplicas := int32(1) // the API's default
		if h.Spec.MinReplicas != nil {
			minReplicas = *h.Spec.MinReplicas
		}
		return h.Name, minReplicas, h.Spec.MaxReplicas
	}
	return "", 0, 0
}

// rollbackTarget is the template a rollback would write.
type rollbackTarget struct {
	from, to    int64
	template    *corev1.PodTemplateSpec // without the pod-template-hash label
	annotations map[string]string       // the ReplicaSet's
}

// rollbackTo finds the ReplicaSet to roll d back to and refuses what
// kubectl refuses: a paused Deployment, an unknown revision, no change.
func (c *Cluster) rollbackTo(ctx context.Context, d *appsv1.Deployment, revision int64) (rollbackTarget, error) {
	if d.Spec.Paused {
		return rollbackTarget{}, fmt.Errorf("deployment %s %w", d.Name, errPaused)
	}
	rss, err := c.ownedReplicaSets(ctx, d)
	if err != nil {
		return rollbackTarget{}, err
	}
	from, rs, err := pickRevision(d, rss, revision)
	if err != nil {
		return rollbackTarget{}, err
	}
	to, _ := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
	tmpl := rs.Spec.Template.DeepCopy()
	// The ReplicaSet's template carries the hash label the controller
	// added; the Deployment's never does.
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if apiequality.Semantic.DeepEqual(*tmpl, d.Spec.Template) {
		return rollbackTarget{}, fmt.Errorf("deployment %s: revision %d: %w", d.Name, to, errSameTemplate)
	}
	return rollbackTarget{from: from, to: to, template: tmpl, annotations: rs.Annotations}, nil
}

// pickRevision returns the Deployment's current revision and the
// ReplicaSet of the wanted one: a named revision, or for 0 the highest
// below the current.
func pickRevision(d *appsv1.Deployment, rss []appsv1.ReplicaSet, revision int64) (int64, *appsv1.ReplicaSet, error) {
	byRev := map[int64]*appsv1.ReplicaSet{}
	var revs []int64
	for i := range rss {
		n, err := strconv.ParseInt(rss[i].Annotations[revisionAnnotation], 10, 64)
		if err != nil || n <= 0 {
			continue // not a revision the controller numbered
		}
		byRev[n] = &rss[i]
		revs = append(revs, n)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	current, err := strconv.ParseInt(d.Annotations[revisionAnnotation], 10, 64)
	if err != nil {
		// The controller has not numbered the Deployment yet: its newest
		// ReplicaSet is what runs.
		current = 0
		if len(revs) > 0 {
			current = revs[len(revs)-1]
		}
	}
	if revision > 0 {
		rs, ok := byRev[revision]
		if !ok {
			return 0, nil, bot.Tell("deployment %s has no revision %d (it has %s)", d.Name, revision, revisionList(revs))
		}
		return current, rs, nil
	}
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i] < current {
			return current, byRev[revs[i]], nil
		}
	}
	return 0, nil, bot.Tell("deployment %s has no revision before %d to roll back to", d.Name, current)
}

func revisionList(revs []int64) string {
	if len(revs) == 0 {
		return "none"
	}
	s := make([]string, len(revs))
	for i, r := range revs {
		s[i] = strconv.FormatInt(r, 10)
	}
	return strings.Join(s, ", ")
}

func images(t *corev1.PodTemplateSpec) []string {
	out := make([]string, 0, len(t.Spec.Containers))
	for _, ct := range t.Spec.Containers {
		out = append(out, ct.Image)
	}
	return out
}
