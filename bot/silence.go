package bot

import (
	"context"
	"time"

	"github.com/bakewise/chatops/policy"
)

// Silence is an Alertmanager silence as chatops creates it.
type Silence struct {
	Matchers []policy.SilenceMatcher
	StartsAt time.Time
	EndsAt   time.Time
	// CreatedBy is the chat user's name; Comment their reason.
	CreatedBy string
	Comment   string
}

// Silencer creates silences (Alertmanager's API v2).
type Silencer interface {
	// CreateSilence returns the new silence's id.
	CreateSilence(ctx context.Context, s Silence) (string, error)
}
