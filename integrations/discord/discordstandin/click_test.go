package discordstandin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// TestClickInteraction: the click's body reads, through discordgo, as the
// button interaction Discord sends, and its signature verifies.
func TestClickInteraction(t *testing.T) {
	s := newServer(t)
	id, token, body := s.ClickInteraction(Click{Channel: "1500000000000000005", Parent: channel, User: "1600000000000000006", UserName: "ana",
		Roles: []string{"1200000000000000077"}, MessageID: "1900000000000000010", CustomID: "approval:7:approve:n0nce"})
	var ix discordgo.Interaction
	if err := json.Unmarshal(body, &ix); err != nil {
		t.Fatal(err)
	}
	data, ok := ix.Data.(discordgo.MessageComponentInteractionData)
	if !ok || ix.Type != discordgo.InteractionMessageComponent || ix.ID != id || ix.Token != token || ix.AppID != DefaultAppID ||
		data.CustomID != "approval:7:approve:n0nce" || data.ComponentType != discordgo.ButtonComponent ||
		ix.Message == nil || ix.Message.ID != "1900000000000000010" || ix.ChannelID != "1500000000000000005" ||
		ix.Member == nil || ix.Member.User.ID != "1600000000000000006" || !slices.Equal(ix.Member.Roles, []string{"1200000000000000077"}) {
		t.Errorf("interaction %+v, data %+v", ix, ix.Data)
	}
	var raw struct {
		Channel struct {
			ID       string `json:"id"`
			Type     int    `json:"type"`
			ParentID string `json:"parent_id"`
		} `json:"channel"`
	}
	_ = json.Unmarshal(body, &raw)
	if raw.Channel.Type != 11 || raw.Channel.ParentID != channel {
		t.Errorf("channel %+v: want a public thread of %s", raw.Channel, channel)
	}
	if _, ok := s.Interaction(id); !ok {
		t.Error("the stand-in does not expect the interaction")
	}

	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header = SignInteraction(TestKey, time.Now(), body)
	if !discordgo.VerifyInteraction(req, TestKey.Public().(ed25519.PublicKey)) {
		t.Error("discordgo does not verify the signature")
	}
}

// TestSendClick: the click reaches the bot signed, and the bot's 200
// answer is recorded as the interaction's acknowledgement; a refusal is
// returned as it came.
func TestSendClick(t *testing.T) {
	s := newServer(t)
	var status int
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !discordgo.VerifyInteraction(r, TestKey.Public().(ed25519.PublicKey)) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"type":5,"data":{"flags":64}}`))
	}))
	t.Cleanup(bot.Close)

	status = http.StatusOK
	res, err := s.SendClick(context.Background(), bot.URL, TestKey, Click{Channel: channel, User: "1600000000000000006", MessageID: "1900000000000000010", CustomID: "approve"})
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("%+v %v", res, err)
	}
	ix, _ := s.Interaction(res.ID)
	if !ix.Acknowledged() || ix.Original == nil || !ix.Original.Ephemeral() || ix.Original.Flags&FlagLoading == 0 {
		t.Errorf("interaction %+v: want the ephemeral deferral recorded", ix)
	}

	_, other, _ := ed25519.GenerateKey(nil)
	res, err = s.SendClick(context.Background(), bot.URL, other, Click{Channel: channel, User: "1600000000000000006", MessageID: "1900000000000000010", CustomID: "approve"})
	if err != nil || res.Status != http.StatusUnauthorized {
		t.Errorf("another key: %+v %v", res, err)
	}
	if ix, _ := s.Interaction(res.ID); ix.Acknowledged() {
		t.Error("a refused click was acknowledged")
	}
}

// TestMessageButtons: a posted message's buttons are read back, and a
// closed card (components []) has none.
func TestMessageButtons(t *testing.T) {
	s := newServer(t)
	a := do(t, s, http.MethodPost, "channels/"+channel+"/messages", `{"content":"card","components":[{"type":1,"components":[
		{"type":2,"style":2,"label":"Approve","custom_id":"approve:1"},{"type":2,"style":4,"label":"Deny","custom_id":"deny:1"}]}]}`)
	if a.status != http.StatusOK {
		t.Fatalf("post: %d %v", a.status, a.body)
	}
	m := s.Messages(channel)[0]
	if got := m.Buttons(); !slices.Equal(got, []Button{{"approve:1", "Approve", 2}, {"deny:1", "Deny", 4}}) {
		t.Errorf("buttons %+v", got)
	}
	c := m.Click("1600000000000000006", "ana", nil, "deny:1")
	if c.Channel != channel || c.MessageID != m.ID || c.CustomID != "deny:1" {
		t.Errorf("click %+v", c)
	}
	if a := do(t, s, http.MethodPatch, "channels/"+channel+"/messages/"+m.ID, `{"content":"closed","components":[]}`); a.status != http.StatusOK {
		t.Fatalf("edit: %d", a.status)
	}
	if got := s.Messages(channel)[0].CustomIDs(); len(got) != 0 {
		t.Errorf("buttons after the edit %q", got)
	}
}
