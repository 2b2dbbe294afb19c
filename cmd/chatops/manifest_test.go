package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/slack/manifest.yaml from the command table")

// The committed Slack manifest is what the command table generates: a
// command added to the table without regenerating it fails here.
func TestSlackManifestUpToDate(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "slack", "manifest.yaml")
	want, err := manifestFor("ops", "socket", "")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run go test ./cmd/chatops -run TestSlackManifestUpToDate -update (or chatops manifest slack > %s)", path, path)
	}
}

func TestSlackManifestHTTPMode(t *testing.T) {
	out, err := manifestFor("ops", "http", "https://chatops.bakery-ia.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"url: https://chatops.bakery-ia.example/slack/commands", "request_url: https://chatops.bakery-ia.example/slack/events", "socket_mode_enabled: false"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("http-mode manifest lacks %q", want)
		}
	}
	if _, err := manifestFor("ops", "http", "http://insecure"); err == nil {
		t.Error("an http:// base URL was accepted")
	}
}
