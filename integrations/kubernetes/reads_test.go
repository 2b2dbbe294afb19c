package kubernetes

import (
	"slices"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestEventTime(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	tests := []struct {
		name string
		e    corev1.Event
		want time.Time
	}{
		{"lastTimestamp, not when it was stored", corev1.Event{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(time.Hour)},
			FirstTimestamp: at(-3 * time.Hour), LastTimestamp: at(-2 * time.Hour)}, t0.Add(-2 * time.Hour)},
		{"a series' last observation", corev1.Event{LastTimestamp: at(-time.Hour),
			Series: &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(t0)}}, t0},
		{"eventTime when no lastTimestamp", corev1.Event{EventTime: metav1.NewMicroTime(t0.Add(-time.Minute)), FirstTimestamp: at(-time.Hour)}, t0.Add(-time.Minute)},
		{"firstTimestamp alone", corev1.Event{FirstTimestamp: at(-time.Hour)}, t0.Add(-time.Hour)},
		{"nothing but the creation", corev1.Event{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(0)}}, t0},
	}
	for _, tc := range tests {
		if got := eventTime(&tc.e); !got.Equal(tc.want) {
			t.Errorf("%s: eventTime = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSortEvents(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ev := func(id, typ, kind string, ago time.Duration) eventRow {
		return eventRow{id: id, KubeEvent: bot.KubeEvent{Type: typ, Kind: kind, Name: "x", Reason: id, Last: t0.Add(-ago)}}
	}
	base := []eventRow{
		ev("scaled", "Normal", "Deployment", time.Minute),
		ev("backoff", "Warning", "Pod", 5*time.Minute),
		ev("created", "Normal", "ReplicaSet", time.Minute), // same second as scaled: the pod side is newer
		ev("pulled", "Normal", "Pod", 0),
		ev("x.17f0", "Normal", "Pod", 2*time.Minute),
		ev("x.17f1", "Normal", "Pod", 2*time.Minute), // same object and second: the later name is newer
	}
	for _, tc := range []struct {
		warningsFirst bool
		want          []string
	}{
		{false, []string{"pulled", "created", "scaled", "x.17f1", "x.17f0", "backoff"}},
		{true, []string{"backoff", "pulled", "created", "scaled", "x.17f1", "x.17f0"}},
	} {
		evs := slices.Clone(base)
		sortEvents(evs, tc.warningsFirst)
		var got []string
		for _, e := range evs {
			got = append(got, e.id)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("warningsFirst=%v: order %v, want %v", tc.warningsFirst, got, tc.want)
		}
	}
}

func TestFormerPod(t *testing.T) {
	prefixes := []string{"orders-service-7d9f8c6b5-"}
	for name, want := range map[string]bool{
		"orders-service-7d9f8c6b5-x2k9q":    true,  // made by the ReplicaSet, gone or not
		"orders-service-7d9f8c6b5-x2k9q-ab": false, // not a name the ReplicaSet makes
		"orders-service-7d9f8c6b5-x2k9":     false,
		"orders-service-5c4b3a291-x2k9q":    false, // another ReplicaSet's
	} {
		if got := formerPod(corev1.ObjectReference{Kind: "Pod", Name: name}, prefixes); got != want {
			t.Errorf("formerPod(%s) = %v, want %v", name, got, want)
		}
	}
	if formerPod(corev1.ObjectReference{Kind: "Service", Name: "orders-service-7d9f8c6b5-x2k9q"}, prefixes) {
		t.Error("a Service counted as a pod")
	}
}

func TestReadyCondition(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": []any{
		map[string]any{"type": "Reconciling", "status": "True"},
		map[string]any{"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "line one\n  line two " + string(make([]byte, 400))},
	}}}}
	status, reason, msg := readyCondition(u)
	if status != "False" || reason != "UpgradeFailed" {
		t.Errorf("readyCondition = %q, %q", status, reason)
	}
	if len([]rune(msg)) > maxConditionMessage+1 || msg[:18] != "line one line two " {
		t.Errorf("message %q: not one bounded line", msg)
	}
	if s, _, _ := readyCondition(&unstructured.Unstructured{Object: map[string]any{}}); s != "" {
		t.Errorf("no status: Ready %q, want none", s)
	}
}
