// Package webauth signs people into the web console with the team's
// identity (OpenID Connect, or a trusted authenticating proxy), keeps them
// signed in with a signed, expiring session cookie, and maps them to the
// same roles as chat. Pages read who is looking with ViewerFrom.
package webauth

import (
	"context"

	"github.com/bakewise/chatops/policy"
)

// Viewer is the signed-in person a page is rendered for.
type Viewer struct {
	// ID names them for the audit log: "slack:U123" (Sign in with Slack),
	// "oidc:<issuer-relative subject or email>", "proxy:<user>".
	ID string
	// Name is what pages show (display name, else email, else ID).
	Name string
	// Role is their role now, mapped as chat maps it.
	Role policy.Role
	// Via is how they signed in: "oidc" or "proxy".
	Via string
}

type viewerKey struct{}

// WithViewer is ctx carrying v, as the sign-in middleware sets it.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom is the viewer ctx carries, if any.
func ViewerFrom(ctx context.Context) (Viewer, bool) {
	v, ok := ctx.Value(viewerKey{}).(Viewer)
	return v, ok
}
