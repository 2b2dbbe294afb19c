package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bakewise/chatops/test/harness"
)

// The worst-case logs mode (-worst-logs).
const (
	// worstLead is how long after the logs commands the other commands
	// start: the logs commands are then reading and searching.
	worstLead = time.Second
	// worstRate sends the logs commands as near at once as the tool
	// allows (the most -rate accepts).
	worstRate = maxRate
	// rssEvery is how often the bot's resident size is read.
	rssEvery = 100 * time.Millisecond
	// deploymentFile holds the pod's memory limit the peak is held to.
	deploymentFile = "deploy/kubernetes/base/deployment.yaml"
)

// WorstResult is the worst-case logs phase: the bot's memory during it,
// against the pod's limit.
type WorstResult struct {
	Commands   int     `json:"logs_commands"`
	Pattern    string  `json:"grep"`
	PodLogs    string  `json:"pod_logs"`
	LimitMiB   float64 `json:"pod_memory_limit_mib"`
	BeforeMiB  float64 `json:"rss_before_mib"`
	PeakMiB    float64 `json:"rss_peak_sampled_mib"`
	HWMMiB     float64 `json:"vmhwm_after_mib"`
	DurationS  float64 `json:"duration_s"`
	LimitError string  `json:"limit_error,omitempty"`
}

// worstPhase sends -worst-others health and status commands at -rate
// alone (the baseline), then -worst-logs worst-case logs commands at once
// and, from worstLead after them, the same others again, while it samples
// the bot's resident size.
func (b *bench) worstPhase(ctx context.Context, cmd *commander) {
	cfg := b.cfg
	half := cfg.worstOthers / 2
	others := sequence([]int{half, cfg.worstOthers - half})
	logf("worst-case logs baseline: %d health and status at %g/s, alone", cfg.worstOthers, cfg.rate)
	base := cmd.run(ctx, "worst", fmt.Sprintf("health + status alone, %g/s", cfg.rate), others, cfg.rate, cfg.answerTimeout)
	b.res.Parts = append(b.res.Parts, base)
	b.phaseErrors(base)
	if ctx.Err() != nil {
		return
	}
	repo, _ := harness.RepoRoot()
	w := &WorstResult{Commands: cfg.worstLogs, Pattern: cfg.worstGrep, BeforeMiB: round2(b.bot.Process.RSSMiB()),
		PodLogs: fmt.Sprintf("%d pods × %d KiB in lines of %d KiB, one of %d KiB", floodPods, floodLogBytes>>10, floodLineBytes>>10, floodLongLine>>10)}
	limit, err := podMemoryLimitMiB(filepath.Join(repo, deploymentFile))
	if err != nil {
		w.LimitError = err.Error()
	}
	w.LimitMiB = limit
	b.res.Worst = w
	logf("worst-case logs: %d × `%s` at once, then %d health and status at %g/s", cfg.worstLogs, cmd.kinds[worstKindIndex].Text, cfg.worstOthers, cfg.rate)

	sampled := make(chan float64, 1)
	stop := make(chan struct{})
	go func() {
		peak := 0.0
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			peak = max(peak, b.bot.Process.RSSMiB())
			select {
			case <-stop:
				sampled <- peak
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	seq := make([]int, cfg.worstLogs)
	for i := range seq {
		seq[i] = worstKindIndex
	}
	var logs, during *PhaseResult
	var wg sync.WaitGroup
	wg.Go(func() {
		logs = cmd.run(ctx, "worst", fmt.Sprintf("%d logs at once", cfg.worstLogs), seq, worstRate, cfg.answerTimeout)
	})
	wg.Go(func() {
		if harness.Sleep(ctx, worstLead) != nil {
			return
		}
		during = cmd.run(ctx, "worst", fmt.Sprintf("health + status meanwhile, %g/s", cfg.rate), others, cfg.rate, cfg.answerTimeout)
	})
	wg.Wait()
	close(stop)
	w.PeakMiB = round2(<-sampled)
	w.HWMMiB = round2(b.bot.Process.PeakRSSMiB())
	w.DurationS = round2(time.Since(start).Seconds())
	for _, p := range []*PhaseResult{logs, during} {
		if p != nil {
			b.res.Parts = append(b.res.Parts, p)
			b.phaseErrors(p)
		}
	}
}

// worstVerdicts: the bot's memory under the pod's limit, and the other
// commands' acknowledgements within the usual target, while the
// worst-case logs commands run.
func (b *bench) worstVerdicts() {
	w := b.res.Worst
	if w == nil {
		return
	}
	var logs, base, others *PhaseResult
	for _, p := range b.res.Parts {
		switch {
		case p.Phase != "worst":
		case strings.HasSuffix(p.Part, "at once"):
			logs = p
		case strings.HasPrefix(p.Part, "health + status alone"):
			base = p
		default:
			others = p
		}
	}
	peak := max(w.PeakMiB, w.HWMMiB)
	detail := fmt.Sprintf("peak %.1f MiB (sampled every %s: %.1f; VmHWM after: %.1f; %.1f before the phase) with %d logs commands at once", peak, rssEvery, w.PeakMiB, w.HWMMiB, w.BeforeMiB, w.Commands)
	if w.LimitError != "" {
		detail += "; the limit could not be read: " + w.LimitError
	}
	b.res.Verdicts = append(b.res.Verdicts, harness.Verdict{
		Target: fmt.Sprintf("resident size under the pod's memory limit (%.0f MiB, %s) with %d worst-case logs commands at once", w.LimitMiB, deploymentFile, w.Commands),
		Met:    w.LimitError == "" && peak < w.LimitMiB, Detail: detail})
	if others != nil && others.All.AckMS.N > 0 {
		detail := fmt.Sprintf("p99 %.2f ms (p50 %.2f, max %.2f) over %d health and status commands", others.All.AckMS.P99, others.All.AckMS.P50, others.All.AckMS.Max, others.All.AckMS.N)
		if base != nil && base.All.AckMS.N > 0 {
			detail += fmt.Sprintf("; alone, before: p99 %.2f ms (p50 %.2f), so %.1f× with the logs commands", base.All.AckMS.P99, base.All.AckMS.P50, others.All.AckMS.P99/base.All.AckMS.P99)
		}
		if logs != nil {
			detail += fmt.Sprintf("; the logs commands' own: p99 %.2f ms", logs.All.AckMS.P99)
		}
		b.res.Verdicts = append(b.res.Verdicts, harness.Verdict{
			Target: fmt.Sprintf("acknowledgement p99 of other commands < %d ms while the worst-case logs commands run", targetAckP99.Milliseconds()),
			Met:    others.All.AckMS.P99 < ms(targetAckP99), Detail: detail})
	}
}

// printWorst is the report's section on the worst-case logs phase.
func (b *bench) printWorst(w io.Writer) {
	r := b.res.Worst
	if r == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	grep := ""
	if r.Pattern != "none" {
		grep = " --grep " + r.Pattern
	}
	p("Worst-case logs phase (%.1f s): %d × `/ops logs %s --tail %d%s`, at once; the %d pods' logs: %s. The bot's resident size: %.1f MiB before, peak %.1f MiB sampled every %s, VmHWM %.1f MiB after; the pod's limit %.0f MiB (%s).",
		r.DurationS, r.Commands, floodService, maxTail, grep, floodPods, r.PodLogs, r.BeforeMiB, r.PeakMiB, rssEvery, r.HWMMiB, r.LimitMiB, deploymentFile)
	for _, ph := range b.res.Parts {
		if ph.Phase != "worst" || !strings.HasSuffix(ph.Part, "at once") {
			continue
		}
		k := ph.Kinds[worstKindIndex]
		tags := make([]string, 0, len(k.Tags))
		for t, n := range k.Tags {
			tags = append(tags, fmt.Sprintf("%d %s", n, t))
		}
		sort.Strings(tags)
		p("Their answers: %s.", orQ(strings.Join(tags, "; ")))
	}
}

// podMemoryLimitMiB reads the chatops container's memory limit from the
// shipped Deployment.
func podMemoryLimitMiB(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name      string `yaml:"name"`
							Resources struct {
								Limits map[string]string `yaml:"limits"`
							} `yaml:"resources"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("%s: no Deployment with a memory limit", path)
			}
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		if doc.Kind != "Deployment" {
			continue
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			if v, ok := c.Resources.Limits["memory"]; ok && c.Name == "chatops" {
				q, err := resource.ParseQuantity(v)
				if err != nil {
					return 0, fmt.Errorf("%s: memory limit %q: %w", path, v, err)
				}
				return float64(q.Value()) / (1 << 20), nil
			}
		}
	}
}
