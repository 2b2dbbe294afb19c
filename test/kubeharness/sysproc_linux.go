package kubeharness

import "syscall"

// childAttr makes a child die with the test binary even when that is killed
// before its cleanups run (go test's timeout, a panic), so no control plane
// outlives its test.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
