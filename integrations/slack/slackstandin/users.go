package slackstandin

import "net/http"

// MethodUsersInfo is users.info, which answers the people set with
// SetUsers.
const MethodUsersInfo = "users.info"

// User is a Slack user as users.info describes them: the handle (Name),
// the full name and the display name people chose.
type User struct {
	ID, Name, RealName, DisplayName string
}

// SetUsers adds or replaces people users.info knows; any other id answers
// user_not_found, as Slack does.
func (s *Server) SetUsers(users ...User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = map[string]User{}
	}
	for _, u := range users {
		s.users[u.ID] = u
	}
}

// usersInfo handles users.info: the user's handle, real name and profile
// (display_name, real_name).
func (s *Server) usersInfo(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	s.mu.Lock()
	u, ok := s.users[req.get("user")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, slackError("user_not_found"))
		return
	}
	writeJSON(w, map[string]any{"ok": true, "user": map[string]any{
		"id": u.ID, "team_id": teamID, "name": u.Name, "real_name": u.RealName,
		"deleted": false, "is_bot": false,
		"profile": map[string]any{"real_name": u.RealName, "display_name": u.DisplayName},
	}})
}
