// Package clock holds the shape of the background loops (Every) and a
// clock that tests move by hand (Fake), for the caches and loops whose
// tests would otherwise wait on real timers.
package clock

import (
	"context"
	"sync"
	"time"
)

// Every calls fn once per period, the first time after one period, until
// ctx ends: the shape of the server's background loops and the worker's
// lease heartbeat.
func Every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// Fake is a clock that moves only when Advance is called; its Now
// replaces time.Now where a component takes a now func() time.Time. It is
// safe for concurrent use.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// NewFake returns a fake clock at a fixed instant.
func NewFake() *Fake { return &Fake{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}
