// Package simtest sets tests up against the simulated inference server
// (package rollout/sim): simulators behind httptest servers with rollout
// clients and pools on them, the simulator's data sets as labeling input,
// rollout workers that run until the test ends, and labeling in-process
// the way `shepherd label` does.
package simtest

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// Model is the model the simulators started here serve.
const Model = "sim"

// Backend starts a simulator with opt (model Model unless opt names one)
// behind an httptest server closed when the test ends, and returns it with
// a rollout client on it. copt's zero fields get quick test timings: a 5s
// timeout per attempt and backoff from 1ms to 20ms; BaseURL and Model are
// set.
func Backend(t testing.TB, opt sim.Options, copt rollout.ClientOptions) (*sim.Server, *rollout.Client) {
	t.Helper()
	if opt.Model == "" {
		opt.Model = Model
	}
	s := sim.New(opt)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	copt.BaseURL, copt.Model = hs.URL+"/v1", opt.Model
	if copt.Timeout == 0 {
		copt.Timeout = 5 * time.Second
	}
	if copt.BackoffBase == 0 {
		copt.BackoffBase = time.Millisecond
	}
	if copt.BackoffMax == 0 {
		copt.BackoffMax = 20 * time.Millisecond
	}
	c, err := rollout.NewClient(copt)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// PoolOf is a backend pool with default options over clients.
func PoolOf(t testing.TB, clients ...*rollout.Client) *rollout.Pool {
	t.Helper()
	pool, err := rollout.NewPool(clients, rollout.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// Pool starts a simulator with opt and returns a pool over one client on
// it with the test timings of Backend.
func Pool(t testing.TB, opt sim.Options) *rollout.Pool {
	t.Helper()
	_, c := Backend(t, opt, rollout.ClientOptions{})
	return PoolOf(t, c)
}

// Problems is a simulator data set as labeling input: problems of 3 to 6
// operations, each with perProblem sampled solutions of which about half
// go wrong somewhere. The simulator knows every solution's first error.
func Problems(seed int64, problems, perProblem int) []labeler.Problem {
	return LabelerProblems(sim.GenerateDataset(sim.DatasetOptions{Seed: seed, Problems: problems, SolutionsPerProblem: perProblem, MinOps: 3, MaxOps: 6, ErrorRate: 0.5}))
}

// LabelerProblems is a simulator data set as labeling input, without the
// simulator's knowledge of the errors.
func LabelerProblems(ds []sim.Problem) []labeler.Problem {
	out := make([]labeler.Problem, 0, len(ds))
	for _, p := range ds {
		lp := labeler.Problem{ID: p.ID, Question: p.Question, Answer: p.Answer}
		for _, s := range p.Solutions {
			lp.Solutions = append(lp.Solutions, labeler.SolutionInput{ID: s.ID, Text: s.Text})
		}
		out = append(out, lp)
	}
	return out
}

// Prepare splits the problems' solutions into steps with the default
// limits, as `shepherd label` does. It panics on a solution that does not
// split: the simulator's always do.
func Prepare(problems []labeler.Problem) []labeler.PreparedSolution {
	var out []labeler.PreparedSolution
	for _, p := range problems {
		sols, err := p.Prepare(p.ID, labeler.InputLimits{})
		if err != nil {
			panic(err)
		}
		out = append(out, sols...)
	}
	return out
}

// Dataset is the data set of Problems, prepared.
func Dataset(seed int64, problems, perProblem int) []labeler.PreparedSolution {
	return Prepare(Problems(seed, problems, perProblem))
}

// SliceSource is rollout.SliceSource, named here for the tests that
// build one from a data set.
type SliceSource = rollout.SliceSource

// Source is a source of sols (which it does not modify).
func Source(sols []labeler.PreparedSolution) *SliceSource { return rollout.NewSliceSource(sols) }

// RunWorker runs w until stop is called or the test ends, whichever is
// first: stop cancels the worker's context and waits for Run to return.
// Run's error is not checked.
func RunWorker(t testing.TB, w *rollout.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// Label labels sols in-process the way `shepherd label` does
// (rollout.RunLocal) with opt, by one worker for opt.Model on gen with 32
// tasks in flight. It fails the test when the job fails.
func Label(ctx context.Context, t testing.TB, gen rollout.Generator, sols []labeler.PreparedSolution, opt rollout.JobOptions) ([]labeler.Record, rollout.JobStats) {
	t.Helper()
	var recs []labeler.Record
	stats, err := rollout.RunLocal(ctx, rollout.LocalOptions{Generator: gen, Model: opt.Model, Concurrency: 32}, opt, Source(sols), func(r labeler.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, stats
}
