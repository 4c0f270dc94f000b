package prm_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// simPool serves the built-in simulator and returns a pool over it.
func simPool(t testing.TB, opt sim.Options) (*rollout.Pool, *sim.Server) {
	t.Helper()
	s, c := simtest.Backend(t, opt, rollout.ClientOptions{BackoffMax: 10 * time.Millisecond})
	return simtest.PoolOf(t, c), s
}

func simInputs(seed int64, problems, perProblem int) ([]prm.ScoreInput, []sim.Problem) {
	ds := sim.GenerateDataset(sim.DatasetOptions{Seed: seed, Problems: problems, SolutionsPerProblem: perProblem, MinOps: 3, MaxOps: 5, ErrorRate: 0.6})
	var ins []prm.ScoreInput
	for _, p := range ds {
		in := prm.ScoreInput{ID: p.ID, Question: p.Question, Answer: &p.Answer}
		for _, s := range p.Solutions {
			in.Candidates = append(in.Candidates, labeler.SolutionInput{ID: s.ID, Text: s.Text})
		}
		ins = append(ins, in)
	}
	return ins, ds
}

// TestScoreMCAgainstSimulator scores sim-world candidates by Monte-Carlo
// rollouts: a step at or after a candidate's first error can never reach
// the gold answer, so it scores exactly 0; a correct candidate's last
// step scores 1; other steps get soft scores.
func TestScoreMCAgainstSimulator(t *testing.T) {
	pool, _ := simPool(t, sim.Options{})
	sc := &prm.Scorer{Generator: pool, Concurrency: 16}
	ins, ds := simInputs(5, 6, 4)
	soft, erroneous := 0, 0
	for pi, in := range ins {
		in.Options = prm.ScoreOptions{Mode: prm.ModeMC, MC: prm.MCOptions{N: 16, Seed: 1, Params: rollout.SamplingParams{Temperature: 1, MaxTokens: 256}}}
		res, err := sc.Score(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.ReferenceAnswer != *in.Answer || res.Stats.Rollouts == 0 || res.Stats.FailedTasks != 0 {
			t.Fatalf("%s: reference %q, stats %+v", in.ID, res.ReferenceAnswer, res.Stats)
		}
		for i, sol := range ds[pi].Solutions {
			ss := res.StepScores[i]
			if sol.FirstError >= 0 {
				erroneous++
				for k := sol.FirstError; k < len(ss); k++ {
					if ss[k] != 0 {
						t.Errorf("%s step %d (first error %d): score %v, want 0", sol.ID, k, sol.FirstError, ss[k])
					}
				}
				if res.Scores[i] != 0 || res.Correct[i] {
					t.Errorf("%s: min score %v, correct %v", sol.ID, res.Scores[i], res.Correct[i])
				}
			} else if ss[len(ss)-1] != 1 || !res.Correct[i] {
				t.Errorf("%s: correct candidate's last step %v", sol.ID, ss[len(ss)-1])
			}
			for k, s := range ss {
				if s < 0 || s > 1 || math.IsNaN(s) {
					t.Fatalf("%s step %d: %v", sol.ID, k, s)
				}
				if s > 0 && s < 1 {
					soft++
				}
			}
		}
		if res.Best >= 0 && res.Scores[res.Best] > 0 && !*res.BestCorrect {
			t.Errorf("%s: best candidate %d with score %v is wrong", in.ID, res.Best, res.Scores[res.Best])
		}
	}
	if soft == 0 || erroneous == 0 {
		t.Errorf("%d soft scores, %d erroneous candidates: the data set does not exercise MC scoring", soft, erroneous)
	}
}

// TestScoreMCWithoutGold grades rollouts against the majority answer of
// rollouts from the question alone, which for the simulator's questions is
// the gold answer.
func TestScoreMCWithoutGold(t *testing.T) {
	pool, s := simPool(t, sim.Options{})
	sc := &prm.Scorer{Generator: pool}
	ins, ds := simInputs(8, 3, 3)
	for pi, in := range ins {
		gold := *in.Answer
		in.Answer = nil
		in.Options = prm.ScoreOptions{Mode: prm.ModeMC, MC: prm.MCOptions{N: 32, Seed: 2, Params: rollout.SamplingParams{Temperature: 1}}}
		before := s.Stats().Requests
		res, err := sc.Score(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.ReferenceAnswer != gold {
			t.Errorf("%s: reference answer %q, gold %q", in.ID, res.ReferenceAnswer, gold)
		}
		if res.Correct != nil || res.BestCorrect != nil {
			t.Errorf("%s: correctness reported without a gold answer", in.ID)
		}
		if s.Stats().Requests == before {
			t.Errorf("%s: no rollouts", in.ID)
		}
		for i, sol := range ds[pi].Solutions {
			if fe := sol.FirstError; fe >= 0 && res.StepScores[i][fe] != 0 {
				t.Errorf("%s step %d: %v after an error", sol.ID, fe, res.StepScores[i][fe])
			}
		}
	}
}

// TestScoreMCDeduplicates checks that identical candidates are rolled out
// once and get the same scores.
func TestScoreMCDeduplicates(t *testing.T) {
	pool, _ := simPool(t, sim.Options{})
	sc := &prm.Scorer{Generator: pool}
	ins, _ := simInputs(3, 1, 2)
	in := ins[0]
	first := in.Candidates[0]
	in.Candidates = append(in.Candidates, labeler.SolutionInput{ID: "copy", Text: first.Text})
	in.Options = prm.ScoreOptions{Mode: prm.ModeMC, MC: prm.MCOptions{N: 4, Params: rollout.SamplingParams{Temperature: 1}}}
	res, err := sc.Score(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Unique != 2 || res.Stats.Candidates != 3 {
		t.Errorf("stats %+v", res.Stats)
	}
	if fmt.Sprint(res.StepScores[0]) != fmt.Sprint(res.StepScores[2]) {
		t.Errorf("copies differ: %v %v", res.StepScores[0], res.StepScores[2])
	}
	in.Options.MC.N = prm.MaxMCRollouts + 1
	if _, err := sc.Score(context.Background(), in); err == nil {
		t.Error("n above the limit accepted")
	}
}
