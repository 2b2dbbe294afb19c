package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// IngestArgs is one run of the ingest generator (test/bench/ingest)
// against a bot: the tools that load a bot while they measure something
// else run it as a subprocess.
type IngestArgs struct {
	URL, Token string
	// PGURL, when set, is the bot's database: the generator then checks
	// that every acknowledged alert is stored.
	PGURL            string
	Duration         time.Duration
	Senders          int
	AlertsPerPayload int
	Groups           int
	// NewGroups: every webhook a group of its own (Groups is not used).
	NewGroups bool
}

// IngestReport is the part of the generator's JSON result the tools read.
type IngestReport struct {
	DurationS        float64       `json:"duration_s"`
	ElapsedS         float64       `json:"elapsed_s"`
	Senders          int           `json:"senders"`
	AlertsPerPayload int           `json:"alerts_per_payload"`
	Payloads2xx      int64         `json:"payloads_2xx"`
	Non2xx           int64         `json:"payloads_non2xx"`
	Errors           int64         `json:"errors"`
	AlertsPerS       float64       `json:"alerts_per_s"`
	PayloadsPerS     float64       `json:"payloads_per_s"`
	Latency          IngestLatency `json:"ack_latency_ms"`
	DB               *struct {
		Checked bool  `json:"checked"`
		Lost    int64 `json:"lost"`
	} `json:"db"`
	Problems []string `json:"problems"`
}

// IngestLatency is the acknowledgement latency of the 2xx webhooks, in ms.
type IngestLatency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// IngestRun is the generator running as a subprocess: its JSON result on
// stdout, its stderr in a log file.
type IngestRun struct {
	Process *Process
	Started time.Time
	stdout  bytes.Buffer
}

// StartIngest starts the generator binary bin with a, its stderr going to
// logPath.
func StartIngest(bin, logPath string, a IngestArgs) (*IngestRun, error) {
	r := &IngestRun{}
	args := []string{"-url", a.URL, "-token", a.Token, "-duration", a.Duration.String(),
		"-senders", strconv.Itoa(a.Senders), "-alerts-per-payload", strconv.Itoa(a.AlertsPerPayload), "-json"}
	if a.NewGroups {
		args = append(args, "-new-groups")
	} else {
		args = append(args, "-groups", strconv.Itoa(a.Groups))
	}
	if a.PGURL != "" {
		args = append(args, "-pg-url", a.PGURL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = CleanEnviron()
	cmd.Stdout = &r.stdout
	p, err := StartProcess("the ingest generator", cmd, logPath)
	if err != nil {
		return nil, err
	}
	r.Process, r.Started = p, time.Now()
	return r, nil
}

// Wait waits up to limit for the generator (its run plus its database
// check), killing it after that, and reads its JSON.
func (r *IngestRun) Wait(ctx context.Context, limit time.Duration) (*IngestReport, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-r.Process.Done():
	case <-timer.C:
		r.Process.Kill()
		return nil, fmt.Errorf("the ingest generator did not finish within %s", limit)
	case <-ctx.Done():
		r.Process.Kill()
		return nil, ctx.Err()
	}
	line := bytes.TrimSpace(r.stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var out IngestReport
	if err := json.Unmarshal(line, &out); err != nil {
		return nil, fmt.Errorf("the ingest generator (%v) printed no JSON result: %v; stderr:\n%s", r.Process.Err(), err, r.Process.Tail(2000))
	}
	return &out, nil
}
