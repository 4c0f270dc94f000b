package server

import (
	"context"
	"io"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
)

// Queue is the work queue between the server's job schedulers and the
// workers, with the admin operations the server needs on it. The Redis
// Streams queue (rollout/redisq) implements it; another queue (NATS
// JetStream, Kafka) implements it in a package of its own. The caller
// chooses one and sets it in Options.WorkQueue: the server names no
// implementation. Only rollout types cross it.
type Queue interface {
	// Open returns a queue for one job scheduler or one Monte-Carlo Score
	// call, whose results cursors start fresh, as a restarted scheduler's
	// must. The server closes it when done if it is an io.Closer.
	Open() rollout.Queue
	// Pending describes the model's work: admission refuses jobs past
	// Options.MaxQueuedTasks.
	Pending(ctx context.Context, model string) (rollout.PendingStats, error)
	// Stats are the job's counters, exact across restarts: a job's task,
	// rollout and token counts.
	Stats(ctx context.Context, jobID string) (rollout.JobCounters, error)
	// Enqueued is the number of distinct tasks the job enqueued.
	Enqueued(ctx context.Context, jobID string) (int64, error)
	// ForgetJob drops a finished job's results and lets its counters
	// expire after ttl (at once if ttl <= 0).
	ForgetJob(ctx context.Context, jobID string, ttl time.Duration) error
	// Close ends the queue's waits (Shutdown calls it).
	Close() error
}

// Optional capabilities of a Queue.
type (
	// capacityQueue reports the capacity of a model's registered workers,
	// which a job's admission follows (rollout.CapacityReporter).
	capacityQueue interface {
		CapacityOf(model string) rollout.CapacityReporter
	}
	// consumerReaper deletes the consumers workers left behind (see
	// redisq.Queue.RemoveIdleConsumers); the consumers loop runs it.
	consumerReaper interface {
		RemoveIdleConsumers(ctx context.Context, idle time.Duration) (map[string][]string, error)
	}
)

// openQueue opens a scheduler's queue and returns it with its closer.
func (s *Server) openQueue() (rollout.Queue, func()) {
	q := s.q.Open()
	return q, func() {
		if c, ok := q.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// capacityOf is the capacity of model's workers, 0 (unknown: a job
// admits a fixed window) when the queue does not know it.
func (s *Server) capacityOf(model string) rollout.CapacityReporter {
	if c, ok := s.q.(capacityQueue); ok {
		return c.CapacityOf(model)
	}
	return noCapacity{}
}

type noCapacity struct{}

func (noCapacity) Capacity() int { return 0 }
