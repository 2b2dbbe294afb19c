package harness

import "syscall"

// childAttr makes a child die with its parent (a test binary, a benchmark
// tool) even when that is killed before its cleanups run (go test's
// timeout, a panic), so no child outlives its parent. Its own process group
// keeps a terminal's Ctrl-C away from it: the parent stops its children, in
// order, when it is interrupted.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
