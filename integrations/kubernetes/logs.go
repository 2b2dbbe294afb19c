package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxLineBytes bounds one log line as kept: a longer one keeps its first
// maxLineBytes bytes and lineCutMarker, the rest of it is read and
// dropped, and the lines after it are read as usual.
const maxLineBytes = 64 << 10

// lineCutMarker ends a line cut at maxLineBytes.
const lineCutMarker = " … [line cut at 64 KiB]"

// Logs reads the logs of a service's pods (its deployment's selector),
// running pods first, at most maxPodsForLogs of them, within one budget
// of maxLogBytes (or opts.LimitBytes, when smaller) that they share: a
// pod cut by its share says Truncated, and one with lines cut at
// maxLineBytes counts them in CutLines.
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
		return nil, bot.Tell("deployment %s has no pods", service)
	}
	items = items[:min(len(items), maxPodsForLogs)]
	// One budget for the whole command: each pod may use an equal share
	// of what the pods before it left, so a quiet pod's unused share goes
	// to the next and no pod starves the others.
	budget := int64(maxLogBytes)
	if opts.LimitBytes > 0 && opts.LimitBytes < budget {
		budget = opts.LimitBytes
	}
	out := make([]bot.PodLogs, 0, len(items))
	for i, p := range items {
		container := opts.Container
		if container == "" && len(p.Spec.Containers) > 0 {
			container = p.Spec.Containers[0].Name
		}
		if !hasContainer(&p, container) {
			return nil, bot.Tell("pod %s has no container %s; its containers: %s", p.Name, container, strings.Join(containerNames(&p), ", "))
		}
		if opts.Previous && !hasPrevious(&p, container) {
			// Asking would fail the whole command for one pod that
			// never restarted; its siblings' previous runs still count.
			out = append(out, bot.PodLogs{Pod: p.Name, Container: container, NoPrevious: true})
			continue
		}
		share := max(budget/int64(len(items)-i), 1)
		// One byte more than the share tells a stream that ends there
		// from one cut there.
		asked := share + 1
		plo := &corev1.PodLogOptions{Container: container, Previous: opts.Previous, LimitBytes: &asked}
		if opts.Tail > 0 {
			plo.TailLines = &opts.Tail
		}
		if opts.Since > 0 {
			secs := int64(opts.Since.Seconds())
			plo.SinceSeconds = &secs
		}
		pl, err := c.readLogs(ctx, ns, p.Name, plo, share)
		if opts.Previous && apierrors.IsBadRequest(err) && strings.Contains(err.Error(), "previous terminated container") {
			// The kubelet has no previous run (it was removed since
			// the pod's status was written).
			out = append(out, bot.PodLogs{Pod: p.Name, Container: container, NoPrevious: true})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("logs of %s/%s: %w", p.Name, container, err)
		}
		budget -= min(pl.read, share)
		out = append(out, bot.PodLogs{Pod: p.Name, Container: container, Lines: pl.lines, Truncated: pl.truncated, CutLines: pl.cut})
	}
	return out, nil
}

func containerNames(p *corev1.Pod) []string {
	names := make([]string, len(p.Spec.Containers))
	for i, c := range p.Spec.Containers {
		names[i] = c.Name
	}
	return names
}

// hasPrevious: the pod's status says the container has run before (a
// last termination state, or restarts), so the kubelet may keep the
// previous run's log.
func hasPrevious(p *corev1.Pod, container string) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			return cs.LastTerminationState.Terminated != nil || cs.RestartCount > 0
		}
	}
	return false
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// podLines is what was read of one container's log stream.
type podLines struct {
	lines []string
	// read counts the bytes taken from the stream, kept or not.
	read int64
	// cut counts lines cut at maxLineBytes.
	cut int
	// truncated: the stream went on past the limit.
	truncated bool
}

func (c *Cluster) readLogs(ctx context.Context, ns, pod string, plo *corev1.PodLogOptions, limit int64) (podLines, error) {
	rc, err := c.cs.CoreV1().Pods(ns).GetLogs(pod, plo).Stream(ctx)
	if err != nil {
		return podLines{}, err
	}
	defer rc.Close()
	return readLines(rc, limit)
}

// readLines splits a log stream into lines, reading at most limit bytes
// of it (and one more, to tell whether it goes on). A line longer than
// maxLineBytes is cut there with lineCutMarker and the rest of it read
// and dropped, so one long line never hides the lines after it. A last
// line that the limit cut in two is dropped: it is not a line the
// container wrote.
func readLines(r io.Reader, limit int64) (podLines, error) {
	var out podLines
	br := bufio.NewReaderSize(io.LimitReader(r, limit+1), maxLineBytes)
	for {
		chunk, err := br.ReadSlice('\n')
		out.read += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			var line string
			line, err = out.longLine(br, chunk)
			out.lines = append(out.lines, line)
			chunk = nil
		}
		switch {
		case err == nil:
			if len(chunk) > 0 {
				out.lines = append(out.lines, trimEOL(chunk))
			}
			continue
		case err != io.EOF:
			return out, err
		}
		out.truncated = out.read > limit
		if len(chunk) > 0 && !out.truncated {
			out.lines = append(out.lines, trimEOL(chunk))
		}
		return out, nil
	}
}

// longLine finishes a line that filled the reader's buffer (head): it
// reads the rest of the line and drops it, and returns the line as kept,
// marked when anything was dropped, with the error that ended the line
// (nil at its newline).
func (out *podLines) longLine(br *bufio.Reader, head []byte) (string, error) {
	// ReadSlice's bytes last until the next read: copy the head first.
	kept := string(validPrefix(head))
	var dropped int64
	err := bufio.ErrBufferFull
	for errors.Is(err, bufio.ErrBufferFull) {
		var chunk []byte
		chunk, err = br.ReadSlice('\n')
		out.read += int64(len(chunk))
		dropped += int64(len(trimEOL(chunk)))
	}
	if dropped == 0 && err == nil && len(kept) == len(head) {
		return trimEOL([]byte(kept)), nil // exactly maxLineBytes long: whole
	}
	out.cut++
	return kept + lineCutMarker, err
}

// trimEOL is a line without its newline (and a carriage return before
// it).
func trimEOL(b []byte) string {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return string(bytes.TrimSuffix(b, []byte("\r")))
}

// validPrefix is b without a UTF-8 sequence cut in two at its end.
func validPrefix(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size > 1 {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}
