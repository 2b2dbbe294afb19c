package main

import (
	"bufio"
	"bytes"
	"context"
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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	buildTimeout = 10 * time.Minute
)

// botProc is the chatops binary running as `chatops serve`.
type botProc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	addr    string
	logPath string
}

// botEnv is what the bot is started with.
type botEnv struct {
	bin, work, addr, dbURL, kubeconfig    string
	webhookToken, apiToken, signingSecret string
	slackAPI                              string
}

// botConfigYAML: Slack commands over HTTP, accepted in the bench channel,
// looking at the bakery-ia namespace. No destination: the ingest storm's
// incidents are stored, not posted, so the stand-in only sees commands.
func botConfigYAML() string {
	return fmt.Sprintf(`# written by test/bench/commands
log:
  format: json
  level: info
commands:
  slack_mode: http
  channels: [%s]
kubernetes:
  namespace: %s
`, channelID, namespace)
}

func startBot(ctx context.Context, e botEnv) (*botProc, error) {
	cfgPath := filepath.Join(e.work, "chatops.yaml")
	if err := os.WriteFile(cfgPath, []byte(botConfigYAML()), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(e.work, "bot.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(e.bin, "serve", "--config", cfgPath)
	cmd.Dir = e.work
	cmd.Env = append(cleanEnviron(),
		"CHATOPS_LISTEN_ADDR="+e.addr,
		"CHATOPS_DATA_DIR="+filepath.Join(e.work, "data"),
		"CHATOPS_DATABASE_URL="+e.dbURL,
		"CHATOPS_WEBHOOK_TOKEN="+e.webhookToken,
		"CHATOPS_API_TOKEN="+e.apiToken,
		"CHATOPS_SLACK_BOT_TOKEN=xoxb-bench-"+randHex(8),
		"CHATOPS_SLACK_SIGNING_SECRET="+e.signingSecret,
		"CHATOPS_SLACK_API_URL="+e.slackAPI,
		"CHATOPS_LOG_FORMAT=json",
		"KUBECONFIG="+e.kubeconfig,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", e.bin, err)
	}
	b := &botProc{cmd: cmd, done: make(chan struct{}), addr: e.addr, logPath: logPath}
	go func() {
		b.err = cmd.Wait()
		logFile.Close()
		close(b.done)
	}()
	logf("bot pid %d on %s (log %s)", cmd.Process.Pid, e.addr, logPath)

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(readyTimeout)
	for {
		if b.exited() {
			return b, fmt.Errorf("bot exited before /readyz was 200: %v; log:\n%s", b.err, tail(logPath, 4000))
		}
		resp, err := client.Get("http://" + e.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		if time.Now().After(deadline) {
			return b, fmt.Errorf("/readyz not 200 within %s; log:\n%s", readyTimeout, tail(logPath, 4000))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return b, err
		}
	}
}

func (b *botProc) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits; it returns the peak RSS and how the bot
// ended, and an error unless it exited 0.
func (b *botProc) stop() (peakMiB float64, exit string, err error) {
	if b.exited() {
		return 0, fmt.Sprintf("exited on its own during the run: %v", b.err), fmt.Errorf("bot exited during the run: %v", b.err)
	}
	pid := b.cmd.Process.Pid
	peakMiB = procKiB(pid, "VmHWM") / 1024
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		code := b.cmd.ProcessState.ExitCode()
		if code != 0 {
			return peakMiB, fmt.Sprintf("exit %d after SIGTERM", code), fmt.Errorf("bot exited with code %d after SIGTERM (want 0)", code)
		}
		return peakMiB, "exit 0 after SIGTERM", nil
	case <-time.After(stopTimeout):
		_ = b.cmd.Process.Kill()
		<-b.done
		return peakMiB, "killed: no exit within " + stopTimeout.String() + " of SIGTERM", fmt.Errorf("bot did not exit within %s of SIGTERM", stopTimeout)
	}
}

// logSummary counts the bot's log lines by level and collects the
// distinct warn and error messages.
type logSummary struct {
	Levels  map[string]int `json:"levels"`
	Samples []string       `json:"warn_error_samples,omitempty"`
	Path    string         `json:"path"`
	// Throttled: client-go's "Waited before sending request … client-side
	// throttling" lines (klog, not JSON; client-go prints them for waits
	// over 1 s). LimiterErrors: log lines of commands that failed waiting
	// for that limiter.
	Throttled     int `json:"client_side_throttling_lines"`
	LimiterErrors int `json:"client_rate_limiter_errors"`
}

func readBotLog(path string) logSummary {
	s := logSummary{Levels: map[string]int{}, Path: path}
	f, err := os.Open(path)
	if err != nil {
		return s
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Level, Msg, Error string
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			s.Levels["unparsed"]++
			if bytes.Contains(sc.Bytes(), []byte("client-side throttling")) {
				s.Throttled++
			}
			continue
		}
		if strings.Contains(l.Error, "client rate limiter Wait") {
			s.LimiterErrors++
		}
		s.Levels[l.Level]++
		if l.Level == "warn" || l.Level == "error" {
			key := l.Level + ": " + l.Msg
			if l.Error != "" {
				key += ": " + firstN(l.Error, 160)
			}
			counts[key]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.Samples = append(s.Samples, fmt.Sprintf("%d× %s", counts[k], k))
	}
	if len(s.Samples) > 10 {
		s.Samples = append(s.Samples[:10], fmt.Sprintf("… and %d more distinct messages", len(s.Samples)-10))
	}
	return s
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ---------------------------------------------------------------------------
// PostgreSQL

func createDB(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL (%s): %w", redact(adminURL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func dropDB(adminURL, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// pgSettings describes the server: version and durability settings.
func pgSettings(ctx context.Context, adminURL string) string {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "?"
	}
	defer conn.Close(context.Background())
	var v, sc, fs string
	if conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('synchronous_commit'), current_setting('fsync')").Scan(&v, &sc, &fs) != nil {
		return "?"
	}
	return fmt.Sprintf("%s (synchronous_commit=%s, fsync=%s)", v, sc, fs)
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// ---------------------------------------------------------------------------
// processes and files

// goBuild builds pkg of the module at repo into out.
func goBuild(ctx context.Context, repo, out, pkg string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			if bytes.Contains(data, []byte("module github.com/bakewise/chatops\n")) {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the chatops module (no go.mod of github.com/bakewise/chatops above the working directory)")
		}
		dir = parent
	}
}

// cleanEnviron is this process's environment without what would change
// the bot's configuration or its cluster, or send its HTTP through a
// proxy.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch uk := strings.ToUpper(k); {
		case strings.HasPrefix(uk, "CHATOPS_"), uk == "KUBECONFIG", strings.HasSuffix(uk, "_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// procKiB reads a "Key: N kB" line of /proc/PID/status.
func procKiB(pid int, key string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, key+":") {
			if fs := strings.Fields(l); len(fs) >= 2 {
				v, _ := strconv.ParseFloat(fs[1], 64)
				return v
			}
		}
	}
	return 0
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
