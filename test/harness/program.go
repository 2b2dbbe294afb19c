package harness

import (
	"fmt"
	"os"
	"sync"
)

// Program is the TB of a program (a benchmark tool) rather than a test:
// log lines go to its logf, cleanups run when it calls Close, and Fatalf
// unwinds the function given to Run, as t.FailNow ends a test. Fatalf
// outside Run is a panic that ends the program.
type Program struct {
	name string
	logf func(format string, args ...any)

	mu       sync.Mutex
	failed   bool
	cleanups []func()
	tempDirs []string
}

var _ TB = (*Program)(nil)

// NewProgram returns the TB of the program name, logging through logf.
func NewProgram(name string, logf func(format string, args ...any)) *Program {
	return &Program{name: name, logf: logf}
}

// fatal is what Fatalf unwinds with, and what Run turns back into an error.
type fatal struct{ msg string }

func (f fatal) Error() string { return f.msg }

// Run calls fn and returns its error, or the message of a Fatalf that fn
// (or the harness acting for it) called.
func (p *Program) Run(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = f
		}
	}()
	return fn()
}

func (p *Program) Helper() {}

func (p *Program) Logf(format string, args ...any) { p.logf(format, args...) }

func (p *Program) Errorf(format string, args ...any) {
	p.fail()
	p.logf("ERROR: %s", fmt.Sprintf(format, args...))
}

func (p *Program) Fatalf(format string, args ...any) {
	p.fail()
	panic(fatal{fmt.Sprintf(format, args...)})
}

func (p *Program) fail() {
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
}

func (p *Program) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func (p *Program) Cleanup(f func()) {
	p.mu.Lock()
	p.cleanups = append(p.cleanups, f)
	p.mu.Unlock()
}

// TempDir makes a directory that Close removes.
func (p *Program) TempDir() string {
	dir, err := os.MkdirTemp("", "chatops-"+p.name+"-")
	if err != nil {
		p.Fatalf("TempDir: %v", err)
	}
	p.mu.Lock()
	p.tempDirs = append(p.tempDirs, dir)
	p.mu.Unlock()
	return dir
}

// Close runs the cleanups, last registered first, then removes the temp
// dirs. A cleanup that calls Fatalf or panics is logged and the others still
// run. Close may be called more than once.
func (p *Program) Close() {
	for {
		p.mu.Lock()
		n := len(p.cleanups)
		if n == 0 {
			dirs := p.tempDirs
			p.tempDirs = nil
			p.mu.Unlock()
			for _, d := range dirs {
				os.RemoveAll(d)
			}
			return
		}
		f := p.cleanups[n-1]
		p.cleanups = p.cleanups[:n-1]
		p.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil {
					p.logf("cleanup: %v", r)
				}
			}()
			f()
		}()
	}
}

// WorkDir makes the directory for a run's files (configurations, logs):
// chatops-NAME-* under the system's temporary directory. Unlike TempDir
// it outlives Close: call KeepOrRemove when the run ends.
func (p *Program) WorkDir() (string, error) { return os.MkdirTemp("", "chatops-"+p.name+"-") }

// KeepOrRemove removes dir when the run went well and keep is off, else
// logs where it is kept; it returns dir as a report names it.
func (p *Program) KeepOrRemove(dir string, ok, keep bool) string {
	if ok && !keep {
		os.RemoveAll(dir)
		return dir + " (removed)"
	}
	p.logf("work directory kept: %s", dir)
	return dir
}
