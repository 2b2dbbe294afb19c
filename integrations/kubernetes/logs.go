package kubernetes

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/bakewise/chatops/bot"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxLineBytes bounds one log line; longer ones are cut.
const maxLineBytes = 64 << 10

// Logs reads the logs of a service's pods (its deployment's selector),
// running pods first, at most maxPodsForLogs of them.
func (c *Cluster) Logs(ctx context.Context, service string, opts bot.LogOptions) ([]bot.PodLogs, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ns, err := c.namespace()
	if err != nil {
		return nil, err
	}
	if opts.Container != "" {
		if err := validName("container", opts.Container); err != nil {
			return nil, err
		}
	}
	d, err := c.deployment(ctx, ns, service)
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s: selector: %w", service, err)
	}
	pods, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", service, err)
	}
	items := pods.Items
	sort.SliceStable(items, func(i, j int) bool {
		ri, rj := items[i].Status.Phase == corev1.PodRunning, items[j].Status.Phase == corev1.PodRunning
		if ri != rj {
			return ri
		}
		return items[i].Name < items[j].Name
	})
	if len(items) == 0 {
		return nil, fmt.Errorf("deployment %s has no pods", service)
	}
	limit := opts.LimitBytes
	if limit <= 0 {
		limit = defaultLogBytes
	}
	var out []bot.PodLogs
	for _, p := range items[:min(len(items), maxPodsForLogs)] {
		container := opts.Container
		if container == "" && len(p.Spec.Containers) > 0 {
			container = p.Spec.Containers[0].Name
		}
		if !hasContainer(&p, container) {
			return nil, fmt.Errorf("pod %s has no container %s", p.Name, container)
		}
		plo := &corev1.PodLogOptions{Container: container, Previous: opts.Previous, LimitBytes: &limit}
		if opts.Tail > 0 {
			plo.TailLines = &opts.Tail
		}
		if opts.Since > 0 {
			secs := int64(opts.Since.Seconds())
			plo.SinceSeconds = &secs
		}
		lines, truncated, err := c.readLogs(ctx, ns, p.Name, plo, limit)
		if err != nil {
			return nil, fmt.Errorf("logs of %s/%s: %w", p.Name, container, err)
		}
		out = append(out, bot.PodLogs{Pod: p.Name, Container: container, Lines: lines, Truncated: truncated})
	}
	return out, nil
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (c *Cluster) readLogs(ctx context.Context, ns, pod string, plo *corev1.PodLogOptions, limit int64) ([]string, bool, error) {
	rc, err := c.cs.CoreV1().Pods(ns).GetLogs(pod, plo).Stream(ctx)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(io.LimitReader(rc, limit+1))
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var lines []string
	read := int64(0)
	for sc.Scan() {
		read += int64(len(sc.Bytes())) + 1
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil && err != bufio.ErrTooLong {
		return lines, false, err
	}
	return lines, read > limit, nil
}
