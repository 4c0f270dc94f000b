package rollout

import (
	"context"
	"fmt"
	"sync"
)

// DefaultMaxDeliveries is how often a task is handed out before a passing
// error dead-letters it.
const DefaultMaxDeliveries = 8

// MemQueue is the embedded, in-process Queue: one FIFO per model and one
// result mailbox per job. It is what `shepherd label` uses without a server.
type MemQueue struct {
	maxDeliveries int

	mu      sync.Mutex
	ready   map[string][]Task // by model
	wake    chan struct{}     // closed and replaced whenever tasks arrive
	results map[string][]TaskResult
	resWake map[string]chan struct{}
	done    map[string]map[string]bool // task ids completed, by job
	dead    []DeadLetter
	closed  bool
	// capacity reports the consumers' sample capacity (nil: unknown).
	capacity func() int
}

// DeadLetter is a task that failed for good and why.
type DeadLetter struct {
	Task  Task
	Cause string
}

// NewMemQueue returns an empty queue; maxDeliveries <= 0 means
// DefaultMaxDeliveries.
func NewMemQueue(maxDeliveries int) *MemQueue {
	if maxDeliveries <= 0 {
		maxDeliveries = DefaultMaxDeliveries
	}
	return &MemQueue{
		maxDeliveries: maxDeliveries,
		ready:         map[string][]Task{},
		wake:          make(chan struct{}),
		results:       map[string][]TaskResult{},
		resWake:       map[string]chan struct{}{},
		done:          map[string]map[string]bool{},
	}
}

// Enqueue implements Queue.
func (q *MemQueue) Enqueue(_ context.Context, tasks ...Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	for _, t := range tasks {
		// A task enqueued again after it completed (its samples were
		// dropped and are wanted anew) must deliver a result again.
		delete(q.done[t.JobID], t.ID)
		q.ready[t.Model] = append(q.ready[t.Model], t)
	}
	q.broadcastLocked()
	return nil
}

func (q *MemQueue) broadcastLocked() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// Reserve implements Queue.
func (q *MemQueue) Reserve(ctx context.Context, model string, max int) ([]Task, error) {
	if max < 1 {
		return nil, fmt.Errorf("reserve: max must be at least 1, got %d", max)
	}
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		if ts := q.ready[model]; len(ts) > 0 {
			n := min(max, len(ts))
			out := make([]Task, n)
			copy(out, ts[:n])
			q.ready[model] = ts[n:]
			for i := range out {
				out[i].Deliveries++
			}
			q.mu.Unlock()
			return out, nil
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// Complete implements Queue.
func (q *MemQueue) Complete(_ context.Context, t Task, r TaskResult) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deliverLocked(t, r)
	return nil
}

func (q *MemQueue) deliverLocked(t Task, r TaskResult) {
	done := q.done[t.JobID]
	if done == nil {
		done = map[string]bool{}
		q.done[t.JobID] = done
	}
	if done[t.ID] {
		return
	}
	done[t.ID] = true
	r.TaskID, r.JobID = t.ID, t.JobID
	q.results[t.JobID] = append(q.results[t.JobID], r)
	if ch, ok := q.resWake[t.JobID]; ok {
		close(ch)
		delete(q.resWake, t.JobID)
	}
}

// Retry implements Queue.
func (q *MemQueue) Retry(ctx context.Context, t Task, cause error) error {
	if t.Deliveries >= q.maxDeliveries {
		return q.Fail(ctx, t, fmt.Errorf("gave up after %d deliveries: %w", t.Deliveries, cause))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.ready[t.Model] = append(q.ready[t.Model], t)
	q.broadcastLocked()
	return nil
}

// Fail implements Queue.
func (q *MemQueue) Fail(_ context.Context, t Task, cause error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dead = append(q.dead, DeadLetter{Task: t, Cause: cause.Error()})
	q.deliverLocked(t, TaskResult{Failed: true, Error: cause.Error()})
	return nil
}

// Results implements Queue.
func (q *MemQueue) Results(ctx context.Context, jobID string) ([]TaskResult, error) {
	for {
		q.mu.Lock()
		if rs := q.results[jobID]; len(rs) > 0 {
			delete(q.results, jobID)
			q.mu.Unlock()
			return rs, nil
		}
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		ch, ok := q.resWake[jobID]
		if !ok {
			ch = make(chan struct{})
			q.resWake[jobID] = ch
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// SetCapacity makes Capacity report f(): the samples the queue's workers
// can generate at once (for one pool, Pool.Capacity).
func (q *MemQueue) SetCapacity(f func() int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.capacity = f
}

// Capacity implements CapacityReporter; 0 until SetCapacity.
func (q *MemQueue) Capacity() int {
	q.mu.Lock()
	f := q.capacity
	q.mu.Unlock()
	if f == nil {
		return 0
	}
	return f()
}

// DeadLetters returns the tasks that failed for good so far.
func (q *MemQueue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]DeadLetter(nil), q.dead...)
}

// Forget drops what the queue remembers of a finished job.
func (q *MemQueue) Forget(jobID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.results, jobID)
	delete(q.done, jobID)
}

// Close wakes every waiter with ErrClosed.
func (q *MemQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	q.broadcastLocked()
	for id, ch := range q.resWake {
		close(ch)
		delete(q.resWake, id)
	}
}
