package main

import "github.com/bakewise/chatops/test/harness"

// Result is everything the run measured; it is also the JSON line.
type Result struct {
	Params   Params            `json:"params"`
	Machine  string            `json:"machine"`
	Stores   []*StoreResult    `json:"stores"`
	Verdicts []harness.Verdict `json:"verdicts"`
	// Failures make the exit status 1.
	Failures []string `json:"failures"`
	WorkDir  string   `json:"work_dir"`
}

type Params struct {
	Open     int     `json:"open"`
	Resolved int     `json:"resolved"`
	Due      int     `json:"due_at_start"`
	IdleS    float64 `json:"idle_s"`
	SettleS  float64 `json:"settle_s"`
	IngestS  float64 `json:"ingest_s"`
	Senders  []int   `json:"senders"`
	Rounds   int     `json:"rounds"`
	Passes   int     `json:"passes"`
}

// StoreResult is the bot on one store: "empty", or "filled" by Fill.
type StoreResult struct {
	Store string      `json:"store"`
	Fill  *FillResult `json:"fill,omitempty"`
	// ReadyS: from starting `chatops serve` to /readyz answering 200.
	ReadyS      float64       `json:"ready_s"`
	StartRSSMiB float64       `json:"rss_at_ready_mib"`
	Idle        *IdleResult   `json:"idle"`
	Passes      []PassTimes   `json:"passes"`
	Ingest      []*IngestCase `json:"ingest"`
	// AfterIngest: the store after the ingest cases, and the passes timed
	// again then.
	AfterIngest       *StoreCounts   `json:"after_ingest,omitempty"`
	PassesAfterIngest []PassTimes    `json:"passes_after_ingest,omitempty"`
	PeakRSSMiB        float64        `json:"peak_rss_mib"`
	Exit              string         `json:"exit"`
	LogLevels         map[string]int `json:"log_levels"`
	LogSamples        []string       `json:"log_samples,omitempty"`
}

// IdleResult is the bot doing nothing for Seconds.
type IdleResult struct {
	Seconds float64 `json:"seconds"`
	// BotCPUPct and PGCPUPct: percent of one core, the bot's own and that
	// of the PostgreSQL backends serving its database (PGBackends at the
	// end; PGBackendsGone ended during the window, their last part not
	// counted).
	BotCPUPct      float64 `json:"bot_cpu_pct"`
	PGCPUPct       float64 `json:"pg_backends_cpu_pct"`
	PGBackends     int     `json:"pg_backends"`
	PGBackendsGone int     `json:"pg_backends_gone"`
	RSSMiB         float64 `json:"rss_mib"`
	HWMMiB         float64 `json:"hwm_mib"`
	// ScrapeMS: one GET /metrics, median of three, just before the window.
	ScrapeMS float64  `json:"scrape_ms"`
	Ops      []OpStat `json:"store_ops"`
}

// OpStat is one store operation the bot ran while idle.
type OpStat struct {
	Op     string  `json:"op"`
	Count  float64 `json:"count"`
	MeanMS float64 `json:"mean_ms"`
}

// IngestCase is one run of the ingest generator.
type IngestCase struct {
	Store        string   `json:"store"`
	Round        int      `json:"round"`
	Senders      int      `json:"senders"`
	PayloadsPerS float64  `json:"webhooks_per_s"`
	Acked        int64    `json:"acked"`
	P50          float64  `json:"ack_p50_ms"`
	P99          float64  `json:"ack_p99_ms"`
	Max          float64  `json:"ack_max_ms"`
	Lost         *int64   `json:"lost"`
	Failed       int64    `json:"failed"`
	PeakRSSMiB   float64  `json:"peak_rss_during_mib"`
	ExitCode     int      `json:"generator_exit"`
	Problems     []string `json:"problems,omitempty"`
}
