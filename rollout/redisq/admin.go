package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Stats returns a job's counters.
func (q *Queue) Stats(ctx context.Context, jobID string) (rollout.JobCounters, error) {
	if err := checkName("stats: job", jobID); err != nil {
		return rollout.JobCounters{}, err
	}
	m, err := q.rdb.HGetAll(ctx, rediskeys.OfJob(jobID).Stats).Result()
	if err != nil {
		return rollout.JobCounters{}, fmt.Errorf("stats: job %s: %w", jobID, err)
	}
	get := func(f string) int64 {
		n, _ := strconv.ParseInt(m[f], 10, 64)
		return n
	}
	return rollout.JobCounters{
		TasksDone:        get(statTasksDone),
		TasksFailed:      get(statTasksFailed),
		Samples:          get(statSamples),
		PromptTokens:     get(statPromptTokens),
		CompletionTokens: get(statCompletionTokens),
		CachedTokens:     get(statCachedTokens),
	}, nil
}

// ForgetJob is called once a job is finished: its results, results
// stream and enqueued set, which only a live job's scheduler needs, are
// deleted now, and its counters expire after ttl (or are deleted now if
// ttl <= 0). It drops this process's cursor for the job.
func (q *Queue) ForgetJob(ctx context.Context, jobID string, ttl time.Duration) error {
	if err := checkName("forget: job", jobID); err != nil {
		return err
	}
	jk := rediskeys.OfJob(jobID)
	// All keys share one hash tag, so the pipeline goes to one node.
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, jk.Results, jk.ResultStream, jk.Enqueued)
		if ttl > 0 {
			p.Expire(ctx, jk.Stats, ttl)
		} else {
			p.Del(ctx, jk.Stats)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget: job %s: %w", jobID, err)
	}
	q.mu.Lock()
	delete(q.jobs, jobID)
	q.mu.Unlock()
	return nil
}

// Pending returns the length of the model's work streams (the shared one
// and those of registered workers) and the number of their entries out on
// lease.
func (q *Queue) Pending(ctx context.Context, model string) (rollout.PendingStats, error) {
	if err := checkName("pending: model", model); err != nil {
		return rollout.PendingStats{}, err
	}
	mk := rediskeys.OfModel(model)
	ws, err := q.workers(ctx, model, true)
	if err != nil {
		return rollout.PendingStats{}, fmt.Errorf("pending: %w", err)
	}
	keys := []string{mk.Work}
	for _, w := range ws {
		keys = append(keys, mk.WorkOf(w.name))
	}
	var ps rollout.PendingStats
	for _, key := range keys {
		n, err := q.rdb.XLen(ctx, key).Result()
		if err != nil {
			return ps, fmt.Errorf("pending: model %s: %w", model, err)
		}
		ps.Length += n
		if n == 0 {
			continue // nothing leased either: finished entries are deleted
		}
		p, err := q.rdb.XPending(ctx, key, q.opt.Group).Result()
		switch {
		case isNoGroup(err):
			// No worker has read the stream yet.
		case err != nil:
			return ps, fmt.Errorf("pending: model %s: %w", model, err)
		default:
			ps.Pending += p.Count
		}
	}
	return ps, nil
}

// DeadLetter is one entry of a model's dead-letter stream.
type DeadLetter struct {
	ID         string // the dead-letter stream entry id
	Task       rollout.Task
	Cause      string
	Deliveries int
	Consumer   string // the consumer that gave up
	At         time.Time
}

// DeadLetters returns up to n of the model's most recent dead letters,
// newest first. A task payload that does not decode is returned with only
// its cause.
func (q *Queue) DeadLetters(ctx context.Context, model string, n int) ([]DeadLetter, error) {
	if err := checkName("dead letters: model", model); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("dead letters: n must be at least 1, got %d", n)
	}
	ms, err := q.rdb.XRevRangeN(ctx, rediskeys.OfModel(model).Dead, "+", "-", int64(n)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("dead letters: model %s: %w", model, err)
	}
	out := make([]DeadLetter, 0, len(ms))
	for _, m := range ms {
		d := DeadLetter{ID: m.ID}
		if s, ok := m.Values[deadTask].(string); ok {
			_ = json.Unmarshal([]byte(s), &d.Task)
		}
		d.Cause, _ = m.Values[deadCause].(string)
		d.Consumer, _ = m.Values[deadConsumer].(string)
		d.Deliveries, _ = strconv.Atoi(fmt.Sprint(m.Values[deadDeliveries]))
		msec, _, _ := strings.Cut(m.ID, "-")
		if ts, err := strconv.ParseInt(msec, 10, 64); err == nil {
			d.At = time.UnixMilli(ts)
		}
		out = append(out, d)
	}
	return out, nil
}
