package benchkit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

// RepoRoot finds the chatops module's root at or above the working
// directory.
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
