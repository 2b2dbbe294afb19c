package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bakewise/chatops/test/harness"
)

// want is the final state of one incident's thread on both platforms.
type want struct {
	group  int
	status string // "Firing" or "Resolved": the root's Status field
	firing int
	resol  int
	// reply, when set, must be in the thread's last reply (the reply that
	// reports the phase's change).
	reply string
}

func (w want) statusText() string {
	return fmt.Sprintf("%s: %d firing, %d resolved", w.status, w.firing, w.resol)
}

// platformState is what one stand-in shows against the wanted state.
type platformState struct {
	converged bool
	// final: incidents whose root shows the final state; replied: those
	// whose thread ends with the wanted reply (or need none).
	final, replied int
	roots          int
	duplicates     int      // roots beyond one per incident
	dupIncidents   []int64  // incidents with more than one root
	unknown        int      // roots with no marker of a known incident
	missing        []string // incidents not (yet) final, with what they show
	// threadless: Discord roots with no thread started from them. Not a
	// condition of convergence (the bot starts a missing thread with the
	// next reply), but reported.
	threadless []int64
	rootsOf    map[int64]int  // incident → roots
	showsFinal map[int64]bool // incident → a root shows the final status
	repliedOK  map[int64]bool
}

// checkSlack reads Slack's channel against wants.
func (b *bench) checkSlack(wants map[int64]want) platformState {
	st := platformState{rootsOf: map[int64]int{}, showsFinal: map[int64]bool{}, repliedOK: map[int64]bool{}}
	msgs := b.slack.Messages(slackChannel)
	lastReply := map[string]string{} // root ts → last reply text
	for _, m := range msgs {
		if !m.IsRoot() {
			lastReply[m.ThreadTS] = m.Text
		}
	}
	status := map[int64]string{}
	for _, m := range msgs {
		if !m.IsRoot() {
			continue
		}
		st.roots++
		r := harness.SlackRoot(m, slackDest)
		id := r.Incident
		w, known := wants[id]
		if !r.Known || !known {
			st.unknown++
			continue
		}
		st.rootsOf[id]++
		s := r.Status
		if s == w.statusText() {
			st.showsFinal[id] = true
			if w.reply == "" || strings.Contains(lastReply[m.TS], w.reply) {
				st.repliedOK[id] = true
			}
		} else if !st.showsFinal[id] {
			status[id] = s
		}
	}
	st.finish(wants, status)
	return st
}

// checkDiscord reads Discord's channel and threads against wants.
func (b *bench) checkDiscord(wants map[int64]want) platformState {
	st := platformState{rootsOf: map[int64]int{}, showsFinal: map[int64]bool{}, repliedOK: map[int64]bool{}}
	status := map[int64]string{}
	for _, m := range b.discord.Messages(discordChannel) {
		st.roots++
		r := harness.DiscordRoot(m, discordDest)
		id, s := r.Incident, r.Status
		w, known := wants[id]
		if !r.Known || !known {
			st.unknown++
			continue
		}
		st.rootsOf[id]++
		if _, ok := b.discord.Thread(m.ID); !ok {
			st.threadless = append(st.threadless, id)
		}
		if s == w.statusText() {
			st.showsFinal[id] = true
			ok := w.reply == ""
			if !ok {
				replies := b.discord.Messages(m.ID)
				ok = len(replies) > 0 && strings.Contains(replies[len(replies)-1].Content, w.reply)
			}
			if ok {
				st.repliedOK[id] = true
			}
		} else if !st.showsFinal[id] {
			status[id] = s
		}
	}
	st.finish(wants, status)
	return st
}

func (st *platformState) finish(wants map[int64]want, status map[int64]string) {
	slices.Sort(st.threadless)
	ids := slices.Sorted(maps.Keys(wants))
	for _, id := range ids {
		w := wants[id]
		n := st.rootsOf[id]
		if n > 1 {
			st.duplicates += n - 1
			st.dupIncidents = append(st.dupIncidents, id)
		}
		if st.showsFinal[id] {
			st.final++
		}
		if st.repliedOK[id] {
			st.replied++
		}
		switch {
		case n == 0:
			st.missing = append(st.missing, fmt.Sprintf("#%d: no root", id))
		case !st.showsFinal[id]:
			st.missing = append(st.missing, fmt.Sprintf("#%d: root shows %q, want %q", id, status[id], w.statusText()))
		case !st.repliedOK[id]:
			st.missing = append(st.missing, fmt.Sprintf("#%d: last reply does not say %q", id, w.reply))
		}
	}
	st.converged = len(st.missing) == 0
}
