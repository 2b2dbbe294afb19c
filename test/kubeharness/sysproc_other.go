//go:build !linux

package kubeharness

import "syscall"

// childAttr: without Pdeathsig, a test binary killed before its cleanups
// leaves its children behind; Linux is where the tests run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
