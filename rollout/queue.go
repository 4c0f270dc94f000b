package rollout

import (
	"context"
	"time"
)

// Queue carries rollout tasks from a job's scheduler to workers and their
// results back. Delivery is at least once: a task may be handed out again
// after a retry or a lost lease, so Complete must be idempotent per task.
// The in-process MemQueue and the Redis Streams queue implement it.
type Queue interface {
	// Enqueue adds tasks for workers of their model.
	Enqueue(ctx context.Context, tasks ...Task) error
	// Reserve waits until at least one task for model is ready and returns
	// up to max of them, leased to the caller.
	Reserve(ctx context.Context, model string, max int) ([]Task, error)
	// Complete records a task's result (at most once per task) and ends its
	// lease.
	Complete(ctx context.Context, t Task, r TaskResult) error
	// Retry hands a task back for a later delivery after a passing error;
	// past the queue's delivery limit it dead-letters the task instead.
	Retry(ctx context.Context, t Task, cause error) error
	// Fail dead-letters a task after a permanent error: its job gets a
	// failed result for it.
	Fail(ctx context.Context, t Task, cause error) error
	// Results waits for results of a job and returns those not yet
	// returned, in completion order.
	Results(ctx context.Context, jobID string) ([]TaskResult, error)
}

// Leaser is implemented by queues whose deliveries are leases that expire
// unless the holder extends them (the Redis queue): a worker that dies stops
// extending, and another worker reclaims its tasks.
type Leaser interface {
	// Extend renews the leases of tasks the caller holds. It reports the
	// tasks whose lease was lost to another worker.
	Extend(ctx context.Context, tasks []Task) (lost []Task, err error)
	// LeaseTTL is how long a lease lasts unless extended.
	LeaseTTL() time.Duration
}

// Releaser is implemented by queues that can hand a task back without
// counting the delivery against it: the worker could not run it (it has no
// usable backend), which says nothing about the task.
type Releaser interface {
	Release(ctx context.Context, t Task) error
}

// ResultReleaser is implemented by queues that keep tasks' results after they
// were read (the Redis queue keeps them so that a restarted scheduler gets
// them again). A job calls ReleaseResults once the records of every solution that
// used the tasks are committed: their results are no longer needed, and
// the queue may keep only what exactly-once delivery needs. A released
// task that is enqueued again runs again.
type ResultReleaser interface {
	ReleaseResults(ctx context.Context, jobID string, taskIDs []string) error
}

// CapacityReporter is implemented by queues that know how many samples the
// workers behind them can generate at once: the sum of their backends'
// sequence slots (vLLM's max_num_seqs). A job admits solutions while its
// samples in flight are below a small multiple of it, so one default keeps
// one GPU or two hundred busy. 0 means unknown: the job then admits a fixed
// window (DefaultWindow).
type CapacityReporter interface {
	Capacity() int
}
