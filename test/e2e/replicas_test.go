package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slack-go/slack"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// replicasYAML is the configuration of the two-replica tests: the shipped
// destinations and routes, a P1 response deadline of p1Deadline, a short
// outbox lease (so a killed replica's jobs are taken over within the
// test), Slack commands over HTTP. Correlation is off so that a storm of
// critical alerts makes exactly the incidents the test counts.
func replicasYAML(p1Deadline string) string {
	return fmt.Sprintf(`shutdown_timeout: 5s
log:
  format: json
  level: info
incidents:
  response_deadlines: {P0: 0s, P1: %s, P2: 1h, P3: 4h}
  escalation_interval: 1m
  correlation:
    enabled: false
outbox:
  workers: 4
  lease: %s
commands:
  root: ops
  channels: [C0INCIDENTS, C0ALERTS, "100000000000000001"]
  slack_mode: http
  discord_mode: gateway
destinations:
  - {name: slack-incidents, platform: slack, channel: C0INCIDENTS, mention: S0ONCALL, escalation: [S0ONCALL, S0PLATFORMLEADS]}
  - {name: slack-alerts, platform: slack, channel: C0ALERTS}
  - {name: discord-incidents, platform: discord, channel: "100000000000000001", mention: "100000000000000002"}
routes:
  - severities: [P0, P1]
    destinations: [slack-incidents, discord-incidents]
  - severities: [P2, P3]
    destinations: [slack-alerts]
`, p1Deadline, replicaOutboxLease)
}

// replicaOutboxLease is outbox.lease in these tests: the shortest allowed.
const replicaOutboxLease = "10s"

// newReplicaConfig is a bot on a fresh PostgreSQL database with
// replicasYAML and a Slack signing secret, which it returns.
func newReplicaConfig(t *testing.T, p1Deadline string) (*harness.BotConfig, string) {
	t.Helper()
	cfg := newBotConfig(t, harness.Postgres)
	cfg.WriteConfig(t, t.TempDir(), replicasYAML(p1Deadline))
	secret := "slack-signing-" + harness.RandHex(16)
	cfg.Env = []string{"CHATOPS_SLACK_SIGNING_SECRET=" + secret}
	return cfg, secret
}

// TestTwoReplicasStormAndKill runs the ha overlay's shape: two `chatops
// serve` on one PostgreSQL database behind a round-robin "Service", a real
// Alertmanager notifying through it and direct webhooks spread over both,
// the Slack and Discord stand-ins. One replica is SIGKILLed in the middle of
// the storm while it holds Slack calls whose answers are lost (a gate in
// front of the Slack stand-in forwards its calls and withholds the
// answers), then restarted. Checked: every acknowledged alert is stored;
// every incident has exactly one root per destination; the chat jobs the
// killed replica had claimed stay claimed until their lease ends and are
// then taken over by the other replica; replies are duplicated at most as
// often as an answer was lost (the README's one allowed duplicate), and
// the count is logged.
func TestTwoReplicasStormAndKill(t *testing.T) {
	cfg, _ := newReplicaConfig(t, "15m")
	gate := startAnswerGate(t, cfg.Slack.URL())
	// Replica 0 reaches Slack through the gate; replica 1 directly.
	r := harness.StartReplicas(t, cfg, 2, func(i int, c *harness.BotConfig) {
		if i == 0 {
			c.Env = append(c.Env, "CHATOPS_SLACK_API_URL="+gate.URL())
		}
	})
	db := cfg.Store.DB.URL
	am := harness.StartAlertmanager(t, r.WebhookURL(), cfg.WebhookToken)
	run := harness.RandHex(3)

	// Alertmanager's groups: critical, so P1, in Slack and Discord.
	started := harness.RFC3339(time.Now().Add(-time.Minute))
	amAlert := func(i int, endsAt string) harness.PostableAlert {
		return harness.PostableAlert{Labels: map[string]string{"alertname": "ServiceDown", "service": fmt.Sprintf("rep-%s-%d", run, i),
			"severity": "critical", "namespace": "bakery-ia"}, Annotations: map[string]string{"summary": "down"}, StartsAt: started, EndsAt: endsAt}
	}
	const beforeKill, duringKill = 6, 4
	for i := range beforeKill {
		am.PostAlerts(t, amAlert(i, ""))
	}

	// Direct senders through the proxy: P2 groups, in Slack's alerts channel.
	var (
		mu      sync.Mutex
		acks    []stormAck
		refused atomic.Int64 // answers other than 200: a dead replica's 502s
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	const senders, perSender = 2, 8
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perSender && !stop.Load(); n++ {
				msg := stormMessage(run, s, n)
				code, body, err := r.PostWebhook(msg.JSON(), cfg.WebhookToken)
				if err != nil || code != http.StatusOK {
					refused.Add(1)
					n-- // the same payload again, as Alertmanager would
					_ = harness.Sleep(context.Background(), 200*time.Millisecond)
					continue
				}
				id, err := harness.WebhookAck(code, body)
				if err != nil {
					t.Errorf("sender %d: %v", s, err)
					return
				}
				mu.Lock()
				acks = append(acks, newStormAck(msg, id))
				mu.Unlock()
				_ = harness.Sleep(context.Background(), 400*time.Millisecond)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()

	harness.Eventually(t, "both replicas serving and the first roots posted", func() (bool, string) {
		served := r.Proxy.Served()
		roots := len(cfg.Slack.Roots(slackIncidents)) + len(cfg.Slack.Roots(slackAlerts))
		return served[0] > 0 && served[1] > 0 && roots >= 3, fmt.Sprintf("served %v, %d Slack roots", served, roots)
	})

	// Replica 0's next Slack calls reach Slack, but their answers never
	// come back: then it is killed holding them.
	gate.Hold(true)
	harness.Eventually(t, "replica 0 to wait on a Slack call whose answer is lost", func() (bool, string) {
		return len(gate.HeldCalls()) > 0, fmt.Sprintf("%d calls held", len(gate.HeldCalls()))
	})
	for i := beforeKill; i < beforeKill+duringKill; i++ {
		am.PostAlerts(t, amAlert(i, ""))
	}
	r.Bots[0].Kill(t)
	held := gate.HeldCalls()
	gate.Hold(false)

	// The jobs replica 0 held: the threads of the calls it waited on.
	orphans := orphanJobs(t, db, cfg.Slack, held)
	if len(orphans) == 0 {
		t.Fatalf("replica 0 was killed waiting on %d Slack calls, but none is a claimed chat job: %+v", len(held), held)
	}
	takeovers := make(chan string, len(orphans))
	var owg sync.WaitGroup
	for _, o := range orphans {
		owg.Add(1)
		go func() {
			defer owg.Done()
			takeovers <- watchTakeover(t, db, o)
		}()
	}

	r.Restart(t, 0)
	owg.Wait()
	close(takeovers)
	for line := range takeovers {
		t.Log(line)
	}
	stop.Store(true)
	wg.Wait()

	// Batch one resolves: roots edited, replies posted, by either replica.
	ended := harness.RFC3339(time.Now())
	for i := range beforeKill {
		am.PostAlerts(t, amAlert(i, ended))
	}

	// Every acknowledged direct webhook is stored, and so is everything
	// Alertmanager holds (it retries what a dead replica refused).
	live := r.Bots[1]
	verifyAcks(t, live, acks)
	verifyAcksInPostgres(t, db, acks)
	for i := range beforeKill + duringKill {
		service, want := fmt.Sprintf("rep-%s-%d", run, i), "open"
		if i < beforeKill {
			want = "resolved"
		}
		live.WaitForIncident(t, service+" "+want, harness.GroupIs("ServiceDown", service), func(inc harness.Incident) bool { return inc.Status == want })
	}

	harness.EventuallyWithin(t, 3*time.Minute, "the outbox to drain", func() (bool, string) {
		n := outboxDepth(t, db)
		return n == 0, fmt.Sprintf("%d jobs in the outbox", n)
	})
	incs := live.ListIncidents(t, "all")
	lost := len(held)
	dup := checkThreads(t, cfg.Slack, cfg.Discord, incs)
	t.Logf("storm: %d incidents; %d direct webhooks acknowledged, %d refused or unreachable and resent; proxy served %v, unreachable %v; "+
		"%d Slack answers lost at the kill; %d duplicated replies",
		len(incs), len(acks), refused.Load(), r.Proxy.Served(), r.Proxy.Unreachable(), lost, dup)
	if dup > lost {
		t.Errorf("%d duplicated replies, but only %d chat answers were lost: only a reply whose answer was lost may repeat", dup, lost)
	}
}

// ---------------------------------------------------------------------------
// the gate: lost answers from Slack

// answerGate is a reverse proxy in front of the Slack stand-in. Open, it
// passes calls through. Holding, it passes each call through, so Slack
// acts on it, and withholds the answer until the caller goes away: the
// bot's "posted, but the answer was lost".
type answerGate struct {
	srv    *httptest.Server
	prefix string // the stand-in's API path
	hold   atomic.Bool
	mu     sync.Mutex
	held   []heldCall
}

// heldCall is one call whose answer the gate withheld.
type heldCall struct {
	Method string     // chat.postMessage, chat.update, ...
	Form   url.Values // what the bot sent
	Answer []byte     // what Slack answered
}

func startAnswerGate(t *testing.T, slackURL string) *answerGate {
	t.Helper()
	target, err := url.Parse(slackURL)
	if err != nil {
		t.Fatal(err)
	}
	g := &answerGate{prefix: target.Path}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out, err := http.NewRequestWithContext(req.Context(), req.Method, target.Scheme+"://"+target.Host+req.URL.RequestURI(), strings.NewReader(string(body)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = req.Header.Clone()
		code, answer, err := harness.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if g.hold.Load() {
			form, _ := url.ParseQuery(string(body))
			g.mu.Lock()
			g.held = append(g.held, heldCall{Method: strings.TrimPrefix(req.URL.Path, g.prefix), Form: form, Answer: answer})
			g.mu.Unlock()
			<-req.Context().Done() // the caller gave up, or died
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// URL is the Slack API URL to give a bot instead of the stand-in's.
func (g *answerGate) URL() string { return g.srv.URL + g.prefix }

func (g *answerGate) Hold(on bool) { g.hold.Store(on) }

func (g *answerGate) HeldCalls() []heldCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]heldCall(nil), g.held...)
}

// ---------------------------------------------------------------------------
// jobs a dead replica held

// orphanJob is a chat job claimed by the killed replica.
type orphanJob struct {
	incident     int64
	destination  string
	token        string
	claimedUntil time.Time
}

var slackDestinations = map[string]string{slackIncidents: "slack-incidents", slackAlerts: "slack-alerts"}

var markerIncident = regexp.MustCompile(`^chatops:incident:(\d+):`)

// orphanJobs finds the outbox rows behind the calls the killed replica
// waited on: the incident from the root's marker (in the call's metadata,
// or on the root its reply or edit names), the destination from the
// channel. Each must still be claimed: nobody else may take it before its
// lease ends.
func orphanJobs(t *testing.T, dbURL string, sl *slackstandin.Server, calls []heldCall) []orphanJob {
	t.Helper()
	seen := map[string]bool{}
	var out []orphanJob
	for _, c := range calls {
		channel := c.Form.Get("channel")
		dest, ok := slackDestinations[channel]
		if !ok {
			continue
		}
		id := callIncident(sl, c, channel)
		if id == 0 {
			t.Logf("held %s in %s names no incident's thread; not a job's call", c.Method, channel)
			continue
		}
		key := fmt.Sprintf("%d/%s", id, dest)
		if seen[key] {
			continue
		}
		seen[key] = true
		o := orphanJob{incident: id, destination: dest}
		err := pgQueryRow(t, dbURL, `SELECT claim_token, claimed_until FROM outbox WHERE incident_id = $1 AND destination = $2`,
			[]any{id, dest}, &o.token, &o.claimedUntil)
		if err != nil {
			t.Fatalf("incident %d at %s: the killed replica was sending its call, but its job is not in the outbox claimed: %v", id, dest, err)
		}
		if !o.claimedUntil.After(time.Now()) {
			t.Fatalf("incident %d at %s: the killed replica's claim already ended at %s", id, dest, o.claimedUntil)
		}
		out = append(out, o)
	}
	return out
}

// callIncident is the incident whose thread a chat call is about.
func callIncident(sl *slackstandin.Server, c heldCall, channel string) int64 {
	var meta struct {
		EventPayload map[string]any `json:"event_payload"`
	}
	if raw := c.Form.Get("metadata"); raw != "" && json.Unmarshal([]byte(raw), &meta) == nil {
		if m, _ := meta.EventPayload["marker"].(string); m != "" {
			return markerID(m)
		}
	}
	ts := c.Form.Get("thread_ts")
	if ts == "" {
		ts = c.Form.Get("ts") // chat.update
	}
	for _, root := range sl.Roots(channel) {
		if root.TS == ts {
			return markerID(slackMarker(root))
		}
	}
	return 0
}

func markerID(marker string) int64 { return firstNumber(markerIncident, marker) }

// watchTakeover polls o's outbox row until another claim or its end
// replaces the killed replica's: never before the claim's lease ran out,
// and within WaitTimeout after it. It returns what it saw.
func watchTakeover(t *testing.T, dbURL string, o orphanJob) string {
	var token *string
	for {
		now := time.Now()
		err := pgQueryRow(t, dbURL, `SELECT claim_token FROM outbox WHERE incident_id = $1 AND destination = $2`,
			[]any{o.incident, o.destination}, &token)
		gone := errors.Is(err, pgx.ErrNoRows)
		if err != nil && !gone {
			t.Errorf("incident %d at %s: %v", o.incident, o.destination, err)
			return ""
		}
		if gone || token == nil || *token != o.token {
			// Seen at now, so it happened at or before now.
			if now.Before(o.claimedUntil) {
				t.Errorf("incident %d at %s: the dead replica's claim was replaced before its lease ended (seen %s before %s)",
					o.incident, o.destination, o.claimedUntil.Sub(now).Round(time.Millisecond), o.claimedUntil.Format(time.RFC3339Nano))
			}
			state := "claimed again"
			if gone || token == nil {
				state = "done by the other replica"
			}
			return fmt.Sprintf("incident %d at %s: the killed replica's job %s %s after its lease ended", o.incident, o.destination, state,
				now.Sub(o.claimedUntil).Round(time.Millisecond))
		}
		if now.After(o.claimedUntil.Add(harness.WaitTimeout)) {
			t.Errorf("incident %d at %s: the killed replica's claim was not taken over within %s of its end", o.incident, o.destination, harness.WaitTimeout)
			return ""
		}
		time.Sleep(harness.PollInterval)
	}
}

// ---------------------------------------------------------------------------
// threads

// checkThreads requires exactly one root per incident and destination its
// severity routes to (P0/P1: Slack's incidents channel and Discord; P2/P3:
// Slack's alerts channel), none elsewhere, a root that shows a resolved
// incident as resolved; it returns how many thread replies repeat an
// earlier reply of their thread word for word.
func checkThreads(t *testing.T, sl *slackstandin.Server, dc *discordstandin.Server, incs []harness.Incident) int {
	t.Helper()
	dups := 0
	for _, inc := range incs {
		marker := fmt.Sprintf("chatops:incident:%d:", inc.ID)
		urgent := inc.Severity == "P0" || inc.Severity == "P1"
		want := map[string]int{slackIncidents: 0, slackAlerts: 1}
		wantDiscord := 0
		if urgent {
			want, wantDiscord = map[string]int{slackIncidents: 1, slackAlerts: 0}, 1
		}
		for channel, n := range want {
			var roots []slackstandin.Message
			for _, m := range sl.Roots(channel) {
				if strings.HasPrefix(slackMarker(m), marker) {
					roots = append(roots, m)
				}
			}
			if len(roots) != n {
				t.Errorf("incident #%d (%s): %d Slack roots in %s, want %d", inc.ID, inc.Severity, len(roots), channel, n)
				continue
			}
			for _, root := range roots {
				if inc.Status == "resolved" && !strings.Contains(slackContent(root), "Resolved") {
					t.Errorf("incident #%d is resolved, but its Slack root does not say so", inc.ID)
				}
				var texts []string
				for _, m := range sl.Replies(channel, root.TS) {
					texts = append(texts, slackContent(m))
				}
				dups += repeats(texts)
			}
		}
		var roots []discordstandin.Message
		for _, m := range dc.Messages(discordIncidents) {
			if strings.Contains(string(m.Embeds), marker) {
				roots = append(roots, m)
			}
		}
		if len(roots) != wantDiscord {
			t.Errorf("incident #%d (%s): %d Discord roots, want %d", inc.ID, inc.Severity, len(roots), wantDiscord)
			continue
		}
		for _, root := range roots {
			th, ok := dc.Thread(root.ID)
			if !ok {
				t.Errorf("incident #%d: its Discord root has no thread", inc.ID)
				continue
			}
			var texts []string
			for _, m := range dc.Messages(th.ID) {
				texts = append(texts, m.Content+string(m.Embeds))
			}
			dups += repeats(texts)
		}
	}
	return dups
}

// repeats counts the texts equal to an earlier one.
func repeats(texts []string) int {
	seen, n := map[string]bool{}, 0
	for _, s := range texts {
		if seen[s] {
			n++
		}
		seen[s] = true
	}
	return n
}

// ---------------------------------------------------------------------------
// the database

func pgQueryRow(t *testing.T, dbURL, query string, args []any, dest ...any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), harness.WaitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to the test database: %w", err)
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, query, args...).Scan(dest...)
}

func outboxDepth(t *testing.T, dbURL string) int {
	t.Helper()
	var n int
	if err := pgQueryRow(t, dbURL, `SELECT count(*) FROM outbox`, nil, &n); err != nil {
		t.Fatalf("count the outbox: %v", err)
	}
	return n
}

// ---------------------------------------------------------------------------
// timers and replays

// TestTwoReplicasTimersAndReplays: two replicas on one database share the
// reminders and the replay guard.
//
//   - P0 incidents opened through both replicas are each reminded once
//     (the P0 deadline is 0: at once), whichever replica holds the timer
//     lease.
//   - The lease holder (the replica whose chatops_timer_lease_held is 1) is
//     SIGKILLed right after a P1 incident opens with a 10 s deadline: the
//     other replica takes the lease when it expires and fires that
//     reminder, once, no later than the lease's end (or the deadline, if
//     later) plus a tick; the measured delay is logged.
//   - A signed Slack slash command accepted by one replica and replayed byte
//     for byte to the other is refused with 401, both ways.
func TestTwoReplicasTimersAndReplays(t *testing.T) {
	cfg, secret := newReplicaConfig(t, "10s")
	r := harness.StartReplicas(t, cfg, 2, nil)
	db := cfg.Store.DB.URL
	run := harness.RandHex(3)

	t.Run("replay-refused-by-the-other-replica", func(t *testing.T) {
		for _, order := range [][2]int{{0, 1}, {1, 0}} {
			first, second := r.Bots[order[0]], r.Bots[order[1]]
			form := cfg.Slack.SlashCommandForm(slack.SlashCommand{ChannelID: slackIncidents, ChannelName: "incidents",
				UserID: "U0REPLAY", UserName: "rita", Text: "help"})
			body := []byte(form.Encode())
			hdr := slackstandin.Sign(secret, time.Now(), body)
			if code, resp := postSigned(t, first, "/slack/commands", hdr, body); code != http.StatusOK {
				t.Fatalf("replica %d: POST /slack/commands: %d %s, want 200", order[0], code, resp)
			}
			if code, resp := postSigned(t, second, "/slack/commands", hdr, body); code != http.StatusUnauthorized {
				t.Errorf("replica %d: the same signed request again: %d %s, want 401 (a replay)", order[1], code, resp)
			}
			harness.Eventually(t, "the accepted command's answer", func() (bool, string) {
				n := len(cfg.Slack.Responses(form.Get("response_url")))
				return n >= 1, fmt.Sprintf("%d answers", n)
			})
			if n := len(cfg.Slack.Responses(form.Get("response_url"))); n != 1 {
				t.Errorf("%d answers to one command sent to both replicas, want 1", n)
			}
		}
	})

	p0 := make([]int64, 4)
	for i := range p0 {
		p0[i] = postIncident(t, r, cfg, fmt.Sprintf("p0-%s-%d", run, i), "P0")
	}
	for _, id := range p0 {
		waitReminders(t, r.Bots[1], id, 1)
	}

	holder := leaseHolder(t, r)
	other := 1 - holder
	p1 := postIncident(t, r, cfg, "p1-"+run, "P1")
	r.Bots[holder].Kill(t)
	killedAt := time.Now()
	var leaseEnds time.Time
	if err := pgQueryRow(t, db, `SELECT expires_at FROM leases WHERE name = 'timers'`, nil, &leaseEnds); err != nil {
		t.Fatalf("read the timer lease: %v", err)
	}
	d := waitReminders(t, r.Bots[other], p1, 1)
	opened, fired := parseTime(t, d.OpenedAt), parseTime(t, reminderTimes(t, d)[0])
	due := opened.Add(10 * time.Second)
	bound := leaseEnds
	if due.After(bound) {
		bound = due
	}
	t.Logf("timer lease holder replica %d killed %s after the P1 opened; its lease ended %s after the kill; "+
		"the other replica fired the reminder %s after max(deadline, lease end)",
		holder, killedAt.Sub(opened).Round(time.Millisecond), leaseEnds.Sub(killedAt).Round(time.Millisecond), fired.Sub(bound).Round(time.Millisecond))
	if fired.Before(killedAt) {
		t.Fatalf("the P1 reminder fired at %s, before the holder was killed at %s: the test did not kill in time", fired, killedAt)
	}
	// The survivor asks for the lease every tick (1 s) and fires what is
	// due in the same tick; a loaded machine is given 10 s more.
	if late := fired.Sub(bound); late > 11*time.Second {
		t.Errorf("the P1 reminder fired %s after the dead holder's lease ended (or the deadline): want within a tick", late)
	}
	if held := leaseHeld(t, r.Bots[other]); held != 1 {
		t.Errorf("replica %d fired the reminder but chatops_timer_lease_held = %v", other, held)
	}
	r.Restart(t, holder)

	// Each reminder once: the stored count, the timeline and the threads
	// agree, and reminders of one incident are an escalation interval apart.
	harness.EventuallyWithin(t, 2*time.Minute, "the outbox to drain", func() (bool, string) {
		n := outboxDepth(t, db)
		return n == 0, fmt.Sprintf("%d jobs in the outbox", n)
	})
	for _, id := range append(p0, p1) {
		d := r.Bots[0].GetIncident(t, id)
		times := reminderTimes(t, d)
		if len(times) != d.Reminders || d.Reminders < 1 {
			t.Errorf("incident #%d: %d reminder events, reminders = %d, want the same and at least 1", id, len(times), d.Reminders)
		}
		for i := 1; i < len(times); i++ {
			if gap := parseTime(t, times[i]).Sub(parseTime(t, times[i-1])); gap < time.Minute-2*time.Second {
				t.Errorf("incident #%d: reminders %d and %d fired %s apart, want the 1m interval: a reminder fired twice", id, i, i+1, gap)
			}
		}
		marker := fmt.Sprintf("chatops:incident:%d:", id)
		for _, root := range cfg.Slack.Roots(slackIncidents) {
			if !strings.HasPrefix(slackMarker(root), marker) {
				continue
			}
			n := 0
			for _, m := range cfg.Slack.Replies(slackIncidents, root.TS) {
				if strings.Contains(slackContent(m), "Not acknowledged in time") {
					n++
				}
			}
			if n != len(times) {
				var texts []string
				for _, m := range cfg.Slack.Replies(slackIncidents, root.TS) {
					texts = append(texts, slackContent(m))
				}
				t.Errorf("incident #%d: %d reminder replies in its Slack thread for %d reminders:\n%s", id, n, len(times), strings.Join(texts, "\n---\n"))
			}
		}
	}
}

// postIncident opens an incident of severity sev for service through the
// proxy and returns its id.
func postIncident(t *testing.T, r *harness.Replicas, cfg *harness.BotConfig, service, sev string) int64 {
	t.Helper()
	labels := map[string]string{"alertname": "ReplicaTimer", "service": service, "priority": sev, "namespace": "bakery-ia"}
	msg := harness.NewWebhook("chatops", map[string]string{"alertname": "ReplicaTimer", "service": service},
		harness.FiringAlert(labels, map[string]string{"summary": service + " is down"}, time.Now().Add(-time.Minute), harness.RandHex(8)))
	code, body, err := r.PostWebhook(msg.JSON(), cfg.WebhookToken)
	if err != nil {
		t.Fatalf("POST /v1/alertmanager through the proxy: %v", err)
	}
	id, err := harness.WebhookAck(code, body)
	if err != nil {
		t.Fatalf("POST /v1/alertmanager through the proxy: %v", err)
	}
	return id
}

// waitReminders waits until incident id has been reminded n times.
func waitReminders(t *testing.T, b *harness.Bot, id int64, n int) harness.IncidentDetail {
	t.Helper()
	var d harness.IncidentDetail
	harness.EventuallyWithin(t, time.Minute, fmt.Sprintf("incident #%d reminded %d times", id, n), func() (bool, string) {
		var err error
		d, err = b.TryGetIncident(id)
		if err != nil {
			return false, err.Error()
		}
		return d.Reminders >= n && len(reminderTimes(t, d)) >= n, fmt.Sprintf("reminders = %d, timeline %v", d.Reminders, d.Kinds())
	})
	return d
}

// reminderTimes are the times of the incident's reminder events, oldest
// first.
func reminderTimes(t *testing.T, d harness.IncidentDetail) []string {
	var at []string
	for _, e := range d.Timeline {
		if e.Kind == "reminder" {
			at = append(at, e.At)
		}
	}
	sort.Slice(at, func(i, j int) bool { return parseTime(t, at[i]).Before(parseTime(t, at[j])) })
	return at
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// leaseHeld is the bot's chatops_timer_lease_held.
func leaseHeld(t *testing.T, b *harness.Bot) float64 {
	t.Helper()
	m, err := b.Metrics(t.Context())
	if err != nil {
		t.Fatalf("%v", err)
	}
	v, _ := m.Sum("chatops_timer_lease_held")
	return v
}

// leaseHolder waits until exactly one replica holds the timer lease and
// returns its index.
func leaseHolder(t *testing.T, r *harness.Replicas) int {
	t.Helper()
	holder := -1
	harness.Eventually(t, "exactly one replica holding the timer lease", func() (bool, string) {
		var held []float64
		holder = -1
		for i, b := range r.Bots {
			v := leaseHeld(t, b)
			held = append(held, v)
			if v == 1 {
				holder = i
			}
		}
		return held[0]+held[1] == 1, fmt.Sprintf("chatops_timer_lease_held by replica: %v", held)
	})
	return holder
}

// TestTwoReplicasApprovalRunsOnce: a scale requested through one replica
// and approved through the other runs once against the real control plane
// (the approvals test's cluster, workload and configuration, on
// PostgreSQL): the approving click goes to replica 1, the same signed click
// replayed to replica 0 is refused, and a second, freshly signed click on
// the closed card through replica 0 runs nothing more.
func TestTwoReplicasApprovalRunsOnce(t *testing.T) {
	e := setupCommandsWith(t, harness.Postgres, harness.RepoPath(t, "test", "e2e", "testdata", "approvals.yaml"))
	other := *e
	other.bot = harness.StartBot(t, harness.ReplicaConfig(t, e.cfg))
	p := &slackApprovals{e: e}

	before := settledRollout(t, e)
	const replicas = 3
	if before.replicas == replicas {
		t.Fatalf("orders-service already has %d replicas", replicas)
	}
	id := request(t, p, ana, opsCommand{fmt.Sprintf("scale orders-service %d", replicas),
		dcmd("scale", str("service", "orders-service"), num("replicas", replicas))})
	card := waitCard(t, p, id, "posted with its three buttons", func(c cardView) bool { return len(c.buttons) == 3 })
	tapBefore := e.tap.count()
	approve := p.clickRequest(t, bob, card, buttonOf(t, card, "approve"))
	if ans := deliverClick(t, &other, approve); !strings.Contains(ans, fmt.Sprintf("Request #%d: Ran at", id)) {
		t.Errorf("bob's approval through replica 1 was answered %q, want that request #%d ran", ans, id)
	}
	if code, body := postSigned(t, e.bot, approve.path, approve.hdr, approve.body); code != http.StatusUnauthorized {
		t.Errorf("the approving click replayed to replica 0: %d %s, want 401", code, body)
	}
	again := p.clickRequest(t, bob, card, buttonOf(t, card, "approve"))
	if code := postClick(t, e, again, again.hdr); code != http.StatusOK {
		t.Errorf("a second approving click through replica 0: %d, want 200 and a refusal", code)
	}
	harness.Eventually(t, "an answer to the second click", func() (bool, string) {
		got := again.answers()
		return len(got) > 0, "no answer yet"
	})
	waitCard(t, p, id, "closed", func(c cardView) bool { return len(c.buttons) == 0 })
	d, err := e.cluster.Clientset().AppsV1().Deployments(opsNamespace).Get(t.Context(), "orders-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptrValue(d.Spec.Replicas); got != replicas {
		t.Errorf("orders-service spec.replicas = %d, want %d", got, replicas)
	}
	if scaled := scaleWrites(e, tapBefore); len(scaled) != 1 {
		t.Errorf("the replicas wrote the scale subresource %d times (%v), want once", len(scaled), scaled)
	}
	// The replica that ran it follows the rollout, once: one watch on
	// the Deployment, and the card ends with the rollout's outcome.
	waitCard(t, p, id, "following the rollout to its end", func(c cardView) bool {
		return strings.Contains(c.text, fmt.Sprintf("✅ Rollout: %d/%d updated and available in ", replicas, replicas))
	})
	followed := func(b *harness.Bot) int {
		raw, err := os.ReadFile(b.Process.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(raw), fmt.Sprintf(`"msg":"rollout followed","component":"approvals","approval":%d,`, id))
	}
	harness.Eventually(t, "replica 1, and only it, to have followed the rollout", func() (bool, string) {
		r0, r1 := followed(e.bot), followed(other.bot)
		return r0 == 0 && r1 == 1, fmt.Sprintf("replica 0 followed it %d times, replica 1 %d times", r0, r1)
	})
	t.Logf("request #%d: asked through replica 0, approved through replica 1, the second click answered %q", id, strings.Join(again.answers(), " / "))
}
