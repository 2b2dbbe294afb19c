package bot

import (
	"context"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Click is a button press on a message chatops posted, verified by its
// platform's inbound adapter.
type Click struct {
	User     Identity
	Platform string
	// Channel holds the message (for a thread: its parent channel);
	// Thread is the thread (Slack: root ts; Discord: thread channel id) or
	// "" outside one; MessageID is the clicked message (Slack ts, Discord
	// message id).
	Channel, Thread, MessageID string
	// ButtonID is the button's id (Button.ID: Slack action_id, Discord
	// custom_id); Value is Slack's button value ("" on Discord).
	ButtonID, Value string
	ReceivedAt      time.Time
}

// ClickHandler acts on button presses. It runs after the click was
// acknowledged, under a context that ends on shutdown, and answers through
// resp (only to the clicker when the Answer is Private).
type ClickHandler interface {
	HandleClick(ctx context.Context, c Click, resp Responder)
}

// CardPoster is the optional chat capability to post a standalone message
// (an approval card) in a channel or a thread and edit it later.
type CardPoster interface {
	// PostCard posts m in channel, inside thread when thread is not "".
	// The returned ref locates the message for EditCard (RootID is the
	// message; ThreadID the thread or "").
	PostCard(ctx context.Context, channel, thread string, m Message) (ThreadRef, error)
	EditCard(ctx context.Context, ref ThreadRef, m Message) error
}

// GroupLookup is the optional capability to tell which groups a person is
// in when the platform does not say so with each request (Slack user
// groups). Implementations cache with a short TTL.
type GroupLookup interface {
	Groups(ctx context.Context, userID string) ([]string, error)
}

// Buttons routes clicks: an approval card's buttons to the approvals, an
// incident's buttons to the command they stand for (so the same channel,
// role and audit rules apply as when it is typed).
type Buttons struct {
	Approvals *Approvals
	Router    *Router
	// Incidents reads the incident a runbook button is about (nil: runbook
	// buttons are refused).
	Incidents IncidentGetter
}

// HandleClick implements ClickHandler.
func (b *Buttons) HandleClick(ctx context.Context, c Click, resp Responder) {
	cmd := Command{Platform: c.Platform, User: c.User, Channel: c.Channel, Thread: c.Thread, ReceivedAt: c.ReceivedAt}
	if b.Approvals != nil {
		if a, ok := b.Approvals.HandleClick(ctx, c); ok {
			b.respond(ctx, resp, a)
			return
		}
	}
	if b.runbookClick(ctx, c, cmd, resp) {
		return
	}
	if text, ok := incidentButton(c.ButtonID); ok {
		cmd.Text = text
		b.Router.Handle(ctx, cmd, resp)
		return
	}
	cmd.Text = "(button " + clip(c.ButtonID, 100) + ")"
	a, _, _ := b.Router.refuse(ctx, cmd, "button", "refused", "That button is not one chatops knows.")
	b.respond(ctx, resp, a)
}

func (b *Buttons) respond(ctx context.Context, resp Responder, a Answer) {
	if err := resp.Respond(ctx, a); err != nil {
		b.Router.log.Warn("button answer not delivered", zap.Error(err))
	}
}

// incidentButton reads an incident root's button as the command it stands
// for: chatops:incident:ack:<id>, chatops:incident:resolve:<id>,
// chatops:incident:severity:<id>:<P0-P3>.
func incidentButton(buttonID string) (string, bool) {
	parts := strings.Split(buttonID, ":")
	if len(parts) < 4 || parts[0] != "chatops" || parts[1] != "incident" {
		return "", false
	}
	if id, err := strconv.ParseInt(parts[3], 10, 64); err != nil || id <= 0 {
		return "", false
	}
	switch {
	case len(parts) == 4 && (parts[2] == "ack" || parts[2] == "resolve"):
		return "incident " + parts[2] + " " + parts[3], true
	case len(parts) == 5 && parts[2] == "severity":
		if sev, err := ParseSeverity(parts[4]); err == nil {
			return "incident severity " + parts[3] + " " + sev.String(), true
		}
	}
	return "", false
}
