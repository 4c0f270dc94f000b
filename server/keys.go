package server

// Key layout. Every key carries a hash tag so that each Lua script touches
// keys of one Redis Cluster slot only: the keys of one job share {job:<id>},
// the job indexes share {jobs}, and a request-id key has a tag of its own.
// rollout/redisq keeps its own keys of a job ({job:<id>}:results, ...) next
// to these, under the same tag.
//
//	shepherd:{job:<id>}:meta     hash    state, spec, counts, times, error, owner, request id
//	shepherd:{job:<id>}:input    list    the job's problems, one JSON entry per problem (split)
//	shepherd:{job:<id>}:labels   stream  label records in commit order (field "r": record JSON);
//	                                     the entry id is the client's cursor
//	shepherd:{job:<id>}:done     set     solutions whose record is in labels ("<problem>/<solution>" indices)
//	shepherd:{job:<id>}:lease    string  owner token of the server scheduling the job (PX = lease TTL)
//	shepherd:{req:<hash>}        string  "<job id> <request hash>": SubmitJob idempotency;
//	                                     <hash> = sha256(caller, request_id)
//	shepherd:{jobs}:index:<own>  zset    job ids of one caller (all scores 0, ids sort by create time)
//	shepherd:{jobs}:live         set     jobs in QUEUED or RUNNING: what servers adopt
//	shepherd:{jobs}:expiry       zset    "<job id> <owner>" of finished jobs, score = expiry time (ms)
//
// Finished jobs' keys expire after Options.JobTTL (input is deleted at
// once); the expiry loop then drops their index entries and the queue's
// leftover keys.
const keyPrefix = "shepherd:"

// jobKeys are the keys of one job.
type jobKeys struct {
	meta, input, labels, done, lease string
}

func keysOfJob(id string) jobKeys {
	tag := keyPrefix + "{job:" + id + "}:"
	return jobKeys{
		meta:   tag + "meta",
		input:  tag + "input",
		labels: tag + "labels",
		done:   tag + "done",
		lease:  tag + "lease",
	}
}

// requestKey is the idempotency key of (caller, request id); reqHash is
// hex(sha256(owner, request id)).
func requestKey(reqHash string) string { return keyPrefix + "{req:" + reqHash + "}" }

// anonymousOwner names the caller-less index when authentication is off.
const anonymousOwner = "anonymous"

// indexKey is the job index of one caller.
func indexKey(owner string) string {
	if owner == "" {
		owner = anonymousOwner
	}
	return keyPrefix + "{jobs}:index:" + owner
}

const (
	liveKey   = keyPrefix + "{jobs}:live"
	expiryKey = keyPrefix + "{jobs}:expiry"
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
