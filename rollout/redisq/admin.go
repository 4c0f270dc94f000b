package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	m, err := q.rdb.HGetAll(ctx, rediskeys.OfJob(jobID).Stats()).Result()
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
		p.Del(ctx, jk.Results(), jk.ResultStream(), jk.Enqueued())
		if ttl > 0 {
			p.Expire(ctx, jk.Stats(), ttl)
		} else {
			p.Del(ctx, jk.Stats())
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

// OldestTaskAge returns how long the oldest entry of the model's work
// streams (the shared one and the registered workers', waiting or leased)
// has been there, by the Redis server's clock, or 0 when they are empty. A
// retried task is re-added at the tail, so its age restarts. The reads
// are O(1) on Redis per stream.
func (q *Queue) OldestTaskAge(ctx context.Context, model string) (time.Duration, error) {
	if err := checkName("oldest task: model", model); err != nil {
		return 0, err
	}
	ws, err := q.workers(ctx, model, false)
	if err != nil {
		return 0, fmt.Errorf("oldest task: %w", err)
	}
	mk := rediskeys.OfModel(model)
	keys := []string{mk.Work}
	for _, w := range ws {
		keys = append(keys, mk.WorkOf(w.name))
	}
	firsts := make([]*redis.XMessageSliceCmd, len(keys))
	var now *redis.TimeCmd
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			firsts[i] = p.XRangeN(ctx, k, "-", "+", 1)
		}
		now = p.Time(ctx)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("oldest task: model %s: %w", model, err)
	}
	oldest := int64(-1)
	for _, f := range firsts {
		ms := f.Val()
		if len(ms) == 0 {
			continue
		}
		msec, _, _ := strings.Cut(ms[0].ID, "-")
		ts, err := strconv.ParseInt(msec, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("oldest task: model %s: entry id %q: %w", model, ms[0].ID, err)
		}
		if oldest < 0 || ts < oldest {
			oldest = ts
		}
	}
	if oldest < 0 {
		return 0, nil
	}
	return max(0, now.Val().Sub(time.UnixMilli(oldest))), nil
}

// Enqueued returns the number of distinct tasks of a job added to a work
// stream so far (a task enqueued again, or re-published from its stored
// result, counts once).
func (q *Queue) Enqueued(ctx context.Context, jobID string) (int64, error) {
	if err := checkName("enqueued: job", jobID); err != nil {
		return 0, err
	}
	n, err := q.rdb.SCard(ctx, rediskeys.OfJob(jobID).Enqueued()).Result()
	if err != nil {
		return 0, fmt.Errorf("enqueued: job %s: %w", jobID, err)
	}
	return n, nil
}

// removeIdleConsumersScript drops the dead consumers of a work stream's
// group, atomically with the check that they hold nothing.
var removeIdleConsumersScript = redis.NewScript(`
-- KEYS[1] work stream
-- ARGV[1] group, ARGV[2] idle bound (ms)
-- Deletes every consumer of the group that holds no pending task and has
-- not read for more than ARGV[2] ms (a worker that stopped or died and
-- whose tasks were taken over); a live worker reads at least every block
-- interval, and XREADGROUP creates it again anyway. Returns the names
-- deleted.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return {}
end
local bound = tonumber(ARGV[2])
local removed = {}
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1]
    end
  end
  if name and pending == 0 and idle and idle > bound then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed[#removed + 1] = name
  end
end
return removed
`)

// RemoveIdleConsumers deletes from every work stream's group the consumers
// that hold no task and have not read for longer than idle, and returns
// their names by model. Consumers are named per worker process, so each
// worker that stopped or died leaves one behind; without this the group
// (and XINFO, XPENDING summaries, dashboards) grows with every restart.
func (q *Queue) RemoveIdleConsumers(ctx context.Context, idle time.Duration) (map[string][]string, error) {
	streams, err := q.workStreams(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, key := range streams {
		names, err := removeIdleConsumersScript.Run(ctx, q.rdb, []string{key}, q.opt.Group, idle.Milliseconds()).StringSlice()
		if err != nil {
			return out, err
		}
		if len(names) > 0 {
			model := rediskeys.ModelOfWork(key)
			out[model] = names
		}
	}
	return out, nil
}

// workStreams lists the work streams' keys (on every master of a cluster).
func (q *Queue) workStreams(ctx context.Context) ([]string, error) {
	scan := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var keys []string
		iter := c.ScanType(ctx, 0, rediskeys.SharedWorkPattern, 256, "stream").Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := q.rdb.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, q.rdb)
	}
	var mu sync.Mutex
	var all []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := scan(ctx, c)
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	})
	return all, err
}
