package policy

// Person is someone asking for something, as the platform vouches for them.
type Person struct {
	Platform, UserID string
	// Groups are Slack user group ids or Discord guild role ids.
	Groups []string
	// Channel is where they ask.
	Channel string
}

// Key names an identity, group or channel on one platform: "slack:U123".
func Key(platform, id string) string { return platform + ":" + id }

// Access maps chat identities to roles. Keys are Key(platform, id).
type Access struct {
	// Default is the role of people no mapping names: Viewer, or NoAccess
	// to answer strangers with a refusal only.
	Default Role
	// Users and Groups grant roles; a person holds the highest role any of
	// their entries grants.
	Users  map[string]Role
	Groups map[string]Role
	// ChannelCaps caps everyone in a channel at a role (a public channel
	// capped at Member cannot be used to operate).
	ChannelCaps map[string]Role
}

// RoleOf is p's role in p.Channel.
func (a Access) RoleOf(p Person) Role {
	role, named := a.Users[Key(p.Platform, p.UserID)]
	for _, g := range p.Groups {
		if r, ok := a.Groups[Key(p.Platform, g)]; ok {
			named = true
			role = max(role, r)
		}
	}
	if !named {
		role = a.Default
	}
	if capRole, ok := a.ChannelCaps[Key(p.Platform, p.Channel)]; ok && p.Channel != "" {
		role = min(role, capRole)
	}
	return role
}
