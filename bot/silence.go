package bot

import (
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
