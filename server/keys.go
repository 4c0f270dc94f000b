package server

import "github.com/shepherd-prm/shepherd/internal/rediskeys"

// The job store's keys (a job's meta, input, labels, done set and lease;
// the request-id keys; the job indexes) are built by internal/rediskeys,
// which documents the layout next to the rollout queue's keys of a job.
// Finished jobs' keys expire after Options.JobTTL (input is deleted at
// once); the expiry loop then drops their index entries and the queue's
// leftover keys.

// The job indexes.
const (
	liveKey   = rediskeys.Live
	expiryKey = rediskeys.Expiry
)

// Stream entry field of a label record.
const fieldRecord = "r"

// Meta hash fields.
const (
	fID               = "id"
	fRequestID        = "request_id"
	fRequestHash      = "request_hash"
	fOwner            = "owner"
	fState            = "state"
	fModel            = "model"
	fSpec             = "spec" // protojson of the effective JobSpec
	fCommitted        = "committed"
	fProblems         = "problems"
	fSolutionsTotal   = "solutions_total"
	fSolutionsDone    = "solutions_done"
	fSolutionsFailed  = "solutions_failed" // records with failed steps
	fTasksTotal       = "tasks_total"
	fTasksDone        = "tasks_done"
	fTasksFailed      = "tasks_failed"
	fRollouts         = "rollouts"
	fSharedRollouts   = "shared_rollouts"
	fPromptTokens     = "prompt_tokens"
	fCompletionTokens = "completion_tokens"
	fCachedTokens     = "cached_tokens"
	fCreateMS         = "create_ms"
	fUpdateMS         = "update_ms"
	fFinishMS         = "finish_ms"
	fError            = "error"
)

// fDeliveredCommitted sums the samples handed to the solutions whose
// records are committed: less the samples generated, the exact shared
// count at the end of a job, however often its scheduler restarted.
const fDeliveredCommitted = "delivered_committed"
