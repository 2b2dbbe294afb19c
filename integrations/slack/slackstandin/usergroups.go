package slackstandin

import (
	"net/http"
	"slices"
)

// MethodUserGroupsList is usergroups.list, which answers the groups set
// with SetUserGroups.
const MethodUserGroupsList = "usergroups.list"

// UserGroup is a Slack user group (a "subteam", id S…) and its members.
type UserGroup struct {
	ID, Handle, Name string
	Users            []string
	// Disabled groups are listed only when include_disabled is asked for,
	// as Slack does.
	Disabled bool
}

// SetUserGroups replaces the workspace's user groups, which
// usergroups.list answers from then on (none until it is called).
func (s *Server) SetUserGroups(groups ...UserGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userGroups = make([]UserGroup, len(groups))
	for i, g := range groups {
		g.Users = slices.Clone(g.Users)
		s.userGroups[i] = g
	}
}

// userGroupsList handles usergroups.list: the groups with their members
// when include_users is true (without it Slack leaves "users" out), the
// disabled ones only with include_disabled.
func (s *Server) userGroupsList(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	withUsers, withDisabled := truthy(req.get("include_users")), truthy(req.get("include_disabled"))
	s.mu.Lock()
	out := []map[string]any{}
	for _, g := range s.userGroups {
		if g.Disabled && !withDisabled {
			continue
		}
		v := map[string]any{
			"id": g.ID, "team_id": teamID, "is_usergroup": true, "is_subteam": true,
			"name": g.Name, "handle": g.Handle, "user_count": len(g.Users),
			"date_delete": 0,
		}
		if g.Disabled {
			v["date_delete"] = 1700000000
		}
		if withUsers {
			v["users"] = slices.Clone(g.Users)
		}
		out = append(out, v)
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "usergroups": out})
}
