package server

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// stepCounter is a rollout.Observer counting labelled steps.
type stepCounter struct {
	rollout.NopObserver
	mu    sync.Mutex
	steps int
}

func (c *stepCounter) StepLabelled(bool, string) {
	c.mu.Lock()
	c.steps++
	c.mu.Unlock()
}

// TestMetricsHooks: LiveJobs counts live jobs, OnJobFinished sees terminal
// transitions, and Observer sees the steps of committed records.
func TestMetricsHooks(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var finished []shepherdv1.JobState
	steps := &stepCounter{}
	ts := h.startServer(Options{Observer: steps, OnJobFinished: func(s shepherdv1.JobState) {
		mu.Lock()
		finished = append(finished, s)
		mu.Unlock()
	}})
	ctx := testCtx(t)
	problems, prepared := simProblems(t, 4, 3, 2)

	// No worker yet: the job stays live.
	resp, err := ts.client.SubmitJob(ctx, submitReq("hooks-1", problems, &shepherdv1.JobSpec{N: proto.Int32(2)}))
	if err != nil {
		t.Fatal(err)
	}
	if q, r, err := ts.LiveJobs(ctx); err != nil || q+r != 1 {
		t.Fatalf("LiveJobs = %d queued, %d running, %v; want 1 live", q, r, err)
	}
	if _, err := ts.client.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: resp.Job.Id}); err != nil {
		t.Fatal(err)
	}
	if q, r, err := ts.LiveJobs(ctx); err != nil || q+r != 0 {
		t.Fatalf("after cancel: LiveJobs = %d, %d, %v; want none", q, r, err)
	}

	h.startWorker(sim.Options{})
	resp, err = ts.client.SubmitJob(ctx, submitReq("hooks-2", problems, &shepherdv1.JobSpec{N: proto.Int32(2)}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, ctx, ts.client, resp.Job.Id, "", 0)
	if err != nil || got.final == nil || got.final.State != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job: %v, %v", got.final, err)
	}
	wantSteps := 0
	for _, p := range prepared {
		wantSteps += len(p.Solution.Steps)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(finished)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(finished) != 2 || finished[0] != shepherdv1.JobState_JOB_STATE_CANCELLED || finished[1] != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
		t.Errorf("OnJobFinished saw %v, want [CANCELLED SUCCEEDED]", finished)
	}
	steps.mu.Lock()
	defer steps.mu.Unlock()
	if steps.steps != wantSteps {
		t.Errorf("Observer saw %d labelled steps, want %d", steps.steps, wantSteps)
	}
}
