package harness

// TB is what the harness needs from a test: the part of testing.TB it calls.
// *testing.T and *testing.B satisfy it; Program is the implementation for
// the benchmark tools, which are programs, not tests.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
	Cleanup(func())
	TempDir() string
}
