package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func TestReadAnswers(t *testing.T) {
	now := t0
	tests := []struct {
		name         string
		a            bot.Answer
		want, reject []string
	}{
		{name: "certs without cert-manager", a: certsAnswer(bot.CertificatesReport{Namespace: "bakery-ia"}, now),
			want: []string{"cert-manager is not installed in this cluster"}},
		{name: "gitops without Flux", a: gitopsAnswer(bot.GitOpsReport{Namespace: "bakery-ia"}),
			want: []string{"Flux is not installed in this cluster"}},
		{name: "gitops with only some kinds", a: gitopsAnswer(bot.GitOpsReport{Namespace: "bakery-ia", Served: []string{"Kustomization"},
			Objects: []bot.GitOpsObject{{Kind: "Kustomization", Name: "apps", Ready: "True"}}}),
			want: []string{"Served Flux kinds: Kustomization (the others are not installed)", "1 objects, 0 not ready, 0 suspended"}},
		{name: "certs expired and expiring", a: certsAnswer(bot.CertificatesReport{Namespace: "bakery-ia", Installed: true, Certificates: []bot.Certificate{
			{Name: "old", Ready: "False", Reason: "Expired", Message: "expired", NotAfter: now.Add(-time.Hour), Issuer: "Issuer/ca"},
			{Name: "soon", Ready: "True", NotAfter: now.Add(3*24*time.Hour + time.Hour), Issuer: "Issuer/ca"},
		}}, now),
			want: []string{"2, 1 not ready, 2 expiring within 14 days", "expired", "old: Expired: expired"}},
		{name: "events cut at the cap", a: eventsAnswer(bot.EventsReport{Namespace: "bakery-ia", Since: time.Hour, Matched: 250, Warnings: 3,
			Events: []bot.KubeEvent{{Type: "Warning", Reason: "BackOff", Kind: "Pod", Name: "p", Count: 2, Last: now.Add(-time.Minute), Message: strings.Repeat("m", 500)}}}, true, now),
			want:   []string{"Events of bakery-ia in the last 1h: 250, 3 warnings", "Showing the first 1 of 250", "Warnings first", "pod/p", strings.Repeat("m", maxEventMessage) + "…"},
			reject: []string{strings.Repeat("m", maxEventMessage+1)}},
		{name: "events none", a: eventsAnswer(bot.EventsReport{Namespace: "bakery-ia", Service: "gateway", Since: 30 * time.Minute}, false, now),
			want: []string{"Events of gateway in bakery-ia in the last 30m: 0, 0 warnings", "No events.", "Newest first."}},
		{name: "hpa none for a service", a: hpaAnswer("gateway", nil), want: []string{"No HorizontalPodAutoscaler scales gateway."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.a.Title + "\n" + strings.Join(tc.a.Lines, "\n") + "\n" + tc.a.Pre
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("answer lacks %q:\n%s", w, text)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(text, r) {
					t.Errorf("answer has %q", r)
				}
			}
		})
	}
}
