package slackstandin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/slack-go/slack"
)

func TestUserGroupsList(t *testing.T) {
	s, api := newClient(t)
	ctx := context.Background()
	if gs, err := api.GetUserGroupsContext(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("before SetUserGroups: %+v %v, want none", gs, err)
	}
	s.SetUserGroups(
		UserGroup{ID: "S0ONCALL", Handle: "oncall", Name: "On call", Users: []string{"U1", "U2"}},
		UserGroup{ID: "S0OLD", Handle: "old", Users: []string{"U3"}, Disabled: true},
	)
	gs, err := api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeUsers(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].ID != "S0ONCALL" || gs[0].Handle != "oncall" || !slices.Equal(gs[0].Users, []string{"U1", "U2"}) || gs[0].UserCount != 2 {
		t.Errorf("with users: %+v", gs)
	}
	gs, _ = api.GetUserGroupsContext(ctx)
	if len(gs) != 1 || gs[0].Users != nil {
		t.Errorf("without include_users: %+v, want no member lists", gs)
	}
	gs, _ = api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeDisabled(true), slack.GetUserGroupsOptionIncludeUsers(true))
	if len(gs) != 2 || gs[1].ID != "S0OLD" || gs[1].DateDelete == 0 {
		t.Errorf("with disabled: %+v", gs)
	}
	if n := s.Calls(MethodUserGroupsList); n != 4 {
		t.Errorf("%d calls counted", n)
	}
	s.FailNext(MethodUserGroupsList, 1, SlackError{Code: "missing_scope"})
	if _, err := api.GetUserGroupsContext(ctx); err == nil || err.Error() != "missing_scope" {
		t.Errorf("fault: %v", err)
	}
}

// TestMessageButtonsAndClick: the buttons of a posted message, top-level
// or in an attachment, are read back, and Click builds the click on one.
func TestMessageButtonsAndClick(t *testing.T) {
	s, api := newClient(t)
	_, root, err := api.PostMessage("C1", slack.MsgOptionText("root", false))
	if err != nil {
		t.Fatal(err)
	}
	approve := slack.NewButtonBlockElement("approve:1", "v1", slack.NewTextBlockObject("plain_text", "Approve", false, false))
	deny := slack.NewButtonBlockElement("deny:1", "", slack.NewTextBlockObject("plain_text", "Deny", false, false))
	deny.Style = slack.StyleDanger
	_, ts, err := api.PostMessage("C1", slack.MsgOptionTS(root), slack.MsgOptionText("card", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("top", approve)),
		slack.MsgOptionAttachments(slack.Attachment{Color: "#ECB22E", Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewActionBlock("inner", deny)}}}))
	if err != nil {
		t.Fatal(err)
	}
	card := s.Replies("C1", root)[0]
	want := []Button{
		{ActionID: "approve:1", BlockID: "top", Value: "v1", Text: "Approve"},
		{ActionID: "deny:1", BlockID: "inner", Text: "Deny", Style: "danger"},
	}
	if got := card.Buttons(); !slices.Equal(got, want) {
		t.Errorf("buttons %+v\nwant    %+v", got, want)
	}
	a := card.Click("U2", "bob", "approve:1")
	if *a != (BlockAction{User: "U2", UserName: "bob", Channel: "C1", MessageTS: ts, ThreadTS: root, ActionID: "approve:1", BlockID: "top", Value: "v1"}) {
		t.Errorf("click %+v", a)
	}
	if a := card.Click("U2", "bob", "forged"); a.BlockID != "" || a.ActionID != "forged" {
		t.Errorf("click on a button the card lacks: %+v", a)
	}
}

// TestSendBlockAction: the click arrives signed as Slack signs it, as a
// form whose payload slack-go reads as a block_actions callback.
func TestSendBlockAction(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	got := make(chan slack.InteractionCallback, 1)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sv, err := slack.NewSecretsVerifier(r.Header, "secret")
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = sv.Write(body)
		if sv.Ensure() != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		form, _ := url.ParseQuery(string(body))
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- cb
	}))
	t.Cleanup(bot.Close)

	a := &BlockAction{User: "U2", UserName: "bob", Channel: "C1", MessageTS: "1700000000.000200", ThreadTS: "1700000000.000100", ActionID: "approve:1", BlockID: "b", Value: "v"}
	status, err := s.SendBlockAction(context.Background(), bot.URL, "secret", a)
	if err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %v", status, err)
	}
	cb := <-got
	ba := cb.ActionCallback.BlockActions
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != "U2" || cb.Channel.ID != "C1" ||
		cb.Container.MessageTs != "1700000000.000200" || cb.Container.ThreadTs != "1700000000.000100" || cb.Container.ChannelID != "C1" ||
		len(ba) != 1 || ba[0].ActionID != "approve:1" || ba[0].BlockID != "b" || ba[0].Value != "v" ||
		cb.ResponseURL == "" || cb.ResponseURL != a.ResponseURL {
		t.Errorf("callback %+v", cb)
	}
	if status, _ := s.SendBlockAction(context.Background(), bot.URL, "other", a); status != http.StatusUnauthorized {
		t.Errorf("signed with another secret: status %d", status)
	}
}

// A root carries context blocks, whose elements' text is a string: they
// must not hide the buttons of its actions block.
func TestButtonsBesideContextBlocks(t *testing.T) {
	m := Message{Blocks: json.RawMessage(`[
		{"type":"context","elements":[{"type":"mrkdwn","text":"Started 02:14"}]},
		{"type":"actions","block_id":"b1","elements":[
			{"type":"button","action_id":"chatops:incident:ack:7","text":{"type":"plain_text","text":"Acknowledge"}},
			{"type":"button","action_id":"chatops:incident:resolve:7","text":{"type":"plain_text","text":"Resolve"}}]}]`)}
	if got := m.ActionIDs(); !slices.Equal(got, []string{"chatops:incident:ack:7", "chatops:incident:resolve:7"}) {
		t.Fatalf("ActionIDs = %q", got)
	}
}
