// Package policy makes chatops' access decisions: roles, identity → role,
// channel caps, the permission matrix and the two-person rule. It is pure:
// no I/O, no clock of its own, nothing but decisions over the values it is
// given, so every rule is a table test.
package policy

import (
	"fmt"
	"strings"
)

// Role is what a person may do, in increasing order (the operations guide's
// roles): a Viewer reads, a Member acknowledges and silences narrowly, an
// Admin operates (scale, rollback, restart), an Owner may do anything.
type Role int

const (
	// NoAccess is below every role: the bot answers nothing but a refusal.
	NoAccess Role = iota
	Viewer
	Member
	Admin
	Owner
)

var roleNames = map[Role]string{NoAccess: "none", Viewer: "viewer", Member: "member", Admin: "admin", Owner: "owner"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole accepts a role's name, case-insensitively.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return r, nil
		}
	}
	return NoAccess, fmt.Errorf("role %q: want viewer, member, admin or owner", s)
}

// Allows reports whether a holder of r may do what needs required.
func (r Role) Allows(required Role) bool { return r >= required && r > NoAccess }
