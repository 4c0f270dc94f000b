package redisq

import "strings"

// The queue's keys (a job's results, result stream, enqueued set and
// counters; a model's work streams, dead letters and registered workers)
// are built by internal/rediskeys, which documents the layout.

// A task's receipt names its work stream and entry: the entry id alone for
// the shared stream, "<worker>/<entry id>" for a worker's stream (entry
// ids never contain '/').
func receiptOf(worker, id string) string {
	if worker == "" {
		return id
	}
	return worker + "/" + id
}

func splitReceipt(receipt string) (worker, id string) {
	i := strings.LastIndexByte(receipt, '/')
	if i < 0 {
		return "", receipt
	}
	return receipt[:i], receipt[i+1:]
}

// Stream entry fields.
const (
	fieldTask   = "t" // work entry: the task's JSON
	fieldPrior  = "p" // work entry: deliveries of the task's earlier entries
	fieldResult = "r" // results stream entry: the TaskResult JSON

	deadTask       = "task"
	deadCause      = "cause"
	deadDeliveries = "deliveries"
	deadConsumer   = "consumer"
)

// Stats hash fields.
const (
	statTasksDone        = "tasks_done"
	statTasksFailed      = "tasks_failed"
	statSamples          = "samples"
	statPromptTokens     = "prompt_tokens"
	statCompletionTokens = "completion_tokens"
	statCachedTokens     = "cached_tokens"
)
