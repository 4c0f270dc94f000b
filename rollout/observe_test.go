package rollout_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// recorder is a rollout.Observer that counts what it sees.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int
}

func newRecorder() *recorder { return &recorder{counts: map[string]int{}} }

func (r *recorder) add(k string, n int) {
	r.mu.Lock()
	r.counts[k] += n
	r.mu.Unlock()
}

func (r *recorder) get(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[k]
}

func (r *recorder) InferenceRequest(backend, outcome string, d time.Duration) {
	if backend == "" || d <= 0 {
		r.add("bad request report", 1)
	}
	r.add("request "+outcome, 1)
}

func (r *recorder) Tokens(_ string, prompt, completion, cached int) {
	r.add("prompt", prompt)
	r.add("completion", completion)
	r.add("cached", cached)
}

func (r *recorder) Rollout(result string)                   { r.add("rollout", 1); r.add("rollout "+result, 1) }
func (r *recorder) TaskDone(result string, _ time.Duration) { r.add("task "+result, 1) }
func (r *recorder) Redelivered()                            { r.add("redelivered", 1) }
func (r *recorder) LeaseLost()                              { r.add("lease lost", 1) }
func (r *recorder) QueueError()                             { r.add("queue error", 1) }
func (r *recorder) DeadLettered()                           { r.add("dead lettered", 1) }
func (r *recorder) TaskOverhead(d time.Duration) {
	if d < 0 {
		r.add("bad overhead report", 1)
	}
	r.add("overhead", 1)
}
func (r *recorder) StepLabelled(label bool, source string) {
	r.add(fmt.Sprintf("step %v %s", label, source), 1)
}

// simPool is a pool with popt over one client on a simulator with opt; copt
// as simtest.Backend takes it.
func simPool(t *testing.T, opt sim.Options, copt rollout.ClientOptions, popt rollout.PoolOptions) *rollout.Pool {
	t.Helper()
	_, c := simtest.Backend(t, opt, copt)
	pool, err := rollout.NewPool([]*rollout.Client{c}, popt)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// observedJob labels a small data set through a worker whose pool, worker
// and job report to one recorder, against a simulator with opt's faults.
func observedJob(t *testing.T, opt sim.Options, maxRetries int) (*recorder, rollout.JobStats) {
	t.Helper()
	opt.Model = "sim"
	rec := newRecorder()
	pool := simPool(t, opt, rollout.ClientOptions{MaxRetries: maxRetries, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond},
		rollout.PoolOptions{Observer: rec})
	q := rollout.NewMemQueue(3)
	grader := grade.New(grade.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &rollout.Worker{Queue: q, Generator: pool, Grader: grader, Model: "sim", Concurrency: 4, Observer: rec}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(wctx) })
	defer func() { stop(); wg.Wait(); q.Close() }()
	stats, err := rollout.RunJob(ctx, q, grader, rollout.JobOptions{ID: "j", Model: "sim", N: 4, Seed: 1, Observer: rec},
		rollout.NewSliceSource(simDataset(2, 3, 2)), func(labeler.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait()
	return rec, stats
}

func TestObserverSeesRequestsTokensAndRollouts(t *testing.T) {
	rec, stats := observedJob(t, sim.Options{FailFirst: 1, FailStatus: 500}, 3)
	if rec.get("request 500") != 1 || rec.get("request 200") == 0 || rec.get("bad request report") != 0 {
		t.Errorf("requests: %v", rec.counts)
	}
	if rec.get("prompt") != stats.PromptTokens || rec.get("completion") != stats.CompletionTokens ||
		rec.get("cached") != stats.CachedTokens || stats.CompletionTokens == 0 {
		t.Errorf("tokens %v, job stats %+v", rec.counts, stats)
	}
	if rec.get("rollout") != stats.Samples || stats.Samples == 0 {
		t.Errorf("%d rollouts reported, job has %d samples", rec.get("rollout"), stats.Samples)
	}
	if rec.get("task completed") != stats.Tasks || rec.get("dead lettered") != 0 || rec.get("redelivered") != 0 {
		t.Errorf("tasks: %v, job stats %+v", rec.counts, stats)
	}
	if rec.get("overhead") != stats.Tasks || rec.get("bad overhead report") != 0 {
		t.Errorf("overhead reported for %d tasks (%v), job has %d", rec.get("overhead"), rec.counts, stats.Tasks)
	}
}

func TestObserverSeesRedeliveries(t *testing.T) {
	// No client retries: the first task's 500 hands it back to the queue.
	rec, stats := observedJob(t, sim.Options{FailFirst: 1, FailStatus: 500}, -1)
	if rec.get("task retried") != 1 || rec.get("redelivered") != 1 || rec.get("task completed") != stats.Tasks {
		t.Errorf("counts %v, job stats %+v", rec.counts, stats)
	}
}

func TestObserverSeesDeadLetters(t *testing.T) {
	rec, stats := observedJob(t, sim.Options{FailFirst: 1 << 20, FailStatus: 400}, 3)
	if stats.FailedTasks == 0 || rec.get("dead lettered") != stats.FailedTasks || rec.get("task failed") != stats.FailedTasks ||
		rec.get("request 400") != stats.FailedTasks || rec.get("rollout") != 0 {
		t.Errorf("counts %v, job stats %+v", rec.counts, stats)
	}
}

func TestRolloutResult(t *testing.T) {
	for _, c := range []struct {
		s    rollout.SampleResult
		want string
	}{
		{rollout.SampleResult{FinishReason: "stop", Found: true, Correct: true}, rollout.RolloutCorrect},
		{rollout.SampleResult{FinishReason: "stop", Found: true}, rollout.RolloutIncorrect},
		{rollout.SampleResult{FinishReason: "stop"}, rollout.RolloutNoAnswer},
		{rollout.SampleResult{FinishReason: "length", Found: true}, rollout.RolloutTruncated},
	} {
		if got := rollout.RolloutResult(c.s); got != c.want {
			t.Errorf("RolloutResult(%+v) = %s, want %s", c.s, got, c.want)
		}
	}
}

func TestObserveRecordNil(t *testing.T) {
	rollout.ObserveRecord(nil, labeler.Record{Labels: []bool{true}}) // no panic
}

// overheads is a rollout.Observer that keeps the reported overheads.
type overheads struct {
	rollout.NopObserver
	mu sync.Mutex
	d  []time.Duration
}

func (o *overheads) TaskOverhead(d time.Duration) {
	o.mu.Lock()
	o.d = append(o.d, d)
	o.mu.Unlock()
}

// TestTaskOverheadExcludesWorkTime: a worker whose every generation takes
// 300ms reports that time in its results, and the scheduler's overhead
// of each task, with a free worker slot for every task, is far below it.
func TestTaskOverheadExcludesWorkTime(t *testing.T) {
	const latency = 300 * time.Millisecond
	pool := simPool(t, sim.Options{Model: "sim", Latency: latency}, rollout.ClientOptions{}, rollout.PoolOptions{MaxConcurrency: 1024})
	q := rollout.NewMemQueue(3)
	grader := grade.New(grade.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var work []float64
	w := &rollout.Worker{Queue: q, Generator: pool, Grader: grader, Model: "sim", Concurrency: 1024,
		OnResult: func(_ rollout.Task, r rollout.TaskResult, err error) {
			if err == nil {
				mu.Lock()
				work = append(work, r.WorkSeconds)
				mu.Unlock()
			}
		}}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(wctx) })
	defer func() { stop(); wg.Wait(); q.Close() }()
	obs := &overheads{}
	stats, err := rollout.RunJob(ctx, q, grader, rollout.JobOptions{ID: "j", Model: "sim", N: 2, Seed: 1, Observer: obs},
		rollout.NewSliceSource(simDataset(2, 3, 2)), func(labeler.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait() // OnResult runs after Complete: wait for the last one
	mu.Lock()
	defer mu.Unlock()
	if len(work) != stats.Tasks || len(obs.d) != stats.Tasks {
		t.Fatalf("%d results with work times, %d overheads, %d tasks", len(work), len(obs.d), stats.Tasks)
	}
	for _, s := range work {
		if s < latency.Seconds() {
			t.Errorf("work time %.3fs, below the generation latency %v", s, latency)
		}
	}
	for _, d := range obs.d {
		if d < 0 || d >= latency/2 {
			t.Errorf("overhead %v: want at least 0 and well below the work time %v", d, latency)
		}
	}
}

// TestTaskOverheadOnTheJobClock: the overhead is measured on the job's
// clock. A worker that moves a fake clock 5s per batch of tasks it
// reserves and reports 3s of work for each task makes every overhead 2s,
// plus 5s for each further batch the task waited through: nothing else,
// however the scheduler's and the worker's goroutines interleave.
func TestTaskOverheadOnTheJobClock(t *testing.T) {
	const batch, work = 5 * time.Second, 3 * time.Second
	clk := clock.NewFake()
	q := rollout.NewMemQueue(3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			tasks, err := q.Reserve(wctx, "sim", 1024)
			if err != nil {
				return
			}
			clk.Advance(batch)
			for _, task := range tasks {
				samples := make([]rollout.SampleResult, task.N)
				for i := range samples {
					samples[i] = rollout.SampleResult{Text: "The answer is 0.", FinishReason: "stop"}
				}
				_ = q.Complete(wctx, task, rollout.TaskResult{Samples: samples, WorkSeconds: work.Seconds()})
			}
		}
	})
	defer func() { stop(); wg.Wait(); q.Close() }()
	obs := &overheads{}
	stats, err := rollout.RunJob(ctx, q, grade.New(grade.Options{}), rollout.JobOptions{ID: "j", Model: "sim", N: 2, Seed: 1, Observer: obs, Clock: clk},
		rollout.NewSliceSource(simDataset(2, 3, 2)), func(labeler.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if stats.Tasks == 0 || len(obs.d) != stats.Tasks {
		t.Fatalf("%d overheads for %d tasks", len(obs.d), stats.Tasks)
	}
	for _, d := range obs.d {
		if d < batch-work || (d-(batch-work))%batch != 0 {
			t.Errorf("overhead %v, want %v plus a multiple of %v", d, batch-work, batch)
		}
	}
}

// TestObserveRecordKeepsSources: the sources the record kept are reported,
// not guessed from its columns: a measured step whose rollouts all failed
// to grade (no soft label) still counts as measured.
func TestObserveRecordKeepsSources(t *testing.T) {
	labels := []labeler.StepLabel{labeler.Measure(0, 0), {Source: labeler.Inferred, Hard: true}, {Source: labeler.Outcome}}
	r := labeler.NewRecord("p", "s", "q", []string{"a", "b", "c"}, labels, false, labeler.Binary, "m", "g")
	rec := newRecorder()
	rollout.ObserveRecord(rec, r)
	for k, want := range map[string]int{"step false measured": 1, "step true inferred": 1, "step false outcome": 1} {
		if got := rec.get(k); got != want {
			t.Errorf("%s: %d, want %d (%v)", k, got, want, rec.counts)
		}
	}
}
