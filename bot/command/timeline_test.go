package command_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/access"
	"github.com/bakewise/chatops/bot/approval"
	"github.com/bakewise/chatops/bot/bottest"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/bot/incident"
	"github.com/bakewise/chatops/bot/outbox"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
	"github.com/bakewise/chatops/policy"
)

var t0 = bottest.T0

// The commands people run from an incident's thread, and the approvals
// they ask for there, land on the incident's timeline.
func TestTimeline(t *testing.T) {
	sqlstoretest.RunCases(t, []sqlstoretest.Case{
		{Name: "TimelineCommandsRunInAThread", Run: testTimelineCommandsInThread},
		{Name: "TimelineApprovalsInAThread", Run: testTimelineApprovalsInThread},
	})
}

const apChannel = "COPS"

var alice, bob, carol = bottest.Alice, bottest.Bob, bottest.Carol

// threadRig is an incident whose thread is posted at a Slack-like
// destination, a router with a timeline, and the engine.
type threadRig struct {
	s      bot.Store
	clock  *bottest.Clock
	e      *incident.Engine
	chat   *bottest.Chat
	d      *outbox.Dispatcher
	id     int64
	thread string
	router *command.Router
	ap     *approval.Service
	target *bottest.Target
	cards  *bottest.Cards
}

func newThreadRig(t *testing.T, s bot.Store) *threadRig {
	t.Helper()
	r := &threadRig{s: s, clock: bottest.NewClock(t0), chat: bottest.NewChat(), target: bottest.NewTarget(7, 2), cards: &bottest.Cards{}}
	routes := bot.Routes{{Destinations: []string{"ops"}}}
	r.e = incident.New(s, incident.Config{Routes: routes, Now: r.clock.Now}, zap.NewNop(), nil)
	r.d = outbox.New(s, outbox.Config{
		Destinations: []bot.Destination{{Name: "ops", Platform: "slack", Channel: apChannel}},
		Chats:        map[string]bot.Chat{"slack": r.chat},
		Now:          r.clock.Now,
	}, zap.NewNop(), nil)
	r.id = bottest.Ingest(t, r.e, bottest.Group("orders", bot.AlertFiring, bottest.Alert("a1", bot.AlertFiring, "critical", t0))).IncidentID
	bottest.Drain(t, r.d)
	roots := r.chat.Snapshot(apChannel)
	if len(roots) != 1 {
		t.Fatalf("%d roots", len(roots))
	}
	r.thread = roots[0].Ref.ThreadID

	tl := incident.NewTimeline(r.e, s, zap.NewNop())
	roles := access.New(policy.Access{Default: policy.Viewer, Users: map[string]policy.Role{
		"slack:UALICE": policy.Admin, "slack:UBOB": policy.Admin, "slack:UCAROL": policy.Member}}, nil)
	planner, err := command.NewTable("ops", []bot.CommandSpec{bottest.ScaleSpec(r.target)})
	if err != nil {
		t.Fatal(err)
	}
	r.ap = approval.New(s, roles, planner, approval.Config{Rule: policy.DefaultRule, Root: "ops",
		Cards: map[string]bot.CardPoster{"slack": r.cards}, Timeline: tl, Now: r.clock.Now}, zap.NewNop(), nil)
	specs := []bot.CommandSpec{
		bottest.ScaleSpec(r.target),
		{Name: "health", Summary: "health", Role: policy.Viewer, Args: []bot.Arg{{Name: "service", Positional: true}},
			Run: func(context.Context, bot.Invocation) (bot.Answer, error) { return bot.Answer{Title: "healthy"}, nil }},
		{Name: "broken", Summary: "fails", Role: policy.Viewer,
			Run: func(context.Context, bot.Invocation) (bot.Answer, error) {
				return bot.Answer{}, errors.New("cluster unreachable")
			}},
		{Name: "incident ack", Summary: "ack", Role: policy.Member, OwnTimeline: true,
			Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 40}},
			Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
				_, err := r.e.Acknowledge(ctx, int64(inv.Int("id", 0)), inv.Command.User, inv.Command.Channel)
				return bot.Answer{Title: "acked"}, err
			}},
		{Name: "approve", Summary: "approve", Role: policy.Viewer, OwnTimeline: true,
			Args: []bot.Arg{{Name: "id", Kind: bot.ArgInt, Positional: true, Required: true, Min: 1, Max: 1 << 40}},
			Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
				return r.ap.Approve(ctx, bot.Ballot{Who: inv.Command.User, Channel: inv.Command.Channel, ID: int64(inv.Int("id", 0)), Via: "command"}), nil
			}},
	}
	router, err := command.NewRouter(specs, command.Config{Root: "ops", Channels: []string{apChannel},
		Roles: roles, Audit: s, Timeline: tl, Actions: r.ap}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.router = router
	return r
}

func (r *threadRig) run(t *testing.T, who bot.Identity, thread, text string) bot.Answer {
	t.Helper()
	var a bottest.Answers
	r.router.Handle(context.Background(), bot.Command{Platform: who.Platform, User: who, Channel: apChannel, Thread: thread,
		Text: text, ReceivedAt: r.clock.Now()}, &a)
	return a.Last(t)
}

func (r *threadRig) actions(t *testing.T) []string {
	t.Helper()
	return bottest.Details(bottest.Get(t, r.s, r.id), bot.EventAction)
}

func testTimelineCommandsInThread(t *testing.T, s bot.Store) {
	r := newThreadRig(t, s)
	if id, err := s.IncidentByThread(context.Background(), "slack", apChannel, r.thread); err != nil || id != r.id {
		t.Fatalf("IncidentByThread = %d, %v; want %d", id, err, r.id)
	}
	if _, err := s.IncidentByThread(context.Background(), "discord", apChannel, r.thread); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("another platform's thread: %v, want ErrNotFound", err)
	}

	r.clock.Advance(time.Minute)
	r.run(t, carol, r.thread, "health orders")
	r.run(t, carol, r.thread, "broken")
	r.run(t, carol, "", "health")                                   // in the channel, not the thread
	r.run(t, carol, "1700000000.999999", "health")                  // some other thread
	r.run(t, carol, r.thread, "helath")                             // mistyped: nothing ran
	r.run(t, carol, r.thread, "scale orders 3")                     // refused: carol is a member
	r.run(t, carol, r.thread, fmt.Sprintf("incident ack %d", r.id)) // its own event
	want := []string{"carol ran /ops health orders", "carol ran /ops broken (it failed)"}
	if got := r.actions(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("actions on the timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d := bottest.Get(t, s, r.id)
	if k := bottest.Kinds(d); k[len(k)-1] != bot.EventAcknowledged {
		t.Fatalf("timeline kinds %v: the ack is its own event", k)
	}
	for _, e := range d.Timeline {
		if e.Kind == bot.EventAction && !e.At.Equal(r.clock.Now()) {
			t.Fatalf("action at %s, want the clock's %s", e.At, r.clock.Now())
		}
	}

	// The thread shows the commands already: the sync records them
	// without echoing them, and says what else changed.
	before := len(r.chat.Snapshot(apChannel)[0].Replies)
	bottest.Drain(t, r.d)
	replies := r.chat.Snapshot(apChannel)[0].Replies
	if len(replies) != before+1 || !strings.Contains(strings.Join(replies[len(replies)-1].Lines, "\n"), "acknowledged by carol") {
		t.Fatalf("replies after the commands: %+v", replies[before:])
	}
	r.clock.Advance(time.Minute)
	r.run(t, carol, r.thread, "health")
	bottest.Drain(t, r.d)
	if got := len(r.chat.Snapshot(apChannel)[0].Replies); got != before+1 {
		t.Fatalf("a command alone in the thread was echoed: %d replies", got-before)
	}
	th, err := s.Thread(context.Background(), r.id, "ops")
	if err != nil || th.LastEventID != bottest.Get(t, s, r.id).Timeline[len(bottest.Get(t, s, r.id).Timeline)-1].ID {
		t.Fatalf("thread at event %d (%v): the echo-free sync must still move on", th.LastEventID, err)
	}
	if bottest.OutboxDepth(t, s) != 0 {
		t.Fatalf("outbox depth %d", bottest.OutboxDepth(t, s))
	}
}

func testTimelineApprovalsInThread(t *testing.T, s bot.Store) {
	r := newThreadRig(t, s)
	a := r.run(t, alice, r.thread, "scale orders 5")
	var reqID int64
	if _, err := fmt.Sscanf(a.Title, "Request #%d", &reqID); err != nil {
		t.Fatalf("request not taken: %q", a.Title)
	}
	if ap, err := s.GetApproval(context.Background(), reqID); err != nil || ap.IncidentID != r.id {
		t.Fatalf("request's incident = %d (%v), want %d", ap.IncidentID, err, r.id)
	}
	r.clock.Advance(time.Minute)
	r.run(t, bob, r.thread, fmt.Sprintf("approve %d", reqID))
	if r.target.Runs() != 1 {
		t.Fatal("the approved scale did not run")
	}
	// Outside any thread: the request is no incident's.
	b := r.run(t, alice, "", "scale orders 4")
	var other int64
	fmt.Sscanf(b.Title, "Request #%d", &other)
	if ap, _ := s.GetApproval(context.Background(), other); other == 0 || ap.IncidentID != 0 {
		t.Fatalf("a request outside a thread belongs to incident %d", ap.IncidentID)
	}
	got := r.actions(t)
	want := []string{
		fmt.Sprintf("alice asked to scale deployment ns/orders (replicas 2 → 5) (request #%d, needs approval)", reqID),
		fmt.Sprintf("request #%d (scale) approved by bob", reqID),
		fmt.Sprintf("request #%d scale deployment ns/orders (replicas 2 → 5): Ran at 2026-11-20 02:15 UTC: scaled", reqID),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("actions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the API and the post-mortem read: every kind on the timeline.
	d := bottest.Get(t, s, r.id)
	md := outbox.PostMortem(d)
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Fatalf("the post-mortem's actions lack %q", w)
		}
	}
}
