package slack

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/bakewise/chatops/bot"
)

// ManifestOptions shape the generated Slack app manifest.
type ManifestOptions struct {
	// Root is the slash command, without the slash ("ops").
	Root string
	// Mode is "socket" (no public endpoint) or "http".
	Mode string
	// BaseURL is where Slack reaches the bot in http mode
	// ("https://chatops.example.com"); unused in socket mode.
	BaseURL string
}

// Slack's limits on a slash command in a manifest.
const (
	maxSlashDescription = 2000
	maxUsageHint        = 1000
)

// Manifest generates the Slack app manifest from the command table, so the
// slash command's description and usage hint always match what the bot
// answers. deploy/slack/manifest.yaml is its output for the defaults; a test
// fails when that file is out of date.
func Manifest(specs []bot.CommandSpec, opts ManifestOptions) ([]byte, error) {
	if opts.Root == "" {
		opts.Root = "ops"
	}
	if opts.Mode != "socket" && opts.Mode != "http" {
		return nil, fmt.Errorf("slack manifest: mode %q: want socket or http", opts.Mode)
	}
	if opts.Mode == "http" && !strings.HasPrefix(opts.BaseURL, "https://") {
		return nil, fmt.Errorf("slack manifest: http mode needs an https:// base URL")
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	data := struct {
		ManifestOptions
		Description, UsageHint string
		Socket                 bool
		BaseURL                string
	}{
		ManifestOptions: opts,
		Description:     clipBytes("Operate the platform: "+strings.Join(names, ", "), maxSlashDescription),
		UsageHint:       clipBytes(strings.Join(names, " | "), maxUsageHint),
		Socket:          opts.Mode == "socket",
		BaseURL:         strings.TrimRight(opts.BaseURL, "/"),
	}
	var b bytes.Buffer
	if err := manifestTemplate.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("slack manifest: %w", err)
	}
	return b.Bytes(), nil
}

// BotScopes returns the bot token scopes a manifest requests
// (oauth_config.scopes.bot), so that what checks deploy/slack/manifest.yaml
// against the code or the README reads it one way.
func BotScopes(manifest []byte) ([]string, error) {
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("slack manifest: %w", err)
	}
	return m.OAuth.Scopes.Bot, nil
}

func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:strings.LastIndex(s[:n-1], " ")] + "…"
}

var manifestTemplate = template.Must(template.New("manifest").Parse(`# Slack app manifest for chatops, generated from the command table
# (` + "`chatops manifest slack`" + `; a test fails when this file is out of date).
#
# Create the app from it: Slack app settings → "Create New App" → "From an app
# manifest" → pick the workspace → paste this file. Then "Install to
# Workspace" and give chatops the bot token (xoxb-...) as
# CHATOPS_SLACK_BOT_TOKEN and, for Socket Mode, an app-level token with the
# connections:write scope (xapp-..., "Basic Information" → "App-Level Tokens")
# as CHATOPS_SLACK_APP_TOKEN; for HTTP mode the signing secret as
# CHATOPS_SLACK_SIGNING_SECRET. Invite the bot to every private channel it
# posts to (/invite @chatops); public channels need no invitation.
_metadata:
  major_version: 1
  minor_version: 1

display_information:
  name: chatops
  description: Incident threads from Alertmanager, and /{{.Root}} to look at and operate the platform.
  long_description: >-
    chatops mirrors every Alertmanager incident into one Slack thread per
    channel: a root message that is edited in place as the incident changes
    (severity colour, status, firing and resolved counts, key labels, links
    to the source graph, the runbook and a pre-filled silence), and thread
    replies that say what changed. P0 and P1 incidents mention the
    configured on-call user group; nothing else in a message can ping
    anyone. /{{.Root}} answers health, logs, history, status and incident
    questions from the Kubernetes API, in the channel or thread it is asked in.
  background_color: "#1d1c1d"

features:
  bot_user:
    display_name: chatops
    # The bot answers through the Web API only; it has no presence to show.
    always_online: true
  slash_commands:
    - command: /{{.Root}}
      description: {{printf "%q" .Description}}
      usage_hint: {{printf "%q" .UsageHint}}
      should_escape: false
{{- if not .Socket}}
      url: {{.BaseURL}}/slack/commands
{{- end}}

oauth_config:
  scopes:
    bot:
      # chat.postMessage and chat.update: post each incident's root message,
      # edit it in place as the incident changes, and reply in its thread;
      # chat.postEphemeral: answers only the asker should see.
      - chat:write
      # Post to public channels without being invited first, so a new
      # destination works as soon as it is configured. Private channels
      # still need the bot invited.
      - chat:write.public
      # conversations.history in public channels: after a post whose outcome
      # is unknown (the connection dropped after Slack received it), the bot
      # looks for the root it may have posted before posting it again, so an
      # incident never gets two threads.
      - channels:history
      # The same lookup in private channels.
      - groups:history
      # Read the message metadata (event_type chatops_incident, carrying the
      # incident's marker) by which that lookup recognises the bot's roots.
      - metadata.message:read
      # usergroups.list (with its members): which user groups a person is
      # in, for roles granted to a group (who may run or approve a
      # destructive command). Posting a mention of a group needs no scope.
      - usergroups:read
      # users.info: the name people chose (display name, else full name)
      # for who acknowledged, approved or ran something, on cards and
      # timelines; cached for an hour.
      - users:read
      # files.getUploadURLExternal and files.completeUploadExternal: a command
      # answer too long for a message (2,000 log lines) goes up as a text
      # file to the channel or thread it was asked in, beside a short
      # message that shows its last lines.
      - files:write
      # The /{{.Root}} slash command.
      - commands
      # "@chatops logs orders-service" inside an incident thread.
      - app_mentions:read

settings:
  event_subscriptions:
{{- if not .Socket}}
    request_url: {{.BaseURL}}/slack/events
{{- end}}
    bot_events:
      - app_mention
  interactivity:
    # Buttons on incident messages and approval cards.
    is_enabled: true
{{- if not .Socket}}
    request_url: {{.BaseURL}}/slack/interactions
{{- end}}
  # Socket Mode: the bot opens the connection, so it needs no public
  # endpoint. In HTTP mode Slack calls the request URLs above.
  socket_mode_enabled: {{.Socket}}
  org_deploy_enabled: false
  token_rotation_enabled: false
`))
