package kubernetes

import (
	"context"
	"fmt"
	"sort"

	"github.com/bakewise/chatops/bot"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxHPAs bounds the autoscalers one hpa command reads.
const maxHPAs = 200

// HPAs reads the namespace's HorizontalPodAutoscalers (autoscaling/v2),
// or the one(s) that scale a service's Deployment, by name.
func (c *Cluster) HPAs(ctx context.Context, service string) ([]bot.HPA, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return nil, err
	}
	if service != "" {
		// An unknown service answers as everywhere: no such deployment,
		// did you mean.
		if _, err := c.deployment(ctx, ns, service); err != nil {
			return nil, err
		}
	}
	list, err := c.cs.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{Limit: maxHPAs})
	if err != nil {
		return nil, fmt.Errorf("list horizontalpodautoscalers in %s: %w", ns, err)
	}
	var out []bot.HPA
	for i := range list.Items {
		h := &list.Items[i]
		ref := h.Spec.ScaleTargetRef
		if service != "" && (ref.Kind != "Deployment" || ref.Name != service) {
			continue
		}
		out = append(out, hpaOf(h))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hpaOf(h *autoscalingv2.HorizontalPodAutoscaler) bot.HPA {
	r := bot.HPA{Name: h.Name, Target: h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name,
		Current: h.Status.CurrentReplicas, Desired: h.Status.DesiredReplicas, Min: 1, Max: h.Spec.MaxReplicas}
	if h.Spec.MinReplicas != nil {
		r.Min = *h.Spec.MinReplicas
	}
	for i, m := range h.Spec.Metrics {
		var cur *autoscalingv2.MetricStatus
		// The controller writes one status per spec metric, in order;
		// match by what it measures in case it does not.
		for j := range h.Status.CurrentMetrics {
			if s := &h.Status.CurrentMetrics[j]; metricName(s.Type, s.Resource, s.ContainerResource, s.Pods, s.Object, s.External) == metricNameSpec(m) {
				cur = s
				break
			}
		}
		if cur == nil && i < len(h.Status.CurrentMetrics) && h.Status.CurrentMetrics[i].Type == m.Type {
			cur = &h.Status.CurrentMetrics[i]
		}
		r.Metrics = append(r.Metrics, bot.HPAMetric{Name: metricNameSpec(m), Target: metricTarget(m), Current: metricCurrent(cur)})
	}
	for _, cd := range h.Status.Conditions {
		r.Conditions = append(r.Conditions, bot.Condition{Type: string(cd.Type), Status: string(cd.Status),
			Reason: cd.Reason, Message: cd.Message, Since: cd.LastTransitionTime.Time})
	}
	return r
}

// metricName names what a metric measures: "cpu", "memory (container
// app)", "pods/http_requests", "Ingress/main-route requests", "external
// queue_depth".
func metricName(t autoscalingv2.MetricSourceType, res *autoscalingv2.ResourceMetricStatus, cres *autoscalingv2.ContainerResourceMetricStatus,
	pods *autoscalingv2.PodsMetricStatus, obj *autoscalingv2.ObjectMetricStatus, ext *autoscalingv2.ExternalMetricStatus) string {
	switch {
	case t == autoscalingv2.ResourceMetricSourceType && res != nil:
		return string(res.Name)
	case t == autoscalingv2.ContainerResourceMetricSourceType && cres != nil:
		return string(cres.Name) + " (container " + cres.Container + ")"
	case t == autoscalingv2.PodsMetricSourceType && pods != nil:
		return "pods/" + pods.Metric.Name
	case t == autoscalingv2.ObjectMetricSourceType && obj != nil:
		return obj.DescribedObject.Kind + "/" + obj.DescribedObject.Name + " " + obj.Metric.Name
	case t == autoscalingv2.ExternalMetricSourceType && ext != nil:
		return "external " + ext.Metric.Name
	}
	return string(t)
}

func metricNameSpec(m autoscalingv2.MetricSpec) string {
	switch {
	case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil:
		return string(m.Resource.Name)
	case m.Type == autoscalingv2.ContainerResourceMetricSourceType && m.ContainerResource != nil:
		return string(m.ContainerResource.Name) + " (container " + m.ContainerResource.Container + ")"
	case m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
		return "pods/" + m.Pods.Metric.Name
	case m.Type == autoscalingv2.ObjectMetricSourceType && m.Object != nil:
		return m.Object.DescribedObject.Kind + "/" + m.Object.DescribedObject.Name + " " + m.Object.Metric.Name
	case m.Type == autoscalingv2.ExternalMetricSourceType && m.External != nil:
		return "external " + m.External.Metric.Name
	}
	return string(m.Type)
}

func metricTarget(m autoscalingv2.MetricSpec) string {
	var t *autoscalingv2.MetricTarget
	switch {
	case m.Resource != nil:
		t = &m.Resource.Target
	case m.ContainerResource != nil:
		t = &m.ContainerResource.Target
	case m.Pods != nil:
		t = &m.Pods.Target
	case m.Object != nil:
		t = &m.Object.Target
	case m.External != nil:
		t = &m.External.Target
	}
	if t == nil {
		return "?"
	}
	switch {
	case t.AverageUtilization != nil:
		return fmt.Sprintf("%d%%", *t.AverageUtilization)
	case t.AverageValue != nil:
		return t.AverageValue.String() + " avg"
	case t.Value != nil:
		return t.Value.String()
	}
	return "?"
}

func metricCurrent(s *autoscalingv2.MetricStatus) string {
	if s == nil {
		return "<unknown>"
	}
	var v *autoscalingv2.MetricValueStatus
	switch {
	case s.Resource != nil:
		v = &s.Resource.Current
	case s.ContainerResource != nil:
		v = &s.ContainerResource.Current
	case s.Pods != nil:
		v = &s.Pods.Current
	case s.Object != nil:
		v = &s.Object.Current
	case s.External != nil:
		v = &s.External.Current
	}
	if v == nil {
		return "<unknown>"
	}
	switch {
	case v.AverageUtilization != nil:
		return fmt.Sprintf("%d%%", *v.AverageUtilization)
	case v.AverageValue != nil:
		return v.AverageValue.String() + " avg"
	case v.Value != nil:
		return v.Value.String()
	}
	return "<unknown>"
}
