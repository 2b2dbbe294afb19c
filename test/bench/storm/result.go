package main

import (
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// Result is everything the run measured; it is also the JSON line.
type Result struct {
	Params   Params            `json:"params"`
	Machine  string            `json:"machine"`
	Storm    *StormResult      `json:"storm,omitempty"`
	AM       *AMResult         `json:"via_alertmanager,omitempty"`
	Outages  []*OutageResult   `json:"outages,omitempty"`
	Bot      BotResult         `json:"bot"`
	Verdicts []harness.Verdict `json:"verdicts"`
	// Failures are integrity failures and bot errors: any makes the exit
	// status 1.
	Failures []string `json:"failures"`
	// DiscordThreadlessAtEnd: incidents whose Discord root has no thread
	// at the end of the run.
	DiscordThreadlessAtEnd []int64 `json:"discord_roots_without_thread_at_end"`
	// Notes are facts worth knowing that are no failure.
	Notes   []string `json:"notes,omitempty"`
	WorkDir string   `json:"work_dir"`
}

type Params struct {
	// Mode is "webhooks" (the tool posts them) or "via-alertmanager".
	Mode             string  `json:"mode"`
	Order            string  `json:"order"`
	ChangeAlerts     int     `json:"change_alerts,omitempty"`
	Alerts           int     `json:"alerts"`
	Groups           int     `json:"groups"`
	StormS           float64 `json:"storm_s"`
	OutageS          float64 `json:"outage_s"`
	Senders          int     `json:"senders"`
	Semantics        string  `json:"webhook_semantics"`
	SlackLimit       string  `json:"slack_limit"`
	DiscordLimit     string  `json:"discord_limit"`
	ConvergeTimeoutS float64 `json:"converge_timeout_s"`
}

type StormResult struct {
	Webhooks        int     `json:"webhooks"`
	Webhooks200     int     `json:"webhooks_200"`
	WebhookFailures int     `json:"webhook_failures"`
	Incidents       int     `json:"incidents"`
	SendS           float64 `json:"send_s"`
	MaxLatenessS    float64 `json:"max_send_lateness_s"`
	AckP50MS        float64 `json:"ack_p50_ms"`
	AckP99MS        float64 `json:"ack_p99_ms"`
	AckMaxMS        float64 `json:"ack_max_ms"`
	Converged       bool    `json:"converged"`
	// Seconds from the last webhook's 200 to convergence (both platforms
	// final and the outbox empty), and to each platform's final state.
	ConvergeS        float64             `json:"converge_s"`
	PlatformS        map[string]float64  `json:"platform_converge_s"`
	Calls            map[string]*Calls   `json:"calls"`
	Rates            map[string]*Rates   `json:"rates"`
	Duplicates       map[string]int      `json:"duplicate_roots"`
	Missing          map[string][]string `json:"not_converged,omitempty"`
	BotStoreAgrees   bool                `json:"bot_store_agrees"`
	BotStoreProblems []string            `json:"bot_store_problems,omitempty"`
	HeldBack         map[string]float64  `json:"bot_held_back_locally"`
	// DiscordThreadless: incidents whose Discord root had no thread once
	// the storm converged.
	DiscordThreadless []int64        `json:"discord_roots_without_thread"`
	SeverityMix       map[string]int `json:"incidents_by_severity"`
}

// Calls is one platform's chat calls in a phase, from the stand-in's
// counters. Roots and Replies are messages actually posted; Edits,
// ThreadStarts and Lookups are calls, whatever their answer. Total is
// every call: Roots + Replies + FailedPosts + Edits + ThreadStarts +
// Lookups (+ Slack auth.test).
type Calls struct {
	Total   int `json:"total"`
	Roots   int `json:"roots"`
	Edits   int `json:"edits"`
	Replies int `json:"replies"`
	// ThreadStarts: Discord's start_thread calls.
	ThreadStarts int `json:"thread_starts"`
	// Lookups: Slack conversations.history, Discord list/get messages.
	Lookups int `json:"lookups"`
	// FailedPosts: post calls (chat.postMessage, create_message) that
	// posted nothing: answered 429 or an error.
	FailedPosts int `json:"failed_posts"`
	// Rejected429: calls the stand-in answered 429, any method or route.
	Rejected429 int            `json:"rejected_429"`
	RejectedBy  map[string]int `json:"rejected_429_by"`
	// Refused: calls answered 503 because the platform was down.
	Refused   int     `json:"refused_down"`
	Incidents int     `json:"incidents"`
	PerInc    float64 `json:"per_incident"`
}

// Rates are the highest request rates a stand-in saw in a window of time.
type Rates struct {
	// PerChannel is the highest per-channel rate that the platform limits
	// (Slack: chat.postMessage per channel per second; Discord: requests
	// per route and channel per second, threads included).
	PerChannel      float64 `json:"max_per_channel"`
	PerChannelLimit float64 `json:"limit_per_channel"`
	PerChannelWhat  string  `json:"per_channel_what"`
	// Slack: chat.update in any 60 s window; Discord: all routes together
	// per second (Discord's global limit).
	Secondary      float64 `json:"max_secondary"`
	SecondaryLimit float64 `json:"limit_secondary"`
	SecondaryWhat  string  `json:"secondary_what"`
	// Discord only, for reading: all routes of the parent channel per second.
	ParentAllRoutes float64 `json:"parent_all_routes,omitempty"`
	WindowS         float64 `json:"window_s"`
}

type OutageResult struct {
	Platform        string  `json:"platform"`
	Change          string  `json:"change"`
	OutageS         float64 `json:"outage_s"`
	Extended        bool    `json:"outage_extended"`
	OtherPlatform   string  `json:"other_platform"`
	OtherConvergedS float64 `json:"other_converged_after_s"`
	OtherConverged  bool    `json:"other_converged"`
	Webhooks        int     `json:"webhooks"`
	WebhookFailures int     `json:"webhook_failures"`
	// Owed at recovery, from the stand-in: roots not showing the final
	// state (edits owed) and threads without the final reply (replies owed).
	OwedEdits    int     `json:"owed_edits"`
	OwedReplies  int     `json:"owed_replies"`
	OwedRoots    int     `json:"owed_roots"`
	BoundS       float64 `json:"lower_bound_s"`
	BoundFormula string  `json:"lower_bound_formula"`
	Converged    bool    `json:"converged"`
	ConvergeS    float64 `json:"converge_s"`
	Ratio        float64 `json:"ratio"`
	// FirstCallS: from recovery to the first call the stand-in received.
	FirstCallS float64 `json:"first_call_after_recovery_s"`
	// FirstReplyS: from recovery to the first reply posted.
	FirstReplyS   float64             `json:"first_reply_after_recovery_s"`
	CallsDown     *Calls              `json:"calls_during_outage"`
	CallsRecovery *Calls              `json:"calls_after_recovery"`
	RatesRecovery *Rates              `json:"rates_after_recovery"`
	OtherCalls    *Calls              `json:"other_platform_calls"`
	OtherRates    *Rates              `json:"other_platform_rates"`
	Duplicates    map[string]int      `json:"duplicate_roots"`
	Missing       map[string][]string `json:"not_converged,omitempty"`
}

type BotResult struct {
	IdleRSSMiB      float64        `json:"idle_rss_mib"`
	PeakRSSStormMiB float64        `json:"peak_rss_after_storm_mib"`
	PeakRSSMiB      float64        `json:"peak_rss_mib"`
	ExitCode        int            `json:"exit_code"`
	Exit            string         `json:"exit"`
	LogLevels       map[string]int `json:"log_levels"`
	// LogSamples are distinct warn/error messages with their counts.
	LogSamples []string `json:"log_samples,omitempty"`
	LogPath    string   `json:"log_path"`
	Recoveries []string `json:"recovery_log_lines,omitempty"`
}

// AMResult is the -via-alertmanager run: its phases, and the storm's root
// times against their bound.
type AMResult struct {
	StormStart  time.Time               `json:"storm_start"`
	Phases      []*AMPhase              `json:"phases"`
	Roots       []RootTiming            `json:"roots"`
	RootSummary map[string]*RootSummary `json:"root_summary"`
	// Total: the Slack calls of the whole run (all phases), by caller.
	Total map[string]*CallerCalls `json:"calls_total"`
}

// AMPhase is one phase: what was posted to Alertmanager, how long until
// both receivers showed the final state, and what that cost.
type AMPhase struct {
	Name         string  `json:"name"`
	AlertsPosted int     `json:"alerts_posted"`
	Posts        int     `json:"posts"`
	PostFailures int     `json:"post_failures"`
	SendS        float64 `json:"send_s"`
	MaxLatenessS float64 `json:"max_send_lateness_s"`
	Converged    bool    `json:"converged"`
	// ConvergeS: from the phase's last post to both receivers final and
	// chatops' outbox empty; FinalS: to each one's final state ("slack",
	// "discord": chatops' threads; "alertmanager": its receiver's last
	// message per group).
	ConvergeS  float64             `json:"converge_s"`
	FinalS     map[string]float64  `json:"final_s"`
	Duplicates int                 `json:"duplicate_roots"`
	Missing    map[string][]string `json:"not_converged,omitempty"`
	// BotStoreAgrees: the storm's incidents hold what was posted (storm
	// phase only).
	BotStoreAgrees   bool     `json:"bot_store_agrees,omitempty"`
	BotStoreProblems []string `json:"bot_store_problems,omitempty"`
	// Calls: the Slack calls of the phase (first post to convergence plus
	// the settle time), by caller.
	Calls map[string]*CallerCalls `json:"calls"`
	// Rates: chatops' channel (Alertmanager posts to its own).
	Rates *Rates `json:"chatops_slack_rates"`
	// Counters: the phase's increase of the bot's outbox and rate-limit
	// counters and of Alertmanager's notification counters.
	Counters map[string]float64 `json:"counters"`
	Discord  *Calls             `json:"chatops_discord_calls,omitempty"`
}

// CallerCalls are one client's Slack calls, as the front recorded them.
type CallerCalls struct {
	Total         int            `json:"total"`
	TopLevelPosts int            `json:"top_level_posts"`
	ThreadPosts   int            `json:"thread_posts"`
	Updates       int            `json:"updates"`
	Lookups       int            `json:"lookups"`
	Other         int            `json:"other"`
	Failed        int            `json:"failed"`
	ByMethod      map[string]int `json:"by_method"`
	Incidents     int            `json:"incidents"`
	PerInc        float64        `json:"per_incident"`
}

// RootTiming is the k-th incident by first notification: when it was
// notified, its bound, and when each receiver's first message for it
// appeared; seconds from the storm's start, -1 for never.
type RootTiming struct {
	K                  int     `json:"k"`
	Incident           int64   `json:"incident"`
	Group              string  `json:"group"`
	FirstNotificationS float64 `json:"first_notification_s"`
	BoundS             float64 `json:"bound_s"`
	ChatopsRootS       float64 `json:"chatops_root_s"`
	AMRootS            float64 `json:"alertmanager_first_message_s"`
}

// RootSummary holds one receiver's roots against their bounds.
type RootSummary struct {
	Incidents int `json:"incidents"`
	Missing   int `json:"missing"`
	// LastRootS: when every incident had its root; BoundS: the last
	// incident's bound; Ratio = LastRootS ÷ BoundS (target ≤ 1.2).
	LastRootS float64 `json:"last_root_s"`
	BoundS    float64 `json:"bound_s"`
	Ratio     float64 `json:"ratio"`
	// Late: roots after their own bound; WorstK the latest of them, by
	// WorstLateS.
	Late       int     `json:"late"`
	WorstK     int     `json:"worst_k"`
	WorstLateS float64 `json:"worst_late_s"`
}
