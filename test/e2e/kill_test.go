package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bakewise/chatops/test/harness"
	"github.com/jackc/pgx/v5"
)

// TestKillMidStreamLosesNothing SIGKILLs the bot while webhooks stream in and
// checks, after a restart on the same store, that everything acknowledged
// with 200 is there: directly (the 200s are the record) and through a real
// Alertmanager (which retries what failed, so everything it holds arrives).
func TestKillMidStreamLosesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind harness.StoreKind) {
		t.Run("direct", func(t *testing.T) { killDirect(t, kind) })
		t.Run("alertmanager", func(t *testing.T) { killBehindAlertmanager(t, kind) })
	})
}

// stormMessage is webhook payload number n of a sender: a new group with 1–3
// alerts, each with a unique fingerprint.
func stormMessage(run string, sender, n int) harness.Webhook {
	service := fmt.Sprintf("storm-%s-%d-%d", run, sender, n)
	annotations := map[string]string{"summary": service + " is storming"}
	started := time.Now().Add(-time.Minute)
	var alerts []harness.WebhookAlert
	for j := 0; j <= n%3; j++ {
		labels := map[string]string{"alertname": "KillStorm", "service": service, "severity": "warning", "namespace": "bakery-ia",
			"instance": fmt.Sprintf("%s-pod-%d", service, j)}
		a := harness.FiringAlert(labels, annotations, started, harness.RandHex(8))
		a.GeneratorURL = "http://127.0.0.1:9090/graph"
		alerts = append(alerts, a)
	}
	return harness.NewWebhook("chatops", map[string]string{"alertname": "KillStorm", "service": service}, alerts...)
}

type stormAck struct {
	groupKey     string
	fingerprints []string
	incidentID   int64
}

// newStormAck is payload msg acknowledged as incident id.
func newStormAck(msg harness.Webhook, id int64) stormAck {
	fps := make([]string, len(msg.Alerts))
	for i, a := range msg.Alerts {
		fps[i] = a.Fingerprint
	}
	return stormAck{groupKey: msg.GroupKey, fingerprints: fps, incidentID: id}
}

func killDirect(t *testing.T, kind harness.StoreKind) {
	const (
		senders       = 4
		killAfterAcks = 60 // SIGKILL once this many payloads got 200, senders still going
	)
	cfg := newBotConfig(t, kind)
	bot := harness.StartBot(t, cfg)
	run := harness.RandHex(3)

	var (
		mu       sync.Mutex
		acks     []stormAck
		problems []string // unexpected answers before the kill
		sent     atomic.Int64
		acked    atomic.Int64
		killing  atomic.Bool // errors from here on are expected
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				msg := stormMessage(run, s, n)
				body := msg.JSON()
				sent.Add(1)
				code, resp, err := bot.PostWebhook(body, cfg.WebhookToken)
				switch {
				case err != nil:
					if !killing.Load() {
						problem("sender %d payload %d (%s): %v before the kill", s, n, msg.GroupKey, err)
					}
					return
				case code == http.StatusOK:
					id, err := harness.WebhookAck(code, resp)
					if err != nil {
						problem("sender %d payload %d: %v", s, n, err)
						return
					}
					mu.Lock()
					acks = append(acks, newStormAck(msg, id))
					mu.Unlock()
					acked.Add(1)
				default:
					if !killing.Load() {
						problem("sender %d payload %d (%s): got %d %s, want 200", s, n, msg.GroupKey, code, truncate(resp, 300))
					}
					return
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }() // on an early failure

	harness.Eventually(t, fmt.Sprintf("%d acknowledged webhooks before the kill", killAfterAcks), func() (bool, string) {
		mu.Lock()
		p := append([]string(nil), problems...)
		mu.Unlock()
		if len(p) > 0 {
			t.Fatalf("unexpected answers while streaming webhooks to a healthy bot:\n  %s", strings.Join(p, "\n  "))
		}
		return acked.Load() >= killAfterAcks, fmt.Sprintf("sent=%d acked=%d", sent.Load(), acked.Load())
	})
	killing.Store(true)
	bot.Kill(t)
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("unexpected answers while streaming webhooks to a healthy bot:\n  %s", strings.Join(problems, "\n  "))
	}
	t.Logf("SIGKILL with senders running: sent=%d acknowledged=%d (the rest were in flight or refused)", sent.Load(), len(acks))

	bot = harness.StartBot(t, cfg)
	verifyAcks(t, bot, acks)
	if kind == harness.Postgres {
		verifyAcksInPostgres(t, cfg.Store.DB.URL, acks)
	}
	// The store still takes writes after the crash.
	bot.MustPostWebhook(t, harness.Fixture(t, "service-down-firing.json"))
}

// verifyAcks checks through the API that every acknowledged payload is there:
// GET /v1/incidents/{id} of the id the 200 named shows the payload's group and
// all of its fingerprints. (It reads details rather than the list, which the
// bot pages.)
func verifyAcks(t *testing.T, bot *harness.Bot, acks []stormAck) {
	t.Helper()
	var lost []string
	for _, a := range acks {
		d, err := bot.TryGetIncident(a.incidentID)
		if err != nil {
			lost = append(lost, fmt.Sprintf("group %s (acknowledged as incident #%d): %v", a.groupKey, a.incidentID, err))
			continue
		}
		if d.GroupKey != a.groupKey {
			lost = append(lost, fmt.Sprintf("incident #%d has group %s, but the 200 for group %s named it", a.incidentID, d.GroupKey, a.groupKey))
			continue
		}
		for _, fp := range a.fingerprints {
			if _, ok := d.AlertByFingerprint(fp); !ok {
				lost = append(lost, fmt.Sprintf("group %s incident #%d: acknowledged alert %s missing (has %d alerts)", a.groupKey, a.incidentID, fp, len(d.Alerts)))
			}
		}
	}
	if len(lost) > 0 {
		if len(lost) > 20 {
			lost = append(lost[:20], fmt.Sprintf("... and %d more", len(lost)-20))
		}
		t.Fatalf("acknowledged data lost after SIGKILL + restart (%d acknowledged payloads):\n  %s", len(acks), strings.Join(lost, "\n  "))
	}
}

// verifyAcksInPostgres counts the acknowledged groups and fingerprints
// directly in the database.
func verifyAcksInPostgres(t *testing.T, dbURL string, acks []stormAck) {
	t.Helper()
	var keys, fps []string
	for _, a := range acks {
		keys = append(keys, a.groupKey)
		fps = append(fps, a.fingerprints...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), harness.WaitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(context.Background())
	// Every group and fingerprint is unique to one payload: exactly one row each.
	var nInc, nAlerts int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM incidents WHERE group_key = ANY($1)", keys).Scan(&nInc); err != nil {
		t.Fatalf("count incidents: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM alerts WHERE fingerprint = ANY($1)", fps).Scan(&nAlerts); err != nil {
		t.Fatalf("count alerts: %v", err)
	}
	if nInc != len(keys) || nAlerts != len(fps) {
		t.Fatalf("in PostgreSQL: %d incident rows for %d acknowledged groups and %d alert rows for %d acknowledged fingerprints, want one row each", nInc, len(keys), nAlerts, len(fps))
	}
}

// stormGroup is one Alertmanager group of the storm: alertname KillStorm,
// its service, and 1–3 instances.
type stormGroup struct {
	service   string
	instances []string
}

func killBehindAlertmanager(t *testing.T, kind harness.StoreKind) {
	const (
		beforeKill     = 16 // groups posted while the bot runs
		whileDown      = 8  // groups posted while the bot is dead
		seenBeforeKill = 3  // SIGKILL once this many incidents exist
	)
	cfg := newBotConfig(t, kind)
	bot := harness.StartBot(t, cfg)
	am := harness.StartAlertmanager(t, bot.WebhookURL(), cfg.WebhookToken)
	run := harness.RandHex(3)

	var groups []stormGroup
	for i := 0; i < beforeKill+whileDown; i++ {
		g := stormGroup{service: fmt.Sprintf("amstorm-%s-%d", run, i)}
		for j := 0; j <= i%3; j++ {
			g.instances = append(g.instances, fmt.Sprintf("%s-pod-%d", g.service, j))
		}
		groups = append(groups, g)
	}
	started := harness.RFC3339(time.Now().Add(-time.Minute))
	alertsOf := func(gs []stormGroup) []harness.PostableAlert {
		var as []harness.PostableAlert
		for _, g := range gs {
			for _, inst := range g.instances {
				as = append(as, harness.PostableAlert{
					Labels: map[string]string{
						"alertname": "KillStorm", "service": g.service, "instance": inst,
						"severity": "warning", "namespace": "bakery-ia",
					},
					Annotations: map[string]string{"summary": g.service + " is storming"},
					StartsAt:    started,
				})
			}
		}
		return as
	}

	am.PostAlerts(t, alertsOf(groups[:beforeKill])...)
	harness.Eventually(t, fmt.Sprintf("at least %d incidents delivered by Alertmanager before the kill", seenBeforeKill), func() (bool, string) {
		incs, err := bot.TryListIncidents("all")
		if err != nil {
			return false, err.Error()
		}
		return len(incs) >= seenBeforeKill, "GET /v1/incidents?status=all:\n" + harness.DescribeIncidents(incs)
	})
	bot.Kill(t)
	am.PostAlerts(t, alertsOf(groups[beforeKill:])...)
	// Alertmanager must have tried, and failed, to deliver while the bot was dead.
	harness.Eventually(t, "Alertmanager to count failed webhook deliveries while chatops is dead", func() (bool, string) {
		n, err := am.WebhookFailures()
		if err != nil {
			return false, err.Error()
		}
		return n > 0, fmt.Sprintf("alertmanager_notification_requests_failed_total{integration=\"webhook\"} = %v", n)
	})

	bot = harness.StartBot(t, cfg)
	// Alertmanager retries every failed group: all of it must arrive.
	delivered := map[string]bool{} // services whose incident holds all instances, firing
	harness.Eventually(t, "every alert held by Alertmanager to be delivered after the restart", func() (bool, string) {
		incs, err := bot.TryListIncidents("all")
		if err != nil {
			return false, err.Error()
		}
		byService := map[string]harness.Incident{}
		for _, inc := range incs {
			if inc.GroupLabels["alertname"] == "KillStorm" {
				byService[inc.GroupLabels["service"]] = inc
			}
		}
		var missing []string
		for _, g := range groups {
			if delivered[g.service] {
				continue
			}
			inc, ok := byService[g.service]
			if !ok {
				missing = append(missing, g.service+": no incident")
				continue
			}
			d, err := bot.TryGetIncident(inc.ID)
			if err != nil {
				return false, err.Error()
			}
			have := map[string]string{}
			for _, a := range d.Alerts {
				have[a.Labels["instance"]] = a.Status
			}
			var lack []string
			for _, inst := range g.instances {
				if have[inst] != "firing" {
					lack = append(lack, fmt.Sprintf("%s(%q)", inst, have[inst]))
				}
			}
			if len(lack) > 0 || d.Status != "open" {
				missing = append(missing, fmt.Sprintf("%s: incident #%d %s, instances not firing: %v", g.service, inc.ID, d.Status, lack))
				continue
			}
			delivered[g.service] = true
		}
		sort.Strings(missing)
		return len(missing) == 0, fmt.Sprintf("%d of %d groups complete; incomplete:\n  %s", len(delivered), len(groups), strings.Join(missing, "\n  "))
	})

	// Redelivery after the crash must not have split a group.
	perService := map[string][]int64{}
	for _, inc := range bot.ListIncidents(t, "all") {
		if inc.GroupLabels["alertname"] == "KillStorm" {
			perService[inc.GroupLabels["service"]] = append(perService[inc.GroupLabels["service"]], inc.ID)
		}
	}
	for _, g := range groups {
		if ids := perService[g.service]; len(ids) != 1 {
			t.Errorf("group %s has incidents %v, want exactly one", g.service, ids)
		}
	}
}
