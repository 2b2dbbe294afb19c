package discord

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bwmarrin/discordgo"
)

// Discord JSON error codes the client acts on.
const (
	codeUnknownChannel       = discordgo.ErrCodeUnknownChannel                     // 10003: also a thread that was never started
	codeThreadAlreadyCreated = discordgo.ErrCodeThreadAlreadyCreatedForThisMessage // 160004
)

// defaultRetryAfter is used for a 429 that says nothing about when to retry.
const defaultRetryAfter = time.Second

// maxErrorBody bounds how much of an error answer goes into an error: enough
// for Discord's "Invalid Form Body" field list.
const maxErrorBody = 512

// apiError is Discord's answer to a failed call. It keeps only the status,
// the JSON code and message and a bounded part of the body, never the
// request (whose headers hold the token).
type apiError struct {
	Status  int
	Code    int
	Message string
	Body    string
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("HTTP %d", e.Status)
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d)", e.Code)
	}
	s += ": " + msg
	if e.Code == discordgo.ErrCodeInvalidFormBody && e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// apiCode is the Discord error code in err, 0 if there is none.
func apiCode(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// classify turns what discordgo returned for one call into the error the
// dispatcher acts on: *bot.RateLimitedError for a 429, bot.Permanent for
// what retrying cannot fix (4xx: unknown channel or message, missing
// access, bad token, a message Discord rejects), and a plain error for
// transient trouble (5xx, timeouts, dropped connections, unreadable
// answers). what names the call for the message.
func classify(err error, st *callState, what string) error {
	if err == nil {
		return nil
	}
	if st.status == http.StatusTooManyRequests {
		return &bot.RateLimitedError{After: retryAfter(err, st)}
	}
	var rest *discordgo.RESTError
	if errors.As(err, &rest) && rest.Response != nil {
		ae := &apiError{Status: rest.Response.StatusCode}
		if rest.Message != nil {
			ae.Code, ae.Message = rest.Message.Code, rest.Message.Message
		}
		body := strings.TrimSpace(string(rest.ResponseBody))
		if len(body) > maxErrorBody {
			body = body[:maxErrorBody] + "…"
		}
		ae.Body = body
		wrapped := fmt.Errorf("discord: %s: %w", what, ae)
		if ae.Status >= 400 && ae.Status < 500 {
			return bot.Permanent(wrapped)
		}
		return wrapped
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Its URL is discordgo's, before our transport rewrote it: leave it
		// out rather than name a host we did not call.
		return fmt.Errorf("discord: %s: %s: %w", what, ue.Op, ue.Err)
	}
	if errors.Is(err, discordgo.ErrJSONUnmarshal) {
		// A 2xx whose body we cannot read: the call may well have worked.
		return fmt.Errorf("discord: %s: unreadable answer (HTTP %d): %w", what, st.status, err)
	}
	return fmt.Errorf("discord: %s: %w", what, err)
}

// retryAfter reads how long a 429 asks us to wait: discordgo's parse of the
// body's retry_after, else the Retry-After header, else a second.
func retryAfter(err error, st *callState) time.Duration {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil && rl.TooManyRequests != nil && rl.RetryAfter > 0 {
		return rl.RetryAfter
	}
	if secs, perr := strconv.ParseFloat(strings.TrimSpace(st.retryAfter), 64); perr == nil && secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	return defaultRetryAfter
}
