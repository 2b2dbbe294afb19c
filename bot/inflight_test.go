package bot

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestInflight(t *testing.T) {
	f := NewInflight(2)
	r1, ok1 := f.Start()
	r2, ok2 := f.Start()
	if _, ok3 := f.Start(); !ok1 || !ok2 || ok3 {
		t.Fatalf("starts = %v %v %v; want two places and a refusal", ok1, ok2, ok3)
	}
	r1()
	r1() // twice is harmless
	r3, ok := f.Start()
	if !ok {
		t.Fatal("a released place was not given again")
	}
	r3()

	// Shutdown waits for running work until its deadline, then cancels it
	// and waits for it to return.
	go func() {
		<-f.Context().Done() // the second piece of work ends when cancelled
		r2()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline", err)
	}
	if !f.Closed() {
		t.Fatal("not closed after Shutdown")
	}
	if _, ok := f.Start(); ok {
		t.Fatal("work started after Shutdown")
	}
}
