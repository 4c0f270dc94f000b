package redisq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// flakyGenerator answers every request with N canned samples, failing
// every fifth call with a passing error so that tasks are retried.
type flakyGenerator struct {
	calls   atomic.Int64
	samples atomic.Int64
}

func (g *flakyGenerator) Generate(ctx context.Context, req rollout.GenerateRequest) (rollout.GenerateResult, error) {
	if g.calls.Add(1)%5 == 0 {
		return rollout.GenerateResult{}, errors.New("503 service unavailable")
	}
	select {
	case <-ctx.Done():
		return rollout.GenerateResult{}, ctx.Err()
	case <-time.After(time.Millisecond):
	}
	res := rollout.GenerateResult{PromptTokens: 10, CompletionTokens: 5 * req.N, Backend: "fake"}
	for i := range req.N {
		// Every other seed reaches an answer; none is the gold one.
		text := " so the answer is \\boxed{-12345}."
		if (req.Seed+int64(i))%2 == 0 {
			text = " I am not sure"
		}
		res.Samples = append(res.Samples, rollout.Sample{Text: text, FinishReason: "stop"})
	}
	g.samples.Add(int64(req.N))
	return res, nil
}

// TestWorkersAndJobOverRedis runs rollout.RunJob against two rollout.Worker
// processes sharing one Redis, each with its own queue (consumer), over a
// generator that fails every fifth call, while a third consumer takes
// tasks and dies with them (never extends, never reports): every measured
// step must get exactly the rollouts asked for.
func TestWorkersAndJobOverRedis(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 2*time.Minute)
	const model, n = "sim", 4
	opt := Options{LeaseTTL: time.Second, Block: 100 * time.Millisecond}
	grader := grade.New(grade.Options{})
	gen := &flakyGenerator{}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var retried, reclaimed atomic.Int64
	// The dead consumer blocks first, so it gets the first tasks enqueued.
	zombie := newQueue(t, rdb, withConsumer(opt, "zombie"))
	taken := make(chan int, 1)
	go func() {
		ts, _ := zombie.Reserve(wctx, model, 3)
		taken <- len(ts)
	}()
	time.Sleep(100 * time.Millisecond)
	for i := range 2 {
		q := newQueue(t, rdb, withConsumer(opt, fmt.Sprint("worker-", i)))
		w := &rollout.Worker{Queue: q, Generator: gen, Grader: grader, Model: model, Concurrency: 8,
			OnResult: func(tk rollout.Task, _ rollout.TaskResult, err error) {
				if err != nil {
					retried.Add(1)
				}
				if tk.Deliveries > 1 {
					reclaimed.Add(1)
				}
			}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(wctx); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()

	sols := simtest.Dataset(3, 20, 3)
	sq := newQueue(t, rdb, withConsumer(opt, "scheduler"))
	var recs []labeler.Record
	stats, err := rollout.RunJob(ctx, sq, grader, rollout.JobOptions{
		ID: "job-1", Model: model, Strategy: labeler.Exhaustive, N: n, Seed: 5,
		Params: rollout.SamplingParams{Temperature: 1, TopP: 1, MaxTokens: 64},
	}, simtest.Source(sols), func(r labeler.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(sols) {
		t.Fatalf("%d records for %d solutions", len(recs), len(sols))
	}
	steps := 0
	for _, r := range recs {
		if len(r.FailedSteps) > 0 {
			t.Errorf("%s: failed steps %v", r.SolutionID, r.FailedSteps)
		}
		for k := range len(r.Rollouts) - 1 {
			steps++
			if r.Rollouts[k] != n {
				t.Errorf("%s step %d: %d rollouts, want %d", r.SolutionID, k, r.Rollouts[k], n)
			}
		}
	}
	rs, err := sq.Stats(ctx, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if rs.TasksDone != int64(stats.Tasks) || rs.Samples != int64(stats.Samples) || rs.TasksFailed != 0 {
		t.Errorf("redis stats %+v, job stats %+v", rs, stats)
	}
	if ps, _ := sq.Pending(ctx, model); ps.Length != 0 {
		t.Errorf("work left: %+v", ps)
	}
	// Every record is committed, so every result was released: only the
	// empty tombstones of exactly-once delivery are left.
	jk := rediskeys.OfJob("job-1")
	if n, err := rdb.XLen(ctx, jk.ResultStream()).Result(); err != nil || n != 0 {
		t.Errorf("results stream holds %d entries (%v), want 0", n, err)
	}
	kept, err := rdb.HGetAll(ctx, jk.Results()).Result()
	if err != nil || len(kept) != stats.Tasks {
		t.Errorf("results hash holds %d tasks (%v), want %d", len(kept), err, stats.Tasks)
	}
	for id, v := range kept {
		if v != "" {
			t.Errorf("task %s not released: %q", id, v)
		}
	}
	lostTasks := <-taken
	t.Logf("%d solutions, %d measured steps, %d tasks, %d samples stored, %d generated, %d retries, %d redeliveries, %d tasks lost with the dead consumer",
		len(recs), steps, stats.Tasks, stats.Samples, gen.samples.Load(), retried.Load(), reclaimed.Load(), lostTasks)
	if retried.Load() == 0 {
		t.Error("no task was retried")
	}
	if lostTasks == 0 {
		t.Error("the dead consumer took no task")
	}
}
