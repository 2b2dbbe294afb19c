// Package e2e holds the end-to-end tests of the chatops binary: it builds the
// binary once and runs it, through test/harness, as a subprocess against
// SQLite or a fresh PostgreSQL database, driven directly over HTTP or
// through a real Alertmanager.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/bakewise/chatops/test/harness"
)

// chatopsBin is the binary under test: CHATOPS_E2E_BIN, or built by TestMain.
var chatopsBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "chatops-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	chatopsBin, err = harness.Chatops(context.Background(), os.Getenv("CHATOPS_E2E_BIN"), tmp)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	return m.Run()
}

// forEachStore runs f as the subtests "sqlite" and "postgres".
func forEachStore(t *testing.T, f func(t *testing.T, kind harness.StoreKind)) {
	t.Helper()
	for _, kind := range harness.StoreKinds {
		t.Run(string(kind), func(t *testing.T) { f(t, kind) })
	}
}

// newBotConfig is a bot of the binary under test on a fresh store of kind.
func newBotConfig(t *testing.T, kind harness.StoreKind) *harness.BotConfig {
	t.Helper()
	return harness.NewBotConfig(t, chatopsBin, kind)
}
