package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Answer delivery.
const (
	// answerAttempts bounds the tries of one answer call that Slack (or
	// the adapter's own limiter) rate limits; maxAnswerWait is the longest
	// wait between them. Past that, the answer is lost and logged.
	answerAttempts = 3
	maxAnswerWait  = 10 * time.Second
	// maxResponseURL bounds a response_url's length.
	maxResponseURL = 2048
)

// Methods the answers call, as metrics and errors name them.
const (
	methodPostEphemeral = "chat.postEphemeral"
	methodUploadFile    = "files.uploadV2"
	methodResponseURL   = "response_url"
	methodAuthTest      = "auth.test"
)

// webhookResponder answers through a response_url (slash commands, button
// clicks): in the channel, or ephemeral for a Private answer. A file goes
// up to the channel (the thread) before the message.
type webhookResponder struct {
	in       *Inbound
	url      string
	channel  string
	thread   string
	fileBase string
}

func (r *webhookResponder) Respond(ctx context.Context, a bot.Answer) error {
	o := renderOptions{fileBase: r.fileBase}
	if a.Private {
		o.noFile = noFilePrivate
	}
	m := renderAnswer(a, o)
	if len(m.files) > 0 {
		if err := r.in.upload(ctx, r.channel, r.thread, m.files); err != nil {
			r.in.log.Warn("answer file not uploaded; answering without it", zap.String("channel", r.channel), zap.Error(err))
			o.noFile = noFileUpload + " (" + slackReason(err) + ")"
			m = renderAnswer(a, o)
		}
	}
	return r.in.postResponse(ctx, r.url, m.webhook(!a.Private, r.thread))
}

// threadResponder answers an app mention in its thread: chat.postMessage,
// or chat.postEphemeral to the person for a Private answer.
type threadResponder struct {
	in       *Inbound
	channel  string
	thread   string
	user     string
	fileBase string
}

func (r *threadResponder) Respond(ctx context.Context, a bot.Answer) error {
	if a.Private {
		m := renderAnswer(a, renderOptions{fileBase: r.fileBase, noFile: noFilePrivate})
		return r.in.postEphemeral(ctx, r.channel, r.user, r.thread, m)
	}
	o := renderOptions{fileBase: r.fileBase}
	m := renderAnswer(a, o)
	if len(m.files) > 0 {
		if err := r.in.upload(ctx, r.channel, r.thread, m.files); err != nil {
			r.in.log.Warn("answer file not uploaded; answering without it", zap.String("channel", r.channel), zap.Error(err))
			o.noFile = noFileUpload + " (" + slackReason(err) + ")"
			m = renderAnswer(a, o)
		}
	}
	return r.in.postMessage(ctx, r.channel, r.thread, m)
}

// postMessage posts m in thread, under the channel's post budget shared
// with the incident threads.
func (in *Inbound) postMessage(ctx context.Context, channel, thread string, m answerMessage) error {
	c := in.client
	opts := append(m.payload().options(), slackapi.MsgOptionTS(thread))
	return retryRateLimited(ctx, func() error {
		th := c.channel(channel)
		if err := c.hold(ctx, th); err != nil {
			return err
		}
		return c.call(ctx, methodPostMessage, channel, th, func(ctx context.Context) error {
			_, _, err := c.api.PostMessageContext(ctx, channel, opts...)
			return err
		})
	})
}

// postEphemeral shows m to user only, in thread.
func (in *Inbound) postEphemeral(ctx context.Context, channel, user, thread string, m answerMessage) error {
	c := in.client
	opts := m.payload().options()
	if thread != "" {
		opts = append(opts, slackapi.MsgOptionTS(thread))
	}
	return retryRateLimited(ctx, func() error {
		if err := c.hold(ctx, in.webAPI); err != nil {
			return err
		}
		return c.call(ctx, methodPostEphemeral, channel, in.webAPI, func(ctx context.Context) error {
			_, err := c.api.PostEphemeralContext(ctx, channel, user, opts...)
			return err
		})
	})
}

// upload shares files in channel (in thread when set) with the upload
// sequence: files.getUploadURLExternal, the upload, then
// files.completeUploadExternal.
func (in *Inbound) upload(ctx context.Context, channel, thread string, files []bot.File) error {
	c := in.client
	for _, f := range files {
		params := slackapi.UploadFileParameters{
			Reader:          bytes.NewReader(f.Content),
			FileSize:        len(f.Content),
			Filename:        f.Name,
			Title:           f.Name,
			Channel:         channel,
			ThreadTimestamp: thread,
		}
		err := retryRateLimited(ctx, func() error {
			if err := c.hold(ctx, in.webAPI); err != nil {
				return err
			}
			return c.call(ctx, methodUploadFile, channel, in.webAPI, func(ctx context.Context) error {
				params.Reader = bytes.NewReader(f.Content)
				_, err := c.api.UploadFileContext(ctx, params)
				return scrubURL(err)
			})
		})
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Name, err)
		}
	}
	return nil
}

// postResponse posts msg to a response_url. The URL is a credential of
// sorts (anyone holding it may answer for the bot for 30 minutes): it
// never reaches an error or a log line.
func (in *Inbound) postResponse(ctx context.Context, rawURL string, msg *slackapi.WebhookMessage) error {
	if !in.responseURLAllowed(rawURL) {
		return errors.New("slack response_url: not a Slack URL")
	}
	c := in.client
	return retryRateLimited(ctx, func() error {
		ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		defer cancel()
		ctx, span := telemetry.StartChatCall(ctx, platform, methodResponseURL)
		start := time.Now()
		err := classify(scrubURL(slackapi.PostWebhookCustomHTTPContext(ctx, rawURL, in.http, msg)))
		c.metrics.Observe(platform, methodResponseURL, start, err)
		telemetry.EndChatCall(span, err)
		if err != nil {
			return fmt.Errorf("slack %s: %w", methodResponseURL, err)
		}
		return nil
	})
}

// responseURLAllowed reports whether u may receive an answer: a
// well-formed URL under one of the configured prefixes (Slack's hooks
// host by default), so a forged payload cannot make the bot post
// elsewhere.
func (in *Inbound) responseURLAllowed(u string) bool {
	if u == "" || len(u) > maxResponseURL {
		return false
	}
	p, err := url.Parse(u)
	if err != nil || p.User != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
		return false
	}
	for _, prefix := range in.cfg.ResponseURLPrefixes {
		if strings.HasPrefix(u, prefix) {
			return true
		}
	}
	return false
}

// retryRateLimited runs call again when it is rate limited, after the
// wait asked for, a bounded number of times: a person is waiting for the
// answer, and the outbox's own retries do not apply to it.
func retryRateLimited(ctx context.Context, call func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = call()
		var rl *bot.RateLimitedError
		if !errors.As(err, &rl) || attempt == answerAttempts || rl.After > maxAnswerWait {
			return err
		}
		t := time.NewTimer(rl.After)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// scrubURL drops the URL from a transport error: upload and response
// URLs are capabilities, not for logs.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// slackReason is a short reason for a failed call that is fit to show in
// chat: Slack's error code, or what kind of failure it was.
func slackReason(err error) string {
	var (
		se slackapi.SlackErrorResponse
		rl *bot.RateLimitedError
		sc slackapi.StatusCodeError
	)
	switch {
	case errors.As(err, &se):
		return se.Err
	case errors.As(err, &rl):
		return "rate limited"
	case errors.As(err, &sc):
		return fmt.Sprintf("HTTP %d", sc.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return "Slack did not answer"
}
