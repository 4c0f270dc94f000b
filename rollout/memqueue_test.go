package rollout

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler/grade"
)

func TestMemQueueDeliversOncePerTask(t *testing.T) {
	ctx := context.Background()
	q := NewMemQueue(3)
	q.Enqueue(ctx, Task{ID: "a", JobID: "j", Model: "m"}, Task{ID: "b", JobID: "j", Model: "other"})
	got, err := q.Reserve(ctx, "m", 10)
	if err != nil || len(got) != 1 || got[0].ID != "a" || got[0].Deliveries != 1 {
		t.Fatalf("reserve: %+v %v", got, err)
	}
	q.Complete(ctx, got[0], TaskResult{Samples: []SampleResult{{Correct: true}}})
	q.Complete(ctx, got[0], TaskResult{Samples: []SampleResult{{Correct: false}}}) // a late duplicate
	rs, err := q.Results(ctx, "j")
	if err != nil || len(rs) != 1 || !rs[0].Samples[0].Correct || rs[0].TaskID != "a" {
		t.Fatalf("results: %+v %v", rs, err)
	}
	// Model "m" has nothing left; the other model's task is not handed out.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := q.Reserve(short, "m", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reserve on an empty model: %v", err)
	}
}

func TestMemQueueRetryThenDeadLetter(t *testing.T) {
	ctx := context.Background()
	q := NewMemQueue(2)
	q.Enqueue(ctx, Task{ID: "a", JobID: "j", Model: "m"})
	for i := 1; i <= 2; i++ {
		ts, _ := q.Reserve(ctx, "m", 1)
		if ts[0].Deliveries != i {
			t.Fatalf("delivery %d counted as %d", i, ts[0].Deliveries)
		}
		q.Retry(ctx, ts[0], errors.New("503"))
	}
	rs, _ := q.Results(ctx, "j")
	if len(rs) != 1 || !rs[0].Failed || len(q.DeadLetters()) != 1 {
		t.Fatalf("after max deliveries: results %+v, dead %d", rs, len(q.DeadLetters()))
	}
}

func TestMemQueueResultsWakesAndCloses(t *testing.T) {
	q := NewMemQueue(0)
	done := make(chan error, 1)
	go func() {
		_, err := q.Results(context.Background(), "j")
		done <- err
	}()
	for waiting := false; !waiting; runtime.Gosched() { // Results is waiting, not just started
		q.mu.Lock()
		_, waiting = q.resWake["j"]
		q.mu.Unlock()
	}
	q.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Results after Close: %v", err)
	}
}

// scriptedGenerator fails each request as scripted, then succeeds.
type scriptedGenerator struct {
	mu    sync.Mutex
	fails map[string][]error // by prefix
	calls atomic.Int64
	delay time.Duration
}

func (g *scriptedGenerator) Generate(ctx context.Context, req GenerateRequest) (GenerateResult, error) {
	g.calls.Add(1)
	if g.delay > 0 {
		select {
		case <-time.After(g.delay):
		case <-ctx.Done():
			return GenerateResult{}, ctx.Err()
		}
	}
	g.mu.Lock()
	if errs := g.fails[req.Prefix]; len(errs) > 0 {
		g.fails[req.Prefix] = errs[1:]
		g.mu.Unlock()
		return GenerateResult{}, errs[0]
	}
	g.mu.Unlock()
	out := GenerateResult{CompletionTokens: req.N}
	for i := range req.N {
		ans := "1"
		if (req.Seed+int64(i))%2 == 0 {
			ans = "2"
		}
		out.Samples = append(out.Samples, Sample{Text: "The answer is " + ans + ".", FinishReason: "stop"})
	}
	return out, nil
}

func runWorker(t *testing.T, w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker stopped with %v", err)
		}
	}
}

func TestWorkerGradesRetriesAndFails(t *testing.T) {
	ctx := context.Background()
	q := NewMemQueue(4)
	gen := &scriptedGenerator{fails: map[string][]error{
		"flaky":  {errors.New("503"), errors.New("reset")},
		"broken": {&APIError{Status: 400, Message: "context too long", Permanent: true}},
	}}
	stop := runWorker(t, &Worker{Queue: q, Generator: gen, Grader: grade.New(grade.Options{}), Model: "m", Concurrency: 4})
	defer stop()
	q.Enqueue(ctx,
		Task{ID: "ok", JobID: "j", Model: "m", Prefix: "ok", Gold: "1", N: 4, Seed: 1},
		Task{ID: "flaky", JobID: "j", Model: "m", Prefix: "flaky", Gold: "1", N: 2, Seed: 1},
		Task{ID: "broken", JobID: "j", Model: "m", Prefix: "broken", Gold: "1", N: 2},
	)
	by := map[string]TaskResult{}
	for len(by) < 3 {
		rs, err := q.Results(ctx, "j")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			by[r.TaskID] = r
		}
	}
	ok := by["ok"]
	if len(ok.Samples) != 4 || !ok.Samples[0].Correct || ok.Samples[1].Correct || ok.Samples[0].Answer != "1" {
		t.Errorf("graded samples: %+v", ok.Samples)
	}
	if r := by["flaky"]; r.Failed || len(r.Samples) != 2 {
		t.Errorf("flaky task: %+v", r)
	}
	if r := by["broken"]; !r.Failed || r.Error == "" {
		t.Errorf("permanent error not dead-lettered: %+v", r)
	}
}

func TestWorkerTruncatedSampleIsIncorrect(t *testing.T) {
	w := &Worker{Grader: grade.New(grade.Options{})}
	tr := w.grade(Task{Gold: "5"}, GenerateResult{Samples: []Sample{{Text: "so far 5", FinishReason: "length"}, {Text: "The answer is 5.", FinishReason: "stop"}}})
	if tr.Samples[0].Correct || tr.Samples[0].Found || !tr.Samples[1].Correct {
		t.Errorf("%+v", tr.Samples)
	}
}

func TestWorkerDrainsOnStop(t *testing.T) {
	ctx := context.Background()
	q := NewMemQueue(0)
	gen := &scriptedGenerator{delay: 100 * time.Millisecond}
	stop := runWorker(t, &Worker{Queue: q, Generator: gen, Grader: grade.New(grade.Options{}), Model: "m", Concurrency: 2, DrainTimeout: 5 * time.Second})
	q.Enqueue(ctx, Task{ID: "a", JobID: "j", Model: "m", Gold: "1", N: 1}, Task{ID: "b", JobID: "j", Model: "m", Gold: "1", N: 1})
	for gen.calls.Load() < 2 { // both are in flight
		runtime.Gosched()
	}
	stop()
	rs, err := q.Results(ctx, "j")
	if err != nil || len(rs) != 2 {
		t.Fatalf("in-flight tasks not finished on stop: %+v %v", rs, err)
	}
}

func TestMemQueueReenqueuedTaskDeliversAgain(t *testing.T) {
	ctx := context.Background()
	q := NewMemQueue(0)
	for round := range 2 {
		q.Enqueue(ctx, Task{ID: "a", JobID: "j", Model: "m"})
		ts, _ := q.Reserve(ctx, "m", 1)
		q.Complete(ctx, ts[0], TaskResult{})
		rs, err := q.Results(ctx, "j")
		if err != nil || len(rs) != 1 {
			t.Fatalf("round %d: results %+v %v", round, rs, err)
		}
	}
}
