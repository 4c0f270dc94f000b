package redisq

import "strings"

// Key layout. Every key carries a hash tag, so all keys of one job live in
// one Redis Cluster slot and so do all keys of one model; every Lua script
// touches keys of a single tag.
//
//	shepherd:{job:<id>}:results   hash   task id -> id of its result's rstream entry (written
//	                                     once); "" once released (its record committed),
//	                                     "~" while a released task runs again
//	shepherd:{job:<id>}:rstream   stream results in completion order (field "r": TaskResult
//	                                     JSON); released results are deleted
//	shepherd:{job:<id>}:enq       set    task ids added to a work stream
//	shepherd:{job:<id>}:stats     hash   counters bumped once per task
//	shepherd:{model:<name>}:work  stream pending tasks (fields "t", "p") for any worker;
//	                                     never trimmed
//	shepherd:{model:<name>}:work:<consumer>
//	                              stream pending tasks routed to one registered worker
//	shepherd:{model:<name>}:workers
//	                              hash   registered worker -> "<capacity> <expiry unix ms>"
//	shepherd:{model:<name>}:dead  stream dead letters, trimmed to ~DeadLetterMax
const keyPrefix = "shepherd:"

// jobKeys are the keys of one job.
type jobKeys struct {
	results, rstream, enq, stats string
}

func keysOfJob(jobID string) jobKeys {
	tag := keyPrefix + "{job:" + jobID + "}:"
	return jobKeys{
		results: tag + "results",
		rstream: tag + "rstream",
		enq:     tag + "enq",
		stats:   tag + "stats",
	}
}

// all lists the job's keys, for expiry.
func (k jobKeys) all() []string { return []string{k.results, k.rstream, k.enq, k.stats} }

// modelKeys are the keys of one model.
type modelKeys struct {
	work, dead, workers string
}

func keysOfModel(model string) modelKeys {
	tag := keyPrefix + "{model:" + model + "}:"
	return modelKeys{work: tag + "work", dead: tag + "dead", workers: tag + "workers"}
}

// workOf is the work stream of one registered worker, or the shared one
// for worker "".
func (k modelKeys) workOf(worker string) string {
	if worker == "" {
		return k.work
	}
	return k.work + ":" + worker
}

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
