package kubernetes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/bakewise/chatops/bot"
)

// logServer stands in for the API server's routes that Logs calls: the
// deployment, its pods, and each pod's log, which it serves as a kubelet
// does (tailLines, then limitBytes cuts the output).
type logServer struct {
	srv  *httptest.Server
	pods map[string]string // pod name → its whole log

	mu     sync.Mutex
	served map[string]int   // pod → bytes sent
	asked  map[string]int64 // pod → limitBytes asked
}

const (
	testNS      = "bakery-ia"
	testService = "orders-service"
)

func newLogServer(t *testing.T, pods map[string]string) *logServer {
	t.Helper()
	s := &logServer{pods: pods, served: map[string]int{}, asked: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{ns}/deployments/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("ns") != testNS || r.PathValue("name") != testService {
			http.NotFound(w, r)
			return
		}
		writeObject(w, &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: testService, Namespace: testNS},
			Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": testService}}},
		})
	})
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("labelSelector") != "app="+testService {
			http.Error(w, "unexpected selector "+r.URL.Query().Get("labelSelector"), http.StatusBadRequest)
			return
		}
		list := &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}}
		for name := range s.pods {
			list.Items = append(list.Items, corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{"app": testService}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: testService}}},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning},
			})
		}
		writeObject(w, list)
	})
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{pod}/log", func(w http.ResponseWriter, r *http.Request) {
		pod := r.PathValue("pod")
		text, ok := s.pods[pod]
		if !ok {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if n, err := strconv.Atoi(q.Get("tailLines")); err == nil {
			lines := strings.SplitAfter(text, "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			text = strings.Join(lines[max(0, len(lines)-n):], "")
		}
		limit, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64)
		if err == nil && int64(len(text)) > limit {
			text = text[:limit]
		}
		s.mu.Lock()
		s.served[pod] += len(text)
		if err == nil {
			s.asked[pod] = limit
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(text))
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func writeObject(w http.ResponseWriter, obj any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}

func (s *logServer) cluster(t *testing.T) *Cluster {
	t.Helper()
	c, err := New(&rest.Config{Host: s.srv.URL}, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *logServer) totalServed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.served {
		n += b
	}
	return n
}

// TestLogsLongLineKeepsLaterLines: a line longer than maxLineBytes is cut
// with a marker, and the lines after it still arrive.
func TestLogsLongLineKeepsLaterLines(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	s := newLogServer(t, map[string]string{"orders-1": "before\n" + long + "\nafter 1\nafter 2\n"})
	pods, err := s.cluster(t).Logs(t.Context(), testService, bot.LogOptions{Tail: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 {
		t.Fatalf("%d pods", len(pods))
	}
	p := pods[0]
	if len(p.Lines) != 4 || p.Lines[0] != "before" || p.Lines[2] != "after 1" || p.Lines[3] != "after 2" {
		t.Fatalf("lines: %d, first %q, last %q", len(p.Lines), first(p.Lines), first(p.Lines[min(len(p.Lines), 1):]))
	}
	if want := strings.Repeat("x", maxLineBytes) + lineCutMarker; p.Lines[1] != want {
		t.Errorf("the long line is %d bytes ending %q; want %d ending %q", len(p.Lines[1]), p.Lines[1][max(0, len(p.Lines[1])-30):], len(want), lineCutMarker)
	}
	if p.CutLines != 1 || p.Truncated {
		t.Errorf("CutLines %d, Truncated %v; want 1, false", p.CutLines, p.Truncated)
	}
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0][:min(len(l[0]), 40)]
}

// TestLogsBudgetSharedAcrossPods: ten pods of 1 MiB each are read within
// one budget of maxLogBytes (or the smaller LimitBytes asked), each pod
// getting its share, and every pod says it was cut.
func TestLogsBudgetSharedAcrossPods(t *testing.T) {
	line := strings.Repeat("a", 99) + "\n"
	logs := map[string]string{}
	for i := range maxPodsForLogs {
		logs[fmt.Sprintf("orders-%d", i)] = strings.Repeat(line, (1<<20)/len(line))
	}
	for _, limit := range []int64{0, 64 << 10} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			s := newLogServer(t, logs)
			pods, err := s.cluster(t).Logs(t.Context(), testService, bot.LogOptions{Tail: 20000, LimitBytes: limit})
			if err != nil {
				t.Fatal(err)
			}
			budget := int64(maxLogBytes)
			if limit > 0 {
				budget = limit
			}
			if len(pods) != maxPodsForLogs {
				t.Fatalf("%d pods, want %d", len(pods), maxPodsForLogs)
			}
			held := 0
			for _, p := range pods {
				if !p.Truncated || len(p.Lines) == 0 {
					t.Errorf("pod %s: %d lines, truncated %v; want some lines, truncated", p.Pod, len(p.Lines), p.Truncated)
				}
				for _, l := range p.Lines {
					held += len(l) + 1
				}
			}
			// Each pod may be sent one byte past its share: that byte
			// tells a cut stream from a finished one.
			if served := s.totalServed(); int64(served) > budget+maxPodsForLogs {
				t.Errorf("read %d bytes from the pods; the budget is %d", served, budget)
			}
			if int64(held) > budget {
				t.Errorf("holds %d bytes of lines; the budget is %d", held, budget)
			}
			if int64(held) < budget*9/10 {
				t.Errorf("holds %d bytes of lines: the budget of %d was not used", held, budget)
			}
		})
	}
}

// TestLogsQuietPodLeavesItsShare: what a short log leaves of its share
// goes to the pods after it.
func TestLogsQuietPodLeavesItsShare(t *testing.T) {
	big := strings.Repeat(strings.Repeat("b", 99)+"\n", (4<<20)/100)
	s := newLogServer(t, map[string]string{"orders-0": "started\n", "orders-1": big})
	pods, err := s.cluster(t).Logs(t.Context(), testService, bot.LogOptions{Tail: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if pods[0].Truncated || len(pods[0].Lines) != 1 || !pods[1].Truncated {
		t.Fatalf("pods: %s %d lines truncated %v; %s truncated %v", pods[0].Pod, len(pods[0].Lines), pods[0].Truncated, pods[1].Pod, pods[1].Truncated)
	}
	if asked := s.asked["orders-1"]; asked < maxLogBytes-100 {
		t.Errorf("the second pod was asked for %d bytes; want nearly the whole budget %d", asked, maxLogBytes)
	}
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("é", maxLineBytes) // 2 bytes each: the cut falls on a boundary
	tests := []struct {
		name      string
		in        string
		limit     int64
		want      []string
		cut       int
		truncated bool
	}{
		{name: "lines", in: "a\nb\r\nc", limit: 100, want: []string{"a", "b", "c"}},
		{name: "empty lines kept", in: "a\n\nb\n", limit: 100, want: []string{"a", "", "b"}},
		{name: "exactly the longest line is whole", in: strings.Repeat("x", maxLineBytes) + "\nnext\n", limit: 1 << 20,
			want: []string{strings.Repeat("x", maxLineBytes), "next"}},
		{name: "one byte longer is cut", in: strings.Repeat("x", maxLineBytes+1) + "\nnext\n", limit: 1 << 20,
			want: []string{strings.Repeat("x", maxLineBytes) + lineCutMarker, "next"}, cut: 1},
		{name: "a long last line without newline", in: "a\n" + strings.Repeat("y", 3*maxLineBytes), limit: 1 << 20,
			want: []string{"a", strings.Repeat("y", maxLineBytes) + lineCutMarker}, cut: 1},
		{name: "multibyte cut keeps whole runes", in: "z" + long + "\nok\n", limit: 1 << 20,
			want: []string{"z" + strings.Repeat("é", (maxLineBytes-1)/2) + lineCutMarker, "ok"}, cut: 1},
		{name: "limit drops the line it cuts", in: "one\ntwo\nthree\n", limit: 10, want: []string{"one", "two"}, truncated: true},
		{name: "limit at the end is not a cut", in: "one\ntwo\n", limit: 8, want: []string{"one", "two"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readLines(strings.NewReader(tc.in), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d", len(got.lines), len(tc.want))
			}
			for i := range got.lines {
				if got.lines[i] != tc.want[i] {
					t.Errorf("line %d: %d bytes %q…, want %d bytes %q…", i, len(got.lines[i]), first(got.lines[i:]), len(tc.want[i]), first(tc.want[i:]))
				}
			}
			if got.cut != tc.cut || got.truncated != tc.truncated {
				t.Errorf("cut %d truncated %v, want %d %v", got.cut, got.truncated, tc.cut, tc.truncated)
			}
		})
	}
}
