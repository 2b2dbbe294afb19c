package kubeharness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bakewise/chatops/test/harness"
)

const (
	// stopGrace is how long a process gets between SIGTERM and SIGKILL.
	stopGrace = 10 * time.Second
	// logTailBytes is how much of a control-plane log an error shows: the
	// last few dozen lines, where the reason is.
	logTailBytes = 16 << 10
)

// startProcess runs one control-plane binary as a child of the test, its
// output going to logDir/name.log after the command line.
func startProcess(name, bin, logDir string, args ...string) (*harness.Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	if err := os.WriteFile(logPath, []byte("+ "+bin+" "+strings.Join(args, " ")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	return harness.StartProcess(name, exec.Command(bin, args...), logPath)
}

// stop ends p: SIGTERM, then SIGKILL after stopGrace.
func stop(p *harness.Process) {
	if !p.Exited() {
		p.Terminate(stopGrace)
	}
}
