package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
)

// The alerts command's Alertmanager: alertsFiring alerts over
// alertsGroups alert names and services of the workload, its
// notifications going nowhere (the bot only reads its API).
const (
	alertsFiring = 60
	alertsGroups = 12
	alertsAMYAML = `route:
  receiver: nowhere
  group_by: ['alertname', 'service']
receivers:
  - name: nowhere
`
)

// startAlertmanager runs a real Alertmanager holding the firing alerts
// the alerts command lists.
func startAlertmanager(ctx context.Context, prog *harness.Program) (*harness.Alertmanager, error) {
	am := harness.StartAlertmanagerConfig(prog, alertsAMYAML)
	names := []string{"HighErrorRate", "HighLatency", "HighMemoryUsage", "PodRestarting"}
	var alerts []harness.PostableAlert
	for i := range alertsFiring {
		g := i % alertsGroups
		alerts = append(alerts, harness.PostableAlert{
			Labels: map[string]string{
				"alertname": names[g%len(names)], "service": workload[g%len(workload)].name,
				"severity": []string{"critical", "warning"}[g%2], "pod": fmt.Sprintf("pod-%d", i),
			},
			StartsAt: harness.RFC3339(time.Now().Add(-time.Duration(i) * time.Minute)),
		})
	}
	if err := am.TryPostAlerts(ctx, alerts...); err != nil {
		return nil, err
	}
	return am, nil
}

// alertsKind is `/ops alerts`: its answer lists every group.
func alertsKind() kind {
	title := fmt.Sprintf("%d alerts in %d groups", alertsFiring, alertsGroups)
	return kind{Name: "alerts", Text: "alerts", check: func(r slackstandin.Response) (string, bool) {
		if r.ResponseType != slack.ResponseTypeInChannel {
			return fmt.Sprintf("answer is %s, not in_channel: %q", r.ResponseType, firstN(r.Text, 200)), false
		}
		if !strings.Contains(r.Text, title) {
			return fmt.Sprintf("alerts answer %q does not say %q", firstN(r.Text, 200), title), false
		}
		return "", false
	}}
}
