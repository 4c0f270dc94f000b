package rollout_test

import (
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
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
