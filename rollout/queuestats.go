package rollout

// JobCounters are a job's counters in a shared queue, each bumped once per
// task however often the task was delivered, so they stay exact across
// scheduler and worker restarts.
type JobCounters struct {
	TasksDone        int64 // tasks completed with samples
	TasksFailed      int64 // tasks dead-lettered
	Samples          int64
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
}

// PendingStats describe a model's work in a shared queue.
type PendingStats struct {
	// Length is the number of tasks in the queue: waiting and leased
	// (finished tasks are removed).
	Length int64
	// Pending is the number of leased tasks (delivered, not finished).
	Pending int64
}

// Waiting is the number of tasks not yet delivered.
func (p PendingStats) Waiting() int64 { return max(0, p.Length-p.Pending) }
