package grade

import (
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
)

type gradeCase struct{ gold, response string }

// rolloutMix builds a grading workload shaped like Monte-Carlo rollouts:
// for every problem, rolloutsPerProblem responses drawn (deterministically)
// from a few candidate solutions, so the same (gold, answer) pairs repeat
// the way they do when N rollouts of one prefix agree. MATH500 problems
// use their reference solution (boxed answer) and the next problem's
// solution (a wrong answer); GSM8K problems use the four published model
// solutions (A: answers, right and wrong).
func rolloutMix(b *testing.B) []gradeCase {
	const rolloutsPerProblem = 8
	var mix []gradeCase
	math500 := gradeReadJSONL[math500Row](b, "prm800k/math_splits/test.jsonl")
	for i, r := range math500 {
		cands := []string{r.Solution, math500[(i+1)%len(math500)].Solution}
		for k := 0; k < rolloutsPerProblem; k++ {
			mix = append(mix, gradeCase{r.Answer, cands[(k*k+i)%len(cands)]})
		}
	}
	gold := map[string]string{}
	for _, r := range gradeReadJSONL[gsm8kRow](b, "gsm8k/test.jsonl") {
		gold[r.Question] = labeler.GoldAnswer(r.Answer)
	}
	for i, r := range gradeReadJSONL[gsm8kSolutions](b, "gsm8k/example_model_solutions.jsonl") {
		cands := []string{r.M6F.Solution, r.M6V.Solution, r.M175F.Solution, r.M175V.Solution}
		for k := 0; k < rolloutsPerProblem; k++ {
			mix = append(mix, gradeCase{gold[r.Question], cands[(k*k+i)%len(cands)]})
		}
	}
	return mix
}

// BenchmarkGrade grades the rollout mix with the default memo and without
// one, reporting graded answers per second.
func BenchmarkGrade(b *testing.B) {
	mix := rolloutMix(b)
	for _, bc := range []struct {
		name string
		opt  Options
	}{{"memo", Options{}}, {"nomemo", Options{MemoSize: -1}}} {
		b.Run(bc.name, func(b *testing.B) {
			g := New(bc.opt)
			correct := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := mix[i%len(mix)]
				if g.Grade(c.gold, c.response).Correct {
					correct++
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
			if b.N >= len(mix) && correct == 0 {
				b.Fatal("nothing graded correct")
			}
		})
	}
}

// BenchmarkEquivalent compares extracted answers only (no extraction),
// without a memo: the cost of the equivalence rules themselves.
func BenchmarkEquivalent(b *testing.B) {
	mix := rolloutMix(b)
	pairs := make([][2]string, 0, len(mix))
	for _, c := range mix {
		if a, ok := ExtractAnswer(c.response); ok {
			pairs = append(pairs, [2]string{c.gold, a})
		}
	}
	g := New(Options{MemoSize: -1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pairs[i%len(pairs)]
		g.Equivalent(p[0], p[1])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
}

// BenchmarkExtractAnswerLong extracts the answer at the end of a 16 MiB
// response (the longest line shepherd grade accepts).
func BenchmarkExtractAnswerLong(b *testing.B) {
	s := strings.Repeat("x", 16<<20) + "\nA: 1"
	b.SetBytes(int64(len(s)))
	for i := 0; i < b.N; i++ {
		if a, _ := ExtractAnswer(s); a != "1" {
			b.Fatalf("got %q", a)
		}
	}
}
