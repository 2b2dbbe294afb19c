package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// harnessTB is the testing.TB that test/kubeharness takes, for a program
// rather than a test: log lines go to stderr, cleanups run when the
// program ends (runCleanups), and a fatal error unwinds the setup with a
// panic that setup recovers, as t.FailNow would end the test.
//
// The embedded interface is nil: a testing.TB method that kubeharness
// does not use panics if called, and is added here when it does.
type harnessTB struct {
	testing.TB

	mu       sync.Mutex
	failed   bool
	cleanups []func()
	tempDirs []string
}

// errFatal is what Fatalf unwinds with.
type errFatal struct{ msg string }

func (e errFatal) Error() string { return e.msg }

func (t *harnessTB) Helper()      {}
func (t *harnessTB) Name() string { return "bench-commands" }

func (t *harnessTB) Logf(format string, args ...any) { logf("%s", fmt.Sprintf(format, args...)) }
func (t *harnessTB) Log(args ...any)                 { logf("%s", fmt.Sprint(args...)) }

func (t *harnessTB) Errorf(format string, args ...any) {
	t.Fail()
	logf("ERROR: %s", fmt.Sprintf(format, args...))
}

func (t *harnessTB) Error(args ...any) {
	t.Fail()
	logf("ERROR: %s", fmt.Sprint(args...))
}

func (t *harnessTB) Fatalf(format string, args ...any) {
	t.Fail()
	panic(errFatal{fmt.Sprintf(format, args...)})
}

func (t *harnessTB) Fatal(args ...any) {
	t.Fail()
	panic(errFatal{fmt.Sprint(args...)})
}

func (t *harnessTB) FailNow() {
	t.Fail()
	panic(errFatal{"FailNow"})
}

func (t *harnessTB) Fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}

func (t *harnessTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *harnessTB) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *harnessTB) Context() context.Context { return context.Background() }

func (t *harnessTB) TempDir() string {
	dir, err := os.MkdirTemp("", "chatops-bench-commands-tb-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.mu.Lock()
	t.tempDirs = append(t.tempDirs, dir)
	t.mu.Unlock()
	return dir
}

// runCleanups runs the registered cleanups, last first, then removes the
// temp dirs. It may be called more than once.
func (t *harnessTB) runCleanups() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			dirs := t.tempDirs
			t.tempDirs = nil
			t.mu.Unlock()
			for _, d := range dirs {
				os.RemoveAll(d)
			}
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		func() {
			defer func() {
				if p := recover(); p != nil {
					logf("cleanup: %v", p)
				}
			}()
			f()
		}()
	}
}

// catchFatal turns a Fatalf panic of fn into an error.
func catchFatal(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(errFatal)
			if !ok {
				panic(p)
			}
			err = f
		}
	}()
	return fn()
}
