package main

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

// maxSamples bounds the examples a report lists.
const maxSamples = 10

// checkStore holds the store against what the sender was acknowledged:
// every alert a 2xx acknowledged is stored, a resolution acknowledged is
// stored resolved, and each group is one incident.
func (s *soak) checkStore(ctx context.Context, w *sent) {
	rows, err := s.pool.Query(ctx, `SELECT fingerprint, status FROM alerts`)
	if err != nil {
		s.fail("read the alerts: %v", err)
		return
	}
	stored := map[string]string{}
	for rows.Next() {
		var fp, st string
		if err := rows.Scan(&fp, &st); err != nil {
			s.fail("read the alerts: %v", err)
			return
		}
		stored[fp] = st
	}
	if err := rows.Err(); err != nil {
		s.fail("read the alerts: %v", err)
		return
	}
	s.res.AlertsAcked = len(w.acked)
	for _, fp := range slices.Sorted(maps.Keys(w.acked)) {
		a := w.acked[fp]
		st, ok := stored[fp]
		switch {
		case !ok:
			s.res.Lost++
			s.sample(fmt.Sprintf("%s (group %s): acknowledged %s, not stored", fp, a.group, a.status))
		case a.status == "resolved" && st != "resolved":
			s.res.Stale++
			s.sample(fmt.Sprintf("%s (group %s): acknowledged resolved, stored %s", fp, a.group, st))
		}
	}
	for _, g := range w.groups {
		if len(g.split) > 0 {
			s.res.Splits++
			s.fail("group %s was answered with more than one incident: %d and %v", g.name, g.incident, g.split)
		}
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM incidents`).Scan(&s.res.Incidents); err != nil {
		s.fail("count the incidents: %v", err)
	}
	if s.res.Lost > 0 || s.res.Stale > 0 {
		s.fail("%d acknowledged alerts not stored, %d acknowledged resolutions not stored (of %d acknowledged alerts)", s.res.Lost, s.res.Stale, s.res.AlertsAcked)
	}
	logf("store: %d acknowledged alerts, %d lost, %d resolutions lost; %d incidents", s.res.AlertsAcked, s.res.Lost, s.res.Stale, s.res.Incidents)
}

func (s *soak) sample(msg string) {
	if len(s.res.LostSamples) < maxSamples {
		s.res.LostSamples = append(s.res.LostSamples, msg)
	}
}

// stored is an incident as the store holds it: what its roots must show.
type stored struct {
	status, severity string
}

// storedIncidents reads every incident's state and the outbox's depth.
func (s *soak) storedIncidents(ctx context.Context) (map[int64]stored, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, status, severity, firing, resolved FROM incidents`)
	if err != nil {
		return nil, 0, err
	}
	out := map[int64]stored{}
	for rows.Next() {
		var (
			id                     int64
			status                 string
			sev, firing, resolvedN int
		)
		if err := rows.Scan(&id, &status, &sev, &firing, &resolvedN); err != nil {
			return nil, 0, err
		}
		out[id] = stored{status: harness.RootStatus(status, firing, resolvedN), severity: "P" + strconv.Itoa(sev)}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var depth int
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&depth)
	return out, depth, err
}

// threads is what both channels show: each incident's roots per
// platform, and each thread's replies, as lists of lines.
type threads struct {
	roots   map[string]map[int64][]harness.Root // platform → incident → roots
	replies map[string]map[string][][]string    // platform → thread → replies' lines
	unknown map[string]int                      // roots of no incident of this run
}

func (s *soak) readThreads() threads {
	t := threads{
		roots:   map[string]map[int64][]harness.Root{"slack": {}, "discord": {}},
		replies: map[string]map[string][][]string{"slack": {}, "discord": {}},
		unknown: map[string]int{},
	}
	for _, m := range s.slack.Messages(slackChannel) {
		if !m.IsRoot() {
			t.replies["slack"][m.ThreadTS] = append(t.replies["slack"][m.ThreadTS], harness.SlackReplyLines(m))
			continue
		}
		r := harness.SlackRoot(m, slackDest)
		if !r.Known {
			t.unknown["slack"]++
			continue
		}
		t.roots["slack"][r.Incident] = append(t.roots["slack"][r.Incident], r)
	}
	for _, m := range s.discord.Messages(discordChannel) {
		r := harness.DiscordRoot(m, discordDest)
		if !r.Known {
			t.unknown["discord"]++
			continue
		}
		t.roots["discord"][r.Incident] = append(t.roots["discord"][r.Incident], r)
		for _, rep := range s.discord.Messages(m.ID) {
			t.replies["discord"][m.ID] = append(t.replies["discord"][m.ID], harness.DiscordReplyLines(rep))
		}
	}
	return t
}

// behind lists the incidents whose roots do not (yet) show them as
// stored, on either platform.
func behind(incs map[int64]stored, t threads) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(incs)) {
		want := incs[id]
		for _, p := range []string{"slack", "discord"} {
			ok := false
			var got []string
			for _, r := range t.roots[p][id] {
				ok = ok || (r.Status == want.status && r.Severity == want.severity)
				got = append(got, r.Severity+" "+r.Status)
			}
			if !ok {
				out = append(out, fmt.Sprintf("#%d on %s: shows %q, stored %s %s", id, p, got, want.severity, want.status))
			}
		}
	}
	return out
}

// converge waits until every root shows its incident as stored on both
// platforms, or -converge-timeout passes. The outbox need not be empty
// then: the incidents still open are reminded every minute, and a reply
// owed is no root behind.
func (s *soak) converge(ctx context.Context, w *sent) {
	c := s.cfg
	if w.stopped.IsZero() {
		s.fail("no webhook was acknowledged")
		return
	}
	deadline := time.Now().Add(c.convergeTimeout)
	lastLog := time.Now()
	for {
		incs, depth, err := s.storedIncidents(ctx)
		var late []string
		if err == nil {
			late = behind(incs, s.readThreads())
		}
		now := time.Now()
		if err == nil && len(late) == 0 {
			s.res.Converged, s.res.DepthAtConvergence = true, depth
			s.res.ConvergeAfterStopS = now.Sub(w.stopped).Seconds()
			if !w.lastKill.IsZero() {
				s.res.ConvergeAfterKillS = now.Sub(w.lastKill).Seconds()
			}
			logf("converged: every thread shows its incident (%d incidents) %.1f s after the last kill, %.1f s after the sender stopped",
				len(incs), s.res.ConvergeAfterKillS, s.res.ConvergeAfterStopS)
			return
		}
		if now.After(deadline) || ctx.Err() != nil {
			s.res.NotConverged = late[:min(len(late), maxSamples)]
			s.fail("threads not converged %s after the sender stopped: outbox depth %d, %d roots behind (%v); first: %v", c.convergeTimeout, depth, len(late), err, s.res.NotConverged)
			return
		}
		for _, r := range s.replicas {
			if r.bot.Process.Exited() {
				s.fail("replica %d exited on its own while converging: %v", r.index, r.bot.Process.Err())
				return
			}
		}
		if time.Since(lastLog) >= 15*time.Second {
			logf("converging: outbox depth %d, %d roots behind (first: %v)", depth, len(late), late[:min(len(late), 2)])
			lastLog = time.Now()
		}
		_ = harness.Sleep(ctx, pollEvery)
	}
}

// reminderLine is a reminder's line in a thread, and its detail on the
// timeline; its ordinal is the one captured.
var reminderLine = regexp.MustCompile(`^not acknowledged .* after opening \(.*\): (?:escalating to level ([0-9]+)|paging level [0-9]+ again \(reminder ([0-9]+)\)|reminder ([0-9]+))$`)

func reminderOrdinal(line string) (int, bool) {
	m := reminderLine.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	for _, g := range m[1:] {
		if g != "" {
			n, err := strconv.Atoi(g)
			return n, err == nil
		}
	}
	return 0, false
}

// checkThreads counts, once the threads have settled, the duplicate roots,
// the duplicate replies (a reply repeating a line of an earlier reply in
// its thread: re-sent after its answer was lost), and the reminders: fired
// twice on the timeline (two reminder events with one ordinal) or shown
// twice in a thread (one ordinal in two different lines).
func (s *soak) checkThreads(ctx context.Context) {
	_ = harness.Sleep(ctx, settle)
	t := s.readThreads()
	s.res.DuplicateRoots, s.res.DuplicateReplies, s.res.Replies = map[string]int{}, map[string]int{}, map[string]int{}
	s.res.RemindersShown, s.res.DupRemindersShown = map[string]int{}, map[string]int{}
	for _, p := range []string{"slack", "discord"} {
		var dupIDs []int64
		for id, roots := range t.roots[p] {
			if len(roots) > 1 {
				s.res.DuplicateRoots[p] += len(roots) - 1
				dupIDs = append(dupIDs, id)
			}
		}
		if s.res.DuplicateRoots[p] > 0 {
			slices.Sort(dupIDs)
			s.fail("%d duplicate root(s) on %s, incidents %v", s.res.DuplicateRoots[p], p, dupIDs[:min(len(dupIDs), maxSamples)])
		}
		if t.unknown[p] > 0 {
			s.fail("%d root(s) on %s carry no marker of this run's destination", t.unknown[p], p)
		}
		for _, replies := range t.replies[p] {
			seen := map[string]bool{}
			texts := map[int]map[string]bool{} // reminder ordinal → its lines
			for _, lines := range replies {
				s.res.Replies[p]++
				dup := false
				for _, l := range lines {
					if seen[l] && !dup && len(s.res.DupReplySamples) < maxSamples {
						s.res.DupReplySamples = append(s.res.DupReplySamples, fmt.Sprintf("%s: %q in %q", p, l, lines))
					}
					dup = dup || seen[l]
					if n, ok := reminderOrdinal(l); ok {
						if texts[n] == nil {
							texts[n] = map[string]bool{}
						}
						texts[n][l] = true
					}
				}
				for _, l := range lines {
					seen[l] = true
				}
				if dup {
					s.res.DuplicateReplies[p]++
				}
			}
			for _, ls := range texts {
				s.res.RemindersShown[p]++
				s.res.DupRemindersShown[p] += len(ls) - 1
			}
		}
		if s.res.DupRemindersShown[p] > 0 {
			s.fail("%d reminder(s) shown twice (one ordinal, two lines) in %s threads", s.res.DupRemindersShown[p], p)
		}
	}
	if bound := 2 * len(s.res.Kills); s.res.DuplicateReplies["slack"]+s.res.DuplicateReplies["discord"] > bound {
		s.note("%d duplicate replies, more than the %d that %d kills explain (one reply in flight per destination per kill)",
			s.res.DuplicateReplies["slack"]+s.res.DuplicateReplies["discord"], bound, len(s.res.Kills))
	}
	s.checkReminders(ctx)
}

// checkReminders reads the reminders fired from the timeline: each
// incident's ordinals must be distinct (no incident reopens in a soak, so
// an ordinal fired twice is a reminder fired twice).
func (s *soak) checkReminders(ctx context.Context) {
	rows, err := s.pool.Query(ctx, `SELECT incident_id, detail FROM timeline WHERE kind = 'reminder'`)
	if err != nil {
		s.fail("read the reminders: %v", err)
		return
	}
	defer rows.Close()
	type key struct {
		id int64
		n  int
	}
	seen := map[key]int{}
	for rows.Next() {
		var id int64
		var detail string
		if err := rows.Scan(&id, &detail); err != nil {
			s.fail("read the reminders: %v", err)
			return
		}
		s.res.RemindersFired++
		n, ok := reminderOrdinal(detail)
		if !ok {
			s.fail("reminder of incident #%d with an unexpected detail %q", id, detail)
			continue
		}
		if seen[key{id, n}]++; seen[key{id, n}] > 1 {
			s.res.DuplicateReminders++
		}
	}
	if s.res.DuplicateReminders > 0 {
		s.fail("%d reminder(s) fired twice (one incident, one ordinal, two timeline events)", s.res.DuplicateReminders)
	}
}
