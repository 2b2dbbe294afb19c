package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/commands"
)

// fuzzRouter looks commands up in the real table and records what it is
// asked to run; it never answers, so nothing is sent to Discord.
type fuzzRouter struct {
	table *command.Table
	mu    sync.Mutex
	cmds  []bot.Command
}

func (r *fuzzRouter) Root() string                  { return "ops" }
func (r *fuzzRouter) ChannelAllowed(ch string) bool { return ch == testChannel }
func (r *fuzzRouter) Handle(_ context.Context, cmd bot.Command, _ bot.Responder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, cmd)
}
func (r *fuzzRouter) Lookup(words []string) (*bot.CommandSpec, []string) {
	return r.table.Lookup(words)
}

// fuzzClicks records the clicks it is handed.
type fuzzClicks struct {
	mu     sync.Mutex
	clicks []bot.Click
}

func (c *fuzzClicks) HandleClick(_ context.Context, click bot.Click, _ bot.Responder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clicks = append(c.clicks, click)
}

// fuzzCompleter offers the test services whatever is typed, so the
// filtering checked is the inbound side's.
type fuzzCompleter struct{}

func (fuzzCompleter) Complete(context.Context, string, string) ([]string, error) {
	return services, nil
}

// interactionJSON is an interaction as Discord sends it, from the test
// user (holding the operator role) in the test channel of the test guild.
func interactionJSON(f *testing.F, typ discordgo.InteractionType, data map[string]any, edit func(map[string]any)) []byte {
	v := map[string]any{
		"id": "1310000000000000011", "application_id": testApp, "type": int(typ), "token": "aW50ZXJhY3Rpb246MTMxMDAw", "version": 1,
		"guild_id": testGuild, "channel_id": testChannel,
		"channel": map[string]any{"id": testChannel, "type": 0, "name": "ops-room", "parent_id": "1700000000000000001"},
		"member": map[string]any{
			"user":  map[string]any{"id": testUser, "username": "ana", "global_name": "Ana Ops"},
			"roles": []string{testOperator}, "nick": "Ana",
		},
		"locale": "en-US",
	}
	if data != nil {
		v["data"] = data
	}
	if edit != nil {
		edit(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzInteraction posts signed interaction bodies to the HTTP endpoint,
// so what it reaches is everything after the signature: the JSON, the
// guild and application checks, and turning a command, a click or an
// autocomplete into what chatops acts on. Whatever the body: the answer
// is 200 with an initial response Discord takes, or 400, never the 500
// of an interaction left unanswered; a command or a click runs only from
// a served guild, once, for a person in a channel, behind a deferral that
// is private when the answer will be; autocomplete offers at most 25
// choices that fit Discord's limits and start with what was typed.
func FuzzInteraction(f *testing.F) {
	f.Add([]byte(`{"type":1,"id":"1","application_id":"` + testApp + `","token":"t","version":1}`))
	f.Add(interactionJSON(f, discordgo.InteractionApplicationCommand, slashCommand("health"), nil))
	f.Add(interactionJSON(f, discordgo.InteractionApplicationCommand, slashCommand("logs",
		option("service", discordgo.ApplicationCommandOptionString, "orders-service"),
		option("tail", discordgo.ApplicationCommandOptionInteger, 50),
		option("previous", discordgo.ApplicationCommandOptionBoolean, true)), nil))
	f.Add(interactionJSON(f, discordgo.InteractionApplicationCommand, slashCommand("incident show",
		option("id", discordgo.ApplicationCommandOptionInteger, 12)), func(v map[string]any) {
		v["channel_id"] = "1500000000000000005"
		v["channel"] = map[string]any{"id": "1500000000000000005", "type": 11, "name": "incident thread", "parent_id": testChannel}
	}))
	f.Add(interactionJSON(f, discordgo.InteractionApplicationCommand, slashCommand("whoami"), func(v map[string]any) {
		delete(v, "guild_id")
		delete(v, "member")
		v["user"] = map[string]any{"id": testUser, "username": "ana"}
	}))
	f.Add(interactionJSON(f, discordgo.InteractionApplicationCommandAutocomplete, slashCommand("logs",
		focusedOption("service", "ord")), nil))
	f.Add(interactionJSON(f, discordgo.InteractionMessageComponent, map[string]any{"custom_id": "approve:7:3f2a", "component_type": 2}, func(v map[string]any) {
		v["message"] = map[string]any{"id": testCard, "channel_id": testChannel, "type": 0, "author": map[string]any{"id": "1000000000000000001"}}
	}))
	f.Add(interactionJSON(f, discordgo.InteractionModalSubmit, map[string]any{"custom_id": "m", "components": []any{}}, nil))
	f.Add(interactionJSON(f, discordgo.InteractionApplicationCommand, slashCommand("health"), func(v map[string]any) { v["application_id"] = "1" }))

	table, err := command.NewTable("ops", commands.Table(commands.Deps{}, nil))
	if err != nil {
		f.Fatal(err)
	}
	client, err := New(Config{Token: testToken, APIURL: "http://127.0.0.1:9/api/v10/"}, nil, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		router, clicks := &fuzzRouter{table: table}, &fuzzClicks{}
		in := NewInbound(InboundConfig{
			PublicKey: testKey.Public().(ed25519.PublicKey), AppID: testApp, GuildIDs: []string{testGuild},
			Completer: fuzzCompleter{}, Clicks: clicks,
		}, router, alwaysNew{}, client, zap.NewNop())
		w := postSigned(in, body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Shutdown(ctx); err != nil {
			t.Fatalf("work still running: %v", err)
		}
		if w.Code == http.StatusBadRequest {
			if len(router.cmds)+len(clicks.clicks) != 0 {
				t.Fatal("refused with 400, yet something ran")
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var ix discordgo.Interaction
		if err := json.Unmarshal(body, &ix); err != nil {
			t.Fatalf("answered 200 to an interaction that does not decode: %v", err)
		}
		var resp discordgo.InteractionResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("initial response %q is not JSON: %v", w.Body, err)
		}
		checkInitialResponse(t, &ix, &resp, router, clicks)
	})
}

// alwaysNew is a replay guard that has seen nothing.
type alwaysNew struct{}

func (alwaysNew) FirstSeen(context.Context, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

// postSigned posts body to the endpoint signed now with the test key.
func postSigned(in *Inbound, body []byte) *httptest.ResponseRecorder {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Signature-Timestamp", ts)
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(testKey, append([]byte(ts), body...))))
	w := httptest.NewRecorder()
	in.Handler().ServeHTTP(w, req)
	return w
}

func checkInitialResponse(t *testing.T, ix *discordgo.Interaction, resp *discordgo.InteractionResponse, router *fuzzRouter, clicks *fuzzClicks) {
	t.Helper()
	ran := len(router.cmds) + len(clicks.clicks)
	if ran > 1 {
		t.Fatalf("%d commands and %d clicks ran for one interaction", len(router.cmds), len(clicks.clicks))
	}
	if ix.AppID != testApp {
		t.Fatalf("answered an interaction for application %q", ix.AppID)
	}
	if ix.Type != discordgo.InteractionPing && ix.GuildID != testGuild && (ran != 0 || resp.Type == discordgo.InteractionResponseDeferredChannelMessageWithSource) {
		t.Fatalf("acted on an interaction from guild %q", ix.GuildID)
	}
	private := resp.Data != nil && resp.Data.Flags&discordgo.MessageFlagsEphemeral != 0
	switch resp.Type {
	case discordgo.InteractionResponsePong:
		if ix.Type != discordgo.InteractionPing || ran != 0 {
			t.Fatalf("PONG to an interaction of type %d", ix.Type)
		}
	case discordgo.InteractionResponseChannelMessageWithSource:
		if !private || ran != 0 {
			t.Fatalf("a refusal answered in public, or something ran: %+v", resp.Data)
		}
	case discordgo.InteractionResponseDeferredChannelMessageWithSource:
		if ran != 1 {
			t.Fatal("deferred, but nothing ran")
		}
	case discordgo.InteractionApplicationCommandAutocompleteResult:
		if ix.Type != discordgo.InteractionApplicationCommandAutocomplete || ran != 0 {
			t.Fatalf("choices for an interaction of type %d", ix.Type)
		}
		checkChoices(t, ix, resp)
	default:
		t.Fatalf("initial response of type %d", resp.Type)
	}
	if len(router.cmds) == 1 {
		cmd := router.cmds[0]
		checkPerson(t, cmd.Platform, cmd.User, cmd.Channel)
		if len(cmd.Options) > maxInteractionOptions {
			t.Fatalf("%d options", len(cmd.Options))
		}
		spec, _ := router.Lookup(strings.Fields(cmd.Text))
		wantPrivate := !router.ChannelAllowed(cmd.Channel) || spec == nil || spec.Name == "help" || spec.Name == "whoami"
		if private != wantPrivate {
			t.Fatalf("%q in %s deferred privately: %t, want %t", cmd.Text, cmd.Channel, private, wantPrivate)
		}
	}
	if len(clicks.clicks) == 1 {
		c := clicks.clicks[0]
		checkPerson(t, c.Platform, c.User, c.Channel)
		switch {
		case c.ButtonID == "" || len(c.ButtonID) > maxCustomID:
			t.Fatalf("custom_id of %d bytes", len(c.ButtonID))
		case !isSnowflake(c.MessageID):
			t.Fatalf("click on message %q", c.MessageID)
		case !private:
			t.Fatal("a click deferred in public")
		}
	}
}

func checkPerson(t *testing.T, platform string, who bot.Identity, channel string) {
	t.Helper()
	if platform != Platform || who.Platform != Platform || who.UserID == "" || channel == "" || len(who.Groups) > maxMemberRoles {
		t.Fatalf("ran for %s %+v in %q", platform, who, channel)
	}
}

// checkChoices: Discord refuses more than 25 choices, or a name or value
// over 100 characters; each offered value starts with what was typed.
func checkChoices(t *testing.T, ix *discordgo.Interaction, resp *discordgo.InteractionResponse) {
	t.Helper()
	if resp.Data == nil || len(resp.Data.Choices) > maxChoices {
		t.Fatalf("autocomplete answered %+v", resp.Data)
	}
	if len(resp.Data.Choices) == 0 {
		return
	}
	data, ok := ix.Data.(discordgo.ApplicationCommandInteractionData)
	if !ok {
		t.Fatal("choices offered for an interaction without command data")
	}
	_, leaves := commandPath(data)
	_, prefix, err := focused(leaves)
	if err != nil {
		t.Fatalf("choices offered with no option being typed: %v", err)
	}
	for _, c := range resp.Data.Choices {
		v, _ := c.Value.(string)
		if n := utf8.RuneCountInString(c.Name); n == 0 || n > maxChoiceText ||
			!strings.HasPrefix(strings.ToLower(c.Name), strings.ToLower(prefix)) || v != "" && v != c.Name {
			t.Fatalf("choice %+v for %q", c, prefix)
		}
	}
}
