// Package clock holds the time the server, the job scheduler and the
// queues' local caches read and wait on (Clock: Real, or a Fake that tests
// move by hand, so they need not wait on real timers), and the shape of the
// background loops (Every).
//
// Only time kept in the process goes through a Clock. Time that Redis
// keeps (key expiry, lease PX, a consumer's idle time) is Redis's own and
// stays real in tests.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the system clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Or is c, or Real when c is nil: the default of an options field.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Every calls fn once per period, the first time after one period, until
// ctx ends: the shape of the server's background loops and the worker's
// lease heartbeat. Its period is real time (a loop's pace, not a timing
// that tests assert).
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

// Fake is a Clock that moves only when Advance is called. Its Now also
// replaces time.Now where a component takes a now func() time.Time. It is
// safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a fake clock at a fixed instant.
func NewFake() *Fake { return &Fake{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// After fires once Advance has moved the clock d past now (at once if
// d <= 0).
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.t
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.t.Add(d), ch: ch})
	return ch
}

// Waiters is the number of After channels not fired yet: a test advances
// the clock once the component it drives is waiting.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Advance moves the fake time forward by d and fires the After channels
// that are due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	left := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(f.t) {
			left = append(left, w)
			continue
		}
		w.ch <- f.t
	}
	f.waiters = left
}
