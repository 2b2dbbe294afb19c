package main

import (
	"context"
	"flag"

	"github.com/bakewise/chatops/bot/command"
	"github.com/bakewise/chatops/commands"
	"github.com/bakewise/chatops/integrations/slack"
)

// slackManifestCommand prints the Slack app manifest generated from the
// command table; deploy/slack/manifest.yaml is its output for the defaults.
func slackManifestCommand(fs *flag.FlagSet) action {
	root := fs.String("root", "ops", "the slash command's `NAME`, without the slash")
	mode := fs.String("mode", "socket", "`MODE` is how Slack delivers commands: socket (no public endpoint) or http")
	baseURL := fs.String("base-url", "", "the https:// `URL` Slack reaches the bot at (http mode)")
	return func(_ context.Context, inv invocation) error {
		out, err := manifestFor(*root, *mode, *baseURL)
		if err != nil {
			return usageError{err} // what the generator refuses is the flags' values
		}
		_, err = inv.stdout.Write(out)
		return err
	}
}

func manifestFor(root, mode, baseURL string) ([]byte, error) {
	table, err := command.NewTable(root, commands.Table(commands.Deps{}, nil))
	if err != nil {
		return nil, err
	}
	return slack.Manifest(table.Specs(), slack.ManifestOptions{Root: root, Mode: mode, BaseURL: baseURL})
}
