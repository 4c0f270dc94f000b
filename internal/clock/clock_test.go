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

func TestFakeAfterFiresWhenDue(t *testing.T) {
	f := NewFake()
	ch := f.After(time.Second)
	if f.Waiters() != 1 {
		t.Fatalf("%d waiters, want 1", f.Waiters())
	}
	f.Advance(999 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("After fired before its time")
	default:
	}
	f.Advance(time.Millisecond)
	select {
	case got := <-ch:
		if !got.Equal(f.Now()) {
			t.Errorf("fired with %v, want %v", got, f.Now())
		}
	default:
		t.Fatal("After did not fire once due")
	}
	if f.Waiters() != 0 {
		t.Errorf("%d waiters left, want 0", f.Waiters())
	}
	select {
	case <-f.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}

func TestOrDefaultsToReal(t *testing.T) {
	if Or(nil) != Real {
		t.Error("Or(nil) is not Real")
	}
	f := NewFake()
	if Or(f) != Clock(f) {
		t.Error("Or(f) is not f")
	}
}
