package main

// Result is everything the run measured; it is also the JSON line.
type Result struct {
	Params  Params `json:"params"`
	Machine string `json:"machine"`
	Seed    int64  `json:"seed"`

	Sender SenderResult `json:"sender"`
	Kills  []Kill       `json:"kills"`

	// The store against what the sender was acknowledged.
	AlertsAcked int      `json:"alerts_acked"`
	Lost        int      `json:"acked_alerts_lost"`
	Stale       int      `json:"acked_resolutions_lost"`
	LostSamples []string `json:"lost_samples,omitempty"`
	Incidents   int      `json:"incidents"`
	Splits      int      `json:"groups_split_over_incidents"`

	// The threads.
	DuplicateRoots     map[string]int `json:"duplicate_roots"`
	DuplicateReplies   map[string]int `json:"duplicate_replies"`
	Replies            map[string]int `json:"replies"`
	DupReplySamples    []string       `json:"duplicate_reply_samples,omitempty"`
	RemindersFired     int            `json:"reminders_fired"`
	DuplicateReminders int            `json:"duplicate_reminders_store"`
	RemindersShown     map[string]int `json:"reminders_shown"`
	DupRemindersShown  map[string]int `json:"duplicate_reminders_shown"`
	// Calls the stand-ins failed on purpose, by platform and kind.
	Injected map[string]map[string]int `json:"faults_injected"`

	Converged bool `json:"converged"`
	// ConvergeAfterKillS: from the last kill to every thread showing its
	// incident as stored (both platforms) with the outbox empty;
	// ConvergeAfterStopS: the same from the sender's last webhook.
	ConvergeAfterKillS float64  `json:"converge_after_last_kill_s"`
	ConvergeAfterStopS float64  `json:"converge_after_sender_stop_s"`
	NotConverged       []string `json:"not_converged,omitempty"`
	DepthAtConvergence int      `json:"outbox_depth_at_convergence"`

	Replicas []ReplicaResult `json:"replicas"`
	Failures []string        `json:"failures"`
	Notes    []string        `json:"notes,omitempty"`
	WorkDir  string          `json:"work_dir"`
}

type Params struct {
	DurationS        float64 `json:"duration_s"`
	Rate             float64 `json:"rate"`
	Groups           int     `json:"groups"`
	MaxAlerts        int     `json:"max_alerts"`
	LifeS            string  `json:"group_life_s"`
	DeadlineS        float64 `json:"p1_deadline_s"`
	KillEveryS       string  `json:"kill_every_s"`
	Fail429          float64 `json:"fail_429"`
	Fail5xx          float64 `json:"fail_5xx"`
	ConvergeTimeoutS float64 `json:"converge_timeout_s"`
}

// SenderResult is what the webhook sender saw.
type SenderResult struct {
	Webhooks int `json:"webhooks"`
	Acked    int `json:"acked"`
	// GivenUp: webhooks that got no 2xx from either replica within the
	// retry period (their state goes out again with the group's next one).
	GivenUp int `json:"given_up"`
	// Retried: webhooks sent again to the other replica at least once.
	Retried int `json:"retried"`
	// Skipped: ticks with no idle group to send for (the sender could not
	// keep the rate).
	Skipped int            `json:"skipped_ticks"`
	Errors  map[string]int `json:"errors_by_kind"`
	// Ack latency of the 2xx attempts, and of webhooks from their first
	// attempt to their 2xx (retries included).
	AckP50MS     float64 `json:"ack_p50_ms"`
	AckP99MS     float64 `json:"ack_p99_ms"`
	AckMaxMS     float64 `json:"ack_max_ms"`
	EndToEndP99  float64 `json:"with_retries_p99_ms"`
	EndToEndMax  float64 `json:"with_retries_max_ms"`
	RatePerS     float64 `json:"achieved_rate_per_s"`
	GroupsOpened int     `json:"groups_opened"`
	GroupsDone   int     `json:"groups_resolved"`
	SendS        float64 `json:"send_s"`
}

// Kill is one SIGKILL and the restart after it.
type Kill struct {
	AtS       float64 `json:"at_s"`
	Replica   int     `json:"replica"`
	RestartMS float64 `json:"ready_again_ms"`
}

type ReplicaResult struct {
	Starts     int            `json:"starts"`
	PeakRSSMiB float64        `json:"peak_rss_mib_last_start"`
	Exit       string         `json:"exit"`
	LogLevels  map[string]int `json:"log_levels"`
	LogSamples []string       `json:"log_samples,omitempty"`
	LogPath    string         `json:"log_path"`
}
