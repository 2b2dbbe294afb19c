package bottest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
)

// Chat is an in-memory chat platform: it keeps every channel's messages
// and can be told to fail. It implements bot.Chat and bot.RootFinder.
type Chat struct {
	mu      sync.Mutex
	roots   map[string][]Root // by channel
	nextID  int
	failErr map[string][]error // method → errors to return, in order
	// dropNext: the next PostRoot is recorded, then reported as failed
	// (the connection dropped after the request was sent).
	dropNext bool
	calls    map[string]int
}

// Root is a root message and its thread.
type Root struct {
	Ref     bot.ThreadRef
	Msg     bot.Message
	Edits   int
	Replies []bot.Message
}

// NewChat is an empty chat platform.
func NewChat() *Chat {
	return &Chat{roots: map[string][]Root{}, failErr: map[string][]error{}, calls: map[string]int{}}
}

// Fail makes the next calls of method ("post_root", "edit_root", "reply")
// return errs, one each, in order.
func (f *Chat) Fail(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failErr[method] = append(f.failErr[method], errs...)
}

// DropNextRoot makes the next root post land but its answer get lost.
func (f *Chat) DropNextRoot() {
	f.mu.Lock()
	f.dropNext = true
	f.mu.Unlock()
}

// Calls is how often method ("post_root", "edit_root", "reply",
// "find_root") was called.
func (f *Chat) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *Chat) take(method string) error {
	f.calls[method]++
	if errs := f.failErr[method]; len(errs) > 0 {
		f.failErr[method] = errs[1:]
		return errs[0]
	}
	return nil
}

// PostRoot implements bot.Chat.
func (f *Chat) PostRoot(_ context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.take("post_root"); err != nil {
		return bot.ThreadRef{}, err
	}
	f.nextID++
	id := fmt.Sprintf("m%d", f.nextID)
	ref := bot.ThreadRef{Channel: channel, RootID: id, ThreadID: id}
	f.roots[channel] = append(f.roots[channel], Root{Ref: ref, Msg: m})
	if f.dropNext {
		f.dropNext = false
		return bot.ThreadRef{}, errors.New("connection reset after the request was sent")
	}
	return ref, nil
}

func (f *Chat) find(ref bot.ThreadRef) *Root {
	for i := range f.roots[ref.Channel] {
		if f.roots[ref.Channel][i].Ref.RootID == ref.RootID {
			return &f.roots[ref.Channel][i]
		}
	}
	return nil
}

// EditRoot implements bot.Chat.
func (f *Chat) EditRoot(_ context.Context, ref bot.ThreadRef, m bot.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.take("edit_root"); err != nil {
		return err
	}
	r := f.find(ref)
	if r == nil {
		return bot.Permanent(errors.New("message_not_found"))
	}
	r.Msg, r.Edits = m, r.Edits+1
	return nil
}

// Reply implements bot.Chat.
func (f *Chat) Reply(_ context.Context, ref bot.ThreadRef, m bot.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.take("reply"); err != nil {
		return err
	}
	r := f.find(ref)
	if r == nil {
		return bot.Permanent(errors.New("thread_not_found"))
	}
	r.Replies = append(r.Replies, m)
	return nil
}

// FindRoot implements bot.RootFinder.
func (f *Chat) FindRoot(_ context.Context, channel, marker string, _ time.Time) (bot.ThreadRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["find_root"]++
	for _, r := range f.roots[channel] {
		if r.Msg.Marker == marker {
			return r.Ref, true, nil
		}
	}
	return bot.ThreadRef{}, false, nil
}

// Snapshot is a copy of channel's roots and their threads.
func (f *Chat) Snapshot(channel string) []Root {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Root, len(f.roots[channel]))
	for i, r := range f.roots[channel] {
		r.Replies = append([]bot.Message(nil), r.Replies...)
		out[i] = r
	}
	return out
}

// Cards records approval cards; it implements bot.CardPoster.
type Cards struct {
	mu    sync.Mutex
	posts []bot.Message
	cards map[string]bot.Message // by RootID: the card as last edited
	n     int
}

// PostCard implements bot.CardPoster.
func (c *Cards) PostCard(_ context.Context, channel, thread string, m bot.Message) (bot.ThreadRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	id := fmt.Sprintf("m%d", c.n)
	if c.cards == nil {
		c.cards = map[string]bot.Message{}
	}
	c.cards[id] = m
	c.posts = append(c.posts, m)
	return bot.ThreadRef{Channel: channel, RootID: id, ThreadID: thread}, nil
}

// EditCard implements bot.CardPoster.
func (c *Cards) EditCard(_ context.Context, ref bot.ThreadRef, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cards[ref.RootID]; !ok {
		return fmt.Errorf("no card %s", ref.RootID)
	}
	c.cards[ref.RootID] = m
	return nil
}

// Card is card id as last edited; it fails the test when there is none.
func (c *Cards) Card(t testing.TB, id string) bot.Message {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.cards[id]
	if !ok {
		t.Fatalf("no card %s", id)
	}
	return m
}

// Posts are the cards as first posted, in order.
func (c *Cards) Posts() []bot.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bot.Message(nil), c.posts...)
}
