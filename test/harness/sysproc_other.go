//go:build !linux

package harness

import "syscall"

// childAttr: without Pdeathsig, a parent killed before its cleanups
// leaves its children behind; Linux is where the tests run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
