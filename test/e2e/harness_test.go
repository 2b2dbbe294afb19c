// Package e2e holds the end-to-end tests of the chatops binary: it builds the
// binary once, runs it as a subprocess against SQLite or a fresh PostgreSQL
// database, and drives it directly over HTTP or through a real Alertmanager.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/jackc/pgx/v5"
)

const (
	// waitTimeout is the generous deadline of every poll in these tests. Tests
	// never assert on timing; they only wait up to this long for a state.
	waitTimeout = 30 * time.Second
	// pollInterval is how often a poll looks again.
	pollInterval = 150 * time.Millisecond

	defaultPGAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

var (
	repoRoot    string // directory holding go.mod
	chatopsBin  string // binary built by TestMain
	fixturesDir string // <repo>/test/fixtures/alertmanager
	configFile  string // <repo>/deploy/config/bakery-ia.yaml

	instanceSeq atomic.Int64 // numbers the processes started, for log labels
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	repoRoot = root
	fixturesDir = filepath.Join(root, "test", "fixtures", "alertmanager")
	configFile = filepath.Join(root, "deploy", "config", "bakery-ia.yaml")

	tmp, err := os.MkdirTemp("", "chatops-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	// CHATOPS_E2E_BIN runs the tests against an already built binary.
	if bin := os.Getenv("CHATOPS_E2E_BIN"); bin != "" {
		chatopsBin = bin
		return m.Run()
	}
	chatopsBin = filepath.Join(tmp, "chatops")
	build := exec.Command("go", "build", "-o", chatopsBin, "./cmd/chatops")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build -o %s ./cmd/chatops (in %s) failed: %v\n%s\n", chatopsBin, root, err, out)
		return 1
	}
	return m.Run()
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------
// small helpers

func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("crypto/rand: %v", err)
	}
	return hex.EncodeToString(b)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatalf("read fixture %s (fixtures are expected in <repo>/test/fixtures/alertmanager): %v", name, err)
	}
	return b
}

func rfc3339(ts time.Time) string { return ts.UTC().Format(time.RFC3339Nano) }

// eventually calls check until it reports done or waitTimeout passes; on
// timeout it fails the test with the last state check described.
func eventually(t testing.TB, what string, check func() (done bool, state string)) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, what, check)
}

func eventuallyWithin(t testing.TB, timeout time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s; last observed state:\n%s", timeout, what, state)
		}
		time.Sleep(pollInterval)
	}
}

// tailFile returns at most the last max bytes of a file, for failure logs.
func tailFile(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot open %s: %v)", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot stat %s: %v)", path, err)
	}
	prefix := ""
	if st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot seek %s: %v)", path, err)
		}
		prefix = fmt.Sprintf("[... first %d bytes cut ...]\n", st.Size()-max)
	}
	b, _ := io.ReadAll(f)
	return prefix + string(b)
}

// cleanEnviron is the parent's environment without any CHATOPS_* variable
// and without what would point the bot at a Kubernetes cluster (KUBECONFIG,
// or KUBERNETES_SERVICE_* when the tests run in a pod), so a developer's
// shell settings cannot leak into the processes under test.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CHATOPS_") || strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "KUBERNETES_SERVICE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// ---------------------------------------------------------------------------
// PostgreSQL

func pgAdminURL() string {
	if u := os.Getenv("CHATOPS_TEST_PG_URL"); u != "" {
		return u
	}
	return defaultPGAdminURL
}

// pgExec runs one statement on the given database URL.
func pgExec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL (%s): %v", redactURL(dbURL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("PostgreSQL: %s: %v", sql, err)
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// createDatabase makes a fresh database chatops_e2e_<random> and drops it
// (WITH (FORCE)) when the test ends. It returns its name and URL.
func createDatabase(t testing.TB) (name, dbURL string) {
	t.Helper()
	admin := pgAdminURL()
	name = "chatops_e2e_" + randHex(t, 6)
	pgExec(t, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("cleanup: connect to PostgreSQL admin DB: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse CHATOPS_TEST_PG_URL: %v", err)
	}
	u.Path = "/" + name
	return name, u.String()
}

// ---------------------------------------------------------------------------
// stores and the bot process

type testStore struct {
	kind    string
	dataDir string // sqlite: CHATOPS_DATA_DIR
	dbName  string // postgres
	dbURL   string // postgres: CHATOPS_DATABASE_URL
}

func newStore(t testing.TB, kind string) *testStore {
	t.Helper()
	switch kind {
	case storeSQLite:
		return &testStore{kind: kind, dataDir: t.TempDir()}
	case storePostgres:
		name, u := createDatabase(t)
		return &testStore{kind: kind, dbName: name, dbURL: u}
	}
	t.Fatalf("unknown store kind %q", kind)
	return nil
}

func (s *testStore) env() []string {
	if s.kind == storePostgres {
		return []string{"CHATOPS_DATABASE_URL=" + s.dbURL}
	}
	return []string{"CHATOPS_DATA_DIR=" + s.dataDir}
}

// forEachStore runs f as the subtests "sqlite" and "postgres".
func forEachStore(t *testing.T, f func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range []string{storeSQLite, storePostgres} {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

// botConfig is everything a bot instance is started with; starting a second
// instance with the same config restarts "the same bot" on the same store,
// address and tokens.
type botConfig struct {
	store        *testStore
	addr         string
	webhookToken string
	apiToken     string
	// The chat platforms the bot posts to: stand-ins of their APIs, with
	// the destinations of bakery-ia.yaml.
	slack   *slackstandin.Server
	discord *discordstandin.Server
	// configPath is the --config file; empty means deploy/config/bakery-ia.yaml.
	configPath string
	// env is added to the bot's environment after everything startBot sets,
	// so it can also override it.
	env []string
}

func newBotConfig(t testing.TB, kind string) *botConfig {
	t.Helper()
	sl, dc := slackstandin.New(), discordstandin.New()
	t.Cleanup(sl.Close)
	t.Cleanup(dc.Close)
	return &botConfig{
		store:        newStore(t, kind),
		addr:         net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		webhookToken: "wh-" + randHex(t, 16),
		apiToken:     "api-" + randHex(t, 16),
		slack:        sl,
		discord:      dc,
	}
}

// proc is a subprocess whose exit is observed by a goroutine.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

func startProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	n := instanceSeq.Add(1)
	logPath := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", name, n))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	p := &proc{name: fmt.Sprintf("%s #%d", name, n), cmd: cmd, logPath: logPath, done: make(chan struct{})}
	// Registered first so it runs last: the process is gone when we read its log.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- output of %s (%s) ----\n%s\n---- end of output of %s ----", p.name, strings.Join(cmd.Args, " "), tailFile(logPath, 256<<10), p.name)
		}
	})
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits (bounded) for the exit; it returns the
// exit code (-1 when killed by a signal).
func (p *proc) terminate(t testing.TB) int {
	t.Helper()
	if p.exited() {
		t.Fatalf("%s had already exited before SIGTERM: %v", p.name, p.waitErr)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		p.kill()
		t.Fatalf("%s did not exit within %s of SIGTERM (killed it)", p.name, waitTimeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// Bot is one running chatops process.
type Bot struct {
	cfg     *botConfig
	BaseURL string
	proc    *proc
}

// environ is the environment a chatops process of cfg runs with: the
// bot's own, or a CLI command's (audit) against the same store.
func (cfg *botConfig) environ(t testing.TB) []string {
	env := append(cleanEnviron(),
		"CHATOPS_LISTEN_ADDR="+cfg.addr,
		"CHATOPS_WEBHOOK_TOKEN="+cfg.webhookToken,
		"CHATOPS_API_TOKEN="+cfg.apiToken,
		"CHATOPS_LOG_FORMAT=json",
		"CHATOPS_SLACK_BOT_TOKEN=xoxb-e2e-"+randHex(t, 8),
		"CHATOPS_SLACK_API_URL="+cfg.slack.URL(),
		"CHATOPS_DISCORD_BOT_TOKEN=discord-e2e-"+randHex(t, 8),
		"CHATOPS_DISCORD_API_URL="+cfg.discord.URL(),
	)
	env = append(env, cfg.store.env()...)
	return append(env, cfg.env...)
}

// startBot starts `chatops serve --config bakery-ia.yaml` (or cfg.configPath)
// with cfg and waits for GET /readyz to answer 200.
func startBot(t testing.TB, cfg *botConfig) *Bot {
	t.Helper()
	config := configFile
	if cfg.configPath != "" {
		config = cfg.configPath
	}
	cmd := exec.Command(chatopsBin, "serve", "--config", config)
	cmd.Dir = t.TempDir() // anything relative (./data) lands in a throwaway dir
	cmd.Env = cfg.environ(t)
	b := &Bot{cfg: cfg, BaseURL: "http://" + cfg.addr, proc: startProc(t, "chatops-"+cfg.store.kind, cmd)}
	b.waitReady(t)
	return b
}

func (b *Bot) WebhookURL() string { return b.BaseURL + "/v1/alertmanager" }

func (b *Bot) waitReady(t testing.TB) {
	t.Helper()
	eventually(t, b.proc.name+" GET /readyz == 200", func() (bool, string) {
		if b.proc.exited() {
			t.Fatalf("%s exited before it became ready: %v", b.proc.name, b.proc.waitErr)
		}
		code, body, err := b.get("/readyz", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("GET /readyz -> %d %s", code, body)
	})
}

// Stop sends SIGTERM and asserts a graceful exit with code 0.
func (b *Bot) Stop(t testing.TB) {
	t.Helper()
	if code := b.proc.terminate(t); code != 0 {
		t.Fatalf("%s: exit after SIGTERM = %v (exit code %d), want exit code 0", b.proc.name, b.proc.waitErr, code)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (b *Bot) Kill(t testing.TB) {
	t.Helper()
	if b.proc.exited() {
		t.Fatalf("%s had already exited before SIGKILL: %v", b.proc.name, b.proc.waitErr)
	}
	b.proc.kill()
}

var httpClient = &http.Client{Timeout: waitTimeout}

func (b *Bot) get(path, token string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, b.BaseURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(req)
}

func do(req *http.Request) (int, []byte, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("read response body: %w", err)
	}
	return resp.StatusCode, body, nil
}

// PostWebhook posts body to POST /v1/alertmanager with the given bearer token
// ("" sends no Authorization header).
func (b *Bot) PostWebhook(body []byte, token string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, b.WebhookURL(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(req)
}

type webhookAck struct {
	IncidentID int64 `json:"incident_id"`
}

// MustPostWebhook posts with the right token, requires 200 {"incident_id": N}
// and returns N.
func (b *Bot) MustPostWebhook(t testing.TB, body []byte) int64 {
	t.Helper()
	code, resp, err := b.PostWebhook(body, b.cfg.webhookToken)
	if err != nil {
		t.Fatalf("POST /v1/alertmanager: %v", err)
	}
	if code != http.StatusOK {
		t.Fatalf("POST /v1/alertmanager: got %d %s, want 200 {\"incident_id\": N}", code, resp)
	}
	var ack webhookAck
	if err := json.Unmarshal(resp, &ack); err != nil || ack.IncidentID <= 0 {
		t.Fatalf("POST /v1/alertmanager: 200 body %s is not {\"incident_id\": N>0} (%v)", resp, err)
	}
	return ack.IncidentID
}

// ---------------------------------------------------------------------------
// the incidents API

type Incident struct {
	ID                int64             `json:"id"`
	Receiver          string            `json:"receiver"`
	GroupKey          string            `json:"group_key"`
	Status            string            `json:"status"`
	Severity          string            `json:"severity"`
	Title             string            `json:"title"`
	GroupLabels       map[string]string `json:"group_labels"`
	CommonLabels      map[string]string `json:"common_labels"`
	CommonAnnotations map[string]string `json:"common_annotations"`
	ExternalURL       string            `json:"external_url"`
	TruncatedAlerts   int               `json:"truncated_alerts"`
	Firing            int               `json:"firing"`
	Resolved          int               `json:"resolved"`
	OpenedAt          string            `json:"opened_at"`
	ResolvedAt        *string           `json:"resolved_at"`
	UpdatedAt         string            `json:"updated_at"`
}

type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Severity     string            `json:"severity"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     json.RawMessage   `json:"starts_at"`
	EndsAt       json.RawMessage   `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

type Event struct {
	ID     int64           `json:"id"`
	At     string          `json:"at"`
	Kind   string          `json:"kind"`
	Detail json.RawMessage `json:"detail"`
}

type IncidentDetail struct {
	Incident
	Alerts   []Alert `json:"alerts"`
	Timeline []Event `json:"timeline"`
}

func (d IncidentDetail) kinds() []string {
	var ks []string
	for _, e := range d.Timeline {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (d IncidentDetail) hasKind(kind string) bool {
	for _, e := range d.Timeline {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func (d IncidentDetail) alertByFingerprint(fp string) (Alert, bool) {
	for _, a := range d.Alerts {
		if a.Fingerprint == fp {
			return a, true
		}
	}
	return Alert{}, false
}

func (i Incident) String() string {
	return fmt.Sprintf("#%d %s %s group=%v firing=%d resolved=%d", i.ID, i.Status, i.Severity, i.GroupLabels, i.Firing, i.Resolved)
}

// getJSON GETs path with the API token and decodes a 200 answer into out.
func (b *Bot) getJSON(path string, out any) error {
	code, body, err := b.get(path, b.cfg.apiToken)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: got %d %s, want 200", path, code, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode %s: %w", path, body, err)
	}
	return nil
}

func (b *Bot) TryListIncidents(status string) ([]Incident, error) {
	var out struct {
		Incidents []Incident `json:"incidents"`
	}
	if err := b.getJSON("/v1/incidents?status="+status, &out); err != nil {
		return nil, err
	}
	return out.Incidents, nil
}

func (b *Bot) ListIncidents(t testing.TB, status string) []Incident {
	t.Helper()
	incs, err := b.TryListIncidents(status)
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

func (b *Bot) TryGetIncident(id int64) (IncidentDetail, error) {
	var d IncidentDetail
	err := b.getJSON(fmt.Sprintf("/v1/incidents/%d", id), &d)
	return d, err
}

func (b *Bot) GetIncident(t testing.TB, id int64) IncidentDetail {
	t.Helper()
	d, err := b.TryGetIncident(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func describeIncidents(incs []Incident) string {
	if len(incs) == 0 {
		return "(no incidents)"
	}
	var sb strings.Builder
	for _, i := range incs {
		sb.WriteString("  " + i.String() + "\n")
	}
	return sb.String()
}

// groupIs matches an incident by its group labels alertname and service.
func groupIs(alertname, service string) func(Incident) bool {
	return func(i Incident) bool {
		return i.GroupLabels["alertname"] == alertname && i.GroupLabels["service"] == service
	}
}

// waitForIncident polls GET /v1/incidents?status=all until an incident
// matching match also satisfies want, and returns it.
func (b *Bot) waitForIncident(t testing.TB, what string, match, want func(Incident) bool) Incident {
	t.Helper()
	var found Incident
	eventually(t, what, func() (bool, string) {
		incs, err := b.TryListIncidents("all")
		if err != nil {
			return false, err.Error()
		}
		for _, i := range incs {
			if match(i) && want(i) {
				found = i
				return true, ""
			}
		}
		return false, "GET /v1/incidents?status=all:\n" + describeIncidents(incs)
	})
	return found
}

// ---------------------------------------------------------------------------
// Alertmanager webhook payloads (what Alertmanager sends to the bot)

type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ---------------------------------------------------------------------------
// a real Alertmanager

// Alertmanager is one running Alertmanager process.
type Alertmanager struct {
	BaseURL string
	proc    *proc
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

var (
	amOnce sync.Once
	amPath string
	amErr  error
)

// alertmanagerBinary returns a real Alertmanager v0.28.1: CHATOPS_ALERTMANAGER_BIN,
// or the per-machine cache that test/tools/alertmanager.sh fills (building it
// there the first time, about a minute). It fails, never skips, when neither
// works.
func alertmanagerBinary(t testing.TB) string {
	t.Helper()
	amOnce.Do(func() {
		if bin := os.Getenv("CHATOPS_ALERTMANAGER_BIN"); bin != "" {
			amPath = bin
			return
		}
		cmd := exec.Command("bash", filepath.Join(repoRoot, "test", "tools", "alertmanager.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			amErr = fmt.Errorf("test/tools/alertmanager.sh: %v\n%s", err, stderr.String())
			return
		}
		amPath = strings.TrimSpace(string(out))
	})
	if amErr != nil {
		t.Fatalf("a real Alertmanager v0.28.1 is required: %v", amErr)
	}
	st, err := os.Stat(amPath)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("Alertmanager binary %s is not an executable: %v", amPath, err)
	}
	return amPath
}

// startAlertmanager runs Alertmanager with one webhook receiver "chatops"
// pointing at webhookURL with the bearer token, and waits for /-/ready.
func startAlertmanager(t testing.TB, webhookURL, token string) *Alertmanager {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: chatops
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: chatops
    webhook_configs:
      - url: %s
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, strconv.Quote(webhookURL), strconv.Quote(token))
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("write Alertmanager config: %v", err)
	}
	storage := filepath.Join(dir, "data")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatalf("mkdir Alertmanager storage: %v", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cmd := exec.Command(bin,
		"--config.file", cfgPath,
		"--storage.path", storage,
		"--web.listen-address", addr,
		"--cluster.listen-address=",
	)
	cmd.Dir = dir
	cmd.Env = cleanEnviron()
	am := &Alertmanager{BaseURL: "http://" + addr, proc: startProc(t, "alertmanager", cmd)}
	eventually(t, am.proc.name+" GET /-/ready == 200", func() (bool, string) {
		if am.proc.exited() {
			t.Fatalf("%s exited before it became ready: %v", am.proc.name, am.proc.waitErr)
		}
		resp, err := httpClient.Get(am.BaseURL + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("GET /-/ready -> %d", resp.StatusCode)
	})
	return am
}

// PostAlerts posts alerts to Alertmanager's POST /api/v2/alerts.
func (am *Alertmanager) PostAlerts(t testing.TB, alerts ...amAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatalf("marshal alerts: %v", err)
	}
	req, err := http.NewRequest(http.MethodPost, am.BaseURL+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	code, resp, err := do(req)
	if err != nil {
		t.Fatalf("POST Alertmanager /api/v2/alerts: %v", err)
	}
	if code != http.StatusOK {
		t.Fatalf("POST Alertmanager /api/v2/alerts: got %d %s, want 200", code, resp)
	}
}

// WebhookFailures reads alertmanager_notification_requests_failed_total (one
// per failed attempt, retries included) for the webhook integration from
// Alertmanager's /metrics.
func (am *Alertmanager) WebhookFailures() (float64, error) {
	resp, err := httpClient.Get(am.BaseURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "alertmanager_notification_requests_failed_total{") || !strings.Contains(line, `integration="webhook"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parse metric line %q: %w", line, err)
		}
		total += v
	}
	return total, sc.Err()
}
