// Package rediskeys builds every Redis key shepherd uses: the job store's
// (server) and the rollout queue's (rollout/redisq). Both share one job's
// hash tag, so the layout lives here, in one place.
//
// Every key carries a hash tag, so that each Lua script touches keys of one
// Redis Cluster slot only: the keys of one job share {job:<id>}, the keys of
// one model share {model:<name>}, the job indexes share {jobs}, and a
// request-id key has a tag of its own. Job ids and model names must not
// contain braces.
//
// The job store (server):
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
//	shepherd:{jobs}:released     pub/sub channel naming a job whose lease a stopping server gave up
//
// The rollout queue (rollout/redisq):
//
//	shepherd:{job:<id>}:results  hash    task id -> id of its result's rstream entry (written
//	                                     once); "" once released (its record committed),
//	                                     "~" while a released task runs again
//	shepherd:{job:<id>}:rstream  stream  results in completion order (field "r": TaskResult
//	                                     JSON); released results are deleted
//	shepherd:{job:<id>}:enq      set     task ids added to a work stream
//	shepherd:{job:<id>}:stats    hash    counters bumped once per task
//	shepherd:{model:<name>}:work stream  pending tasks (fields "t", "p") for any worker;
//	                                     never trimmed
//	shepherd:{model:<name>}:work:<consumer>
//	                             stream  pending tasks routed to one registered worker
//	shepherd:{model:<name>}:workers
//	                             hash    registered worker -> "<capacity> <expiry unix ms>"
//	shepherd:{model:<name>}:dead stream  dead letters, trimmed to ~DeadLetterMax
//
// Finished jobs' keys expire after the server's job TTL (input is deleted at
// once); the server's expiry loop then drops their index entries and the
// queue's leftover keys of the job.
package rediskeys

import "strings"

// Prefix starts every key.
const Prefix = "shepherd:"

// Job names the keys of one job, all under its hash tag.
type Job struct{ tag string }

// OfJob returns the keys of job id.
func OfJob(id string) Job { return Job{tag: Prefix + "{job:" + id + "}:"} }

// Meta is the job's metadata hash (job store).
func (k Job) Meta() string { return k.tag + "meta" }

// Input is the job's list of split problems (job store).
func (k Job) Input() string { return k.tag + "input" }

// Labels is the job's stream of label records (job store).
func (k Job) Labels() string { return k.tag + "labels" }

// Done is the set of the job's committed solutions (job store).
func (k Job) Done() string { return k.tag + "done" }

// Lease is the job's scheduler lease (job store).
func (k Job) Lease() string { return k.tag + "lease" }

// Results maps the job's task ids to their results (rollout queue).
func (k Job) Results() string { return k.tag + "results" }

// ResultStream is the job's results in completion order (rollout queue).
func (k Job) ResultStream() string { return k.tag + "rstream" }

// Enqueued is the set of the job's enqueued task ids (rollout queue).
func (k Job) Enqueued() string { return k.tag + "enq" }

// Stats is the job's counters hash (rollout queue).
func (k Job) Stats() string { return k.tag + "stats" }

// Queue lists the rollout queue's keys of the job, for its expiry.
func (k Job) Queue() []string {
	return []string{k.Results(), k.ResultStream(), k.Enqueued(), k.Stats()}
}

// Model are the keys of one model, all under its hash tag.
type Model struct {
	Work, Dead, Workers string
}

// OfModel returns the keys of model.
func OfModel(model string) Model {
	tag := Prefix + "{model:" + model + "}:"
	return Model{Work: tag + "work", Dead: tag + "dead", Workers: tag + "workers"}
}

// WorkOf is the work stream of one registered worker, or the shared one
// for worker "".
func (k Model) WorkOf(worker string) string {
	if worker == "" {
		return k.Work
	}
	return k.Work + ":" + worker
}

// Request is the idempotency key of (caller, request id); reqHash is
// hex(sha256(owner, request id)).
func Request(reqHash string) string { return Prefix + "{req:" + reqHash + "}" }

// AnonymousOwner names the caller-less index when authentication is off.
const AnonymousOwner = "anonymous"

// Index is the job index of one caller.
func Index(owner string) string {
	if owner == "" {
		owner = AnonymousOwner
	}
	return Prefix + "{jobs}:index:" + owner
}

// The job indexes and the released-lease channel.
const (
	Live     = Prefix + "{jobs}:live"
	Expiry   = Prefix + "{jobs}:expiry"
	Released = Prefix + "{jobs}:released"
)

// SharedWorkPattern matches the shared work stream of every model (a SCAN
// MATCH pattern).
const SharedWorkPattern = Prefix + "{model:*}:work"

// ModelOfWork is the model whose shared work stream key is key.
func ModelOfWork(key string) string {
	return strings.TrimSuffix(strings.TrimPrefix(key, Prefix+"{model:"), "}:work")
}
