package discordstandin

import (
	"fmt"
	"net/http"
	"testing"
)

// Members and their roles are what the test set last; a member who left,
// or one never set, is Unknown Member; a channel's guild is DefaultGuildID
// unless set, and a thread's is its parent's. Faults apply as on any route.
func TestMembersAndChannelGuilds(t *testing.T) {
	s := newServer(t)
	const guild, user, role = "1400000000000000004", "1600000000000000006", "1500000000000000005"
	member := func() answer { return do(t, s, http.MethodGet, "guilds/"+guild+"/members/"+user, "") }

	if a := member(); a.status != http.StatusNotFound || a.code() != codeUnknownMember {
		t.Fatalf("a member never set: %d %v", a.status, a.body)
	}
	s.SetMember(guild, user, role)
	if a := member(); a.status != http.StatusOK || fmt.Sprint(a.body["roles"]) != "["+role+"]" || a.body["user"].(map[string]any)["id"] != user {
		t.Fatalf("member: %d %v", a.status, a.body)
	}
	s.SetMember(guild, user)
	if a := member(); fmt.Sprint(a.body["roles"]) != "[]" {
		t.Fatalf("roles removed: %v", a.body)
	}
	s.RemoveMember(guild, user)
	if a := member(); a.code() != codeUnknownMember {
		t.Fatalf("a member who left: %d %v", a.status, a.body)
	}
	s.FailNext(RouteGetMember, 1, ServerError{})
	if a := member(); a.status != http.StatusInternalServerError {
		t.Fatalf("fault: %d", a.status)
	}
	if n := s.Calls(RouteGetMember); n != 5 {
		t.Errorf("%d member calls, want 5", n)
	}

	root := post(t, s, channel, `{"content":"root"}`)
	if a := do(t, s, http.MethodPost, "channels/"+channel+"/messages/"+root+"/threads", `{"name":"t","auto_archive_duration":60}`); a.status != http.StatusCreated {
		t.Fatalf("thread: %d %v", a.status, a.body)
	}
	if a := do(t, s, http.MethodGet, "channels/"+channel, ""); a.body["guild_id"] != DefaultGuildID {
		t.Fatalf("channel: %v", a.body)
	}
	s.SetChannelGuild("1400000000000000099", channel)
	for _, id := range []string{channel, root} {
		if a := do(t, s, http.MethodGet, "channels/"+id, ""); a.body["guild_id"] != "1400000000000000099" {
			t.Errorf("channel %s after SetChannelGuild: %v", id, a.body)
		}
	}
	if a := do(t, s, http.MethodGet, "channels/not-a-channel", ""); a.code() != codeUnknownChannel {
		t.Errorf("unknown channel: %d %v", a.status, a.body)
	}
}
