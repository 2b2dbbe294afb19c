package e2e

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/integrations/alertmanager"
	"github.com/bakewise/chatops/policy"
	"github.com/bakewise/chatops/test/harness"
)

// amSilence is GET /api/v2/silence/{id} as Alertmanager answers it, read
// without the client under test.
type amSilence struct {
	ID     string `json:"id"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsEqual bool   `json:"isEqual"`
		IsRegex bool   `json:"isRegex"`
	} `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

func (s amSilence) policyMatchers() []policy.SilenceMatcher {
	var out []policy.SilenceMatcher
	for _, m := range s.Matchers {
		out = append(out, policy.SilenceMatcher{Name: m.Name, Value: m.Value, Equal: m.IsEqual, IsRegex: m.IsRegex})
	}
	return out
}

// matcherText writes matchers sorted, as Alertmanager's syntax reads them.
func matcherText(ms []policy.SilenceMatcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func getSilence(t testing.TB, am *harness.Alertmanager, id string) amSilence {
	t.Helper()
	var s amSilence
	am.GetJSON(t, "/api/v2/silence/"+id, &s)
	return s
}

// TestAlertmanagerSilenceLifecycle creates a silence from chat-typed matchers
// in a real Alertmanager, sees it active and muting the alert it names (and
// only that one), sees Alertmanager's refusal come back as a clear error,
// and expires it.
func TestAlertmanagerSilenceLifecycle(t *testing.T) {
	am := harness.StartAlertmanager(t, "http://127.0.0.1:9/v1/alertmanager", "unused")
	api, err := alertmanager.NewAPI(am.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	started := harness.RFC3339(time.Now().Add(-time.Minute))
	am.PostAlerts(t,
		harness.PostableAlert{Labels: map[string]string{"alertname": "ServiceDown", "service": "gateway", "severity": "critical"}, StartsAt: started},
		harness.PostableAlert{Labels: map[string]string{"alertname": "ServiceDown", "service": "orders-service", "severity": "critical"}, StartsAt: started},
	)
	firing := func(service string) (int, string) {
		got, err := api.FiringBySeverity(ctx, service)
		if err != nil {
			return -1, err.Error()
		}
		return got["critical"], fmt.Sprint(got)
	}
	harness.Eventually(t, "both alerts to fire", func() (bool, string) {
		n, state := firing("")
		return n == 2, state
	})

	ms, err := alertmanager.ParseMatchers(`alertname=ServiceDown, service = "gateway"`)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want := bot.Silence{
		Matchers:  ms,
		StartsAt:  now,
		EndsAt:    now.Add(time.Hour),
		CreatedBy: "alice (slack U123)",
		Comment:   "gateway fix rolling out, see INC-42",
	}
	id, err := api.CreateSilence(ctx, want)
	if err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}

	got := getSilence(t, am, id)
	wantMatchers := []policy.SilenceMatcher{
		{Name: "alertname", Value: "ServiceDown", Equal: true},
		{Name: "service", Value: "gateway", Equal: true},
	}
	if got.ID != id || got.Status.State != "active" || !reflect.DeepEqual(got.policyMatchers(), wantMatchers) ||
		got.CreatedBy != want.CreatedBy || got.Comment != want.Comment {
		t.Fatalf("GET /api/v2/silence/%s = %+v; want it active with matchers %+v, createdBy %q, comment %q",
			id, got, wantMatchers, want.CreatedBy, want.Comment)
	}
	// The API carries milliseconds.
	if d := got.EndsAt.Sub(want.EndsAt); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("silence ends at %s, want %s", got.EndsAt, want.EndsAt)
	}

	// The client's own reading agrees with the raw one.
	st, err := api.GetSilence(ctx, id)
	if err != nil {
		t.Fatalf("GetSilence: %v", err)
	}
	if st.ID != id || st.State != "active" || !reflect.DeepEqual(st.Matchers, wantMatchers) ||
		st.CreatedBy != want.CreatedBy || st.Comment != want.Comment || !st.EndsAt.Equal(got.EndsAt) {
		t.Errorf("GetSilence = %+v; want what GET /api/v2/silence returned: %+v", st, got)
	}

	harness.Eventually(t, "the silence to mute gateway's alert and only that one", func() (bool, string) {
		gw, gwState := firing("gateway")
		all, allState := firing("")
		return gw == 0 && all == 1, "gateway: " + gwState + ", all: " + allState
	})

	// An end time in the past passes the local checks (Alertmanager's clock
	// judges "now") and Alertmanager answers 400.
	past := want
	past.StartsAt, past.EndsAt = now.Add(-2*time.Hour), now.Add(-time.Hour)
	_, err = api.CreateSilence(ctx, past)
	var rej *alertmanager.RejectedError
	if !errors.As(err, &rej) || !strings.HasPrefix(err.Error(), "silence: Alertmanager refused it: ") ||
		!strings.Contains(err.Error(), "end time can't be in the past") {
		t.Errorf("CreateSilence ending in the past = %v; want Alertmanager's 400 reason as a RejectedError", err)
	}

	if err := api.ExpireSilence(ctx, id); err != nil {
		t.Fatalf("ExpireSilence: %v", err)
	}
	if got := getSilence(t, am, id); got.Status.State != "expired" {
		t.Errorf("after ExpireSilence the silence is %q, want expired", got.Status.State)
	}
	// An undo pressed twice is harmless.
	if err := api.ExpireSilence(ctx, id); err != nil {
		t.Errorf("ExpireSilence of an expired silence: %v, want nil", err)
	}
	harness.Eventually(t, "gateway's alert to fire again once the silence expired", func() (bool, string) {
		n, state := firing("gateway")
		return n == 1, state
	})

	unknown := "00000000-0000-4000-8000-000000000000"
	if err := api.ExpireSilence(ctx, unknown); !errors.Is(err, alertmanager.ErrSilenceNotFound) {
		t.Errorf("ExpireSilence(%s) = %v, want ErrSilenceNotFound", unknown, err)
	}
	if _, err := api.GetSilence(ctx, unknown); !errors.Is(err, alertmanager.ErrSilenceNotFound) {
		t.Errorf("GetSilence(%s) = %v, want ErrSilenceNotFound", unknown, err)
	}
}
