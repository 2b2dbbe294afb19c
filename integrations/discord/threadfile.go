package discord

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"path"

	"github.com/bwmarrin/discordgo"

	"github.com/bakewise/chatops/bot"
)

// ReplyFile posts m in the incident's thread with f attached (a
// multipart message), under the thread's reply pace like any reply.
func (c *Client) ReplyFile(ctx context.Context, ref bot.ThreadRef, m bot.Message, f bot.File) error {
	if len(f.Content) == 0 || len(f.Content) > maxAttachment {
		return bot.Permanent(fmt.Errorf("discord: file %s of %d bytes", f.Name, len(f.Content)))
	}
	ext := path.Ext(f.Name)
	name := fileName(f.Name[:len(f.Name)-len(ext)], ext)
	return c.reply(ctx, ref, m, func() []*discordgo.File {
		return []*discordgo.File{{Name: name, ContentType: contentType(name), Reader: bytes.NewReader(f.Content)}}
	})
}

// contentType is a file's media type by its extension (image/png for a
// chart), text files in UTF-8, anything else bytes.
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".png":
		return "image/png"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}
