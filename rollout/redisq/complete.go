package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/rollout"
)

// Complete implements rollout.Queue. The result is written first, by one
// script on the job's keys that stores it only if the task has none yet
// (HSETNX on the task id), bumps the job's counters and appends it to the
// results stream only then; the work entry is acknowledged and deleted
// after that. A crash between the two leaves the entry pending: it is
// reclaimed, run again, and its second result changes nothing. Complete
// does not check the lease: a stale holder's late result is either the
// first (and as good as any, samples being a function of the task) or
// ignored.
func (q *Queue) Complete(ctx context.Context, t rollout.Task, r rollout.TaskResult) error {
	if err := checkTask(t); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	r.TaskID, r.JobID = t.ID, t.JobID
	if _, err := q.record(ctx, r); err != nil {
		return fmt.Errorf("complete: task %s: %w", t.ID, err)
	}
	if t.Receipt == "" {
		return nil
	}
	if err := ackScript.Run(ctx, q.rdb, []string{keysOfModel(t.Model).work}, q.opt.Group, t.Receipt).Err(); err != nil {
		return fmt.Errorf("complete: task %s: ack: %w", t.ID, err)
	}
	return nil
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
	failed := "0"
	if r.Failed {
		failed = "1"
	}
	jk := keysOfJob(r.JobID)
	n, err := recordScript.Run(ctx, q.rdb, []string{jk.results, jk.stats, jk.rstream},
		r.TaskID, string(b), failed, len(r.Samples), r.PromptTokens, r.CompletionTokens, r.CachedTokens).Int()
	return n == 1, err
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
	err := retryScript.Run(ctx, q.rdb, []string{keysOfModel(t.Model).work}, q.opt.Group, q.opt.Consumer, t.Receipt).Err()
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
	mk := keysOfModel(t.Model)
	if !first {
		// The task has a result already (a stale holder completed it, or
		// an earlier Fail got this far): just end the delivery.
		if t.Receipt == "" {
			return nil
		}
		return ackScript.Run(ctx, q.rdb, []string{mk.work}, q.opt.Group, t.Receipt).Err()
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return deadLetterScript.Run(ctx, q.rdb, []string{mk.work, mk.dead},
		q.opt.Group, t.Receipt, q.opt.DeadLetterMax, string(b), msg, t.Deliveries, q.opt.Consumer).Err()
}
