package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

func consoleTests() []namedTest {
	return []namedTest{
		{"ConsoleIncidentListOrderAndPages", testConsoleListOrder},
		{"ConsoleIncidentListFilters", testConsoleListFilters},
		{"ConsoleTitleSearchWindows", testConsoleTextWindow},
		{"ConsoleThreadsAndLinks", testConsoleThreadsAndLinks},
		{"ConsoleApprovalList", testConsoleApprovalList},
		{"ConsoleAuditList", testConsoleAuditList},
		{"ConsoleTimesAndChangeMark", testConsoleTimesAndChangeMark},
	}
}

// consoleIncident stores an incident of service svc and alert name, opened
// at at, resolved an hour later when resolved is set.
func consoleIncident(t *testing.T, s bot.Store, key, alertname, svc string, sev bot.Severity, at time.Time, resolved bool) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.InTx(ctx, func(tx bot.Tx) error {
		inc := &bot.Incident{Receiver: "chatops", GroupKey: key, Status: bot.IncidentOpen, Severity: sev,
			Title: alertname + " · " + svc, OpenedAt: at, UpdatedAt: at,
			GroupLabels: map[string]string{"alertname": alertname}, CommonLabels: map[string]string{"service": svc}}
		var err error
		if id, err = tx.CreateIncident(ctx, inc); err != nil || !resolved {
			return err
		}
		inc.ID, inc.Status = id, bot.IncidentResolved
		end := at.Add(time.Hour)
		inc.ResolvedAt = &end
		return tx.UpdateIncident(ctx, inc)
	})
	if err != nil {
		t.Fatalf("store incident %s: %v", key, err)
	}
	return id
}

// walkList reads every page of q's list, limit incidents at a time, and
// returns their ids.
func walkList(t *testing.T, s bot.Store, q bot.IncidentQuery, limit int) []int64 {
	t.Helper()
	var ids []int64
	q.Limit = limit
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("IncidentList never ends")
		}
		page, next, err := s.IncidentList(context.Background(), q)
		if err != nil {
			t.Fatalf("IncidentList(%+v): %v", q, err)
		}
		if len(page) > limit {
			t.Fatalf("IncidentList returned %d incidents, limit %d", len(page), limit)
		}
		for _, inc := range page {
			ids = append(ids, inc.ID)
		}
		if next.IsZero() {
			return ids
		}
		if len(page) == limit && next != bot.CursorAfter(page[limit-1]) {
			t.Fatalf("a full page's next is %+v, not after its last incident", next)
		}
		q.After = next
	}
}

// The list puts open incidents first, most urgent then oldest, then the
// resolved ones newest first; pages of any size walk it exactly once.
func testConsoleListOrder(t *testing.T, s bot.Store) {
	type row struct {
		id       int64
		sev      bot.Severity
		resolved bool
	}
	var rows []row
	for i := range 23 {
		sev := bot.Severity((i * 7) % 4)
		resolved := i%3 == 0
		id := consoleIncident(t, s, fmt.Sprintf("g%d", i), "ServiceDown", "orders", sev, t0.Add(time.Duration(i)*time.Minute), resolved)
		rows = append(rows, row{id, sev, resolved})
	}
	sort.SliceStable(rows, func(a, b int) bool {
		ra, rb := rows[a], rows[b]
		switch {
		case ra.resolved != rb.resolved:
			return !ra.resolved
		case ra.resolved:
			return ra.id > rb.id
		case ra.sev != rb.sev:
			return ra.sev < rb.sev
		}
		return ra.id < rb.id
	})
	var want []int64
	for _, r := range rows {
		want = append(want, r.id)
	}
	all := bot.IncidentQuery{AnySeverity: true}
	for _, limit := range []int{1, 2, 5, 23, 200} {
		if got := walkList(t, s, all, limit); !slices.Equal(got, want) {
			t.Fatalf("pages of %d: %v, want %v", limit, got, want)
		}
	}
	open := all
	open.Status = bot.IncidentOpen
	gotOpen := walkList(t, s, open, 4)
	if n := len(gotOpen); n != 15 || !slices.Equal(gotOpen, want[:15]) {
		t.Fatalf("open only: %v, want %v", gotOpen, want[:15])
	}
	solved := all
	solved.Status = bot.IncidentResolved
	if got := walkList(t, s, solved, 3); !slices.Equal(got, want[15:]) {
		t.Fatalf("resolved only: %v, want %v", got, want[15:])
	}
	// Whatever a caller asks, a page is bounded.
	page, _, err := s.IncidentList(context.Background(), bot.IncidentQuery{AnySeverity: true, Limit: 1 << 30})
	if err != nil || len(page) != 23 {
		t.Fatalf("huge limit: %d incidents, %v", len(page), err)
	}
}

func testConsoleListFilters(t *testing.T, s bot.Store) {
	a := consoleIncident(t, s, "a", "ServiceDown", "orders-service", bot.P1, t0, false)
	b := consoleIncident(t, s, "b", "HighLatency", "orders-service", bot.P2, t0.Add(time.Minute), true)
	c := consoleIncident(t, s, "c", "ServiceDown", "auth-service", bot.P1, t0.Add(2*time.Minute), false)
	d := consoleIncident(t, s, "d", "Disk_100%_full", "auth-service", bot.P3, t0.Add(3*time.Minute), false)
	cases := []struct {
		name string
		q    bot.IncidentQuery
		want []int64
	}{
		{"all", bot.IncidentQuery{AnySeverity: true}, []int64{a, c, d, b}},
		{"severity", bot.IncidentQuery{Severity: bot.P1}, []int64{a, c}},
		{"severity none", bot.IncidentQuery{Severity: bot.P0}, nil},
		{"service", bot.IncidentQuery{AnySeverity: true, Service: "orders-service"}, []int64{a, b}},
		{"alertname", bot.IncidentQuery{AnySeverity: true, AlertName: "ServiceDown"}, []int64{a, c}},
		{"alertname and service", bot.IncidentQuery{AnySeverity: true, AlertName: "ServiceDown", Service: "auth-service"}, []int64{c}},
		{"text, any case", bot.IncidentQuery{AnySeverity: true, Text: "latency"}, []int64{b}},
		// % and _ are the text itself, not patterns.
		{"text with %", bot.IncidentQuery{AnySeverity: true, Text: "100%"}, []int64{d}},
		{"text with _", bot.IncidentQuery{AnySeverity: true, Text: "e_s"}, nil},
		{"text %", bot.IncidentQuery{AnySeverity: true, Text: "%"}, []int64{d}},
		{"resolved of a service", bot.IncidentQuery{AnySeverity: true, Service: "orders-service", Status: bot.IncidentResolved}, []int64{b}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := walkList(t, s, tc.q, 1); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func testConsoleThreadsAndLinks(t *testing.T, s bot.Store) {
	ctx := context.Background()
	outage := consoleIncident(t, s, bot.OutageGroupKey, bot.OutageAlertName, "", bot.P0, t0, false)
	a := seed(t, s, "a", bot.P1, t0)
	b := seed(t, s, "b", bot.P1, t0)
	alone := seed(t, s, "alone", bot.P2, t0)
	err := s.InTx(ctx, func(tx bot.Tx) error {
		ctx := context.Background()
		ctx2, ok := tx.(bot.CorrelationTx)
		if !ok {
			return fmt.Errorf("the store's Tx is no CorrelationTx")
		}
		_, err := ctx2.LinkCritical(ctx, outage, t0.Add(-time.Hour), 0, 100)
		return err
	})
	if err != nil {
		t.Fatalf("LinkCritical: %v", err)
	}
	l, err := s.IncidentLinks(ctx, outage, 10)
	if err != nil {
		t.Fatalf("IncidentLinks: %v", err)
	}
	if len(l.Outages) != 0 || len(l.Members) != 2 || l.Members[0].ID != a || l.Members[1].ID != b {
		t.Fatalf("outage's links: %+v", l)
	}
	if l, err = s.IncidentLinks(ctx, b, 10); err != nil || len(l.Outages) != 1 || l.Outages[0].ID != outage || len(l.Members) != 0 {
		t.Fatalf("incident's links: %+v, %v", l, err)
	}
	if l, err = s.IncidentLinks(ctx, outage, 1); err != nil || len(l.Members) != 1 {
		t.Fatalf("bounded links: %+v, %v", l, err)
	}
	if l, err = s.IncidentLinks(ctx, alone, 10); err != nil || len(l.Outages)+len(l.Members) != 0 {
		t.Fatalf("unlinked incident: %+v, %v", l, err)
	}

	for _, th := range []bot.Thread{
		{IncidentID: a, Destination: "slack-ops", Platform: "slack", Ref: bot.ThreadRef{Channel: "C1", RootID: "1.2", ThreadID: "1.2"}},
		{IncidentID: a, Destination: "discord-ops", Platform: "discord", Ref: bot.ThreadRef{Channel: "99", RootID: "7", ThreadID: "7"}},
		{IncidentID: b, Destination: "slack-ops", Platform: "slack", Ref: bot.ThreadRef{Channel: "C1", RootID: "3.4", ThreadID: "3.4"}},
	} {
		if err := s.SaveThread(ctx, th, t0); err != nil {
			t.Fatal(err)
		}
	}
	ths, err := s.Threads(ctx, a)
	if err != nil || len(ths) != 2 {
		t.Fatalf("Threads: %+v, %v", ths, err)
	}
	if ths[0].Destination != "discord-ops" || ths[0].Ref.ThreadID != "7" || ths[1].Platform != "slack" || ths[1].Ref.RootID != "1.2" || ths[1].IncidentID != a {
		t.Fatalf("Threads: %+v", ths)
	}
	if ths, err := s.Threads(ctx, alone); err != nil || len(ths) != 0 {
		t.Fatalf("no threads: %+v, %v", ths, err)
	}
}

func testConsoleApprovalList(t *testing.T, s bot.Store) {
	ctx := context.Background()
	inc := openIncident(t, s, "g")
	var pending, closed []int64
	for i := range 7 {
		a := pendingRequest(t0.Add(time.Duration(i) * time.Minute))
		if i%2 == 1 {
			a.Status = bot.ApprovalDone
			a.IncidentID = inc
		}
		id := storeApproval(t, s, a)
		if i%2 == 1 {
			closed = append([]int64{id}, closed...)
		} else {
			pending = append([]int64{id}, pending...)
		}
	}
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		return tx.AddVote(ctx, closed[0], bot.Vote{Voter: idBob, Role: 3, Approve: true, At: t0.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	walk := func(q bot.ApprovalQuery) (ids []int64, byID map[int64]bot.Approval) {
		byID = map[int64]bot.Approval{}
		q.Limit = 2
		for {
			page, err := s.ApprovalList(ctx, q)
			if err != nil {
				t.Fatalf("ApprovalList(%+v): %v", q, err)
			}
			for _, a := range page {
				ids, byID[a.ID] = append(ids, a.ID), a
			}
			if len(page) < q.Limit {
				return ids, byID
			}
			q.Before = page[len(page)-1].ID
		}
	}
	if got, _ := walk(bot.ApprovalQuery{Pending: true}); !slices.Equal(got, pending) {
		t.Fatalf("pending: %v, want %v", got, pending)
	}
	got, byID := walk(bot.ApprovalQuery{})
	if !slices.Equal(got, closed) {
		t.Fatalf("closed: %v, want %v", got, closed)
	}
	if v := byID[closed[0]].Votes; len(v) != 1 || !sameID(v[0].Voter, idBob) || !v[0].Approve {
		t.Fatalf("votes: %+v", v)
	}
	if got, _ := walk(bot.ApprovalQuery{IncidentID: inc, Pending: true}); !slices.Equal(got, closed) {
		t.Fatalf("the incident's: %v, want %v", got, closed)
	}
}

func testConsoleAuditList(t *testing.T, s bot.Store) {
	ctx := context.Background()
	if _, ok, err := s.LastAudit(ctx); ok || err != nil {
		t.Fatalf("LastAudit of an empty log: %v, %v", ok, err)
	}
	var recs []bot.AuditRecord
	for i := range 12 {
		r := auditRec(i, t0.Add(time.Duration(i)*time.Second))
		if i%3 == 0 {
			r.Actor, r.Action = idBob, "scale"
		}
		recs = append(recs, r)
	}
	appendAudit(t, s, recs...)
	walk := func(q bot.AuditQuery) (seqs []int64) {
		q.Limit = 5
		for {
			page, err := s.AuditList(ctx, q)
			if err != nil {
				t.Fatalf("AuditList(%+v): %v", q, err)
			}
			for _, r := range page {
				seqs = append(seqs, r.Seq)
			}
			if len(page) < q.Limit {
				return seqs
			}
			q.Before = page[len(page)-1].Seq
		}
	}
	want := func(keep func(i int) bool) (seqs []int64) {
		for i := 11; i >= 0; i-- {
			if keep(i) {
				seqs = append(seqs, int64(i+1))
			}
		}
		return seqs
	}
	if got, w := walk(bot.AuditQuery{}), want(func(int) bool { return true }); !slices.Equal(got, w) {
		t.Fatalf("all: %v, want %v", got, w)
	}
	bob := bot.Identity{Platform: idBob.Platform, UserID: idBob.UserID}
	if got, w := walk(bot.AuditQuery{Actor: bob}), want(func(i int) bool { return i%3 == 0 }); !slices.Equal(got, w) {
		t.Fatalf("bob's: %v, want %v", got, w)
	}
	if got, w := walk(bot.AuditQuery{Action: "health"}), want(func(i int) bool { return i%3 != 0 }); !slices.Equal(got, w) {
		t.Fatalf("health: %v, want %v", got, w)
	}
	if got := walk(bot.AuditQuery{Actor: bob, Action: "health"}); len(got) != 0 {
		t.Fatalf("bob's health: %v", got)
	}
	all := records(t, s, time.Time{})
	page, err := s.AuditList(ctx, bot.AuditQuery{Limit: 1})
	if err != nil || len(page) != 1 || page[0].Seq != 12 || page[0].Hash != all[11].Hash || page[0].Detail != all[11].Detail {
		t.Fatalf("newest row: %+v, %v; want %+v", page, err, all[11])
	}
	h, ok, err := s.LastAudit(ctx)
	if err != nil || !ok || h.Seq != 12 || h.Hash != all[11].Hash {
		t.Fatalf("LastAudit = %v %v %v, want 12:%s", h, ok, err, all[11].Hash)
	}
}

func testConsoleTimesAndChangeMark(t *testing.T, s bot.Store) {
	ctx := context.Background()
	m0, err := s.ChangeMark(ctx)
	if err != nil || m0 != (bot.ChangeMark{}) {
		t.Fatalf("ChangeMark of an empty store: %+v, %v", m0, err)
	}
	consoleIncident(t, s, "old", "ServiceDown", "orders", bot.P1, t0.Add(-40*24*time.Hour), true)
	recent := consoleIncident(t, s, "recent", "ServiceDown", "orders", bot.P2, t0.Add(-time.Hour), true)
	open := seed(t, s, "open", bot.P0, t0)
	err = s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LockIncident(ctx, open)
		if err != nil {
			return err
		}
		at := t0.Add(5 * time.Minute)
		inc.AckedAt, inc.AckedBy = &at, "slack:U0ALICE"
		return tx.UpdateIncident(ctx, inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	times, err := s.IncidentTimes(ctx, t0.Add(-30*24*time.Hour), 100)
	if err != nil || len(times) != 2 {
		t.Fatalf("IncidentTimes: %+v, %v", times, err)
	}
	if times[0].Severity != bot.P2 || !times[0].OpenedAt.Equal(t0.Add(-time.Hour)) || times[0].ResolvedAt == nil ||
		!times[0].ResolvedAt.Equal(t0) || times[0].AckedAt != nil {
		t.Fatalf("the resolved one (#%d): %+v", recent, times[0])
	}
	if times[1].Severity != bot.P0 || times[1].AckedAt == nil || !times[1].AckedAt.Equal(t0.Add(5*time.Minute)) || times[1].ResolvedAt != nil {
		t.Fatalf("the acknowledged one: %+v", times[1])
	}
	if times, err := s.IncidentTimes(ctx, t0.Add(-30*24*time.Hour), 1); err != nil || len(times) != 1 {
		t.Fatalf("bounded IncidentTimes: %+v, %v", times, err)
	}

	m1, err := s.ChangeMark(ctx)
	if err != nil || m1.Event == 0 || m1.Approval != 0 || m1.Audit != 0 {
		t.Fatalf("ChangeMark after an event: %+v, %v", m1, err)
	}
	storeApproval(t, s, pendingRequest(t0))
	appendAudit(t, s, auditRec(1, t0))
	m2, err := s.ChangeMark(ctx)
	if err != nil || m2.Event != m1.Event || m2.Approval == 0 || m2.Audit != 1 {
		t.Fatalf("ChangeMark after an approval and an audit row: %+v, %v", m2, err)
	}
}

// A title search reads the resolved incidents a window of ids at a time:
// a page may come back short with a next, and the walk still finds every
// match exactly once.
func testConsoleTextWindow(t *testing.T, s bot.Store) {
	var want []int64
	for i := range 30 {
		name := "Filler"
		if i%4 == 0 {
			name = "Needle"
		}
		id := consoleIncident(t, s, fmt.Sprintf("g%d", i), name, "x", bot.P2, t0.Add(time.Duration(i)*time.Minute), true)
		if i%4 == 0 {
			want = append([]int64{id}, want...)
		}
	}
	q := bot.IncidentQuery{AnySeverity: true, Text: "needle", TextWindow: 3, Limit: 2}
	var got []int64
	short := 0
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the search never ends")
		}
		page, next, err := s.IncidentList(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range page {
			got = append(got, inc.ID)
		}
		if next.IsZero() {
			break
		}
		if len(page) < q.Limit {
			short++
		}
		q.After = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("found %v, want %v", got, want)
	}
	if short == 0 {
		t.Fatal("no page stopped at its window")
	}
	// Without a text, no window: the pages are full.
	if got := walkList(t, s, bot.IncidentQuery{AnySeverity: true, TextWindow: 3}, 10); len(got) != 30 {
		t.Fatalf("unfiltered: %d incidents", len(got))
	}
}
