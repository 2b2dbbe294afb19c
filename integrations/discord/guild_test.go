package discord

import (
	"encoding/json"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// withGuild rewrites an interaction's guild: "" makes it a direct message
// (no guild, no member, the user at the top level), as Discord sends one.
func withGuild(t *testing.T, ix interaction, guild string) interaction {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(ix.Body, &v); err != nil {
		t.Fatal(err)
	}
	if guild == "" {
		delete(v, "guild_id")
		if m, ok := v["member"].(map[string]any); ok {
			v["user"] = m["user"]
		}
		delete(v, "member")
	} else {
		v["guild_id"] = guild
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ix.Body = body
	return ix
}

// TestInteractionsOnlyFromServedGuilds: a command, a click or an
// autocomplete from a guild not in GuildIDs, or from a direct message, is
// answered at once and privately (autocomplete: no choices) and goes no
// further, over HTTP and over the gateway; a bot with no guild serves none.
// The same interaction from the served guild runs.
func TestInteractionsOnlyFromServedGuilds(t *testing.T) {
	const otherGuild = "1400000000000000099"
	kinds := []struct {
		name string
		spec ixSpec
	}{
		{"command", ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()}},
		{"click", ixSpec{typ: discordgo.InteractionMessageComponent, data: map[string]any{"custom_id": "chatops:approve:1:abc", "component_type": 2}}},
		{"autocomplete", ixSpec{typ: discordgo.InteractionApplicationCommandAutocomplete,
			data: slashCommand("logs", focusedOption("service", "ord"))}},
	}
	places := []struct {
		name, guild string
		served      []string
		want        string
	}{
		{"another guild", otherGuild, []string{testGuild}, guildNotServed},
		{"a direct message", "", []string{testGuild}, guildDirectMessage},
		{"no guild served", testGuild, []string{}, guildNotServed},
	}
	for _, k := range kinds {
		for _, p := range places {
			for _, overHTTP := range []bool{true, false} {
				name := k.name + "/" + p.name + "/gateway"
				if overHTTP {
					name = k.name + "/" + p.name + "/http"
				}
				t.Run(name, func(t *testing.T) {
					h := newHarness(t, func(c *InboundConfig) { c.GuildIDs = p.served })
					ix := h.newInteraction(k.spec)
					if k.name == "click" {
						ix = withMessage(t, ix)
					}
					ix = withGuild(t, ix, p.guild)
					if overHTTP {
						h.postHTTP(ix)
					} else {
						h.gateway(ix)
					}
					h.wait()
					st := h.interactionState(ix)
					if len(st.Callbacks) != 1 {
						t.Fatalf("%d callbacks, want the one refusal", len(st.Callbacks))
					}
					cb := st.Callbacks[0]
					if k.name == "autocomplete" {
						if cb.Type != int(discordgo.InteractionApplicationCommandAutocompleteResult) || len(cb.Choices) != 0 || len(h.comp.asked) != 0 {
							t.Errorf("autocomplete answered %d with %d choices, completer asked %d times: want no choices", cb.Type, len(cb.Choices), len(h.comp.asked))
						}
					} else {
						var data struct {
							Content string `json:"content"`
						}
						json.Unmarshal(cb.Data, &data)
						if cb.Type != int(discordgo.InteractionResponseChannelMessageWithSource) || cb.Flags&int(discordgo.MessageFlagsEphemeral) == 0 || data.Content != p.want {
							t.Errorf("answer type %d flags %d %q, want a private %q", cb.Type, cb.Flags, data.Content, p.want)
						}
					}
					if ran := h.logs.ran(); len(ran) != 0 {
						t.Errorf("the command ran %d times", len(ran))
					}
				})
			}
		}
	}

	t.Run("served guild runs", func(t *testing.T) {
		h := newHarness(t, nil)
		h.postHTTP(h.newInteraction(ixSpec{typ: discordgo.InteractionApplicationCommand, data: logsCommand()}))
		h.wait()
		if ran := h.logs.ran(); len(ran) != 1 {
			t.Errorf("the command ran %d times, want once", len(ran))
		}
	})
}

// withMessage adds the clicked message a component interaction carries.
func withMessage(t *testing.T, ix interaction) interaction {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(ix.Body, &v); err != nil {
		t.Fatal(err)
	}
	v["message"] = map[string]any{"id": "1900000000000000009", "channel_id": testChannel}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ix.Body = body
	return ix
}
