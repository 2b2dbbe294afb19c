package policy

import "testing"

func TestRoles(t *testing.T) {
	tests := []struct {
		in       string
		want     Role
		wantErr  bool
		allows   Role
		refuses  Role
		wantName string
	}{
		{in: "viewer", want: Viewer, allows: Viewer, refuses: Member, wantName: "viewer"},
		{in: " Member ", want: Member, allows: Viewer, refuses: Admin, wantName: "member"},
		{in: "ADMIN", want: Admin, allows: Member, refuses: Owner, wantName: "admin"},
		{in: "owner", want: Owner, allows: Owner, refuses: NoAccess + 100, wantName: "owner"},
		{in: "root", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseRole(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseRole(%q) error = %v", tc.in, err)
			}
			if err != nil {
				return
			}
			if r != tc.want || r.String() != tc.wantName {
				t.Fatalf("ParseRole(%q) = %v (%s)", tc.in, r, r)
			}
			if !r.Allows(tc.allows) || r.Allows(tc.refuses) {
				t.Fatalf("%s allows %s: %v; allows %s: %v", r, tc.allows, r.Allows(tc.allows), tc.refuses, r.Allows(tc.refuses))
			}
		})
	}
	// No access allows nothing, not even what needs no role.
	if NoAccess.Allows(NoAccess) || NoAccess.Allows(Viewer) {
		t.Fatal("NoAccess allowed something")
	}
}
