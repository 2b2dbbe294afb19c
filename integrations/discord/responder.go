package discord

import (
	"context"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

// Discord error codes of the interaction side.
const (
	codeUnknownMessage      = discordgo.ErrCodeUnknownMessage     // 10008
	codeUnknownWebhook      = discordgo.ErrCodeUnknownWebhook     // 10015: token not (yet) acknowledged, or expired
	codeUnknownInteraction  = discordgo.ErrCodeUnknownInteraction // 10062: too late to acknowledge
	codeAlreadyAcknowledged = discordgo.ErrCodeInteractionHasAlreadyBeenAcknowledged
)

// Interaction timing.
const (
	// tokenLifetime is how long an interaction token works; tokenMargin
	// keeps our last call clear of its end.
	tokenLifetime = 15 * time.Minute
	tokenMargin   = 30 * time.Second
	// deliverTimeout bounds delivering one answer (up to three calls),
	// even when the command's own context has ended.
	deliverTimeout = 15 * time.Second
	// Over HTTP our acknowledgement is the answer to Discord's request:
	// an edit can reach Discord before it has read that answer, and then
	// finds no response to edit. The first edit is tried again at these
	// intervals.
	firstEditRetries = 4
	firstEditBackoff = 150 * time.Millisecond
)

// interactionREST makes the REST calls of one interaction. It has its own
// discordgo session (sharing the client's HTTP client and transport):
// discordgo keeps a rate-limit bucket per interaction route forever, and
// these die with the interaction instead. Interaction calls skip our
// global limiter, as Discord exempts them from the global limit.
type interactionREST struct {
	c  *Client
	s  *discordgo.Session
	ix *discordgo.Interaction
}

func (c *Client) forInteraction(ix *discordgo.Interaction) *interactionREST {
	s, _ := discordgo.New(c.s.Token) // New cannot fail
	s.Client = c.s.Client
	s.UserAgent = c.s.UserAgent
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
	s.StateEnabled = false
	return &interactionREST{c: c, s: s, ix: ix}
}

// autocompleteResponse marshals an autocomplete result with its choices
// always present: discordgo omits an empty list, and Discord wants one.
type autocompleteResponse struct {
	Type discordgo.InteractionResponseType `json:"type"`
	Data struct {
		Choices []*discordgo.ApplicationCommandOptionChoice `json:"choices"`
	} `json:"data"`
}

// responseBody is what goes on the wire for an initial response.
func responseBody(resp *discordgo.InteractionResponse) any {
	if resp.Type != discordgo.InteractionApplicationCommandAutocompleteResult {
		return resp
	}
	var out autocompleteResponse
	out.Type = resp.Type
	out.Data.Choices = []*discordgo.ApplicationCommandOptionChoice{}
	if resp.Data != nil && resp.Data.Choices != nil {
		out.Data.Choices = resp.Data.Choices
	}
	return out
}

// respond sends the initial response through the callback route (the
// gateway's way; over HTTP it is the answer to Discord's request).
func (r *interactionREST) respond(ctx context.Context, resp *discordgo.InteractionResponse) error {
	return r.c.send(ctx, "interaction_callback", "respond to interaction "+r.ix.ID,
		func(opts ...discordgo.RequestOption) error {
			if resp.Type == discordgo.InteractionApplicationCommandAutocompleteResult {
				endpoint := discordgo.EndpointInteractionResponse(r.ix.ID, r.ix.Token)
				_, err := r.s.RequestWithBucketID("POST", endpoint, responseBody(resp), endpoint, opts...)
				return err
			}
			return r.s.InteractionRespond(r.ix, resp, opts...)
		})
}

func (r *interactionREST) editOriginal(ctx context.Context, e *discordgo.WebhookEdit) error {
	return r.c.send(ctx, "interaction_edit", "edit the response to interaction "+r.ix.ID,
		func(opts ...discordgo.RequestOption) error {
			_, err := r.s.InteractionResponseEdit(r.ix, e, opts...)
			return err
		})
}

func (r *interactionREST) deleteOriginal(ctx context.Context) error {
	return r.c.send(ctx, "interaction_delete", "delete the response to interaction "+r.ix.ID,
		func(opts ...discordgo.RequestOption) error {
			return r.s.InteractionResponseDelete(r.ix, opts...)
		})
}

func (r *interactionREST) followup(ctx context.Context, p *discordgo.WebhookParams) error {
	return r.c.send(ctx, "interaction_followup", "follow up on interaction "+r.ix.ID,
		func(opts ...discordgo.RequestOption) error {
			_, err := r.s.FollowupMessageCreate(r.ix, true, p, opts...)
			return err
		})
}

// responder answers one deferred command. The deferral was ephemeral or
// public before the answer was known; when the answer's visibility is the
// same, it replaces the deferred response. When it differs, the answer
// becomes a follow-up of its own visibility. Discord turns the first
// follow-up after a deferral into an edit of the deferred message and
// keeps that message's visibility, so the deferred message is settled
// first with a neutral line, then the answer follows, then the line is
// deleted. A private answer is thus never shown in public, even for a
// moment.
type responder struct {
	rest            *interactionREST
	deferredPrivate bool
	base            string
	expires         time.Time
	// retryFirstEdit: the acknowledgement went out as an HTTP answer.
	retryFirstEdit bool
	log            *zap.Logger
}

var _ bot.Responder = (*responder)(nil)

func (r *responder) Respond(ctx context.Context, a bot.Answer) error {
	m := renderAnswer(a, r.base)
	// The answer is delivered even when the command's context ended (a
	// timeout answer, a shutdown): it is what the person waits for.
	deadline := time.Now().Add(deliverTimeout)
	if r.expires.Before(deadline) {
		deadline = r.expires
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()

	if a.Private == r.deferredPrivate {
		return r.firstEdit(ctx, m.edit)
	}
	note := "Answered below."
	if a.Private {
		note = "Answered privately."
	}
	content := note
	noEmbeds := []*discordgo.MessageEmbed{}
	placeholder := func() *discordgo.WebhookEdit {
		return &discordgo.WebhookEdit{Content: &content, Embeds: &noEmbeds, AllowedMentions: noMentions()}
	}
	if err := r.firstEdit(ctx, placeholder); err != nil {
		return err
	}
	if err := r.rest.followup(ctx, m.followup()); err != nil {
		return err
	}
	if err := r.rest.deleteOriginal(ctx); err != nil {
		r.log.Info("answer delivered; its placeholder could not be deleted", zap.Error(err))
	}
	return nil
}

// firstEdit edits the deferred response, trying again while Discord does
// not know the response yet (over HTTP, our acknowledgement may still be
// on its way). edit builds the request afresh for every try: its files
// are read as they are sent.
func (r *responder) firstEdit(ctx context.Context, edit func() *discordgo.WebhookEdit) error {
	wait := firstEditBackoff
	for attempt := 1; ; attempt++ {
		err := r.rest.editOriginal(ctx, edit())
		code := apiCode(err)
		if err == nil || !r.retryFirstEdit || attempt == firstEditRetries ||
			(code != codeUnknownWebhook && code != codeUnknownInteraction && code != codeUnknownMessage) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait *= 2
	}
}
