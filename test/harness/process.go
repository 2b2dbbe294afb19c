package harness

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// failureLogBytes is how much of a process's log a failed test shows: the
// end, where the reason usually is.
const failureLogBytes = 256 << 10

// Process is a child process whose exit a goroutine observes, its output
// going to a log file.
type Process struct {
	// Name labels the process in messages ("chatops-sqlite #3").
	Name    string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // how it ended; valid once done is closed
}

// processSeq numbers the processes a test binary or a tool starts, so that
// two bots of one test have told-apart names and logs.
var processSeq atomic.Int64

// StartProcess starts cmd, appending to logPath whatever output the caller
// has not sent elsewhere (cmd.Stdout, cmd.Stderr). Unless cmd says
// otherwise, the child dies with this process (childAttr).
func StartProcess(name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = logFile
	}
	if cmd.Stderr == nil {
		cmd.Stderr = logFile
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = childAttr()
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, strings.Join(cmd.Args, " "), err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Start starts cmd for t as the process "name #n". Its output goes to
// logPath, or to a new file in t.TempDir() when logPath is empty; the end
// of that log is shown if t has failed by the time it ends, and the process
// is killed then if it still runs.
func Start(t TB, name, logPath string, cmd *exec.Cmd) *Process {
	t.Helper()
	n := processSeq.Add(1)
	if logPath == "" {
		logPath = filepath.Join(t.TempDir(), name+"-"+strconv.FormatInt(n, 10)+".log")
	}
	p, err := StartProcess(fmt.Sprintf("%s #%d", name, n), cmd, logPath)
	if err != nil {
		t.Fatalf("%v", err)
	}
	// Registered first so it runs last: the process is gone when its log
	// is read.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- output of %s (%s) ----\n%s\n---- end of output of %s ----", p.Name, p.Command(), p.Tail(failureLogBytes), p.Name)
		}
	})
	t.Cleanup(p.Kill)
	return p
}

// Command is the command line the process runs.
func (p *Process) Command() string { return strings.Join(p.cmd.Args, " ") }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil for exit code 0); valid once Exited.
func (p *Process) Err() error { return p.err }

// ExitCode is the process's exit code, -1 when a signal ended it; valid
// once Exited.
func (p *Process) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Kill sends SIGKILL unless the process has exited, and waits until it has.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Exit is how a process ended when it was asked to stop.
type Exit struct {
	// Code is the exit code: -1 when a signal ended the process, or when
	// it had ended before it was asked.
	Code int
	// How says it in words, for a report.
	How string
	// Err is nil only for exit code 0 after SIGTERM.
	Err error
}

// Terminate sends SIGTERM and waits up to grace for the exit, then kills
// the process.
func (p *Process) Terminate(grace time.Duration) Exit {
	if p.Exited() {
		return Exit{Code: -1, How: fmt.Sprintf("exited on its own: %v", p.err),
			Err: fmt.Errorf("%s had already exited before SIGTERM: %v", p.Name, p.err)}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.Kill()
		return Exit{Code: -1, How: "killed: no exit within " + grace.String() + " of SIGTERM",
			Err: fmt.Errorf("%s did not exit within %s of SIGTERM (killed it)", p.Name, grace)}
	}
	code := p.ExitCode()
	e := Exit{Code: code, How: fmt.Sprintf("exit %d after SIGTERM", code)}
	if code != 0 {
		e.Err = fmt.Errorf("%s: exit after SIGTERM = %v (exit code %d), want exit code 0", p.Name, p.err, code)
	}
	return e
}

// Tail is at most the last max bytes of the process's log.
func (p *Process) Tail(max int64) string { return TailFile(p.LogPath, max) }

// RSSMiB is the process's resident memory now (0 once it has exited).
func (p *Process) RSSMiB() float64 { return p.statusKiB("VmRSS") / 1024 }

// PeakRSSMiB is the most resident memory the process has had (VmHWM; 0
// once it has exited).
func (p *Process) PeakRSSMiB() float64 { return p.statusKiB("VmHWM") / 1024 }

// statusKiB reads a "Key: N kB" line of /proc/PID/status.
func (p *Process) statusKiB(key string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, key+":"); ok {
			if fs := strings.Fields(rest); len(fs) >= 1 {
				v, _ := strconv.ParseFloat(fs[0], 64)
				return v
			}
		}
	}
	return 0
}

// TailFile is at most the last max bytes of the file at path, saying how
// much it left out, or why it cannot be read.
func TailFile(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot open %s: %v)", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot stat %s: %v)", path, err)
	}
	prefix := ""
	if st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot seek %s: %v)", path, err)
		}
		prefix = fmt.Sprintf("[... first %d bytes of %s cut ...]\n", st.Size()-max, path)
	}
	b, _ := io.ReadAll(f)
	return prefix + string(b)
}

// CleanEnviron is this process's environment without anything that would
// configure a child chatops (CHATOPS_*, OTEL_*), point it at a Kubernetes cluster
// (KUBECONFIG, or KUBERNETES_SERVICE_* inside a pod) or send its HTTP
// through a proxy, so a developer's shell cannot leak into what is tested.
func CleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch uk := strings.ToUpper(k); {
		case strings.HasPrefix(uk, "CHATOPS_"), strings.HasPrefix(uk, "OTEL_"), uk == "KUBECONFIG", strings.HasPrefix(uk, "KUBERNETES_SERVICE_"), strings.HasSuffix(uk, "_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return env
}
