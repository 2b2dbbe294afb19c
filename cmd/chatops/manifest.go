package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/integrations/slack"
	"go.uber.org/zap"
)

// slackManifest prints the Slack app manifest generated from the command
// table; deploy/slack/manifest.yaml is its output for the defaults.
func slackManifest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("manifest slack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "ops", "the slash command, without the slash")
	mode := fs.String("mode", "socket", "socket (no public endpoint) or http")
	baseURL := fs.String("base-url", "", "https:// address Slack reaches the bot at (http mode)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	out, err := manifestFor(*root, *mode, *baseURL)
	if err != nil {
		fmt.Fprintln(stderr, "chatops:", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}

func manifestFor(root, mode, baseURL string) ([]byte, error) {
	router, err := bot.NewRouter(commands.Table(commands.Deps{}), bot.RouterConfig{Root: root}, zap.NewNop(), nil)
	if err != nil {
		return nil, err
	}
	return slack.Manifest(router.Specs(), slack.ManifestOptions{Root: root, Mode: mode, BaseURL: baseURL})
}
