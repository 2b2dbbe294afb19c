package slack

import (
	"bytes"
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/bakewise/chatops/bot"
)

// maxThreadFileBytes bounds a file posted in an incident's thread (a
// chart is well under it); a larger one is refused, never cut.
const maxThreadFileBytes = 5 << 20

// ReplyFile uploads f into the thread of ref with m's title as its
// comment, through Slack's external upload flow
// (files.getUploadURLExternal, the upload, files.completeUploadExternal
// with the channel and thread_ts). It draws on the channel's post
// budget, as a reply does.
func (c *Client) ReplyFile(ctx context.Context, ref bot.ThreadRef, m bot.Message, f bot.File) error {
	thread := ref.ThreadID
	if thread == "" {
		thread = ref.RootID
	}
	if ref.Channel == "" || thread == "" {
		return bot.Permanent(fmt.Errorf("slack %s: thread ref %+v has no channel or thread ts", methodUploadFile, ref))
	}
	if len(f.Content) == 0 || len(f.Content) > maxThreadFileBytes {
		return bot.Permanent(fmt.Errorf("slack %s: file %s of %d bytes", methodUploadFile, f.Name, len(f.Content)))
	}
	if err := c.hold(ctx, c.channel(ref.Channel)); err != nil {
		return err
	}
	name := safeFileName(f.Name)
	return c.call(ctx, methodUploadFile, ref.Channel, c.channel(ref.Channel), func(ctx context.Context) error {
		_, err := c.api.UploadFileContext(ctx, slackapi.UploadFileParameters{
			Reader:          bytes.NewReader(f.Content),
			FileSize:        len(f.Content),
			Filename:        name,
			Title:           name,
			AltTxt:          fit(m.Title, 1000),
			InitialComment:  escape(fit(m.Title, maxAnswerLine)),
			Channel:         ref.Channel,
			ThreadTimestamp: thread,
		})
		return scrubURL(err)
	})
}
