package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bakewise/chatops/test/harness"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds one browser test: Chromium's start, the sign-in,
// Alertmanager's group wait and the live update, on a loaded machine.
const browserTimeout = 4 * time.Minute

// With ui.enabled the binary serves the console under /ui/ on its main
// listener, behind the sign-in: nobody signed in (and no OIDC to send them
// to) gets the plain 401 page, with a Content-Security-Policy; without it,
// /ui/ is not served at all.
func TestConsoleMounted(t *testing.T) {
	cfg := newBotConfig(t, harness.SQLite)
	cfg.WriteConfig(t, t.TempDir(), "ui:\n  enabled: true\n  public_url: http://"+cfg.Addr+"\n  insecure_cookie: true\n"+
		"  proxy: {trusted_cidrs: [192.0.2.1], groups: {sre: viewer}}\n")
	cfg.Env = append(cfg.Env, "CHATOPS_UI_SESSION_KEY="+harness.RandHex(32))
	bot := harness.StartBot(t, cfg)
	resp, err := bot.Client.Get(bot.BaseURL + "/ui/incidents")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("GET /ui/incidents: %d %v, want 401 with a CSP", resp.StatusCode, resp.Header)
	}
	bot.Stop(t)

	off := newBotConfig(t, harness.SQLite)
	off.WriteConfig(t, t.TempDir(), "ui:\n  enabled: false\n")
	bot = harness.StartBot(t, off)
	if resp, err = bot.Client.Get(bot.BaseURL + "/ui/incidents"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /ui/incidents with the console off: %d, want 404", resp.StatusCode)
	}
}

// TestConsoleInBrowser signs in to the real binary's console in headless
// Chromium through a real OIDC provider's login page, watches an incident
// fired through the real Alertmanager appear on the list without a
// reload, opens it and reads its timeline, reads the audit log (the
// sign-in is on it); then signs in as a viewer through an authenticating
// proxy and is refused the audit page.
func TestConsoleInBrowser(t *testing.T) {
	requireChromium(t)
	cfg := newBotConfig(t, harness.SQLite)
	public := "http://" + cfg.Addr
	idp := harness.StartOIDCProvider(t, harness.OIDCOptions{RedirectURIs: []string{public + "/ui/callback"}})
	cfg.WriteConfig(t, t.TempDir(), fmt.Sprintf(`ui:
  enabled: true
  public_url: %s
  insecure_cookie: true
  oidc:
    issuer: %s
    client_id: %s
    users: {%q: admin}
  proxy:
    trusted_cidrs: [127.0.0.1]
    users: {viewer-vera: viewer}
`, public, idp.Issuer, idp.ClientID, harness.OIDCEmail1))
	cfg.Env = append(cfg.Env, "CHATOPS_UI_SESSION_KEY="+harness.RandHex(32), "CHATOPS_UI_OIDC_CLIENT_SECRET="+idp.ClientSecret)
	bot := harness.StartBot(t, cfg)
	am := harness.StartAlertmanager(t, bot.WebhookURL(), cfg.WebhookToken)
	shots := artifactDir(t)

	ctx := newBrowser(t)
	shot := func(ctx context.Context, name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// Sign in at the provider's own login page.
	err := chromedp.Do(ctx, chromedp.Navigate(public+"/ui/incidents"), chromedp.WaitVisible(`input[name=password]`))
	if err != nil {
		t.Fatalf("to the provider's login page: %v", err)
	}
	loginURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("to the provider's login page: %v", err)
	}
	if !strings.HasPrefix(loginURL, idp.Issuer) {
		t.Fatalf("not sent to the provider: %s", loginURL)
	}
	shot(ctx, "01-provider-login")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#username`, harness.OIDCUser1()),
		chromedp.SendKeys(`#password`, harness.OIDCPassword),
		chromedp.Click(`button[type=submit]`),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	waitFor(t, ctx, "form.filters", shot)
	if here, err := chromedp.Run(ctx, chromedp.Location()); err != nil || here != public+"/ui/incidents" {
		t.Fatalf("after sign-in at %q (%v), want the page asked for", here, err)
	}

	// Fire an incident through Alertmanager while the list is open; a
	// mark on the page's window shows it was never reloaded.
	alertname := "ConsoleBrowser" + harness.RandHex(4)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	am.PostAlerts(t, harness.PostableAlert{
		Labels:      map[string]string{"alertname": alertname, "service": "checkout", "severity": "critical"},
		Annotations: map[string]string{"summary": "checkout is failing for the browser test"},
	})
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](
		fmt.Sprintf(`!!document.querySelector('#incidents') && document.querySelector('#incidents').textContent.includes(%q)`, alertname),
		chromedp.WithPollingTimeout(2*time.Minute)))
	if err != nil {
		t.Fatalf("the incident did not appear on the open list: %v", err)
	}
	stillSame, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__notReloaded === true`))
	if err != nil {
		t.Fatal(err)
	}
	if !stillSame {
		t.Fatal("the list page was reloaded to show the incident")
	}
	shot(ctx, "02-incident-list")

	// Open it and read its timeline.
	if err := chromedp.Do(ctx, chromedp.Click(`#incidents li a[href^="/ui/incidents/"]`), chromedp.WaitVisible(`#timeline`)); err != nil {
		t.Fatalf("open the incident: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(`h1`))
	if err != nil {
		t.Fatal(err)
	}
	timeline, err := chromedp.Run(ctx, chromedp.Text(`#timeline`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(heading, alertname) || !strings.Contains(timeline, "opened") || !strings.Contains(timeline, alertname) {
		t.Fatalf("incident page: heading %q, timeline %q", heading, timeline)
	}
	t.Logf("timeline: %s", strings.Join(strings.Fields(timeline), " "))
	shot(ctx, "03-incident")

	if err := chromedp.Do(ctx, chromedp.Navigate(public+"/ui/approvals"), chromedp.WaitVisible(`main`)); err != nil {
		t.Fatal(err)
	}
	shot(ctx, "04-approvals")

	// The admin reads the audit log; their own sign-in is on it.
	if err := chromedp.Do(ctx, chromedp.Navigate(public+"/ui/audit"), chromedp.WaitVisible(`main`)); err != nil {
		t.Fatal(err)
	}
	audit, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(audit, "ui sign-in") || !strings.Contains(audit, harness.OIDCSubject1) {
		t.Fatalf("the audit page does not show the sign-in: %s", audit)
	}
	shot(ctx, "05-audit")

	// Sign out with the page's button (a same-origin POST); the console
	// then sends the browser to sign in again.
	// RunResponse waits for the navigation the click starts, so the
	// heading read next is the new page's.
	if out, err := chromedp.RunResponse(ctx, chromedp.Click(`form[action="/ui/logout"] button`)); err != nil || out.Status != http.StatusOK {
		t.Fatalf("sign out: %v %v", out, err)
	}
	if h, err := chromedp.Run(ctx, chromedp.Text(`h1`)); err != nil || h != "Signed out" {
		t.Fatalf("after sign-out: %q %v", h, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(public+"/ui/incidents"), chromedp.WaitVisible(`input[name=password]`)); err != nil {
		t.Fatalf("after sign-out, the console did not send to sign in: %v", err)
	}

	// A viewer signed in by the proxy sees the list and is refused the
	// audit log.
	proxy := startHeaderProxy(t, public, map[string]string{"X-Forwarded-User": "viewer-vera", "X-Forwarded-Email": "vera@example.com"})
	vctx := newBrowser(t)
	if err := chromedp.Do(vctx, chromedp.Navigate(proxy+"/ui/incidents"), chromedp.WaitReady(`form.filters`)); err != nil {
		t.Fatalf("the viewer's list: %v", err)
	}
	if list, err := chromedp.Run(vctx, chromedp.Text(`#incidents`)); err != nil || !strings.Contains(list, alertname) {
		t.Fatalf("the viewer's list: %q %v", list, err)
	}
	shot(vctx, "06-viewer-list-via-proxy")
	resp, err := chromedp.RunResponse(vctx, chromedp.Navigate(proxy+"/ui/audit"))
	if err != nil {
		t.Fatal(err)
	}
	refused, err := chromedp.Run(vctx, chromedp.Text(`body`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden || !strings.Contains(refused, "admin") {
		t.Fatalf("the audit page for a viewer: %d %q, want 403", resp.Status, refused)
	}
	shot(vctx, "07-audit-refused-to-viewer")
}

// waitFor waits for sel on the page; if it never comes, the test fails
// with a screenshot, the address and the text the browser shows.
func waitFor(t *testing.T, ctx context.Context, sel string, shot func(context.Context, string)) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitReady(sel)); err != nil {
		shot(ctx, "failed-waiting")
		at, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("waiting for %s: %v; at %s showing %q", sel, err, at, text)
	}
}

// requireChromium fails the test under CI (which installs Chromium) and
// skips it elsewhere when Chromium is missing.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (Debian: apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing (Debian: apt-get install chromium)", chromiumPath)
	}
}

// newBrowser is a fresh headless Chromium (its own profile directory),
// closed when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// startHeaderProxy is an authenticating proxy in front of target: it
// adds headers to every request, as oauth2-proxy adds the person it
// signed in. It listens on 127.0.0.1, which the bot trusts.
func startHeaderProxy(t *testing.T, target string, headers map[string]string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// artifactDir is where screenshots go: $CHATOPS_TEST_ARTIFACTS, else a
// directory of the test's own.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CHATOPS_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
