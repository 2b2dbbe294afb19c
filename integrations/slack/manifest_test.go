package slack

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestManifestScopes: the app manifest grants what this adapter calls.
func TestManifestScopes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "slack", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			BotUser struct {
				DisplayName string `yaml:"display_name"`
			} `yaml:"bot_user"`
		} `yaml:"features"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Features.BotUser.DisplayName == "" {
		t.Error("no bot user")
	}
	scopes, err := BotScopes(b)
	if err != nil {
		t.Fatal(err)
	}
	for method, scope := range map[string]string{
		methodPostMessage:                     "chat:write",
		methodUpdate:                          "chat:write",
		methodHistory + " (public channels)":  "channels:history",
		methodHistory + " (private channels)": "groups:history",
		"files.getUploadURLExternal":          "files:write",
		"files.completeUploadExternal":        "files:write",
		methodPostEphemeral:                   "chat:write",
		methodUserGroups:                      "usergroups:read",
		methodUsersInfo:                       "users:read",
	} {
		if !slices.Contains(scopes, scope) {
			t.Errorf("%s needs the %s scope", method, scope)
		}
	}
}
