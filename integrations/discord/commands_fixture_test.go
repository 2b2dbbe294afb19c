package discord

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/policy"
)

// Ids of the command tests.
const (
	testApp      = "1300000000000000003"
	testGuild    = "1400000000000000004"
	testThread   = "1500000000000000005"
	testUser     = "1600000000000000006"
	testOperator = "1200000000000000077" // a role the user holds
	otherChannel = "1100000000000000009"
)

// fakeIncidents is the store as the incident commands read it.
type fakeIncidents struct {
	list    []bot.Incident
	details map[int64]bot.IncidentDetail
}

func (f *fakeIncidents) ListIncidents(_ context.Context, flt bot.IncidentFilter) ([]bot.Incident, error) {
	var out []bot.Incident
	for _, inc := range f.list {
		if flt.Status == "" || inc.Status == flt.Status {
			out = append(out, inc)
		}
	}
	return out, nil
}

func (f *fakeIncidents) IncidentView(_ context.Context, id int64, alerts, events int) (bot.IncidentDetail, error) {
	d, ok := f.details[id]
	if !ok {
		return bot.IncidentDetail{}, bot.ErrNotFound
	}
	d.AlertsTotal, d.EventsTotal = d.AlertCount(), d.EventCount()
	d.Alerts = d.Alerts[:min(len(d.Alerts), max(alerts, 0))]
	d.Timeline = d.Timeline[len(d.Timeline)-min(len(d.Timeline), max(events, 0)):]
	return d, nil
}

// testIncidents are three incidents built from the shared Alertmanager
// fixtures: #12 service down (firing), #13 high memory, #14 gateway
// errors (resolved).
func testIncidents(t *testing.T) *fakeIncidents {
	t.Helper()
	f := &fakeIncidents{details: map[int64]bot.IncidentDetail{}}
	for i, groups := range [][]string{
		{"service-down-firing"},
		{"high-memory-two-pods", "high-memory-one-resolved"},
		{"gateway-error-rate"},
	} {
		var gs []bot.AlertGroup
		for _, g := range groups {
			gs = append(gs, loadGroup(t, g))
		}
		d := preview(t, gs...)
		d.ID = int64(12 + i)
		if i == 2 {
			d.Status = bot.IncidentResolved
			at := d.OpenedAt.Add(42 * 60e9)
			d.ResolvedAt = &at
		}
		f.details[d.ID] = d
		f.list = append(f.list, d.Incident)
	}
	return f
}

// logsRun records the commands the test logs command ran.
type logsRun struct {
	mu   sync.Mutex
	cmds []bot.Command
	// block, when set, holds each run until it is closed.
	block chan struct{}
}

func (l *logsRun) ran() []bot.Command {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.cmds)
}

// logsSpec stands for the logs command (written elsewhere): a service
// with autocomplete and the typed flags, answering --tail lines.
func logsSpec(rec *logsRun) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "logs",
		Summary: "Recent log lines of a service's pods",
		Role:    policy.Viewer,
		Args: []bot.Arg{
			{Name: "tail", Kind: bot.ArgInt, Min: 1, Max: 2000, Help: "how many lines (default 100, at most 2,000)"},
			{Name: "service", Positional: true, Required: true, Complete: "service", Help: "the deployment's name"},
			{Name: "since", Kind: bot.ArgDuration, Min: 1, Max: 86400, Help: "only lines this recent"},
			{Name: "container", Help: "one container of the pod"},
			{Name: "previous", Kind: bot.ArgBool, Help: "the previous container's logs"},
		},
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			if rec != nil {
				rec.mu.Lock()
				rec.cmds = append(rec.cmds, inv.Command)
				block := rec.block
				rec.mu.Unlock()
				if block != nil {
					select {
					case <-block:
					case <-ctx.Done():
						return bot.Answer{}, ctx.Err()
					}
				}
			}
			n := inv.Int("tail", 100)
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "2026-11-20T02:%02d:%02d.%03dZ orders-service-7c9f8d6b5-x2x4k INFO request %d served in %dms\n",
					(i/600)%60, (i/10)%60, (i%10)*100, i+1, 3+i%17)
			}
			return bot.Answer{
				Title: fmt.Sprintf("%s: last %d lines", inv.String("service"), n),
				Pre:   b.String(),
			}, nil
		},
	}
}

// pinnedTable is the part of the command table the goldens show: whoami
// and the incident commands from commands, and the stand-in logs command.
// New commands in commands do not change the goldens.
func pinnedTable(t *testing.T, incidents commands.IncidentReader, rec *logsRun) []bot.CommandSpec {
	t.Helper()
	keep := map[string]bool{"whoami": true, "incident list": true, "incident show": true}
	var specs []bot.CommandSpec
	for _, s := range commands.Table(commands.Deps{Incidents: incidents}, nil) {
		if keep[s.Name] {
			specs = append(specs, s)
			delete(keep, s.Name)
		}
	}
	if len(keep) != 0 {
		t.Fatalf("commands.Table lacks %v", keep)
	}
	return append(specs, logsSpec(rec))
}

func newRouter(t *testing.T, specs []bot.CommandSpec) *command.Router {
	t.Helper()
	r, err := command.NewRouter(specs, command.Config{Root: "ops", Channels: []string{testChannel}}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
