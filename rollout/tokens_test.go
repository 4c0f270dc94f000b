package rollout_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestRecordsSumToCompletionTokens: each record carries the completion
// tokens of the tasks its solution caused, so the records of a job add up
// to the job's completion tokens (binary's speculative samples included),
// and a solution that needed no rollouts carries none.
func TestRecordsSumToCompletionTokens(t *testing.T) {
	for _, c := range []struct {
		strategy labeler.Strategy
		reuse    bool
	}{{labeler.Exhaustive, false}, {labeler.Exhaustive, true}, {labeler.Binary, false}, {labeler.Binary, true}} {
		sols := simDataset(7, 30, 4)
		r, servers := newSimRunner(t, 2, sim.Options{})
		recs, stats := r.label(t, sols, rollout.JobOptions{Strategy: c.strategy, N: 8, Seed: 4, Reuse: c.reuse})
		var sum int64
		zero, paid := 0, 0
		for _, rec := range recs {
			sum += rec.CompletionTokens
			rollouts := 0
			for _, n := range rec.Rollouts {
				rollouts += n
			}
			switch {
			case rec.CompletionTokens < 0:
				t.Errorf("%s: %d completion tokens", rec.SolutionID, rec.CompletionTokens)
			case rec.CompletionTokens == 0:
				zero++
			default:
				paid++
			}
			if rollouts == 0 && rec.CompletionTokens != 0 && c.strategy == labeler.Exhaustive {
				t.Errorf("%s: no rollouts but %d completion tokens", rec.SolutionID, rec.CompletionTokens)
			}
		}
		var served int64
		for _, s := range servers {
			served += s.Stats().CompletionTokens
		}
		t.Logf("%s reuse=%v: %d records (%d with tokens, %d without) sum to %d; job %d; servers generated %d",
			c.strategy, c.reuse, len(recs), paid, zero, sum, stats.CompletionTokens, served)
		if sum != int64(stats.CompletionTokens) || sum == 0 {
			t.Errorf("%s reuse=%v: records sum to %d completion tokens, the job counted %d", c.strategy, c.reuse, sum, stats.CompletionTokens)
		}
		if sum > served {
			t.Errorf("%s reuse=%v: records carry %d tokens, the servers generated only %d", c.strategy, c.reuse, sum, served)
		}
	}
}

// TestSharedPrefixesChargeTheFirstSolution: of two identical solutions,
// the first admitted asks for every rollout and carries their tokens; the
// second is served by the shared ones and carries none.
func TestSharedPrefixesChargeTheFirstSolution(t *testing.T) {
	sols := simDataset(3, 4, 1)
	var twice []labeler.PreparedSolution
	for _, s := range sols {
		again := s
		again.SolutionID += "-again"
		twice = append(twice, s, again)
	}
	r, _ := newSimRunner(t, 1, sim.Options{})
	recs, stats := r.label(t, twice, rollout.JobOptions{Strategy: labeler.Exhaustive, N: 4, Seed: 1})
	var sum int64
	for _, rec := range recs {
		sum += rec.CompletionTokens
		again := rec.SolutionID[len(rec.SolutionID)-len("-again"):] == "-again"
		if again && rec.CompletionTokens != 0 || !again && rec.CompletionTokens == 0 {
			t.Errorf("%s: %d completion tokens", rec.SolutionID, rec.CompletionTokens)
		}
	}
	if sum != int64(stats.CompletionTokens) {
		t.Errorf("records sum to %d completion tokens, the job counted %d", sum, stats.CompletionTokens)
	}
}

// scriptedQueue answers a binary job's tasks in an order that makes the
// first solution finish before its speculative samples return: its probes
// first, then its speculative tasks (From > 0), then the other solution's.
// Every sample reaches the gold answer and costs 10 completion tokens.
type scriptedQueue struct {
	first   string // the first solution's problem id
	pending []rollout.Task
}

func (q *scriptedQueue) Enqueue(_ context.Context, tasks ...rollout.Task) error {
	q.pending = append(q.pending, tasks...)
	return nil
}

func (q *scriptedQueue) Results(context.Context, string) ([]rollout.TaskResult, error) {
	rank := func(t rollout.Task) int {
		switch {
		case t.RouteKey == q.first && t.From == 0:
			return 0
		case t.RouteKey == q.first:
			return 1
		}
		return 2
	}
	if len(q.pending) == 0 {
		return nil, errors.New("no task pending")
	}
	best := 0
	for i, t := range q.pending {
		if rank(t) < rank(q.pending[best]) {
			best = i
		}
	}
	t := q.pending[best]
	q.pending = append(q.pending[:best], q.pending[best+1:]...)
	r := rollout.TaskResult{TaskID: t.ID, JobID: t.JobID, CompletionTokens: 10 * t.N}
	for range t.N {
		r.Samples = append(r.Samples, rollout.SampleResult{Correct: true})
	}
	return []rollout.TaskResult{r}, nil
}

func (q *scriptedQueue) Capacity() int { return 1000 }

func (q *scriptedQueue) Reserve(context.Context, string, int) ([]rollout.Task, error) {
	return nil, errors.New("not served")
}
func (q *scriptedQueue) Complete(context.Context, rollout.Task, rollout.TaskResult) error { return nil }
func (q *scriptedQueue) Retry(context.Context, rollout.Task, error) error                 { return nil }
func (q *scriptedQueue) Fail(context.Context, rollout.Task, error) error                  { return nil }

// TestSpeculativeTokensAfterTheRecord: speculative samples that return
// after their solution was written go to the next record, so the records
// still sum to the job's completion tokens.
func TestSpeculativeTokensAfterTheRecord(t *testing.T) {
	grader := grade.New(grade.Options{})
	var sols []labeler.PreparedSolution
	for _, s := range simDataset(9, 20, 4) {
		if len(s.Solution.Steps) >= 4 && !grader.Grade(s.Gold, s.Solution.Text).Correct &&
			(len(sols) == 0 || sols[0].ProblemID != s.ProblemID) {
			sols = append(sols, s)
		}
		if len(sols) == 2 {
			break
		}
	}
	if len(sols) != 2 {
		t.Fatal("the data set has no two wrong solutions of 4 steps or more")
	}
	q := &scriptedQueue{first: sols[0].ProblemID}
	var recs []labeler.Record
	stats, err := rollout.RunJob(context.Background(), q, grader,
		rollout.JobOptions{Model: "m", Strategy: labeler.Binary, N: 8, Seed: 1}, rollout.NewSliceSource(sols),
		func(r labeler.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].SolutionID != sols[0].SolutionID {
		t.Fatalf("records %v", recs)
	}
	own := func(r labeler.Record) int64 { // the tokens of the samples it used
		n := 0
		for _, k := range r.Rollouts {
			n += k
		}
		return int64(10 * n)
	}
	if recs[0].CompletionTokens != own(recs[0]) {
		t.Errorf("first record: %d completion tokens, its own rollouts cost %d", recs[0].CompletionTokens, own(recs[0]))
	}
	if recs[1].CompletionTokens <= own(recs[1]) {
		t.Errorf("second record: %d completion tokens, no more than its own rollouts' %d: the first one's speculative samples are lost",
			recs[1].CompletionTokens, own(recs[1]))
	}
	if sum := recs[0].CompletionTokens + recs[1].CompletionTokens; sum != int64(stats.CompletionTokens) {
		t.Errorf("records sum to %d completion tokens, the job counted %d", sum, stats.CompletionTokens)
	}
}
