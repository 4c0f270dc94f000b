package redisq

import (
	"context"
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

func task(job, id, model string) rollout.Task {
	return rollout.Task{ID: id, JobID: job, Model: model, Question: "q", Prefix: "p " + id, Gold: "1", N: 2, Seed: 7}
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
