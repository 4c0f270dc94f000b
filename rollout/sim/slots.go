package sim

import (
	"context"
	"sync"
	"time"
)

// slots models a GPU's bound on sequences generated at once, vLLM's
// max_num_seqs: the v1 scheduler admits a waiting request only while
// len(running) < max_num_running_reqs (= scheduler_config.max_num_seqs,
// vllm/v1/core/sched/scheduler.py), and a request with n > 1 is fanned out
// into n child requests (vllm/v1/engine/parallel_sampling.py), so it holds
// n of them. Waiting requests are admitted first come, first served, as
// with vLLM's default FCFS policy.
type slots struct {
	mu      sync.Mutex
	size    int // 0: unbounded
	used    int
	waiting []*slotWaiter
	// busy is the sequence-seconds of finished holds; held is when the
	// current holds began, to add what is in progress to a snapshot.
	busy float64
}

type slotWaiter struct {
	n       int
	ready   chan struct{}
	granted bool
}

func newSlots(size int) *slots { return &slots{size: size} }

// clamp is how many slots a request of n sequences holds: all of them on an
// unbounded server, at most the whole server otherwise (such a request runs
// alone, as a batch of max_num_seqs).
func (s *slots) clamp(n int) int {
	if s.size > 0 && n > s.size {
		return s.size
	}
	return max(n, 1)
}

// acquire waits, in arrival order, for n slots or until ctx or closed ends
// the wait.
func (s *slots) acquire(ctx context.Context, closed <-chan struct{}, n int) bool {
	s.mu.Lock()
	if s.size == 0 || (len(s.waiting) == 0 && s.used+n <= s.size) {
		s.used += n
		s.mu.Unlock()
		return true
	}
	w := &slotWaiter{n: n, ready: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
	case <-closed:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		s.used -= n
		s.grantLocked()
		return false
	}
	for i, x := range s.waiting {
		if x == w {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			break
		}
	}
	// The head may have been blocking smaller requests behind it.
	s.grantLocked()
	return false
}

// release returns n slots held for d.
func (s *slots) release(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy += float64(n) * d.Seconds()
	if s.size == 0 {
		s.used -= n
		return
	}
	s.used -= n
	s.grantLocked()
}

func (s *slots) grantLocked() {
	for len(s.waiting) > 0 && s.used+s.waiting[0].n <= s.size {
		w := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		w.granted = true
		s.used += w.n
		close(w.ready)
	}
}

func (s *slots) snapshot() (running, waiting int, busy float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.waiting {
		waiting += w.n
	}
	return s.used, waiting, s.busy
}
