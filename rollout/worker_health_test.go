package rollout_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// TestMisconfiguredWorkerTakesNoTasks: two workers share a queue; one's
// only backend serves another model (vLLM's 404 "The model `X` does not
// exist."). That worker hands back what it took, uncounted, stops taking
// tasks and says why; the job completes with no failed step and the labels
// of a clean run.
func TestMisconfiguredWorkerTakesNoTasks(t *testing.T) {
	sols := simtest.Dataset(21, 12, 3)
	opt := rollout.JobOptions{Model: simtest.Model, Strategy: labeler.Exhaustive, N: 4, Seed: 9, Reuse: true,
		Params: rollout.SamplingParams{Temperature: 1, TopP: 1, MaxTokens: 512}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clean, _ := simtest.Label(ctx, t, simtest.Pool(t, sim.Options{}), sols, opt)

	// The bad backend serves "other"; the client asks for simtest.Model.
	bad := newSimClient(t, sim.New(sim.Options{Model: "other"}), simtest.Model)
	var reasons []string
	var mu sync.Mutex
	badPool, err := rollout.NewPool([]*rollout.Client{bad}, rollout.PoolOptions{OnBackendState: func(_, r string) {
		mu.Lock()
		reasons = append(reasons, r)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	q := rollout.NewMemQueue(2) // a counted delivery on the bad worker would be one of only two
	defer q.Close()
	grader := grade.New(grade.Options{})
	var badRan, goodRan atomic.Int64
	var paused atomic.Bool
	badWorker := &rollout.Worker{Queue: q, Generator: badPool, Grader: grader, Model: simtest.Model, Concurrency: 8,
		OnResult: func(_ rollout.Task, _ rollout.TaskResult, err error) {
			badRan.Add(1)
			if !rollout.IsBackendFault(err) {
				t.Errorf("bad worker: task ended with %v, want a backend fault", err)
			}
		},
		OnBackendHealth: func(usable bool, _ []string) { paused.Store(!usable) }}
	// The bad worker starts first and grabs the first tasks.
	stopBad := simtest.RunWorker(t, badWorker)
	var recs []labeler.Record
	done := make(chan error, 1)
	go func() {
		_, err := rollout.RunJob(ctx, q, grader, opt, simtest.Source(sols), func(r labeler.Record) error {
			recs = append(recs, r)
			return nil
		})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !paused.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !paused.Load() || badWorker.Usable() {
		t.Fatal("the worker with a misconfigured backend did not stop taking tasks")
	}
	goodWorker := &rollout.Worker{Queue: q, Generator: simtest.Pool(t, sim.Options{}), Grader: grader, Model: simtest.Model, Concurrency: 8,
		OnResult: func(rollout.Task, rollout.TaskResult, error) { goodRan.Add(1) }}
	simtest.RunWorker(t, goodWorker)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// It handed back its first grab (one reservation of its 8 slots) and
	// took nothing after.
	if n := badRan.Load(); n == 0 || n > 8 {
		t.Errorf("bad worker ran %d tasks, want its first grab only (1 to 8)", n)
	}
	mu.Lock()
	if len(reasons) == 0 || !strings.Contains(reasons[0], "The model `"+simtest.Model+"` does not exist.") {
		t.Errorf("reasons = %q, want the server's 404 message", reasons)
	}
	mu.Unlock()
	stopBad()
	want := map[string]string{}
	for _, r := range clean {
		b, _ := json.Marshal(r)
		want[r.SolutionID] = string(b)
	}
	if len(recs) != len(clean) {
		t.Fatalf("%d records, want %d", len(recs), len(clean))
	}
	for _, r := range recs {
		if len(r.FailedSteps) > 0 {
			t.Errorf("%s: failed steps %v", r.SolutionID, r.FailedSteps)
		}
		if b, _ := json.Marshal(r); string(b) != want[r.SolutionID] {
			t.Errorf("%s:\n got %s\nwant %s", r.SolutionID, b, want[r.SolutionID])
		}
	}
}

// TestWorkerGivesUpWithoutBackend: with NoBackendTimeout, a worker whose
// backends are all out of rotation stops with ErrNoUsableBackend naming
// the reason.
func TestWorkerGivesUpWithoutBackend(t *testing.T) {
	bad := newSimClient(t, sim.New(sim.Options{Model: "other"}), simtest.Model)
	pool, err := rollout.NewPool([]*rollout.Client{bad}, rollout.PoolOptions{DownFor: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if errs := pool.Probe(context.Background()); len(errs) != 1 || !strings.Contains(errs[0].Error(), `does not serve model "`+simtest.Model+`" (it serves "other")`) {
		t.Fatalf("probe: %v", errs)
	}
	q := rollout.NewMemQueue(0)
	defer q.Close()
	w := &rollout.Worker{Queue: q, Generator: pool, Grader: grade.New(grade.Options{}), Model: simtest.Model, NoBackendTimeout: 300 * time.Millisecond}
	start := time.Now()
	err = w.Run(context.Background())
	if !errors.Is(err, rollout.ErrNoUsableBackend) || !strings.Contains(err.Error(), "it serves \"other\"") || time.Since(start) > 5*time.Second {
		t.Errorf("Run = %v after %v", err, time.Since(start))
	}
}

// newSimClient serves s over HTTP for the test and returns a client asking
// it for model.
func newSimClient(t *testing.T, s *sim.Server, model string) *rollout.Client {
	t.Helper()
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	c, err := rollout.NewClient(rollout.ClientOptions{BaseURL: hs.URL + "/v1", Model: model, Timeout: 5 * time.Second, BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLocalRunEndsWithTheWorker: when the runner's worker gives up for
// want of a usable backend, the job ends with the worker's error instead
// of waiting for results nobody will produce.
func TestLocalRunEndsWithTheWorker(t *testing.T) {
	bad := newSimClient(t, sim.New(sim.Options{Model: "other"}), simtest.Model)
	pool, err := rollout.NewPool([]*rollout.Client{bad}, rollout.PoolOptions{DownFor: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if errs := pool.Probe(context.Background()); len(errs) != 1 {
		t.Fatalf("probe: %v", errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := rollout.StartLocal(ctx, rollout.LocalOptions{Generator: pool, Model: simtest.Model, NoBackendTimeout: 300 * time.Millisecond})
	defer l.Close()
	_, err = l.Run(ctx, rollout.JobOptions{ID: "j", Model: simtest.Model, Strategy: labeler.Exhaustive, N: 2},
		simtest.Source(simtest.Dataset(3, 1, 1)), func(labeler.Record) error { return nil })
	if !errors.Is(err, rollout.ErrNoUsableBackend) || !strings.Contains(err.Error(), `it serves "other"`) || ctx.Err() != nil {
		t.Errorf("Run = %v (context: %v), want the worker's ErrNoUsableBackend", err, ctx.Err())
	}
}
