package redisq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// startRedis starts a private redis-server for the test and returns a
// client of it; both go away when the test ends.
func startRedis(t testing.TB, args ...string) *redis.Client {
	t.Helper()
	s := redistest.Start(t, args...)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// newQueue returns a queue closed when the test ends, with a short Block so
// that tests do not wait long on closed queues.
func newQueue(t testing.TB, rdb redis.UniversalClient, opt Options) *Queue {
	t.Helper()
	if opt.Block == 0 {
		opt.Block = 200 * time.Millisecond
	}
	q := New(rdb, opt)
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// queueFor starts a Redis and a queue on it with opt, and returns them
// with a context of d.
func queueFor(t testing.TB, d time.Duration, opt Options) (context.Context, *redis.Client, *Queue) {
	rdb := startRedis(t)
	return ctxFor(t, d), rdb, newQueue(t, rdb, opt)
}

// consumersAB starts a Redis and two queues on it, consumers "a" and "b"
// with options optA and optB, and returns them with a context of 20s.
func consumersAB(t testing.TB, optA, optB Options) (context.Context, *Queue, *Queue) {
	rdb := startRedis(t)
	optA.Consumer, optB.Consumer = "a", "b"
	return ctxFor(t, 20*time.Second), newQueue(t, rdb, optA), newQueue(t, rdb, optB)
}

// enqueue enqueues tasks on q, failing the test on an error.
func enqueue(t testing.TB, ctx context.Context, q *Queue, tasks ...rollout.Task) {
	t.Helper()
	if err := q.Enqueue(ctx, tasks...); err != nil {
		t.Fatal(err)
	}
}

// complete completes tk on q, failing the test on an error.
func complete(t testing.TB, ctx context.Context, q *Queue, tk rollout.Task, r rollout.TaskResult) {
	t.Helper()
	if err := q.Complete(ctx, tk, r); err != nil {
		t.Fatal(err)
	}
}

func task(job, id, model string) rollout.Task {
	return rollout.Task{ID: id, JobID: job, Model: model, Question: "q", Prefix: "p " + id, Gold: "1", N: 2, Seed: 7}
}

// tasks are n tasks of job for model, with ids t0, t1, ...
func tasks(job, model string, n int) []rollout.Task {
	out := make([]rollout.Task, n)
	for i := range out {
		out[i] = task(job, fmt.Sprint("t", i), model)
	}
	return out
}

func result(n int) rollout.TaskResult {
	r := rollout.TaskResult{PromptTokens: 10, CompletionTokens: 20, CachedTokens: 5}
	for range n {
		r.Samples = append(r.Samples, rollout.SampleResult{Text: "x", Correct: true})
	}
	return r
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startRedisServer starts a private redis-server and returns it, for tests
// that restart or kill it.
func startRedisServer(t testing.TB, args ...string) *redistest.Server {
	t.Helper()
	return redistest.Start(t, args...)
}
