package alertmanager

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// maxDecodeError bounds the text of a refusal: it is the body of the 400
// and a log line, so a sender must not be able to make it as long as the
// body it sent. Quoted input in it is clipped (see quote).
const maxDecodeError = 1024

// FuzzDecode feeds webhook bodies to Decode. Whatever the body: no
// panic; a refusal is short; an accepted notification keeps every limit
// the README promises; and the notification written back as Alertmanager
// would send it decodes again to the same group (the engine may store and
// re-read what Decode accepted without meeting a value it cannot hold).
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "fixtures", "alertmanager", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no Alertmanager fixtures: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(payloadWith(f, nil)))
	f.Add([]byte(payloadWith(f, func(p map[string]any) { p["alerts"] = nAlerts(3) })))
	f.Add([]byte(payloadWith(f, func(p map[string]any) {
		p["notification_reason"] = "alert_group_updated"
		p["routeLabels"] = map[string]any{"team": "platform"}
		firstAlert(p)["labels"].(map[string]any)["service.name"] = "orders"
	})))
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := Decode(bytes.NewReader(body))
		if err != nil {
			if msg := err.Error(); msg == "" || len(msg) > maxDecodeError {
				t.Fatalf("refusal of %d bytes (at most %d): %.200q", len(msg), maxDecodeError, msg)
			}
			return
		}
		checkAcceptedGroup(t, g)
		again, err := Decode(bytes.NewReader(encodeWebhook(t, g)))
		if err != nil {
			t.Fatalf("the accepted notification, written back, is refused: %v", err)
		}
		if !reflect.DeepEqual(again, g) {
			t.Fatalf("written back and decoded again it differs:\n got %+v\nwant %+v", again, g)
		}
	})
}

// checkAcceptedGroup fails t unless g keeps the limits of the README's
// "Limits" table and the receiver's 400 list.
func checkAcceptedGroup(t *testing.T, g bot.AlertGroup) {
	t.Helper()
	switch {
	case g.GroupKey == "" || len(g.GroupKey) > maxGroupKeyLen:
		t.Fatalf("groupKey of %d bytes accepted", len(g.GroupKey))
	case g.Receiver == "" || len(g.Receiver) > maxReceiverLen:
		t.Fatalf("receiver of %d bytes accepted", len(g.Receiver))
	case len(g.ExternalURL) > maxURLLen:
		t.Fatalf("externalURL of %d bytes accepted", len(g.ExternalURL))
	case g.Status != bot.AlertFiring && g.Status != bot.AlertResolved:
		t.Fatalf("status %q accepted", g.Status)
	case g.TruncatedAlerts < 0:
		t.Fatalf("truncatedAlerts %d accepted", g.TruncatedAlerts)
	case len(g.Alerts) == 0 || len(g.Alerts) > MaxAlerts:
		t.Fatalf("%d alerts accepted", len(g.Alerts))
	}
	noNUL(t, "groupKey", g.GroupKey)
	noNUL(t, "receiver", g.Receiver)
	noNUL(t, "externalURL", g.ExternalURL)
	checkLabelSet(t, "groupLabels", g.GroupLabels, maxLabelValueLen)
	checkLabelSet(t, "commonLabels", g.CommonLabels, maxLabelValueLen)
	checkLabelSet(t, "commonAnnotations", g.CommonAnnotations, maxAnnotationLen)
	checkAnnotationTotal(t, "commonAnnotations", g.CommonAnnotations)
	for _, a := range g.Alerts {
		switch {
		case a.Status != bot.AlertFiring && a.Status != bot.AlertResolved:
			t.Fatalf("alert status %q accepted", a.Status)
		case len(a.Labels) == 0:
			t.Fatal("an alert without labels accepted")
		case a.Annotations == nil:
			t.Fatal("an alert's annotations are nil")
		case a.Fingerprint == "" || len(a.Fingerprint) > maxFingerprintLen:
			t.Fatalf("fingerprint of %d bytes accepted", len(a.Fingerprint))
		case a.StartsAt.IsZero():
			t.Fatal("an alert without startsAt accepted")
		case a.StartsAt.Location().String() != "UTC" || a.EndsAt.Location().String() != "UTC":
			t.Fatalf("times not in UTC: %v %v", a.StartsAt, a.EndsAt)
		case len(a.GeneratorURL) > maxURLLen:
			t.Fatalf("generatorURL of %d bytes accepted", len(a.GeneratorURL))
		}
		noNUL(t, "fingerprint", a.Fingerprint)
		noNUL(t, "generatorURL", a.GeneratorURL)
		checkLabelSet(t, "labels", a.Labels, maxLabelValueLen)
		checkLabelSet(t, "annotations", a.Annotations, maxAnnotationLen)
		checkAnnotationTotal(t, "annotations", a.Annotations)
	}
}

func checkLabelSet(t *testing.T, what string, m map[string]string, maxValue int) {
	t.Helper()
	if len(m) > maxLabels {
		t.Fatalf("%s: %d entries accepted", what, len(m))
	}
	for k, v := range m {
		if k == "" || len(k) > maxLabelNameLen || len(v) > maxValue {
			t.Fatalf("%s: name of %d bytes, value of %d accepted", what, len(k), len(v))
		}
		noNUL(t, what, k)
		noNUL(t, what, v)
	}
}

// checkAnnotationTotal: the README's limit is on all of an alert's
// annotations together, names included.
func checkAnnotationTotal(t *testing.T, what string, m map[string]string) {
	t.Helper()
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	if n > maxAnnotationLen {
		t.Fatalf("%s: %d bytes in all accepted, at most %d", what, n, maxAnnotationLen)
	}
}

func noNUL(t *testing.T, what, s string) {
	t.Helper()
	if strings.IndexByte(s, 0) >= 0 {
		t.Fatalf("%s: a NUL character accepted", what)
	}
	if !utf8.ValidString(s) {
		// encoding/json replaces invalid UTF-8, and PostgreSQL refuses it.
		t.Fatalf("%s: invalid UTF-8 accepted: %q", what, s)
	}
}

// encodeWebhook writes g as Alertmanager would have sent it.
func encodeWebhook(t *testing.T, g bot.AlertGroup) []byte {
	t.Helper()
	w := webhook{
		Version: "4", GroupKey: g.GroupKey, TruncatedAlerts: g.TruncatedAlerts, Status: string(g.Status),
		Receiver: g.Receiver, GroupLabels: g.GroupLabels, CommonLabels: g.CommonLabels,
		CommonAnnotations: g.CommonAnnotations, ExternalURL: g.ExternalURL,
	}
	for _, a := range g.Alerts {
		w.Alerts = append(w.Alerts, webhookAlert{
			Status: string(a.Status), Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint,
		})
	}
	out, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("the accepted notification cannot be written back as JSON: %v", err)
	}
	return out
}

// FuzzParseMatchers feeds the silence command's matcher text to
// ParseMatchers. Accepted matchers pass CreateSilence's own checks, and
// written back as the command writes them (one matcher's String() after
// another, comma-separated) they read back to the same matchers.
func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{
		`alertname=ServiceDown service="orders-service"`,
		`alertname="HighMemoryUsage", instance=~"pos-.*", env!~"dev|staging"`,
		`{alertname="ServiceDown",service="orders-service"}`,
		`alertname = ServiceDown , service != "gateway"`,
		`"service.name"="orders", alertname=X`,
		"alertname=\u201cServiceDown\u201d service=orders",
		`alertname=~"Service.*" severity!=""`,
		`alertname="a\"b\\c\nd" service=x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refusal without a reason")
			}
			return
		}
		if len(ms) == 0 || len(ms) > MaxSilenceMatchers {
			t.Fatalf("%d matchers accepted", len(ms))
		}
		if err := validateMatchers(ms); err != nil {
			t.Fatalf("accepted matchers fail CreateSilence's check: %v", err)
		}
		for _, m := range ms {
			if utf8.RuneCountInString(m.Name) > MaxMatcherLen || utf8.RuneCountInString(m.Value) > MaxMatcherLen {
				t.Fatalf("matcher %s over %d characters accepted", formatMatcher(m), MaxMatcherLen)
			}
		}
		text := matchersText(ms)
		back, err := ParseMatchers(text)
		if err != nil {
			t.Fatalf("written back as %q, they are refused: %v", text, err)
		}
		if !reflect.DeepEqual(back, ms) {
			t.Fatalf("written back as %q they read as %+v, want %+v", text, back, ms)
		}
	})
}

// matchersText writes matchers back as the silence command does
// (commands.matcherText).
func matchersText(ms []policy.SilenceMatcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}
