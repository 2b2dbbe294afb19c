package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

func eq(name, value string) policy.SilenceMatcher {
	return policy.SilenceMatcher{Name: name, Value: value, Equal: true}
}

func TestParseMatchers(t *testing.T) {
	ok := []struct {
		name, in string
		want     []policy.SilenceMatcher
	}{
		{"spaces", "alertname=ServiceDown service=gateway",
			[]policy.SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "gateway")}},
		{"commas", "alertname=ServiceDown,service=gateway",
			[]policy.SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "gateway")}},
		{"spaces around operators and commas", `alertname = ServiceDown ,  service =  "orders-service"`,
			[]policy.SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "orders-service")}},
		{"all four operators", `alertname=HighMemoryUsage instance=~"pos-.*" env!~"dev|staging" team!=""`,
			[]policy.SilenceMatcher{
				eq("alertname", "HighMemoryUsage"),
				{Name: "instance", Value: "pos-.*", Equal: true, IsRegex: true},
				{Name: "env", Value: "dev|staging", IsRegex: true},
				{Name: "team", Value: ""},
			}},
		{"braces as pasted from Alertmanager", `{alertname="ServiceDown", service="gateway"}`,
			[]policy.SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "gateway")}},
		{"quoted space and comma", `alertname="Disk full, again" service=db`,
			[]policy.SilenceMatcher{eq("alertname", "Disk full, again"), eq("service", "db")}},
		{"escaped quote and backslash", `alertname="say \"hi\" \\o/"`,
			[]policy.SilenceMatcher{eq("alertname", `say "hi" \o/`)}},
		{"typographic quotes from a chat client", "alertname=\u201cServiceDown\u201d",
			[]policy.SilenceMatcher{eq("alertname", "ServiceDown")}},
		{"trailing comma and newline", "alertname=ServiceDown,\n",
			[]policy.SilenceMatcher{eq("alertname", "ServiceDown")}},
		{"value holding an equals sign", "alertname=a=b",
			[]policy.SilenceMatcher{eq("alertname", "a=b")}},
		{"non-ASCII value", "alertname=Panadería",
			[]policy.SilenceMatcher{eq("alertname", "Panadería")}},
		// Alertmanager's parser takes UTF-8 label names, bare or quoted.
		{"dotted label name", "alertname=X service.name=gateway",
			[]policy.SilenceMatcher{eq("alertname", "X"), eq("service.name", "gateway")}},
		{"colon in label name", "alertname=X job:rate=1",
			[]policy.SilenceMatcher{eq("alertname", "X"), eq("job:rate", "1")}},
		{"label name starting with a digit", "alertname=X 1st=a",
			[]policy.SilenceMatcher{eq("alertname", "X"), eq("1st", "a")}},
		{"non-ASCII label name", "alertname=X panadería=sí",
			[]policy.SilenceMatcher{eq("alertname", "X"), eq("panadería", "sí")}},
		{"quoted label name with a space and a comma", `alertname=X "team, on call" = "db"`,
			[]policy.SilenceMatcher{eq("alertname", "X"), eq("team, on call", "db")}},
		// Alertmanager keeps the classic reading of these: \d stays, and
		// only \" \\ and \n are escapes.
		{"regex class in quotes", `alertname=X code=~"5\d\d"`,
			[]policy.SilenceMatcher{eq("alertname", "X"), {Name: "code", Value: `5\d\d`, Equal: true, IsRegex: true}}},
		{"tab escape stays a backslash and a t", `alertname="a\tb"`,
			[]policy.SilenceMatcher{eq("alertname", `a\tb`)}},
		{"closing brace inside a quoted regex", `{alertname=X, id=~"[0-9]{3}"}`,
			[]policy.SilenceMatcher{eq("alertname", "X"), {Name: "id", Value: "[0-9]{3}", Equal: true, IsRegex: true}}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseMatchers(c.in)
			if err != nil {
				t.Fatalf("ParseMatchers(%q): %v", c.in, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ParseMatchers(%q) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}

	many := strings.Repeat("alertname=x ", MaxSilenceMatchers+1)
	bad := []struct {
		name, in, want string
	}{
		{"empty", "   ", "no matchers"},
		{"empty braces", "{}", "no matchers"},
		{"no operator", "alertname", `matcher "alertname": expected name=value`},
		{"unquoted space", "alertname=Service Down", `matcher "Down": expected name=value`},
		{"bang without equals", "alertname!ServiceDown", `matcher "alertname!ServiceDown": expected`},
		{"tilde alone", "alertname~ServiceDown", `matcher "alertname~ServiceDown": expected`},
		{"unterminated quote", `alertname="ServiceDown service=x`, "closing double quote is missing"},
		{"unterminated quoted name", `alertname=X "service=x`, "closing double quote is missing"},
		{"text after the closing quote", `alertname="Service"Down`, "after the closing quote"},
		{"quote inside an unquoted value", `alertname=Service"Down`, `matcher "alertname=Service\"Down": matcher value contains unescaped double quote`},
		{"no label name", "alertname=X =a", `matcher "=a": 0:1: unexpected =: expected label name`},
		{"empty quoted label name", `alertname=X ""=a`, `matcher "\"\"=a": label name "" is not valid`},
		{"label name with a reserved character", "alertname=X team'=a", `matcher "team'=a"`},
		{"bare regex ending in a brace", "alertname=X id=~[0-9]{3}", "unexpected open or close brace"},
		{"bad regex", `alertname=~"(Service"`, `matcher "alertname=~\"(Service\"": error parsing regexp: missing closing )`},
		{"value too long", "alertname=" + strings.Repeat("x", MaxMatcherLen+1), "257 characters long, more than 256"},
		{"too many matchers", many, "17 matchers, more than 16"},
		{"too much text", "alertname=" + strings.Repeat("x", maxMatchersInput), "bytes of text, more than 16384"},
		{"only a negative matcher", "service!=gateway", "every matcher also matches alerts without that label"},
		{"only a match-all regex", `service=~".*"`, "every matcher also matches alerts without that label"},
		{"only an empty value", `service=""`, "every matcher also matches alerts without that label"},
	}
	for _, c := range bad {
		t.Run("refuses/"+c.name, func(t *testing.T) {
			got, err := ParseMatchers(c.in)
			if err == nil {
				t.Fatalf("ParseMatchers(%q) = %+v, want an error containing %q", c.in, got, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseMatchers(%q) error = %q, want it to contain %q", c.in, err, c.want)
			}
		})
	}
}

// TestParseMatchersReadsStringBack: the silence command keeps the matchers
// of a pending approval as text, written by String() and joined by commas,
// and parses them again to execute; whatever a matcher holds, the text
// must read back to it.
func TestParseMatchersReadsStringBack(t *testing.T) {
	ms := []policy.SilenceMatcher{
		eq("alertname", "ServiceDown"),
		eq("msg", "tab\there, newline\nhere"),
		eq("quote", `say "hi" \o/ C:\temp\`),
		eq("typographic", "\u201chi\u201d"),
		eq("braces", "{a}"),
		eq("spaces", "  padded  "),
		{Name: "code", Value: `5\d{2}|x\{`, Equal: true, IsRegex: true},
		{Name: "service.name", Value: "gateway"},
		{Name: "team on call, really", Value: "db", IsRegex: true},
		eq(`odd"name\`, "x"),
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	text := strings.Join(parts, ",")
	got, err := ParseMatchers(text)
	if err != nil {
		t.Fatalf("ParseMatchers(%q): %v", text, err)
	}
	if !reflect.DeepEqual(got, ms) {
		t.Errorf("ParseMatchers(%q) =\n%+v\nwant\n%+v", text, got, ms)
	}
}

// goodSilence is a silence every check accepts; the cases below break one
// thing each.
func goodSilence() bot.Silence {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return bot.Silence{
		Matchers:  []policy.SilenceMatcher{eq("alertname", "ServiceDown"), eq("service", "gateway")},
		StartsAt:  start,
		EndsAt:    start.Add(2 * time.Hour),
		CreatedBy: "alice (slack U123)",
		Comment:   "deploying a fix, see INC-42",
	}
}

func TestValidateSilence(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *bot.Silence)
		want   string // "" means valid
	}{
		{"valid", func(*bot.Silence) {}, ""},
		{"exactly the longest duration", func(s *bot.Silence) { s.EndsAt = s.StartsAt.Add(MaxSilence) }, ""},
		{"longer than allowed", func(s *bot.Silence) { s.EndsAt = s.StartsAt.Add(MaxSilence + time.Second) }, "longer than the 168h0m0s allowed"},
		{"end equals start", func(s *bot.Silence) { s.EndsAt = s.StartsAt }, "is not after start time"},
		{"end before start", func(s *bot.Silence) { s.EndsAt = s.StartsAt.Add(-time.Minute) }, "is not after start time"},
		{"no start", func(s *bot.Silence) { s.StartsAt = time.Time{} }, "no start time"},
		{"no end", func(s *bot.Silence) { s.EndsAt = time.Time{} }, "no end time"},
		{"no matchers", func(s *bot.Silence) { s.Matchers = nil }, "no matchers"},
		{"16 matchers", func(s *bot.Silence) {
			for i := len(s.Matchers); i < MaxSilenceMatchers; i++ {
				s.Matchers = append(s.Matchers, eq(fmt.Sprintf("l%d", i), "v"))
			}
		}, ""},
		{"17 matchers", func(s *bot.Silence) {
			for i := len(s.Matchers); i <= MaxSilenceMatchers; i++ {
				s.Matchers = append(s.Matchers, eq(fmt.Sprintf("l%d", i), "v"))
			}
		}, "17 matchers, more than 16"},
		{"UTF-8 label name", func(s *bot.Silence) { s.Matchers[1].Name = "service.name" }, ""},
		{"empty label name", func(s *bot.Silence) { s.Matchers[1].Name = "" }, `label name "" is not valid`},
		{"label name not UTF-8", func(s *bot.Silence) { s.Matchers[1].Name = "\xff" }, `label name "\xff" is not valid`},
		{"label name too long", func(s *bot.Silence) { s.Matchers[1].Name = strings.Repeat("n", MaxMatcherLen+1) }, "label name is longer than 256"},
		{"value of 256 characters", func(s *bot.Silence) { s.Matchers[1].Value = strings.Repeat("é", MaxMatcherLen) }, ""},
		{"value of 257 characters", func(s *bot.Silence) { s.Matchers[1].Value = strings.Repeat("é", MaxMatcherLen+1) }, "257 characters long"},
		{"value not UTF-8", func(s *bot.Silence) { s.Matchers[1].Value = "\xff" }, "not valid UTF-8"},
		{"regex that does not compile", func(s *bot.Silence) {
			s.Matchers[1] = policy.SilenceMatcher{Name: "service", Value: "gate(way", Equal: true, IsRegex: true}
		}, `matcher service=~"gate(way": bad regular expression`},
		{"Perl lookahead (not RE2)", func(s *bot.Silence) {
			s.Matchers[1] = policy.SilenceMatcher{Name: "service", Value: "(?=gate)way", Equal: true, IsRegex: true}
		}, "bad regular expression"},
		{"regex that compiles only anchored", func(s *bot.Silence) {
			s.Matchers[1] = policy.SilenceMatcher{Name: "service", Value: "gate)|(?:way", Equal: true, IsRegex: true}
		}, "bad regular expression"},
		{"negative matchers only", func(s *bot.Silence) {
			s.Matchers = []policy.SilenceMatcher{{Name: "env", Value: "prod"}, {Name: "team", Value: "db.*", IsRegex: true}}
		}, "every matcher also matches alerts without that label"},
		{"a not-empty matcher narrows", func(s *bot.Silence) {
			s.Matchers = []policy.SilenceMatcher{{Name: "team", Value: ""}}
		}, ""},
		{"a not-matching-empty regex narrows", func(s *bot.Silence) {
			s.Matchers = []policy.SilenceMatcher{{Name: "team", Value: "a|b", Equal: true, IsRegex: true}}
		}, ""},
		{"empty author", func(s *bot.Silence) { s.CreatedBy = "" }, "author (createdBy) is empty"},
		{"blank author", func(s *bot.Silence) { s.CreatedBy = "  \t" }, "author (createdBy) is empty"},
		{"author too long", func(s *bot.Silence) { s.CreatedBy = strings.Repeat("a", MaxCreatedByLen+1) }, "author (createdBy) is 201 characters long, more than 200"},
		{"empty comment", func(s *bot.Silence) { s.Comment = "" }, "comment is empty"},
		{"comment of 1000 characters", func(s *bot.Silence) { s.Comment = strings.Repeat("ñ", MaxCommentLen) }, ""},
		{"comment too long", func(s *bot.Silence) { s.Comment = strings.Repeat("c", MaxCommentLen+1) }, "comment is 1001 characters long, more than 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := goodSilence()
			c.mutate(&s)
			err := ValidateSilence(s)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("ValidateSilence: %v, want nil", err)
			case c.want != "" && err == nil:
				t.Fatalf("ValidateSilence accepted it, want an error containing %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("ValidateSilence error = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// fakeSilenceAPI serves Alertmanager's API v2 silence routes from handler
// and counts the requests that reached it.
func fakeSilenceAPI(t *testing.T, handler http.HandlerFunc) (*API, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	api, err := NewAPI(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return api, &n
}

const silenceID = "8d1f6a63-2c1e-4f5b-9b8e-0a0b3c2d1e4f"

func TestCreateSilenceSendsTheSilence(t *testing.T) {
	var got map[string]any
	api, n := fakeSilenceAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/silences" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &got); err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"silenceID": silenceID})
	})
	s := goodSilence()
	s.Matchers = append(s.Matchers,
		policy.SilenceMatcher{Name: "env", Value: "dev|staging", IsRegex: true},
		policy.SilenceMatcher{Name: "team", Value: "db"})
	id, err := api.CreateSilence(context.Background(), s)
	if err != nil || id != silenceID {
		t.Fatalf("CreateSilence = %q, %v; want %q", id, err, silenceID)
	}
	if n.Load() != 1 {
		t.Fatalf("%d requests reached Alertmanager, want 1", n.Load())
	}
	want := map[string]any{
		"matchers": []any{
			map[string]any{"name": "alertname", "value": "ServiceDown", "isEqual": true, "isRegex": false},
			map[string]any{"name": "service", "value": "gateway", "isEqual": true, "isRegex": false},
			map[string]any{"name": "env", "value": "dev|staging", "isEqual": false, "isRegex": true},
			map[string]any{"name": "team", "value": "db", "isEqual": false, "isRegex": false},
		},
		"startsAt":  "2026-03-01T12:00:00.000Z",
		"endsAt":    "2026-03-01T14:00:00.000Z",
		"createdBy": "alice (slack U123)",
		"comment":   "deploying a fix, see INC-42",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Alertmanager received\n%v\nwant\n%v", got, want)
	}
}

func TestCreateSilenceRefusedLocallyNeverReachesAlertmanager(t *testing.T) {
	api, n := fakeSilenceAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"silenceID": silenceID})
	})
	s := goodSilence()
	s.EndsAt = s.StartsAt.Add(MaxSilence + time.Hour)
	_, err := api.CreateSilence(context.Background(), s)
	if err == nil || !strings.HasPrefix(err.Error(), "silence: lasts 169h0m0s, longer than") {
		t.Fatalf("CreateSilence error = %v, want the duration refused", err)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests reached Alertmanager, want none", n.Load())
	}
}

func TestCreateSilenceAlertmanagerErrors(t *testing.T) {
	long := strings.Repeat("r", 2*maxReasonLen)
	cases := []struct {
		name     string
		code     int
		body     any
		want     string
		rejected bool
	}{
		{"400 with its reason", http.StatusBadRequest, "Failed to create silence: end time can't be in the past",
			"silence: Alertmanager refused it: Failed to create silence: end time can't be in the past", true},
		{"400 with a long reason is clipped", http.StatusBadRequest, long,
			"silence: Alertmanager refused it: " + long[:maxReasonLen] + "…", true},
		{"500", http.StatusInternalServerError, "boom", "silence: post to Alertmanager: ", false},
		{"200 without an id", http.StatusOK, map[string]string{}, "silence: Alertmanager answered without a silence id", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api, _ := fakeSilenceAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, c.code, c.body) })
			_, err := api.CreateSilence(context.Background(), goodSilence())
			if err == nil {
				t.Fatal("CreateSilence succeeded, want an error")
			}
			if c.rejected && err.Error() != c.want || !c.rejected && !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error = %q, want %q", err, c.want)
			}
			var rej *RejectedError
			if errors.As(err, &rej) != c.rejected {
				t.Errorf("errors.As(%v, *RejectedError) = %v, want %v", err, !c.rejected, c.rejected)
			}
		})
	}
}

func TestCreateSilenceHonoursTheDeadline(t *testing.T) {
	api, _ := fakeSilenceAPI(t, func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * apiTimeout):
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := api.CreateSilence(ctx, goodSilence())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CreateSilence against a silent Alertmanager = %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > apiTimeout {
		t.Errorf("CreateSilence returned after %s, beyond the caller's deadline and apiTimeout", waited)
	}
}

func TestSilenceByIDErrors(t *testing.T) {
	api, n := fakeSilenceAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/silence/"+silenceID,
			r.Method == http.MethodDelete && r.URL.Path == "/api/v2/silence/"+silenceID:
			w.WriteHeader(http.StatusNotFound)
		default:
			writeJSON(w, http.StatusInternalServerError, "unexpected "+r.Method+" "+r.URL.Path)
		}
	})
	ctx := context.Background()
	if _, err := api.GetSilence(ctx, silenceID); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("GetSilence of an unknown id = %v, want ErrSilenceNotFound", err)
	}
	if err := api.ExpireSilence(ctx, silenceID); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("ExpireSilence of an unknown id = %v, want ErrSilenceNotFound", err)
	}
	before := n.Load()
	for _, id := range []string{"", "../alerts", "not-a-uuid"} {
		if _, err := api.GetSilence(ctx, id); err == nil || !strings.Contains(err.Error(), "not a silence id") {
			t.Errorf("GetSilence(%q) = %v, want the id refused", id, err)
		}
		if err := api.ExpireSilence(ctx, id); err == nil || !strings.Contains(err.Error(), "not a silence id") {
			t.Errorf("ExpireSilence(%q) = %v, want the id refused", id, err)
		}
	}
	if n.Load() != before {
		t.Errorf("malformed ids reached Alertmanager (%d requests)", n.Load()-before)
	}
}
