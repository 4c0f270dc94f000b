package sim

import (
	"sync"
	"time"
)

// slots models a GPU's bound on sequences generated at once, vLLM's
// max_num_seqs: the v1 scheduler admits a waiting request only while
// len(running) < max_num_running_reqs (= scheduler_config.max_num_seqs,
// vllm/v1/core/sched/scheduler.py). A request with n > 1 is fanned out into
// n child requests, each added to the scheduler on its own
// (vllm/v1/engine/parallel_sampling.py, ParentRequest.get_child_info, and
// AsyncLLM.add_request's loop over them), so its children take slots one
// by one as slots free, each holding one, and the request answers when its
// last child is done. Waiting children are admitted first come, first
// served, as with vLLM's default FCFS policy.
type slots struct {
	mu      sync.Mutex
	size    int // 0: unbounded
	used    int
	waiting []*child
	// busy is the sequence-seconds of finished children.
	busy float64
}

// child is one sequence of a request, queued for or holding a slot.
type child struct {
	ready   chan struct{} // closed when it gets its slot
	granted bool
	at      time.Time // when it got its slot
	done    bool      // its slot was given back, or it left the queue
}

func newSlots(size int) *slots { return &slots{size: size} }

// clamp is how many slots a request of n sequences holds: all of them on an
// unbounded server, at most the whole server otherwise (such a request runs
// as a batch of max_num_seqs).
func (s *slots) clamp(n int) int {
	if s.size > 0 && n > s.size {
		return s.size
	}
	return max(n, 1)
}

// queue adds a request's n children to the end of the queue, in order,
// and starts those that find a free slot.
func (s *slots) queue(n int) []*child {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*child, n)
	for i := range cs {
		cs[i] = &child{ready: make(chan struct{})}
		s.waiting = append(s.waiting, cs[i])
	}
	s.grantLocked()
	return cs
}

// finish gives back a child's slot after it generated for d.
func (s *slots) finish(c *child, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	s.busy += d.Seconds()
	s.used--
	s.grantLocked()
}

// withdraw ends a request's children early (its client went away, or the
// server is closing): those running count the time they held their slot
// until now, queued ones leave the queue, and the children behind them go
// ahead.
func (s *slots) withdraw(cs []*child, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		if c.done {
			continue
		}
		c.done = true
		if c.granted {
			s.busy += max(0, now.Sub(c.at).Seconds())
			s.used--
			continue
		}
		for i, x := range s.waiting {
			if x == c {
				s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
				break
			}
		}
	}
	s.grantLocked()
}

func (s *slots) grantLocked() {
	now := time.Now()
	for len(s.waiting) > 0 && (s.size == 0 || s.used < s.size) {
		c := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		c.granted, c.at = true, now
		s.used++
		close(c.ready)
	}
}

func (s *slots) snapshot() (running, waiting int, busy float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, len(s.waiting), s.busy
}
