package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

// resultsBatch bounds the results one Results call returns.
const resultsBatch = 1024

// jobState is this process's read position in a job's results stream.
type jobState struct {
	reading sync.Mutex // serializes Results calls of the job
	cursor  string     // guarded by Queue.mu; "" until first set
}

func (q *Queue) job(jobID string) *jobState {
	q.mu.Lock()
	defer q.mu.Unlock()
	js := q.jobs[jobID]
	if js == nil {
		js = &jobState{}
		q.jobs[jobID] = js
	}
	return js
}

// initCursor sets the job's cursor unless it is set already.
func (q *Queue) initCursor(jobID, id string) {
	if id == "" {
		return
	}
	js := q.job(jobID)
	q.mu.Lock()
	if js.cursor == "" {
		js.cursor = id
	}
	q.mu.Unlock()
}

// Results implements rollout.Queue: it waits (XREAD BLOCK) on the job's
// results stream and returns the results after this process's cursor, in
// completion order.
//
// The cursor lives in memory, one per job. A queue that has not seen the
// job yet starts at the stream's end as of its first Enqueue or Results
// call for the job, whichever comes first; the Enqueue script reads that
// position atomically with its own re-publications. Starting at the end is
// correct for a restarted scheduler because it must re-request every task
// it still needs: Enqueue re-publishes the stored result of each finished
// one after the cursor, and the rest complete after it. Taking the
// position at the first Enqueue, not at the first XREAD, means results
// published between the scheduler's Enqueue and its first Results call are
// not missed. Callers issue Enqueue before Results, as rollout.RunJob does.
func (q *Queue) Results(ctx context.Context, jobID string) ([]rollout.TaskResult, error) {
	if err := checkName("results: job", jobID); err != nil {
		return nil, err
	}
	jk := rediskeys.OfJob(jobID)
	js := q.job(jobID)
	js.reading.Lock()
	defer js.reading.Unlock()

	q.mu.Lock()
	cursor := js.cursor
	q.mu.Unlock()
	if cursor == "" {
		last, err := q.lastID(ctx, jk.ResultStream())
		if err != nil {
			return nil, fmt.Errorf("results: job %s: %w", jobID, err)
		}
		q.initCursor(jobID, last)
		q.mu.Lock()
		cursor = js.cursor
		q.mu.Unlock()
	}
	for {
		if q.isClosed() {
			return nil, rollout.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		streams, err := q.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{jk.ResultStream(), cursor},
			Count:   resultsBatch,
			Block:   q.blockFor(ctx),
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, fmt.Errorf("results: job %s: %w", jobID, err)
		}
		var out []rollout.TaskResult
		for _, s := range streams {
			for _, m := range s.Messages {
				cursor = m.ID
				payload, _ := m.Values[fieldResult].(string)
				var r rollout.TaskResult
				if err := json.Unmarshal([]byte(payload), &r); err != nil {
					continue // not written by this package; nothing to deliver
				}
				out = append(out, r)
			}
		}
		q.mu.Lock()
		js.cursor = cursor
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
	}
}

// lastID is the last id a stream generated, "0-0" when it has none. Its
// last entry may have been deleted (released results), so this asks for
// the stream's last-generated id rather than its last entry.
func (q *Queue) lastID(ctx context.Context, stream string) (string, error) {
	info, err := q.rdb.XInfoStream(ctx, stream).Result()
	if err != nil && strings.Contains(err.Error(), "no such key") {
		return "0-0", nil
	}
	if err != nil {
		return "", err
	}
	return info.LastGeneratedID, nil
}

// ReleaseResults implements rollout.ResultReleaser: the results of the given tasks of a
// job leave the results stream; each task keeps an empty tombstone in the
// results hash so that a stale lease holder's late Complete still changes
// nothing. Memory then grows with the tasks in flight, not with the job.
// ForgetJob drops the tombstones with the rest once the job is finished.
func (q *Queue) ReleaseResults(ctx context.Context, jobID string, taskIDs []string) error {
	if err := checkName("release: job", jobID); err != nil {
		return err
	}
	jk := rediskeys.OfJob(jobID)
	for start := 0; start < len(taskIDs); start += enqueueChunk {
		chunk := taskIDs[start:min(start+enqueueChunk, len(taskIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := releaseScript.Run(ctx, q.rdb, []string{jk.Results(), jk.ResultStream()}, args...).Err(); err != nil {
			return fmt.Errorf("release: job %s: %w", jobID, err)
		}
	}
	return nil
}
