package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

// completeBatch bounds the results one batch of Complete calls writes.
const completeBatch = 256

// Complete implements rollout.Queue. The result is written first, by one
// script on the job's keys that stores it only if the task has none yet
// (HSETNX on the task id), bumps the job's counters and appends it to the
// results stream only then; the work entry is acknowledged and deleted
// after that. A crash between the two leaves the entry pending: it is
// reclaimed, run again, and its second result changes nothing. Complete
// does not check the lease: a stale holder's late result is either the
// first (and as good as any, samples being a function of the task) or
// ignored.
//
// Concurrent calls are written together (group commit): while one batch
// is being written, the calls that arrive meanwhile wait and form the
// next, written with one script call per job and then one acknowledgement
// per model. Each call returns once its own result is written and its
// entry acknowledged, with the error of its job's write or its model's
// acknowledgement if one failed; a batch runs under the context of the
// call that writes it.
func (q *Queue) Complete(ctx context.Context, t rollout.Task, r rollout.TaskResult) error {
	if err := checkTask(t); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	r.TaskID, r.JobID = t.ID, t.JobID
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("complete: task %s: %w", t.ID, err)
	}
	return q.completer.do(ctx, q, &completion{task: t, result: r, payload: b, wake: make(chan bool, 1)})
}

// completion is one Complete call waiting for its batch.
type completion struct {
	task    rollout.Task
	result  rollout.TaskResult
	payload []byte
	err     error
	// wake receives false once the result is written (err set), or true
	// when this call is to write the next batch.
	wake chan bool
}

// completer groups concurrent Complete calls into batches. At most one
// call writes a batch at a time: the leader. A call that finds no leader
// becomes it; a leader whose own result is written hands the role to the
// oldest waiting call, if any.
type completer struct {
	mu      sync.Mutex
	pending []*completion
	leading bool
}

func (c *completer) do(ctx context.Context, q *Queue, me *completion) error {
	c.mu.Lock()
	c.pending = append(c.pending, me)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if !lead && !<-me.wake {
		return me.err
	}
	for {
		c.mu.Lock()
		n := min(len(c.pending), completeBatch)
		batch := make([]*completion, n)
		copy(batch, c.pending)
		c.pending = append(c.pending[:0], c.pending[n:]...)
		c.mu.Unlock()

		q.writeBatch(ctx, batch)
		mine := false
		for _, x := range batch {
			if x == me {
				mine = true
			} else {
				x.wake <- false
			}
		}
		if !mine {
			continue // older calls filled the batch; ours is still pending
		}
		c.mu.Lock()
		if len(c.pending) > 0 {
			next := c.pending[0]
			c.mu.Unlock()
			next.wake <- true
		} else {
			c.leading = false
			c.mu.Unlock()
		}
		return me.err
	}
}

// writeBatch writes the results of a batch, one script call per job, then
// acknowledges the entries of the written ones, one call per model, and
// sets each completion's error.
func (q *Queue) writeBatch(ctx context.Context, batch []*completion) {
	var jobs []string
	byJob := map[string][]*completion{}
	for _, x := range batch {
		if _, ok := byJob[x.task.JobID]; !ok {
			jobs = append(jobs, x.task.JobID)
		}
		byJob[x.task.JobID] = append(byJob[x.task.JobID], x)
	}
	var streams []string
	byStream := map[string][]*completion{}
	for _, job := range jobs {
		xs := byJob[job]
		results := make([]rollout.TaskResult, len(xs))
		payloads := make([][]byte, len(xs))
		for i, x := range xs {
			results[i], payloads[i] = x.result, x.payload
		}
		if _, err := q.recordAll(ctx, job, results, payloads); err != nil {
			for _, x := range xs {
				x.err = fmt.Errorf("complete: task %s: %w", x.task.ID, err)
			}
			continue
		}
		for _, x := range xs {
			if x.task.Receipt == "" {
				continue
			}
			key, _ := streamOf(x.task)
			if _, ok := byStream[key]; !ok {
				streams = append(streams, key)
			}
			byStream[key] = append(byStream[key], x)
		}
	}
	for _, key := range streams {
		xs := byStream[key]
		args := make([]any, 0, len(xs)+1)
		args = append(args, q.opt.Group)
		for _, x := range xs {
			_, id := streamOf(x.task)
			args = append(args, id)
		}
		if err := ackScript.Run(ctx, q.rdb, []string{key}, args...).Err(); err != nil {
			for _, x := range xs {
				x.err = fmt.Errorf("complete: task %s: ack: %w", x.task.ID, err)
			}
		}
	}
}

func checkTask(t rollout.Task) error {
	if err := checkName("task job", t.JobID); err != nil {
		return err
	}
	if err := checkName("task model", t.Model); err != nil {
		return err
	}
	if t.ID == "" {
		return errors.New("task id is empty")
	}
	return nil
}

// record stores a task's result once and reports whether it was the first.
func (q *Queue) record(ctx context.Context, r rollout.TaskResult) (bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	first, err := q.recordAll(ctx, r.JobID, []rollout.TaskResult{r}, [][]byte{b})
	return err == nil && first[0], err
}

// recordAll stores the results of tasks of one job, each once, given with
// their JSON encodings, and reports which were first.
func (q *Queue) recordAll(ctx context.Context, jobID string, rs []rollout.TaskResult, payloads [][]byte) ([]bool, error) {
	args := make([]any, 0, 7*len(rs))
	for i, r := range rs {
		failed := "0"
		if r.Failed {
			failed = "1"
		}
		args = append(args, r.TaskID, payloads[i], failed, len(r.Samples), r.PromptTokens, r.CompletionTokens, r.CachedTokens)
	}
	jk := rediskeys.OfJob(jobID)
	flags, err := recordScript.Run(ctx, q.rdb, []string{jk.Results(), jk.Stats(), jk.ResultStream()}, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(flags) != len(rs) {
		return nil, fmt.Errorf("unexpected reply of %d items for %d results", len(flags), len(rs))
	}
	first := make([]bool, len(rs))
	for i, f := range flags {
		first[i] = f == 1
	}
	return first, nil
}

// Retry implements rollout.Queue. Below MaxDeliveries the task is handed
// back at once: if this consumer still owns the entry, one script replaces
// it by a copy at the tail of the work stream carrying the deliveries so
// far, so the next free worker retries it without waiting for the lease to
// expire. A consumer that lost the lease does nothing: the new holder owns
// the task. At MaxDeliveries the task is dead-lettered (see Fail).
func (q *Queue) Retry(ctx context.Context, t rollout.Task, cause error) error {
	if err := checkTask(t); err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	if t.Deliveries >= q.opt.MaxDeliveries {
		return q.Fail(ctx, t, fmt.Errorf("gave up after %d deliveries: %w", t.Deliveries, cause))
	}
	if t.Receipt == "" {
		return fmt.Errorf("retry: task %s: no receipt (not reserved from this queue)", t.ID)
	}
	key, id := streamOf(t)
	err := retryScript.Run(ctx, q.rdb, []string{key, key}, q.opt.Group, q.opt.Consumer, id, 0).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("retry: task %s: %w", t.ID, err)
	}
	return nil
}

// Fail implements rollout.Queue. If this consumer still holds the task (an
// owner check that also extends the lease), its job gets a failed result
// through the same write-once path as Complete; if that result was the
// first, the task and its cause go to the model's bounded dead-letter
// stream, and the work entry is acknowledged and deleted in the same
// script. A consumer that lost the lease does nothing: the new holder
// decides the task's fate.
func (q *Queue) Fail(ctx context.Context, t rollout.Task, cause error) error {
	if err := checkTask(t); err != nil {
		return fmt.Errorf("fail: %w", err)
	}
	if t.Receipt != "" {
		ok, err := q.owns(ctx, t)
		if err != nil {
			return fmt.Errorf("fail: task %s: %w", t.ID, err)
		}
		if !ok {
			return nil
		}
	}
	if err := q.fail(ctx, t, cause); err != nil {
		return fmt.Errorf("fail: task %s: %w", t.ID, err)
	}
	return nil
}

// fail records a failed result and dead-letters a task this consumer holds.
func (q *Queue) fail(ctx context.Context, t rollout.Task, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	first, err := q.record(ctx, rollout.TaskResult{TaskID: t.ID, JobID: t.JobID, Failed: true, Error: msg})
	if err != nil {
		return err
	}
	key, id := streamOf(t)
	if !first {
		// The task has a result already (a stale holder completed it, or
		// an earlier Fail got this far): just end the delivery.
		if t.Receipt == "" {
			return nil
		}
		return ackScript.Run(ctx, q.rdb, []string{key}, q.opt.Group, id).Err()
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return deadLetterScript.Run(ctx, q.rdb, []string{key, rediskeys.OfModel(t.Model).Dead},
		q.opt.Group, id, q.opt.DeadLetterMax, string(b), msg, t.Deliveries, q.opt.Consumer).Err()
}

// streamOf is the work stream a task was delivered from and its entry id
// there.
func streamOf(t rollout.Task) (key, id string) {
	worker, id := splitReceipt(t.Receipt)
	return rediskeys.OfModel(t.Model).WorkOf(worker), id
}

// Release implements rollout.Releaser: if this consumer still owns the
// task, it goes to the tail of the model's shared work stream at once for
// another worker, its delivery not counted, so a worker that cannot run
// tasks never pushes them towards the dead-letter stream.
func (q *Queue) Release(ctx context.Context, t rollout.Task) error {
	if err := checkTask(t); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if t.Receipt == "" {
		return fmt.Errorf("release: task %s: no receipt (not reserved from this queue)", t.ID)
	}
	if err := q.ensureGroup(ctx, t.Model, ""); err != nil {
		return fmt.Errorf("release: task %s: %w", t.ID, err)
	}
	key, id := streamOf(t)
	// The copy goes to the shared stream, which every worker reads, not back
	// to this worker's own, and this delivery is not counted (-1).
	err := retryScript.Run(ctx, q.rdb, []string{key, rediskeys.OfModel(t.Model).WorkOf("")}, q.opt.Group, q.opt.Consumer, id, -1).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release: task %s: %w", t.ID, err)
	}
	return nil
}
