package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

func approvalTests() []namedTest {
	return []namedTest{
		{"ApprovalRoundTrip", testApprovalRoundTrip},
		{"ApprovalUnknown", testApprovalUnknown},
		{"ApprovalVoteOnce", testApprovalVoteOnce},
		{"ApprovalExactlyOnce", testApprovalExactlyOnce},
		{"ApprovalCountRequests", testApprovalCountRequests},
		{"ApprovalDue", testApprovalDue},
		{"IncidentAckAndOverride", testIncidentAckAndOverride},
		{"LockIncidentHoldsTheRow", testLockIncidentHoldsTheRow},
	}
}

var (
	idAlice = bot.Identity{Platform: "slack", UserID: "U0ALICE", Name: "alice"}
	idBob   = bot.Identity{Platform: "slack", UserID: "U0BOB", Name: "bob"}
	idCarol = bot.Identity{Platform: "discord", UserID: "400000000000000001", Name: "carol"}
)

func scalePlan() bot.Plan {
	return bot.Plan{
		Action:        "scale",
		Target:        "deployment bakery-ia/orders-service",
		Params:        map[string]string{"replicas": "5"},
		TargetVersion: "7",
		Preview:       []string{"replicas 2 → 5"},
		Warnings:      []string{"an HPA manages this deployment"},
		Role:          policy.Admin,
	}
}

// pendingRequest is a pending request by alice, expiring in 10 minutes.
func pendingRequest(created time.Time) *bot.Approval {
	p := scalePlan()
	return &bot.Approval{
		Nonce:       "n-" + created.Format("150405.000"),
		Status:      bot.ApprovalPending,
		Requester:   idAlice,
		Platform:    "slack",
		Channel:     "C0OPS",
		CommandText: "scale orders-service 5",
		Options:     map[string]string{"namespace": "bakery-ia"},
		Plan:        p,
		Hash:        p.Hash(),
		Quorum:      1,
		CreatedAt:   created,
		ExpiresAt:   created.Add(10 * time.Minute),
	}
}

func storeApproval(t *testing.T, s bot.Store, a *bot.Approval) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		var err error
		id, err = tx.CreateApproval(ctx, a)
		return err
	})
	if err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	return id
}

func readApproval(t *testing.T, s bot.Store, id int64) bot.Approval {
	t.Helper()
	a, err := s.GetApproval(context.Background(), id)
	if err != nil {
		t.Fatalf("GetApproval(%d): %v", id, err)
	}
	return a
}

// openIncident stores an open incident and returns its id.
func openIncident(t *testing.T, s bot.Store, key string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.InTx(ctx, func(tx bot.Tx) error {
		var err error
		id, err = tx.CreateIncident(ctx, &bot.Incident{Receiver: "chatops", GroupKey: key, Status: bot.IncidentOpen,
			Severity: bot.P1, Title: "ServiceDown · " + key, OpenedAt: t0, UpdatedAt: t0})
		return err
	})
	if err != nil {
		t.Fatalf("CreateIncident: %v", err)
	}
	return id
}

// sameID compares people by who they are, not by the groups they reported.
func sameID(a, b bot.Identity) bool {
	return a.Platform == b.Platform && a.UserID == b.UserID && a.Name == b.Name
}

// sameApproval compares two requests field by field, times by instant.
func sameApproval(t *testing.T, got, want bot.Approval) {
	t.Helper()
	eqTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	switch {
	case got.ID != want.ID || got.Nonce != want.Nonce || got.Status != want.Status || !sameID(got.Requester, want.Requester):
		t.Fatalf("approval = %d %q %s %+v, want %d %q %s %+v", got.ID, got.Nonce, got.Status, got.Requester,
			want.ID, want.Nonce, want.Status, want.Requester)
	case got.Platform != want.Platform || got.Channel != want.Channel || got.Thread != want.Thread || got.IncidentID != want.IncidentID:
		t.Fatalf("approval where = %s/%s/%s incident %d, want %s/%s/%s incident %d", got.Platform, got.Channel, got.Thread,
			got.IncidentID, want.Platform, want.Channel, want.Thread, want.IncidentID)
	case got.CommandText != want.CommandText || !maps.Equal(got.Options, want.Options):
		t.Fatalf("approval command = %q %v, want %q %v", got.CommandText, got.Options, want.CommandText, want.Options)
	case !reflect.DeepEqual(got.Plan, want.Plan) || got.Hash != want.Hash || got.Plan.Hash() != want.Hash:
		t.Fatalf("approval plan = %+v (hash %s), want %+v (hash %s)", got.Plan, got.Hash, want.Plan, want.Hash)
	case got.Quorum != want.Quorum || got.Reason != want.Reason || got.Card != want.Card || got.Result != want.Result:
		t.Fatalf("approval = quorum %d reason %q card %+v result %q, want %d %q %+v %q", got.Quorum, got.Reason, got.Card,
			got.Result, want.Quorum, want.Reason, want.Card, want.Result)
	case !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!eqTime(got.DecidedAt, want.DecidedAt) || !eqTime(got.ExecutedAt, want.ExecutedAt):
		t.Fatalf("approval times = %s %s %v %v, want %s %s %v %v", got.CreatedAt, got.ExpiresAt, got.DecidedAt,
			got.ExecutedAt, want.CreatedAt, want.ExpiresAt, want.DecidedAt, want.ExecutedAt)
	case len(got.Votes) != len(want.Votes):
		t.Fatalf("approval votes = %+v, want %+v", got.Votes, want.Votes)
	}
	for i := range got.Votes {
		g, w := got.Votes[i], want.Votes[i]
		if !sameID(g.Voter, w.Voter) || g.Role != w.Role || g.Approve != w.Approve || !g.At.Equal(w.At) {
			t.Fatalf("vote %d = %+v, want %+v", i, g, w)
		}
	}
}

func testApprovalRoundTrip(t *testing.T, s bot.Store) {
	ctx := context.Background()
	want := *pendingRequest(t0.Add(123456 * time.Microsecond))
	want.IncidentID = openIncident(t, s, "orders")
	want.Thread = "1700000000.000100"
	want.Quorum = 2
	want.Reason = "break-glass: checkout is down"
	want.ID = storeApproval(t, s, &want)
	if want.ID == 0 {
		t.Fatal("CreateApproval returned id 0")
	}
	sameApproval(t, readApproval(t, s, want.ID), want)

	// Votes come back in the order they were cast, whatever the order of
	// the calls; the update moves what moves and nothing else.
	decided, executed := t0.Add(3*time.Minute), t0.Add(4*time.Minute)
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		a, err := tx.LockApproval(ctx, want.ID)
		if err != nil {
			return err
		}
		sameApproval(t, a, want)
		if err := tx.AddVote(ctx, a.ID, bot.Vote{Voter: idCarol, Role: policy.Owner, Approve: true, At: t0.Add(2 * time.Minute)}); err != nil {
			return err
		}
		if err := tx.AddVote(ctx, a.ID, bot.Vote{Voter: idBob, Role: policy.Admin, Approve: false, At: t0.Add(time.Minute)}); err != nil {
			return err
		}
		a.Status, a.DecidedAt, a.ExecutedAt = bot.ApprovalDone, &decided, &executed
		a.Card = bot.ThreadRef{Channel: "C0OPS", RootID: "1700000000.000200", ThreadID: "1700000000.000100"}
		a.Result, a.Reason = "scaled to 5", "approved by carol"
		// Fixed fields are not the update's to change.
		a.Plan.Params = map[string]string{"replicas": "0"}
		a.Quorum = 9
		return tx.UpdateApproval(ctx, &a)
	})
	if err != nil {
		t.Fatalf("vote and update: %v", err)
	}
	want.Status, want.DecidedAt, want.ExecutedAt = bot.ApprovalDone, &decided, &executed
	want.Card = bot.ThreadRef{Channel: "C0OPS", RootID: "1700000000.000200", ThreadID: "1700000000.000100"}
	want.Result, want.Reason = "scaled to 5", "approved by carol"
	want.Votes = []bot.Vote{
		{Voter: idBob, Role: policy.Admin, Approve: false, At: t0.Add(time.Minute)},
		{Voter: idCarol, Role: policy.Owner, Approve: true, At: t0.Add(2 * time.Minute)},
	}
	sameApproval(t, readApproval(t, s, want.ID), want)

	// Outside an incident's thread, with no options and a bare plan.
	bare := bot.Approval{Nonce: "n2", Status: bot.ApprovalPending, Requester: idBob, Platform: "discord", Channel: "D1",
		CommandText: "restart gateway", Plan: bot.Plan{Action: "restart", Target: "deployment bakery-ia/gateway"},
		Quorum: 1, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	bare.Hash = bare.Plan.Hash()
	bare.ID = storeApproval(t, s, &bare)
	sameApproval(t, readApproval(t, s, bare.ID), bare)
}

func testApprovalUnknown(t *testing.T, s bot.Store) {
	ctx := context.Background()
	if _, err := s.GetApproval(ctx, 424242); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("GetApproval(unknown) = %v, want ErrNotFound", err)
	}
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		_, err := tx.LockApproval(ctx, 424242)
		return err
	})
	if !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("LockApproval(unknown) = %v, want ErrNotFound", err)
	}
	err = s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		return tx.UpdateApproval(ctx, &bot.Approval{ID: 424242, Status: bot.ApprovalDenied})
	})
	if !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("UpdateApproval(unknown) = %v, want ErrNotFound", err)
	}
	// The database refuses a status it does not know.
	bad := pendingRequest(t0)
	bad.Status = "approved-ish"
	err = s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { _, err := tx.CreateApproval(ctx, bad); return err })
	if err == nil {
		t.Fatal("the database accepted an unknown approval status")
	}
}

func testApprovalVoteOnce(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id := storeApproval(t, s, pendingRequest(t0))
	vote := func(v bot.Vote) error {
		return s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error { return tx.AddVote(ctx, id, v) })
	}
	if err := vote(bot.Vote{Voter: idBob, Role: policy.Admin, Approve: true, At: t0.Add(time.Second)}); err != nil {
		t.Fatalf("first vote: %v", err)
	}
	// A double click, or a change of mind: the database keeps the first.
	if err := vote(bot.Vote{Voter: idBob, Role: policy.Admin, Approve: false, At: t0.Add(2 * time.Second)}); err == nil {
		t.Fatal("a second vote by the same person was accepted")
	}
	// The same user id on another platform is another person.
	other := bot.Identity{Platform: "discord", UserID: idBob.UserID, Name: "bob on discord"}
	if err := vote(bot.Vote{Voter: other, Role: policy.Member, Approve: true, At: t0.Add(3 * time.Second)}); err != nil {
		t.Fatalf("vote by the same id on another platform: %v", err)
	}
	a := readApproval(t, s, id)
	if len(a.Votes) != 2 || !sameID(a.Votes[0].Voter, idBob) || !a.Votes[0].Approve || !sameID(a.Votes[1].Voter, other) {
		t.Fatalf("votes = %+v, want bob's first vote and bob on discord", a.Votes)
	}
}

// Fifty approvers click at once on a request that needs three approvals:
// three votes land, exactly one transaction moves it to executing, and
// every click is audited on one unbroken chain.
func testApprovalExactlyOnce(t *testing.T, s bot.Store) {
	ctx := context.Background()
	req := pendingRequest(t0)
	req.Quorum = 3
	id := storeApproval(t, s, req)
	const clickers = 50
	var (
		wg          sync.WaitGroup
		transitions atomic.Int32
		errs        = make(chan error, clickers)
	)
	for i := range clickers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			voter := bot.Identity{Platform: "slack", UserID: fmt.Sprintf("U%03d", i), Name: fmt.Sprintf("approver-%d", i)}
			var executing bool
			err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
				executing = false
				a, err := tx.LockApproval(ctx, id)
				if err != nil {
					return err
				}
				outcome := "closed"
				if a.Status == bot.ApprovalPending {
					at := t0.Add(time.Duration(i+1) * time.Second)
					if err := tx.AddVote(ctx, id, bot.Vote{Voter: voter, Role: policy.Admin, Approve: true, At: at}); err != nil {
						return err
					}
					outcome = "approved"
					if len(a.Votes)+1 >= a.Quorum {
						a.Status, a.DecidedAt = bot.ApprovalExecuting, &at
						if err := tx.UpdateApproval(ctx, &a); err != nil {
							return err
						}
						executing = true
					}
				}
				return tx.AppendAudit(ctx, bot.AuditRecord{At: t0.Add(time.Duration(i) * time.Millisecond), Actor: voter,
					Kind: bot.AuditVote, Action: "scale", Outcome: outcome, ApprovalID: id, Channel: "C0OPS"})
			})
			if err != nil {
				errs <- fmt.Errorf("approver %d: %w", i, err)
				return
			}
			if executing {
				transitions.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := transitions.Load(); n != 1 {
		t.Fatalf("%d transactions moved the request to executing, want exactly 1", n)
	}
	a := readApproval(t, s, id)
	if a.Status != bot.ApprovalExecuting || len(a.Votes) != 3 {
		t.Fatalf("request is %s with %d votes, want executing with 3", a.Status, len(a.Votes))
	}
	approved := 0
	n, err := verifyChain(ctx, s, func(r bot.AuditRecord) {
		if r.Outcome == "approved" {
			approved++
		}
	})
	if err != nil || n != clickers || approved != 3 {
		t.Fatalf("audit chain: %d rows verified (%d approvals), %v; want %d rows, 3 approvals", n, approved, err, clickers)
	}
}

func testApprovalCountRequests(t *testing.T, s bot.Store) {
	ctx := context.Background()
	for _, at := range []time.Duration{0, 30 * time.Minute, 61 * time.Minute} {
		storeApproval(t, s, pendingRequest(t0.Add(at)))
	}
	other := pendingRequest(t0.Add(30 * time.Minute))
	other.Requester = idBob
	storeApproval(t, s, other)
	elsewhere := pendingRequest(t0.Add(30 * time.Minute))
	elsewhere.Requester.Platform = "discord" // same user id, another platform
	storeApproval(t, s, elsewhere)
	tests := []struct {
		name     string
		who      bot.Identity
		since    time.Time
		wantSeen int
	}{
		{"all of alice's", idAlice, t0, 3},
		{"the last hour", idAlice, t0.Add(time.Minute), 2},
		{"since is inclusive", idAlice, t0.Add(30 * time.Minute), 2},
		{"none yet", idAlice, t0.Add(2 * time.Hour), 0},
		{"bob", idBob, t0, 1},
		{"a stranger", idCarol, t0, 0},
	}
	for _, tc := range tests {
		var n int
		err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
			var err error
			n, err = tx.CountRequests(ctx, tc.who.Platform, tc.who.UserID, tc.since)
			return err
		})
		if err != nil || n != tc.wantSeen {
			t.Errorf("%s: CountRequests = %d, %v; want %d", tc.name, n, err, tc.wantSeen)
		}
	}
}

func testApprovalDue(t *testing.T, s bot.Store) {
	ctx := context.Background()
	// Expiring at t0+15m, t0+5m, t0+10m; one already decided; one far off.
	late := storeApproval(t, s, pendingRequest(t0.Add(5*time.Minute)))
	first := storeApproval(t, s, pendingRequest(t0.Add(-5*time.Minute)))
	second := storeApproval(t, s, pendingRequest(t0))
	denied := pendingRequest(t0.Add(-time.Hour))
	denied.Status = bot.ApprovalDenied
	storeApproval(t, s, denied)
	storeApproval(t, s, pendingRequest(t0.Add(time.Hour)))
	err := s.ApprovalTx(ctx, func(tx bot.ApprovalTx) error {
		return tx.AddVote(ctx, second, bot.Vote{Voter: idBob, Role: policy.Admin, Approve: true, At: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(as []bot.Approval) []int64 {
		out := []int64{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []int64
	}{
		{"nothing expired yet", t0.Add(4 * time.Minute), 10, []int64{}},
		{"expiry is inclusive", t0.Add(5 * time.Minute), 10, []int64{first}},
		{"oldest first", t0.Add(15 * time.Minute), 10, []int64{first, second, late}},
		{"limit", t0.Add(15 * time.Minute), 2, []int64{first, second}},
		{"no limit means the default", t0.Add(15 * time.Minute), 0, []int64{first, second, late}},
	}
	for _, tc := range tests {
		got, err := s.DueApprovals(ctx, tc.now, tc.limit)
		if err != nil || fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s: DueApprovals = %v, %v; want %v", tc.name, ids(got), err, tc.want)
		}
		for _, a := range got {
			if a.ID == second && (len(a.Votes) != 1 || !sameID(a.Votes[0].Voter, idBob)) {
				t.Errorf("%s: request %d votes = %+v, want bob's", tc.name, a.ID, a.Votes)
			}
		}
	}
}

func testIncidentAckAndOverride(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id := seed(t, s, "orders", bot.P2, t0)
	if d := get(t, s, id); d.AckedAt != nil || d.AckedBy != "" || d.SeverityOverride != nil {
		t.Fatalf("a new incident is acked %v by %q, override %v; want none", d.AckedAt, d.AckedBy, d.SeverityOverride)
	}
	ackedAt := t0.Add(90*time.Second + 250*time.Microsecond)
	p0 := bot.P0
	err := s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LockIncident(ctx, id)
		if err != nil {
			return err
		}
		inc.AckedAt, inc.AckedBy, inc.SeverityOverride = &ackedAt, "slack:U0ALICE", &p0
		inc.UpdatedAt = ackedAt
		return tx.UpdateIncident(ctx, inc)
	})
	if err != nil {
		t.Fatalf("ack: %v", err)
	}
	d := get(t, s, id)
	if d.AckedAt == nil || !d.AckedAt.Equal(ackedAt) || d.AckedBy != "slack:U0ALICE" || d.SeverityOverride == nil || *d.SeverityOverride != bot.P0 {
		t.Fatalf("after ack: acked %v by %q, override %v; want %s by slack:U0ALICE, P0", d.AckedAt, d.AckedBy, d.SeverityOverride, ackedAt)
	}
	if incs := list(t, s, bot.IncidentOpen); len(incs) != 1 || incs[0].AckedBy != "slack:U0ALICE" {
		t.Fatalf("ListIncidents lost the ack: %+v", incs)
	}
	// The group's next notification reads them back with the incident.
	err = s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LatestIncident(ctx, "chatops", "orders")
		if err != nil {
			return err
		}
		if inc == nil || inc.AckedBy != "slack:U0ALICE" || inc.AckedAt == nil || inc.SeverityOverride == nil {
			return fmt.Errorf("LatestIncident = %+v, want the ack and the override", inc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Clearing the override stores NULL, not P0.
	err = s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LockIncident(ctx, id)
		if err != nil {
			return err
		}
		inc.SeverityOverride = nil
		return tx.UpdateIncident(ctx, inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	if d = get(t, s, id); d.SeverityOverride != nil || d.AckedBy == "" {
		t.Fatalf("after clearing: override %v acked by %q, want nil and still acked", d.SeverityOverride, d.AckedBy)
	}
	err = s.InTx(ctx, func(tx bot.Tx) error { _, err := tx.LockIncident(ctx, 999999); return err })
	if !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("LockIncident(unknown) = %v, want ErrNotFound", err)
	}
	// The database refuses a severity outside P0..P3.
	bad := bot.Severity(7)
	err = s.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LockIncident(ctx, id)
		if err != nil {
			return err
		}
		inc.SeverityOverride = &bad
		return tx.UpdateIncident(ctx, inc)
	})
	if err == nil {
		t.Fatal("the database accepted severity override 7")
	}
}

// A second transaction locking the same incident waits for the first to
// commit, and then sees its change.
func testLockIncidentHoldsTheRow(t *testing.T, s bot.Store) {
	ctx := context.Background()
	id := openIncident(t, s, "orders")
	locked, release := make(chan struct{}), make(chan struct{})
	firstErr := make(chan error, 1)
	go func() {
		firstErr <- s.InTx(ctx, func(tx bot.Tx) error {
			inc, err := tx.LockIncident(ctx, id)
			if err != nil {
				close(locked)
				return err
			}
			close(locked)
			<-release
			inc.AckedBy = "first"
			return tx.UpdateIncident(ctx, inc)
		})
	}()
	<-locked
	seen := make(chan string, 1)
	secondErr := make(chan error, 1)
	go func() {
		secondErr <- s.InTx(ctx, func(tx bot.Tx) error {
			inc, err := tx.LockIncident(ctx, id)
			if err != nil {
				return err
			}
			seen <- inc.AckedBy
			inc.AckedBy += "+second"
			return tx.UpdateIncident(ctx, inc)
		})
	}()
	// Give the second transaction time to reach the lock and wait there.
	time.Sleep(200 * time.Millisecond)
	select {
	case by := <-seen:
		t.Fatalf("the second transaction read the incident (acked by %q) while the first held it", by)
	default:
	}
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("first transaction: %v", err)
	}
	if err := <-secondErr; err != nil {
		t.Fatalf("second transaction: %v", err)
	}
	if by := <-seen; by != "first" {
		t.Fatalf("the second transaction saw acked_by %q, want the first's commit", by)
	}
	if d := get(t, s, id); d.AckedBy != "first+second" {
		t.Fatalf("acked_by = %q, want first+second", d.AckedBy)
	}
}
