package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Alertmanager is one running Alertmanager process.
type Alertmanager struct {
	BaseURL string
	Process *Process
}

// PostableAlert is an alert as Alertmanager's POST /api/v2/alerts takes it.
type PostableAlert struct {
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

// alertmanagerBinary returns a real Alertmanager v0.28.1:
// CHATOPS_ALERTMANAGER_BIN, or the per-machine cache that
// test/tools/alertmanager.sh fills (building it there the first time, about
// a minute). It fails, never skips, when neither works.
func alertmanagerBinary(t TB) string {
	t.Helper()
	amOnce.Do(func() {
		if bin := os.Getenv("CHATOPS_ALERTMANAGER_BIN"); bin != "" {
			amPath = bin
			return
		}
		root, err := RepoRoot()
		if err != nil {
			amErr = err
			return
		}
		cmd := exec.Command("bash", filepath.Join(root, "test", "tools", "alertmanager.sh"))
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

// StartAlertmanager runs Alertmanager with one webhook receiver "chatops"
// pointing at webhookURL with the bearer token, grouping by alertname and
// service with one-second waits, and waits for /-/ready.
func StartAlertmanager(t TB, webhookURL, token string) *Alertmanager {
	t.Helper()
	return StartAlertmanagerConfig(t, fmt.Sprintf(`route:
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
`, strconv.Quote(webhookURL), strconv.Quote(token)))
}

// StartAlertmanagerConfig runs Alertmanager with the configuration cfg (its
// YAML), clustering off, on a free loopback port, and waits for /-/ready.
// A benchmark that needs its own timings or receivers writes cfg itself.
func StartAlertmanagerConfig(t TB, cfg string) *Alertmanager {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("write Alertmanager config: %v", err)
	}
	storage := filepath.Join(dir, "data")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatalf("mkdir Alertmanager storage: %v", err)
	}
	addr := FreeAddr(t)
	cmd := exec.Command(bin,
		"--config.file", cfgPath,
		"--storage.path", storage,
		"--web.listen-address", addr,
		"--cluster.listen-address=",
	)
	cmd.Dir = dir
	cmd.Env = CleanEnviron()
	am := &Alertmanager{BaseURL: "http://" + addr, Process: Start(t, "alertmanager", "", cmd)}
	Eventually(t, am.Process.Name+" GET /-/ready == 200", func() (bool, string) {
		if am.Process.Exited() {
			t.Fatalf("%s exited before it became ready: %v", am.Process.Name, am.Process.Err())
		}
		resp, err := client.Get(am.BaseURL + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("GET /-/ready -> %d", resp.StatusCode)
	})
	return am
}

// PostAlerts posts alerts to Alertmanager's POST /api/v2/alerts.
func (am *Alertmanager) PostAlerts(t TB, alerts ...PostableAlert) {
	t.Helper()
	if err := am.TryPostAlerts(context.Background(), alerts...); err != nil {
		t.Fatalf("%v", err)
	}
}

// TryPostAlerts is PostAlerts returning the error: a tool that posts for
// minutes reports a failed post rather than stopping at it.
func (am *Alertmanager) TryPostAlerts(ctx context.Context, alerts ...PostableAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("marshal alerts: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, am.BaseURL+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	code, resp, err := Do(req)
	if err != nil {
		return fmt.Errorf("POST Alertmanager /api/v2/alerts: %w", err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST Alertmanager /api/v2/alerts: got %d %s, want 200", code, resp)
	}
	return nil
}

// Metrics scrapes Alertmanager's /metrics.
func (am *Alertmanager) Metrics(ctx context.Context) (Metrics, error) {
	return ScrapeMetrics(ctx, client, am.BaseURL+"/metrics")
}

// WebhookFailures reads alertmanager_notification_requests_failed_total
// (one per failed attempt, retries included) of the webhook integration
// from Alertmanager's /metrics.
func (am *Alertmanager) WebhookFailures() (float64, error) {
	m, err := am.Metrics(context.Background())
	if err != nil {
		return 0, err
	}
	n, _ := m.Sum("alertmanager_notification_requests_failed_total", `integration="webhook"`)
	return n, nil
}

// GetJSON GETs path of Alertmanager's API (plain HTTP, not the client the
// bot uses) and decodes a 200 answer into out.
func (am *Alertmanager) GetJSON(t TB, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, am.BaseURL+path, nil)
	if err != nil {
		t.Fatalf("%v", err)
	}
	code, body, err := Do(req)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET Alertmanager %s: %d %s %v, want 200", path, code, body, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET Alertmanager %s: decode %s: %v", path, body, err)
	}
}
