package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// buildTimeout bounds one `go build`: a cold build of the bot (client-go
// included) on two busy cores takes minutes, not tens of them.
const buildTimeout = 10 * time.Minute

// RepoRoot finds the chatops module's root at or above the working
// directory. Other modules inside it (the control plane's build) do not
// count.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			if bytes.Contains(data, []byte("module github.com/bakewise/chatops\n")) {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the chatops module (no go.mod of github.com/bakewise/chatops above the working directory)")
		}
		dir = parent
	}
}

// GoBuild builds the package pkg of the module at repo into out.
func GoBuild(ctx context.Context, repo, out, pkg string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %v\n%s", out, pkg, repo, err, b)
	}
	return nil
}

// Chatops returns the chatops binary to run: bin when it is given (a -bin
// flag, CHATOPS_E2E_BIN), or ./cmd/chatops built into dir.
func Chatops(ctx context.Context, bin, dir string) (string, error) {
	if bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", err
		}
		if st, err := os.Stat(abs); err != nil || st.IsDir() {
			return "", fmt.Errorf("chatops binary %s: not a file", bin)
		}
		return abs, nil
	}
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "chatops")
	return out, GoBuild(ctx, repo, out, "./cmd/chatops")
}

// RepoPath is the path of elem inside the repository; it fails t outside
// the repository.
func RepoPath(t TB, elem ...string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// Fixture is the Alertmanager webhook body test/fixtures/alertmanager/name.
func Fixture(t TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(RepoPath(t, "test", "fixtures", "alertmanager", name))
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}
