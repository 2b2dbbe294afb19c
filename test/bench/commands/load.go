package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

const (
	channelID   = "C0OPSBENCH"
	channelName = "ops"
	// userPrefix and userName, with a number, are the people who send
	// the commands.
	userPrefix = "U0ONCALL"
	userName   = "oncall"
	// ackTimeout is how long a command's HTTP request may take: well past
	// Slack's 3 s, so a slow acknowledgement is measured, not cut.
	ackTimeout = 10 * time.Second
	// workingOnIt is the bot's immediate answer to a slash command.
	workingOnIt = "Working on it…"
	maxSamples  = 3
)

// kind is one command the benchmark sends, and how to tell its answer is
// right.
type kind struct {
	Name string // as the tables show it
	Text string // what follows /ops
	// check looks at the answer (the first post to the response_url):
	// an empty problem means it is the answer expected; noFile says a
	// logs answer came without its file.
	check func(r slackstandin.Response) (problem string, noFile bool)
	// tag, when set, sorts the right answers into kinds the report
	// counts (a search cut short, or done in full).
	tag func(r slackstandin.Response) string
}

// maxTail is the bot's largest --tail.
const maxTail = 2000

// commandKinds are the commands sent: health, status and logs, with
// worst set the worst-case logs command with worstGrep, then the read
// commands events, hpa, certs and gitops.
func commandKinds(f workloadFacts, tailLines int, worst bool, worstGrep string) []kind {
	inChannel := func(r slackstandin.Response) string {
		if r.ResponseType != slack.ResponseTypeInChannel {
			return fmt.Sprintf("answer is %s, not in_channel (an error or a refusal): %q", r.ResponseType, firstN(r.Text, 200))
		}
		return ""
	}
	health := f.healthTitle()
	logsTitle := fmt.Sprintf("%s logs: %d lines from %d pods", logService, tailLines*f.LogPods, f.LogPods)
	kinds := []kind{
		{Name: "health", Text: "health", check: func(r slackstandin.Response) (string, bool) {
			if p := inChannel(r); p != "" {
				return p, false
			}
			if !strings.Contains(r.Text, health) {
				return fmt.Sprintf("health answer %q does not say %q", firstN(r.Text, 200), health), false
			}
			return "", false
		}},
		{Name: "status " + logService, Text: "status " + logService, check: func(r slackstandin.Response) (string, bool) {
			if p := inChannel(r); p != "" {
				return p, false
			}
			if !strings.Contains(r.Text, " "+logService+": ") {
				return fmt.Sprintf("status answer %q is not about %s", firstN(r.Text, 200), logService), false
			}
			return "", false
		}},
		{Name: fmt.Sprintf("logs %s --tail %d", logService, tailLines), Text: fmt.Sprintf("logs %s --tail %d", logService, tailLines),
			check: func(r slackstandin.Response) (string, bool) {
				if p := inChannel(r); p != "" {
					return p, false
				}
				if !strings.Contains(r.Text, logsTitle) {
					return fmt.Sprintf("logs answer %q does not say %q", firstN(r.Text, 200), logsTitle), false
				}
				return "", !bytes.Contains(r.Blocks, []byte(`"answer-file"`)) && !bytes.Contains(r.Attachments, []byte(`"answer-file"`))
			}},
	}
	if worst {
		kinds = append(kinds, worstKind(worstGrep))
	}
	// The read commands, in cfg.reads' order: each answer must say what
	// it read.
	for _, r := range []struct{ text, says string }{
		{"events", "Events of " + namespace}, {"hpa", "HorizontalPodAutoscalers"},
		{"certs", "Certificates in " + namespace}, {"gitops", "Flux in " + namespace},
	} {
		kinds = append(kinds, kind{Name: r.text, Text: r.text, check: func(resp slackstandin.Response) (string, bool) {
			if p := inChannel(resp); p != "" {
				return p, false
			}
			if !strings.Contains(resp.Text, r.says) {
				return fmt.Sprintf("%s answer %q does not say %q", r.text, firstN(resp.Text, 200), r.says), false
			}
			return "", false
		}})
	}
	return kinds
}

// worstKind is the worst-case logs command over the log-flood pods, with
// pattern as --grep ("": none). Its answer is right when it is the logs
// answer, whole or cut short at the deadline; tag tells which, and
// whether the byte budget and the long line showed.
func worstKind(pattern string) kind {
	text := fmt.Sprintf("logs %s --tail %d", floodService, maxTail)
	if pattern != "" {
		text += " --grep " + pattern
	}
	title := fmt.Sprintf("%s logs: ", floodService)
	pods := fmt.Sprintf(" lines from %d pods ", floodPods)
	name := fmt.Sprintf("logs %s --tail %d", floodService, maxTail)
	if pattern != "" {
		name += " --grep (worst)"
	}
	return kind{Name: name, Text: text,
		check: func(r slackstandin.Response) (string, bool) {
			if r.ResponseType != slack.ResponseTypeInChannel {
				return fmt.Sprintf("answer is %s, not in_channel (an error or a refusal): %q", r.ResponseType, firstN(r.Text, 300)), false
			}
			if !strings.Contains(r.Text, title) || !strings.Contains(r.Text, pods) {
				return fmt.Sprintf("logs answer %q does not say %q…%q", firstN(r.Text, 200), title, pods), false
			}
			return "", false
		},
		tag: func(r slackstandin.Response) string {
			all := append(append([]byte{}, r.Blocks...), r.Attachments...)
			var tags []string
			if bytes.Contains(all, []byte("cut short at the command")) {
				tags = append(tags, "search cut short at the deadline")
			} else {
				tags = append(tags, "searched in full")
			}
			if bytes.Contains(all, []byte("reads at most")) {
				tags = append(tags, "byte budget reached")
			}
			if bytes.Contains(all, []byte("too long to keep whole")) {
				tags = append(tags, "long line cut")
			}
			return strings.Join(tags, ", ")
		}}
}

// sequence spreads counts[k] commands of each kind evenly over one list.
func sequence(counts []int) []int {
	type slot struct {
		pos  float64
		kind int
	}
	var slots []slot
	for k, n := range counts {
		for j := range n {
			slots = append(slots, slot{(float64(j) + 0.5) / float64(n), k})
		}
	}
	sort.SliceStable(slots, func(i, j int) bool { return slots[i].pos < slots[j].pos })
	seq := make([]int, len(slots))
	for i, s := range slots {
		seq[i] = s.kind
	}
	return seq
}

// sample is one command sent.
type sample struct {
	kind    int
	respURL string
	sent    time.Time // just before the request went out
	ack     time.Duration
	status  int
	failure string // transport error, non-200, or an unexpected acknowledgement
	answer  time.Duration
	posts   int
	problem string
	noFile  bool
}

// Lat is a latency distribution in milliseconds.
type Lat struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func latency(d []time.Duration) Lat {
	if len(d) == 0 {
		return Lat{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return ms(d[max(0, min(i, len(d)-1))])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Lat{N: len(d), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: ms(d[len(d)-1]), Mean: ms(sum / time.Duration(len(d)))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// KindResult is one command's figures in one part of a phase.
type KindResult struct {
	Command string `json:"command"`
	Sent    int    `json:"sent"`
	// Acked: HTTP 200 with the "Working on it…" body.
	Acked  int `json:"acked_200"`
	Non200 int `json:"non_200"`
	// TransportErrors: no HTTP answer, or a 200 without the expected body.
	TransportErrors int `json:"transport_errors"`
	// Right: answers that say what the workload says; Wrong: answers that
	// do not (an error such as "health failed: …", a refusal);
	// Missing: acknowledged commands without any answer.
	Right   int `json:"right_answers"`
	Wrong   int `json:"error_answers"`
	Missing int `json:"missing_answers"`
	// ExtraPosts: posts to a response_url beyond the first.
	ExtraPosts int `json:"extra_posts"`
	// NoFile: logs answers that came without their file.
	NoFile int `json:"answers_without_file,omitempty"`
	// Tags counts the right answers by what their kind's tag says.
	Tags  map[string]int `json:"answers_by_tag,omitempty"`
	AckMS Lat            `json:"ack_ms"`
	// AnswerMS is over the right answers only; WrongMS is when the
	// error answers came.
	AnswerMS Lat      `json:"answer_ms"`
	WrongMS  Lat      `json:"error_answer_ms"`
	Samples  []string `json:"failure_samples,omitempty"`
}

func (k *KindResult) errors() int { return k.Non200 + k.TransportErrors + k.Missing + k.Wrong }

func (k *KindResult) sample(s string) {
	if len(k.Samples) < maxSamples && !slices.Contains(k.Samples, s) {
		k.Samples = append(k.Samples, s)
	}
}

// PhaseResult is one part of a phase (health alone, or the command mix):
// every command kind sent, and all of them together.
type PhaseResult struct {
	Phase    string        `json:"phase"`
	Part     string        `json:"part"`
	Commands int           `json:"commands"`
	Rate     float64       `json:"rate_per_s"`
	SendS    float64       `json:"send_s"`
	MaxLate  float64       `json:"max_send_lateness_ms"`
	Kinds    []*KindResult `json:"kinds"`
	All      *KindResult   `json:"all"`
	// Guard is the bot's replay guard during the part: its PostgreSQL
	// write, part of every acknowledgement (from the bot's
	// chatops_store_duration_seconds{op="first_seen"}).
	Guard *GuardStats `json:"replay_guard,omitempty"`

	started time.Time
}

// GuardStats is how many replay-guard writes the bot made in a part and
// how long they took on average.
type GuardStats struct {
	Calls  int64   `json:"calls"`
	MeanMS float64 `json:"mean_ms"`
}

func (p *PhaseResult) name() string { return p.Phase + ", " + p.Part }

// commander sends signed slash commands to the bot and reads the answers
// from the stand-in.
type commander struct {
	slack   *slackstandin.Server
	secret  string
	url     string // the bot's /slack/commands
	metrics string // the bot's /metrics
	client  *http.Client
	kinds   []kind
	// people counts the people made up so far: each command comes from
	// a person of its own, as a channel full of people would send them
	// (the bot runs at most 3 commands per person at once).
	people atomic.Int64
}

func newCommander(s *slackstandin.Server, secret, botURL string, kinds []kind) *commander {
	return &commander{
		slack: s, secret: secret, url: botURL + "/slack/commands", metrics: botURL + "/metrics", kinds: kinds,
		client: &http.Client{Timeout: ackTimeout, Transport: &http.Transport{
			Proxy: nil, MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute, DisableCompression: true,
		}},
	}
}

// run sends the commands of seq at rate per second, open loop (each in
// its own goroutine at its scheduled time, whatever the earlier ones are
// doing), then waits up to answerTimeout for every acknowledged one's
// answer.
func (c *commander) run(ctx context.Context, phase, part string, seq []int, rate float64, answerTimeout time.Duration) *PhaseResult {
	guardSum0, guardN0, guardErr := c.guard(ctx)
	samples := make([]*sample, 0, len(seq))
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var maxLate time.Duration
	for i, k := range seq {
		at := start.Add(time.Duration(i) * interval)
		if harness.Sleep(ctx, time.Until(at)) != nil {
			break
		}
		maxLate = max(maxLate, time.Since(at))
		s := &sample{kind: k}
		samples = append(samples, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.send(ctx, s)
		}()
	}
	sendS := time.Since(start).Seconds() // the last command went out
	wg.Wait()

	pending := make([]*sample, 0, len(samples))
	for _, s := range samples {
		if s.failure == "" {
			pending = append(pending, s)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, answerTimeout)
	_ = c.slack.Wait(wctx, func() bool {
		pending = slices.DeleteFunc(pending, func(s *sample) bool { return len(c.slack.Responses(s.respURL)) > 0 })
		return len(pending) == 0
	})
	cancel()
	p := c.collect(phase, part, samples, rate, sendS, maxLate)
	p.started = start
	if sum, n, err := c.guard(ctx); err == nil && guardErr == nil && n > guardN0 {
		p.Guard = &GuardStats{Calls: int64(n - guardN0), MeanMS: math.Round((sum-guardSum0)/(n-guardN0)*1e6) / 1e3}
	}
	return p
}

func (c *commander) send(ctx context.Context, s *sample) {
	s.respURL = c.slack.NewResponseURL()
	n := c.people.Add(1)
	form := c.slack.SlashCommandForm(slack.SlashCommand{
		ChannelID: channelID, ChannelName: channelName, UserID: fmt.Sprintf("%s%05d", userPrefix, n), UserName: fmt.Sprintf("%s%d", userName, n),
		Text: c.kinds[s.kind].Text, ResponseURL: s.respURL,
	})
	body := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		s.failure = err.Error()
		return
	}
	req.Header = slackstandin.Sign(c.secret, time.Now(), body)
	s.sent = time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		s.ack = time.Since(s.sent)
		s.failure = "transport error: " + err.Error()
		return
	}
	rb, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.ack = time.Since(s.sent)
	s.status = resp.StatusCode
	var ack struct {
		Text string `json:"text"`
	}
	switch {
	case rerr != nil:
		s.failure = fmt.Sprintf("reading the %d answer: %v", resp.StatusCode, rerr)
	case resp.StatusCode != http.StatusOK:
		s.failure = fmt.Sprintf("HTTP %d after %s: %s", resp.StatusCode, s.ack.Round(time.Millisecond), firstN(strings.TrimSpace(string(rb)), 200))
	case json.Unmarshal(rb, &ack) != nil || ack.Text != workingOnIt:
		s.failure = fmt.Sprintf("HTTP 200 but not the expected acknowledgement: %s", firstN(string(rb), 200))
	}
}

// guard reads the bot's replay-guard histogram: total seconds and calls.
func (c *commander) guard(ctx context.Context) (sum, n float64, err error) {
	m, err := harness.ScrapeMetrics(ctx, c.client, c.metrics)
	if err != nil {
		return 0, 0, err
	}
	sum, foundSum := m.Sum("chatops_store_duration_seconds_sum", `op="first_seen"`)
	n, foundN := m.Sum("chatops_store_duration_seconds_count", `op="first_seen"`)
	if !foundSum && !foundN {
		return 0, 0, fmt.Errorf("no chatops_store_duration_seconds{op=\"first_seen\"} in the bot's /metrics")
	}
	return sum, n, nil
}

func (c *commander) collect(phase, part string, samples []*sample, rate, sendS float64, maxLate time.Duration) *PhaseResult {
	p := &PhaseResult{Phase: phase, Part: part, Commands: len(samples), Rate: rate, SendS: math.Round(sendS*100) / 100,
		MaxLate: ms(maxLate), All: &KindResult{Command: "all commands"}}
	type times struct{ ack, right, wrong []time.Duration }
	per := make([]times, len(c.kinds))
	var all times
	for _, k := range c.kinds {
		p.Kinds = append(p.Kinds, &KindResult{Command: k.Name})
	}
	for _, s := range samples {
		rs := []*KindResult{p.Kinds[s.kind], p.All}
		ts := []*times{&per[s.kind], &all}
		for _, r := range rs {
			r.Sent++
		}
		if s.failure != "" {
			for _, r := range rs {
				if s.status != 0 && s.status != http.StatusOK {
					r.Non200++
				} else {
					r.TransportErrors++
				}
				r.sample(s.failure)
			}
			continue
		}
		for i, r := range rs {
			r.Acked++
			ts[i].ack = append(ts[i].ack, s.ack)
		}
		posts := c.slack.Responses(s.respURL)
		if len(posts) == 0 {
			for _, r := range rs {
				r.Missing++
				r.sample("no answer at the response_url")
			}
			continue
		}
		s.answer = posts[0].PostedAt.Sub(s.sent)
		s.problem, s.noFile = c.kinds[s.kind].check(posts[0])
		for i, r := range rs {
			r.ExtraPosts += len(posts) - 1
			if s.noFile {
				r.NoFile++
			}
			if s.problem != "" {
				r.Wrong++
				r.sample(s.problem)
				ts[i].wrong = append(ts[i].wrong, s.answer)
			} else {
				r.Right++
				ts[i].right = append(ts[i].right, s.answer)
				if tag := c.kinds[s.kind].tag; tag != nil {
					if r.Tags == nil {
						r.Tags = map[string]int{}
					}
					r.Tags[tag(posts[0])]++
				}
			}
		}
	}
	for i, kr := range p.Kinds {
		kr.AckMS, kr.AnswerMS, kr.WrongMS = latency(per[i].ack), latency(per[i].right), latency(per[i].wrong)
	}
	p.All.AckMS, p.All.AnswerMS, p.All.WrongMS = latency(all.ack), latency(all.right), latency(all.wrong)
	return p
}

// ---------------------------------------------------------------------------
// the ingest storm

// IngestResult is the ingest generator's run during the storm phase,
// from its JSON.
type IngestResult struct {
	Senders          int      `json:"senders"`
	AlertsPerPayload int      `json:"alerts_per_payload"`
	DurationS        float64  `json:"duration_s"`
	ElapsedS         float64  `json:"elapsed_s"`
	AlertsPerS       float64  `json:"alerts_per_s"`
	PayloadsPerS     float64  `json:"payloads_per_s"`
	Payloads2xx      int64    `json:"payloads_2xx"`
	Non2xx           int64    `json:"payloads_non2xx"`
	Errors           int64    `json:"errors"`
	AckMS            Lat      `json:"ack_ms"`
	Lost             *int64   `json:"lost"`
	ExitCode         int      `json:"exit_code"`
	Problems         []string `json:"problems,omitempty"`
	// CommandsFromS and CommandsToS: when the phase's commands were sent,
	// in seconds since the generator was started.
	CommandsFromS float64 `json:"commands_from_s"`
	CommandsToS   float64 `json:"commands_to_s"`
}

// ingestResult is the report's view of the generator's result.
func ingestResult(out *harness.IngestReport, exitCode int) *IngestResult {
	l := out.Latency
	res := &IngestResult{
		Senders: out.Senders, AlertsPerPayload: out.AlertsPerPayload, DurationS: out.DurationS, ElapsedS: out.ElapsedS,
		AlertsPerS: math.Round(out.AlertsPerS*10) / 10, PayloadsPerS: math.Round(out.PayloadsPerS*10) / 10,
		Payloads2xx: out.Payloads2xx, Non2xx: out.Non2xx, Errors: out.Errors,
		AckMS:    Lat{N: int(out.Payloads2xx), P50: l.P50, P90: l.P90, P99: l.P99, Max: l.Max, Mean: l.Mean},
		ExitCode: exitCode, Problems: out.Problems,
	}
	if out.DB != nil && out.DB.Checked {
		res.Lost = &out.DB.Lost
	}
	return res
}
