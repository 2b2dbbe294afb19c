package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// GoBuild builds pkg of the module at repo into out, giving up after
// timeout (0: no limit of its own).
func GoBuild(ctx context.Context, repo, out, pkg string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Bot is the chatops binary running as `chatops serve`.
type Bot struct {
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	err     error
}

// StartBot writes configYAML to work/chatops.yaml and starts
// `bin serve --config work/chatops.yaml` in work with the environment env,
// its output going to work/bot.log. With pdeathsig the bot is killed when
// this process dies.
func StartBot(bin, work, configYAML string, env []string, pdeathsig bool) (*Bot, error) {
	cfgPath := filepath.Join(work, "chatops.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(work, "bot.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Dir = work
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if pdeathsig {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	b := &Bot{Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		b.err = cmd.Wait()
		logFile.Close()
		close(b.done)
	}()
	return b, nil
}

// Pid is the bot's process id.
func (b *Bot) Pid() int { return b.Cmd.Process.Pid }

// Exited reports whether the bot has exited.
func (b *Bot) Exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Err is how the bot's process ended; valid once Exited.
func (b *Bot) Err() error { return b.err }

// WaitReady polls ready every 100 ms until it reports true, the bot exits,
// timeout passes or ctx is done.
func (b *Bot) WaitReady(ctx context.Context, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if b.Exited() {
			return fmt.Errorf("bot exited before /readyz was 200: %v; log:\n%s", b.err, Tail(b.LogPath, 4000))
		}
		if ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz not 200 within %s; log:\n%s", timeout, Tail(b.LogPath, 4000))
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// Stop sends SIGTERM and waits up to timeout, then kills. It returns the
// peak RSS, the exit code (-1 if the bot had already exited or was
// killed), how the bot ended, and an error unless it exited 0.
func (b *Bot) Stop(timeout time.Duration) (peakMiB float64, code int, exit string, err error) {
	if b.Exited() {
		return 0, -1, fmt.Sprintf("exited on its own during the run: %v", b.err), fmt.Errorf("bot exited during the run: %v", b.err)
	}
	peakMiB = ProcKiB(b.Pid(), "VmHWM") / 1024
	_ = b.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		code = b.Cmd.ProcessState.ExitCode()
		if code != 0 {
			return peakMiB, code, fmt.Sprintf("exit %d after SIGTERM", code), fmt.Errorf("bot exited with code %d after SIGTERM (want 0)", code)
		}
		return peakMiB, 0, "exit 0 after SIGTERM", nil
	case <-time.After(timeout):
		_ = b.Cmd.Process.Kill()
		<-b.done
		return peakMiB, -1, "killed: no exit within " + timeout.String() + " of SIGTERM", fmt.Errorf("bot did not exit within %s of SIGTERM", timeout)
	}
}
