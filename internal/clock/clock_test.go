package clock

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		Every(ctx, time.Millisecond, func() {
			if n.Add(1) == 3 {
				cancel()
			}
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("fn ran %d times, want 3 (none after the context ended)", got)
	}
}

func TestFakeMovesOnlyWhenAdvanced(t *testing.T) {
	f := NewFake()
	t0 := f.Now()
	if !f.Now().Equal(t0) {
		t.Fatal("the fake clock moved on its own")
	}
	f.Advance(time.Second)
	if d := f.Now().Sub(t0); d != time.Second {
		t.Errorf("advanced %v, want 1s", d)
	}
}
