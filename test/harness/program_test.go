package harness

import (
	"errors"
	"os"
	"slices"
	"testing"
)

func TestProgramRunTurnsFatalIntoError(t *testing.T) {
	p := NewProgram("test", t.Logf)
	defer p.Close()
	err := p.Run(func() error {
		p.Fatalf("no %s", "database")
		return nil
	})
	if err == nil || err.Error() != "no database" || !p.Failed() {
		t.Errorf("Run = %v, Failed = %v; want the Fatalf message and a failed program", err, p.Failed())
	}
	want := errors.New("plain")
	if err := p.Run(func() error { return want }); err != want {
		t.Errorf("Run = %v, want fn's own error", err)
	}
}

func TestProgramCloseRunsCleanupsLastFirst(t *testing.T) {
	p := NewProgram("test", t.Logf)
	dir := p.TempDir()
	var order []int
	p.Cleanup(func() { order = append(order, 1) })
	p.Cleanup(func() { panic("a broken cleanup") })
	p.Cleanup(func() { order = append(order, 3) })
	p.Close()
	p.Close()
	if !slices.Equal(order, []int{3, 1}) {
		t.Errorf("cleanups ran in order %v, want [3 1] (a panicking one does not stop the others, a second Close runs none)", order)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("TempDir %s after Close: %v, want it removed", dir, err)
	}
}
