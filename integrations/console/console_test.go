package console_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/net/html"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/integrations/console"
	"github.com/bakewise/chatops/integrations/httpapi"
	"github.com/bakewise/chatops/integrations/sqlstore"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
	"github.com/bakewise/chatops/integrations/webauth"
	"github.com/bakewise/chatops/policy"
)

var t0 = time.Date(2026, 11, 20, 2, 14, 5, 0, time.UTC)

// rig is a console over a real store (CHATOPS_TEST_STORE picks SQLite or
// PostgreSQL), with the incident engine writing into it.
type rig struct {
	t       *testing.T
	store   *sqlstore.Store
	backend bot.Store
	exec    func(ctx context.Context, q string, args ...any) error
	unguard []string
	engine  *incident.Engine
	console *console.Console
	now     time.Time
}

func newRig(t *testing.T, cfg console.Config) *rig {
	t.Helper()
	b := sqlstoretest.OpenKind(t, sqlstoretest.Kind(t))
	s := b.Store.(*sqlstore.Store)
	r := &rig{t: t, store: s, backend: b.Store, exec: b.Exec, unguard: b.Unguard, now: t0.Add(2 * time.Hour)}
	clock := func() time.Time { return r.now }
	r.engine = incident.New(s, incident.Config{Now: clock}, zap.NewNop(), nil)
	if cfg.Now == nil {
		cfg.Now = clock
	}
	c, err := console.New(cfg, s, zap.NewNop())
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	r.console = c
	return r
}

// as is the console seen by v (no viewer: nobody signed in), as the
// sign-in middleware hands requests on.
func (r *rig) as(v *webauth.Viewer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if v != nil {
			req = req.WithContext(webauth.WithViewer(req.Context(), *v))
		}
		r.console.ServeHTTP(w, req)
	})
}

var (
	viewer = &webauth.Viewer{ID: "oidc:vera", Name: "Vera", Role: policy.Viewer, Via: "oidc"}
	admin  = &webauth.Viewer{ID: "oidc:ada", Name: "Ada", Role: policy.Admin, Via: "oidc"}
)

func (r *rig) get(v *webauth.Viewer, path string) *httptest.ResponseRecorder {
	r.t.Helper()
	w := httptest.NewRecorder()
	r.as(v).ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// page gets path as v and wants status 200.
func (r *rig) page(v *webauth.Viewer, path string) string {
	r.t.Helper()
	w := r.get(v, path)
	if w.Code != http.StatusOK {
		r.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
	}
	return w.Body.String()
}

// fire ingests one alert group and returns its incident.
func (r *rig) fire(key string, labels, annotations map[string]string, generatorURL string) int64 {
	r.t.Helper()
	g := bot.AlertGroup{Receiver: "ops", GroupKey: key, Status: bot.AlertFiring,
		GroupLabels: map[string]string{"alertname": labels["alertname"]}, CommonLabels: labels,
		CommonAnnotations: annotations, ExternalURL: "http://alertmanager:9093",
		Alerts: []bot.Alert{{Fingerprint: "fp-" + key, Status: bot.AlertFiring, Labels: labels, Annotations: annotations,
			StartsAt: r.now, GeneratorURL: generatorURL}}}
	res, err := r.engine.Ingest(context.Background(), g)
	if err != nil {
		r.t.Fatalf("Ingest %s: %v", key, err)
	}
	return res.IncidentID
}

func TestRolesAndRefusals(t *testing.T) {
	r := newRig(t, console.Config{})
	id := r.fire("g1", map[string]string{"alertname": "ServiceDown", "service": "orders", "severity": "critical"}, nil, "")
	pages := []string{"/ui/", "/ui/incidents", fmt.Sprintf("/ui/incidents/%d", id), fmt.Sprintf("/ui/incidents/%d/postmortem", id),
		fmt.Sprintf("/ui/incidents/%d/postmortem.md", id), "/ui/approvals", "/ui/reliability"}
	adminPages := []string{"/ui/audit", "/ui/audit/export"}
	for _, p := range append(pages, adminPages...) {
		if w := r.get(nil, p); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Sign in") {
			t.Errorf("GET %s signed out: %d, want 401 with a sign-in page", p, w.Code)
		}
		noRole := &webauth.Viewer{ID: "oidc:x", Name: "x", Role: policy.NoAccess}
		if w := r.get(noRole, p); w.Code != http.StatusForbidden {
			t.Errorf("GET %s with no role: %d, want 403", p, w.Code)
		}
		if w := r.get(admin, p); w.Code != http.StatusOK {
			t.Errorf("GET %s as admin: %d %s", p, w.Code, w.Body.String())
		}
	}
	for _, p := range pages {
		if w := r.get(viewer, p); w.Code != http.StatusOK {
			t.Errorf("GET %s as viewer: %d", p, w.Code)
		}
	}
	for _, p := range adminPages {
		w := r.get(viewer, p)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "needs the admin role") {
			t.Errorf("GET %s as viewer: %d, want 403 naming the role", p, w.Code)
		}
	}
	// The menu offers the audit log to those who may read it only.
	if strings.Contains(r.page(viewer, "/ui/incidents"), `href="/ui/audit"`) {
		t.Error("a viewer's menu links the audit log")
	}
	if !strings.Contains(r.page(admin, "/ui/incidents"), `href="/ui/audit"`) {
		t.Error("an admin's menu lacks the audit log")
	}
	for _, p := range []string{"/ui/nothing", "/ui/incidents/999999", "/ui/incidents/abc"} {
		if w := r.get(viewer, p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	r := newRig(t, console.Config{})
	for _, tc := range []struct {
		path string
		v    *webauth.Viewer
	}{{"/ui/incidents", viewer}, {"/ui/incidents", nil}, {"/ui/audit", viewer}, {"/ui/assets/console.css", nil},
		{"/ui/assets/console.js", nil}, {"/ui/nothing", viewer}} {
		w := r.get(tc.v, tc.path)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", tc.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", tc.path, h)
		}
	}
	// No inline script or style anywhere: every script has a src, no
	// element has a style attribute, no <style> element.
	body := r.page(admin, "/ui/audit")
	doc := parse(t, body)
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		if n.Data == "script" && (attr(n, "src") == "" || n.FirstChild != nil) {
			t.Errorf("inline script: %s", render(n))
		}
		if n.Data == "style" || attr(n, "style") != "" {
			t.Errorf("inline style: %s", render(n))
		}
	})
	css := r.get(nil, "/ui/assets/console.css").Body.String()
	if !strings.Contains(css, fmt.Sprintf("--p1: #%06X", bot.Color(bot.P1, bot.IncidentOpen))) {
		t.Errorf("the style sheet lacks chat's P1 colour")
	}
}

// The hostile alert: markup, attribute breakers, script URLs, bidi
// overrides and a huge value, in labels, annotations and the generator URL.
var hostile = map[string]string{
	"alertname":   `<script>alert("name")</script>`,
	"service":     `"><img src=x onerror=alert(1)>`,
	"severity":    "critical",
	"rtl":         "safe\u202Egnp.exe",
	"description": `<svg onload=alert(2)></svg><a href="javascript:alert(3)">click</a>`,
	"runbook_url": "javascript:alert(4)",
	"huge":        strings.Repeat("A", 300_000),
}

func TestHostileAlertTextIsText(t *testing.T) {
	r := newRig(t, console.Config{})
	id := r.fire("hostile", hostile, map[string]string{"summary": hostile["description"], "runbook_url": hostile["runbook_url"],
		"huge": hostile["huge"]}, "javascript:alert(5)")
	if _, err := r.engine.Acknowledge(context.Background(), id, bot.Identity{Platform: "slack", UserID: "U1",
		Name: `<marquee onmouseover=alert(6)>mallory</marquee>`}, "C1"); err != nil {
		t.Fatal(err)
	}
	// What people type reaches the pages too: a command, a result, a
	// display name from the identity provider.
	aid := storeApproval(t, r.backend, id, bot.ApprovalDone)
	if err := r.backend.AppendAudit(context.Background(), bot.AuditRecord{At: r.now, Kind: bot.AuditCommand,
		Actor:  bot.Identity{Platform: "slack", UserID: `"><img src=x onerror=alert(8)>`, Name: hostile["service"]},
		Action: `<script>alert(9)</script>`, Outcome: "allowed", Detail: hostile["description"], ApprovalID: aid}); err != nil {
		t.Fatal(err)
	}
	hostileAdmin := *admin
	hostileAdmin.Name = `<img src=x onerror=alert(7)>`
	for _, path := range []string{"/ui/incidents", fmt.Sprintf("/ui/incidents/%d", id), fmt.Sprintf("/ui/incidents/%d/postmortem", id),
		"/ui/incidents?q=" + "%3Cscript%3E", "/ui/audit", "/ui/approvals"} {
		body := r.page(&hostileAdmin, path)
		if len(body) > 200_000 {
			t.Errorf("%s: %d bytes: a huge label must be clipped", path, len(body))
		}
		if strings.Contains(body, "\u202E") {
			t.Errorf("%s: a raw right-to-left override reached the page", path)
		}
		doc := parse(t, body)
		walk(doc, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			switch n.Data {
			case "img", "svg", "iframe", "object", "embed", "marquee":
				if n.Data != "svg" || attr(n, "class") != "chart" {
					t.Errorf("%s: hostile element <%s> rendered: %s", path, n.Data, render(n))
				}
			case "script":
				if attr(n, "src") != "/ui/assets/console.js" {
					t.Errorf("%s: a script that is not ours: %s", path, render(n))
				}
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Errorf("%s: event handler attribute %s=%q", path, a.Key, a.Val)
				}
				if (a.Key == "href" || a.Key == "src" || a.Key == "action") &&
					!(strings.HasPrefix(a.Val, "/") || strings.HasPrefix(a.Val, "http://") || strings.HasPrefix(a.Val, "https://")) {
					t.Errorf("%s: %s=%q is neither ours nor a web address", path, a.Key, a.Val)
				}
			}
		})
		if path == "/ui/audit" || path == "/ui/approvals" {
			continue
		}
		text := textOf(doc)
		for _, want := range []string{`<script>alert("name")</script>`} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the hostile alert name is not shown as text", path)
			}
		}
	}
	body := r.page(viewer, fmt.Sprintf("/ui/incidents/%d", id))
	text := textOf(parse(t, body))
	for _, want := range []string{`"><img src=x onerror=alert(1)>`, "safe[U+202E]gnp.exe", "more characters",
		`<marquee onmouseover=alert(6)>mallory</marquee>`, `<svg onload=alert(2)></svg>`} {
		if !strings.Contains(text, want) {
			t.Errorf("the incident page does not show %q as text", want)
		}
	}
}

func TestIncidentListFiltersAndPages(t *testing.T) {
	r := newRig(t, console.Config{PageSize: 3})
	var ids []int64
	for i := range 7 {
		sev := []string{"critical", "warning", "info"}[i%3]
		ids = append(ids, r.fire(fmt.Sprintf("g%d", i), map[string]string{"alertname": "ServiceDown",
			"service": fmt.Sprintf("svc-%d", i%2), "severity": sev}, nil, ""))
		r.now = r.now.Add(time.Minute)
	}
	// P1 (critical) first, oldest first: 0, 3, 6; then P2: 1, 4; then P3: 2, 5.
	want := []int64{ids[0], ids[3], ids[6], ids[1], ids[4], ids[2], ids[5]}
	var got []int64
	path := "/ui/incidents"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		doc := parse(t, r.page(viewer, path))
		got = append(got, listedIDs(doc)...)
		path = linkRel(doc, "next")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("walked %v, want %v", got, want)
	}
	doc := parse(t, r.page(viewer, "/ui/incidents?severity=P2&service=svc-1"))
	if got := listedIDs(doc); fmt.Sprint(got) != fmt.Sprint([]int64{ids[1]}) {
		t.Fatalf("P2 of svc-1: %v, want [%d]", got, ids[1])
	}
	// The strip counts open incidents per severity.
	text := textOf(parse(t, r.page(viewer, "/ui/incidents")))
	if !strings.Contains(text, "P1 open3") || !strings.Contains(text, "P3 open2") {
		t.Fatalf("strip: %q", text[:min(len(text), 400)])
	}
	for _, bad := range []string{"?after=o.9.1", "?after=x", "?severity=P9", "?status=gone"} {
		if w := r.get(viewer, "/ui/incidents"+bad); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
}

func TestIncidentPage(t *testing.T) {
	r := newRig(t, console.Config{SlackURL: "https://bakewise.slack.com", DiscordGuildID: "42"})
	ctx := context.Background()
	id := r.fire("g", map[string]string{"alertname": "ServiceDown", "service": "orders", "severity": "warning"}, nil, "http://prom/graph")
	if _, err := r.engine.Acknowledge(ctx, id, bot.Identity{Platform: "slack", UserID: "U1", Name: "alice"}, "C1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.engine.SetSeverity(ctx, id, bot.P0, bot.Identity{Platform: "slack", UserID: "U1", Name: "alice"}, "C1"); err != nil {
		t.Fatal(err)
	}
	for _, th := range []bot.Thread{
		{IncidentID: id, Destination: "ops", Platform: "slack", Ref: bot.ThreadRef{Channel: "C0OPS", RootID: "1700000000.123456", ThreadID: "1700000000.123456"}},
		{IncidentID: id, Destination: "dc", Platform: "discord", Ref: bot.ThreadRef{Channel: "77", RootID: "88", ThreadID: "88"}},
	} {
		if err := r.store.SaveThread(ctx, th, r.now); err != nil {
			t.Fatal(err)
		}
	}
	storeApproval(t, r.backend, id, bot.ApprovalPending)
	body := r.page(viewer, fmt.Sprintf("/ui/incidents/%d", id))
	doc := parse(t, body)
	text := textOf(doc)
	for _, want := range []string{"alice", "P0", "scale orders-service 5", "fp-g", "acknowledged", "severity_changed"} {
		if !strings.Contains(text, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	links := hrefs(doc)
	for _, want := range []string{"https://bakewise.slack.com/archives/C0OPS/p1700000000123456", "https://discord.com/channels/42/88",
		"http://prom/graph", fmt.Sprintf("/ui/incidents/%d/postmortem.md", id)} {
		if !links[want] {
			t.Errorf("incident page does not link %s", want)
		}
	}
	if attr(find(doc, "body"), "data-live") == "" && !hasAttr(find(doc, "body"), "data-live") {
		t.Error("an open incident's page is not live")
	}
	w := r.get(viewer, fmt.Sprintf("/ui/incidents/%d/postmortem.md", id))
	if !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") || !strings.Contains(w.Body.String(), "# ") {
		t.Errorf("post-mortem download: %v %q", w.Header(), w.Body.String()[:min(200, w.Body.Len())])
	}
	pm := textOf(parse(t, r.page(viewer, fmt.Sprintf("/ui/incidents/%d/postmortem", id))))
	if !strings.Contains(pm, "ServiceDown") {
		t.Errorf("post-mortem page: %q", pm[:min(300, len(pm))])
	}
}

func TestApprovalsPage(t *testing.T) {
	r := newRig(t, console.Config{})
	pending := storeApproval(t, r.backend, 0, bot.ApprovalPending)
	done := storeApproval(t, r.backend, 0, bot.ApprovalDone)
	doc := parse(t, r.page(viewer, "/ui/approvals"))
	pend, hist := textOf(findID(doc, "pending")), textOf(findID(doc, "history"))
	if !strings.Contains(pend, fmt.Sprintf("#%d", pending)) || !strings.Contains(pend, "replicas 2 → 5") ||
		!strings.Contains(pend, "image orders:1.4 → orders:1.3") {
		t.Errorf("pending: %q", pend)
	}
	if !strings.Contains(hist, fmt.Sprintf("#%d", done)) || !strings.Contains(hist, "bob") || !strings.Contains(hist, "approved") ||
		!strings.Contains(hist, "alice") || !strings.Contains(hist, "scaled to 5") || strings.Contains(hist, fmt.Sprintf("#%d ", pending)) {
		t.Errorf("history: %q", hist)
	}
}

func TestAuditPageVerifyAndExport(t *testing.T) {
	r := newRig(t, console.Config{PageSize: 4})
	ctx := context.Background()
	var recs []bot.AuditRecord
	for i := range 10 {
		who := bot.Identity{Platform: "slack", UserID: "U1", Name: "alice"}
		if i%2 == 1 {
			who = bot.Identity{Platform: "discord", UserID: "9", Name: "bob"}
		}
		recs = append(recs, bot.AuditRecord{At: t0.Add(time.Duration(i) * time.Second), Actor: who, Kind: bot.AuditCommand,
			Action: []string{"health", "scale"}[i%2], Outcome: "allowed", Channel: "C1", Detail: fmt.Sprintf("row %d", i)})
	}
	if err := r.store.AppendAudit(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	runConsole(t, r)
	var body string
	poll(t, "the chain's status", func() bool {
		body = r.page(admin, "/ui/audit")
		return strings.Contains(body, `class="status-ok">verified`)
	})
	doc := parse(t, body)
	head, ok, err := r.store.LastAudit(ctx)
	if err != nil || !ok {
		t.Fatal(err)
	}
	if got := textOf(findID(doc, "head")); got != head.String() {
		t.Errorf("head shown %q, want %q", got, head)
	}
	if n := len(rowsOf(findID(doc, "audit"))); n != 4 {
		t.Errorf("first page: %d rows, want 4", n)
	}
	if strings.Contains(body, "newer, checked at the next walk") {
		t.Errorf("nothing was written after the walk, yet the page says rows are unchecked")
	}
	// Rows written after the walk are named as not yet checked, not left
	// looking like a short chain.
	if err := r.store.AppendAudit(ctx, recs[0], recs[1]); err != nil {
		t.Fatal(err)
	}
	if body := r.page(admin, "/ui/audit"); !strings.Contains(body, "10 rows checked at") || !strings.Contains(body, "2 newer, checked at the next walk") {
		t.Errorf("after two more rows the status says:\n%s", body)
	}
	// bob's scale rows, newest first, over pages.
	var seen []string
	for path := "/ui/audit?person=discord:9&action=scale"; path != ""; {
		doc := parse(t, r.page(admin, path))
		for _, row := range rowsOf(findID(doc, "audit")) {
			seen = append(seen, textOf(find(row, "td")))
		}
		path = linkRel(doc, "next")
	}
	if fmt.Sprint(seen) != "[12 10 8 6 4 2]" {
		t.Errorf("bob's scale rows: %v", seen)
	}
	if w := r.get(admin, "/ui/audit?person=nobody"); w.Code != http.StatusBadRequest {
		t.Errorf("a person without a platform: %d", w.Code)
	}
	w := r.get(admin, "/ui/audit/export")
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if len(lines) != 12 || !strings.Contains(lines[11], `"seq":12`) || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("export: %d lines, %v", len(lines), w.Header())
	}
	// An edited row: the next walk says the chain is broken, and where.
	for _, q := range r.unguard {
		if err := r.exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.exec(ctx, "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	r2 := newRig2(t, r, console.Config{})
	poll(t, "the broken chain's status", func() bool {
		body = r.page2(r2, "/ui/audit")
		return strings.Contains(body, "BROKEN")
	})
	if !strings.Contains(body, "audit row 3") {
		t.Errorf("the status does not name the edited row")
	}
}

func TestReliabilityCharts(t *testing.T) {
	r := newRig(t, console.Config{})
	ctx := context.Background()
	for i := range 4 {
		id := r.fire(fmt.Sprintf("g%d", i), map[string]string{"alertname": "ServiceDown", "service": "s", "severity": "critical"}, nil, "")
		r.now = r.now.Add(10 * time.Minute)
		if _, err := r.engine.Acknowledge(ctx, id, bot.Identity{Platform: "slack", UserID: "U1", Name: "a"}, "C1"); err != nil {
			t.Fatal(err)
		}
	}
	doc := parse(t, r.page(viewer, "/ui/reliability"))
	rects := 0
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "rect" {
			rects++
		}
	})
	// Two bars per severity, and one per day with incidents.
	if rects != 8+1 {
		t.Errorf("%d bars, want 9", rects)
	}
	row := textOf(rowsOf(findID(doc, "times"))[1])
	if !strings.Contains(row, "P1") || !strings.Contains(row, "4") || !strings.Contains(row, "10m / 10m") {
		t.Errorf("P1 row: %q", row)
	}
}

func TestLiveUpdates(t *testing.T) {
	r := newRig(t, console.Config{MaxLiveClients: 1, PollInterval: 50 * time.Millisecond})
	runConsole(t, r)
	// The server's own timeouts, as serve sets them for pages, must not
	// end a stream.
	srv := httptest.NewUnstartedServer(r.as(viewer))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = time.Second, time.Second
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	// A second stream is over the bound: 503, and the page polls.
	second, err := http.Get(srv.URL + "/ui/events")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second stream: %d, want 503", second.StatusCode)
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			events <- sc.Text()
		}
		close(events)
	}()
	// Outlast the server's timeouts before anything changes: a stream they
	// ended would never see the change below.
	time.Sleep(2500 * time.Millisecond)
	// Keep changing the store until the stream says so: the hub may read
	// its first mark after the first change.
	deadline := time.After(50 * time.Second)
	for i := 0; ; i++ {
		r.fire(fmt.Sprintf("live%d", i), map[string]string{"alertname": "ServiceDown", "severity": "critical"}, nil, "")
		r.console.Notify()
		select {
		case line, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if line == "event: change" {
				return
			}
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("no change event")
		}
	}
}

// Mounted as serve mounts it, behind the API's instrumentation, a stream
// still streams: the wrappers let the console reach the connection.
func TestLiveThroughTheServersHandler(t *testing.T) {
	r := newRig(t, console.Config{})
	runConsole(t, r)
	h := httpapi.New(httpapi.Config{Token: "t"}, r.store, []httpapi.Mount{{Pattern: "/ui/", Handler: r.as(viewer)}},
		prometheus.NewRegistry(), prometheus.NewRegistry(), zap.NewNop())
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if resp.StatusCode != http.StatusOK || err != nil || line != "retry: 5000\n" {
		t.Fatalf("stream through the server's handler: %d %q %v", resp.StatusCode, line, err)
	}
	page, err := http.Get(srv.URL + "/ui/incidents")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK || page.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("page through the server's handler: %d %v", page.StatusCode, page.Header)
	}
}

// --- helpers ---

func runConsole(t *testing.T, r *rig) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.console.Run(ctx); close(done) }() //nolint:errcheck // ends with ctx
	t.Cleanup(func() { cancel(); <-done })
}

// newRig2 is a second console over r's store, so the audit walk starts
// afresh.
func newRig2(t *testing.T, r *rig, cfg console.Config) *console.Console {
	cfg.Now = func() time.Time { return r.now }
	c, err := console.New(cfg, r.store, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }() //nolint:errcheck // ends with ctx
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func (r *rig) page2(c *console.Console, path string) string {
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	c.ServeHTTP(w, req.WithContext(webauth.WithViewer(req.Context(), *admin)))
	return w.Body.String()
}

func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func storeApproval(t *testing.T, s bot.Store, incidentID int64, status bot.ApprovalStatus) int64 {
	t.Helper()
	ctx := context.Background()
	plan := bot.Plan{Action: "scale", Target: "deployment bakery-ia/orders-service", Params: map[string]string{"replicas": "5"},
		Preview: []string{"replicas 2 → 5", "image orders:1.4 → orders:1.3"}, Role: policy.Admin}
	a := &bot.Approval{Nonce: "n", Status: status, Requester: bot.Identity{Platform: "slack", UserID: "UA", Name: "alice"},
		Platform: "slack", Channel: "C1", IncidentID: incidentID, CommandText: "scale orders-service 5", Plan: plan,
		Hash: plan.Hash(), Quorum: 1, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	if status == bot.ApprovalDone {
		a.Result = "scaled to 5"
		at := t0.Add(time.Minute)
		a.DecidedAt, a.ExecutedAt = &at, &at
	}
	var id int64
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		var err error
		if id, err = tx.CreateApproval(ctx, a); err != nil || status == bot.ApprovalPending {
			return err
		}
		return tx.AddVote(ctx, id, bot.Vote{Voter: bot.Identity{Platform: "slack", UserID: "UB", Name: "bob"}, Role: policy.Admin,
			Approve: true, At: t0.Add(time.Minute)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func parse(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func find(doc *html.Node, tag string) *html.Node {
	var out *html.Node
	walk(doc, func(n *html.Node) {
		if out == nil && n.Type == html.ElementNode && n.Data == tag {
			out = n
		}
	})
	return out
}

func findID(doc *html.Node, id string) *html.Node {
	var out *html.Node
	walk(doc, func(n *html.Node) {
		if out == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			out = n
		}
	})
	if out == nil {
		return &html.Node{Type: html.ElementNode, Data: "missing"}
	}
	return out
}

// textOf is the text a person reads in n (markup gone, entities decoded).
func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "script") {
			b.WriteString(n.Data)
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

func hrefs(doc *html.Node) map[string]bool {
	out := map[string]bool{}
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" {
			out[attr(n, "href")] = true
		}
	})
	return out
}

func linkRel(doc *html.Node, rel string) string {
	var out string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" && attr(n, "rel") == rel {
			out = attr(n, "href")
		}
	})
	return out
}

// listedIDs are the incidents the list shows, in order.
func listedIDs(doc *html.Node) []int64 {
	var ids []int64
	walk(findID(doc, "incidents"), func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "li" {
			var id int64
			fmt.Sscan(attr(n, "data-id"), &id) //nolint:errcheck // 0 shows up in the comparison
			ids = append(ids, id)
		}
	})
	return ids
}

// rowsOf are a table's rows, the header's included.
func rowsOf(table *html.Node) []*html.Node {
	var rows []*html.Node
	walk(table, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" && find(n, "th") == nil {
			rows = append(rows, n)
		}
	})
	return rows
}

func render(n *html.Node) string {
	var b strings.Builder
	html.Render(&b, n) //nolint:errcheck // a strings.Builder
	return b.String()[:min(b.Len(), 300)]
}
